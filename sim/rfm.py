"""RFM: quantile scores 1-5, named segments, k-means clusters and segment migration.

Works on the simulated population and on a real transaction table alike
(`rfm_from_transactions`). Scores are min-rank quantiles: a score of k means that at least
(k - 1) / 5 of customers are strictly worse, so ties (many one-time buyers) share a score.
Segments follow the common R x F map used by CRM teams (e.g. champions = R 5, F 4-5).
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.vq import kmeans2

from nbasim.sim.params import ParameterError

SEGMENTS = ("champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
            "at_risk", "cannot_lose", "hibernating", "lost")

# Rows: R score 1-5, columns: F score 1-5 (row/column 0 unused: score 0 = not yet a customer).
_R_F_MAP = {
    5: ("new", "potential_loyalists", "potential_loyalists", "champions", "champions"),
    4: ("promising", "potential_loyalists", "potential_loyalists", "loyal", "loyal"),
    3: ("need_attention", "need_attention", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"),
    1: ("lost", "lost", "at_risk", "at_risk", "cannot_lose"),
}
SEGMENT_LUT = np.zeros(36, dtype=np.uint8)
for _r, _row in _R_F_MAP.items():
    for _f, _name in enumerate(_row, start=1):
        SEGMENT_LUT[_r * 6 + _f] = SEGMENTS.index(_name)

_BINCOUNT_LIMIT = 1 << 24


def quantile_scores(values: np.ndarray, n_bins: int = 5) -> np.ndarray:
    """Min-rank quantile score of each value, 1 (lowest) to `n_bins` (highest).

    score = 1 + floor(n_bins x (number of values strictly below) / n).

    Args:
        values: (n,) integers (a fast counting path when they are small and non-negative)
            or floats.
        n_bins: number of scores.

    Returns:
        (n,) uint8 scores.
    """
    v = np.asarray(values)
    n = v.size
    if n == 0:
        return np.zeros(0, dtype=np.uint8)
    if v.dtype.kind in "iu" and v.min() >= 0 and v.max() < _BINCOUNT_LIMIT:
        counts = np.bincount(v)
        below = np.cumsum(counts) - counts
        lut = (1 + (below * n_bins) // n).astype(np.uint8)
        return lut[v]
    below = np.searchsorted(np.sort(v), v, side="left")
    return (1 + (below * n_bins) // n).astype(np.uint8)


def rfm_scores(recency: np.ndarray, frequency: np.ndarray,
               monetary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R, F and M scores (uint8, 1-5); a lower recency scores higher.

    Args:
        recency: (n,) days since the last purchase, non-negative integers.
        frequency: (n,) number of purchases.
        monetary: (n,) total spend; scored in whole currency units.
    """
    recency = np.asarray(recency)
    r = quantile_scores(recency.max(initial=0) - recency) if recency.size else recency
    f = quantile_scores(np.asarray(frequency))
    monetary = np.asarray(monetary)
    units = monetary.astype(np.int64) if monetary.min(initial=0) >= 0 else \
        np.floor(monetary).astype(np.int64)  # truncation is floor for non-negative spend
    m = quantile_scores(units)
    return np.asarray(r, dtype=np.uint8), f, m


def segments(r_score: np.ndarray, f_score: np.ndarray) -> np.ndarray:
    """Named segment index (into `SEGMENTS`) from R and F scores. uint8, shape (n,)."""
    return SEGMENT_LUT[r_score.astype(np.intp) * 6 + f_score]


def segment_counts(segment: np.ndarray) -> np.ndarray:
    """Customers per segment. Shape (len(SEGMENTS),)."""
    return np.bincount(segment, minlength=len(SEGMENTS))


def transition_matrix(before: np.ndarray, after: np.ndarray,
                      n_states: int = len(SEGMENTS)) -> tuple[np.ndarray, np.ndarray]:
    """Counts and row shares of moves between two labelings of the same customers.

    Args:
        before: (n,) state index of each customer at the first date.
        after: (n,) state index of each customer at the second date.
        n_states: number of states.

    Returns:
        counts (n_states, n_states) and shares where each row with members sums to 1
        (rows without members are 0).
    """
    counts = np.bincount(before.astype(np.intp) * n_states + after,
                         minlength=n_states * n_states).reshape(n_states, n_states)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    return counts, shares


def kmeans_segments(recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray, k: int,
                    rng: np.random.Generator) -> np.ndarray:
    """K-means clusters on standardised log R, F, M, numbered by mean spend (0 = highest).

    Returns:
        (n,) cluster index, int64.
    """
    if k < 1 or k > len(recency):
        raise ParameterError(f"k = {k}: allowed 1 to the number of customers ({len(recency)})")
    x = np.log1p(np.column_stack([recency, frequency, np.maximum(monetary, 0)]).astype(float))
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    _, labels = kmeans2(x, k, seed=rng, minit="++")
    spend = np.bincount(labels, weights=monetary, minlength=k) / np.maximum(
        np.bincount(labels, minlength=k), 1)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(-spend, kind="stable")] = np.arange(k)
    return rank[labels]


def rfm_from_transactions(customer_ids: np.ndarray, dates: np.ndarray, amounts: np.ndarray,
                          as_of: np.datetime64) -> dict[str, np.ndarray]:
    """Recency, frequency, monetary, scores and segments from a transaction table.

    Only transactions on or before `as_of` count; purchases of one customer on one day count
    as one purchase (frequency is the number of purchase days).

    Args:
        customer_ids: (n_rows,) any sortable ids.
        dates: (n_rows,) datetime64.
        amounts: (n_rows,) spend per row.
        as_of: the date the scores describe.

    Returns:
        Columns over customers: customer_id, recency (days), frequency, monetary, r_score,
        f_score, m_score, segment (index into `SEGMENTS`).
    """
    bad = ~np.isfinite(np.asarray(amounts, dtype=np.float64))
    if bad.any():
        row = int(np.argmax(bad))
        raise ParameterError(f"amount at row {row} is {float(np.asarray(amounts)[row])!r}: "
                             "amounts must be finite")
    days = np.asarray(dates).astype("datetime64[D]")
    keep = days <= np.datetime64(as_of, "D")
    ids, days, amounts = np.asarray(customer_ids)[keep], days[keep], np.asarray(amounts)[keep]
    uniq, cust = np.unique(ids, return_inverse=True)
    day_num = days.view("int64")
    order = np.lexsort((day_num, cust))
    c_sorted, d_sorted = cust[order], day_num[order]
    new_day = np.ones(len(order), dtype=bool)
    new_day[1:] = (c_sorted[1:] != c_sorted[:-1]) | (d_sorted[1:] != d_sorted[:-1])
    frequency = np.bincount(c_sorted[new_day], minlength=len(uniq))
    last = np.full(len(uniq), np.iinfo(np.int64).min)
    is_last = np.ones(len(order), dtype=bool)
    is_last[:-1] = c_sorted[1:] != c_sorted[:-1]
    last[c_sorted[is_last]] = d_sorted[is_last]
    recency = np.datetime64(as_of, "D").astype("int64") - last
    monetary = np.bincount(cust, weights=amounts, minlength=len(uniq))
    r, f, m = rfm_scores(recency, frequency, monetary)
    return {"customer_id": uniq, "recency": recency, "frequency": frequency,
            "monetary": monetary, "r_score": r, "f_score": f, "m_score": m,
            "segment": segments(r, f)}
