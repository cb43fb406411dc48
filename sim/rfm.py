"""RFM: quantile scores 1-5, named segments, k-means clusters and segment migration.

Works on the simulated population and on a real transaction table alike
(`rfm_from_transactions`). Two ways to score, which differ only where values tie:

- "min" (the simulated world's): min-rank quantiles, a score of k means that at least
  (k - 1) / 5 of customers are strictly worse. Ties share a score, but a large tie pushes the
  next value several scores up: with 60 % one-time buyers, two purchases score F 4 and F 2-3
  stay empty, and so does every segment defined on them.
- "balanced" (`nbasim rfm`'s, `balanced_scores`): ties still share a score (customers with
  equal values are never split), and the cuts between scores sit at the tie boundaries that
  come nearest to equal shares, so every score is used whenever there are 5 distinct values.

Segments follow the common R x F map used by CRM teams (e.g. champions = R 5, F 4-5).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.cluster.vq import kmeans2

from nbasim.sim.params import ParameterError

Ties = Literal["min", "balanced"]

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


def balanced_scores(values: np.ndarray, n_bins: int = 5) -> np.ndarray:
    """Quantile score of each value, 1 (lowest) to `n_bins`, spread as evenly as ties allow.

    Equal values always share a score. With at least `n_bins` distinct values, every score is
    used: from the low end, each cut in turn goes to the tie boundary whose cumulative count is
    nearest to an equal share of the customers still to score (the lower boundary on a tie),
    leaving at least one distinct value for each score still to fill. With fewer distinct
    values, each gets its own score, at the quantile of its middle customer:
    1 + floor(n_bins x (below + (count - 1) / 2) / n), raised where needed to stay strictly
    increasing and lowered to stay within `n_bins`.

    Without ties the scores are those of `quantile_scores` whenever n is a multiple of `n_bins`.

    Args:
        values: (n,) numbers (finite).
        n_bins: number of scores.

    Returns:
        (n,) uint8 scores.
    """
    v = np.asarray(values)
    n = v.size
    if n == 0:
        return np.zeros(0, dtype=np.uint8)
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    d = counts.size
    cum = np.cumsum(counts)
    if d >= n_bins:
        ends = np.empty(n_bins - 1, dtype=np.intp)  # distinct values below each cut
        start = 0
        for b in range(n_bins - 1):
            done = int(cum[start - 1]) if start else 0
            target = done + (n - done) / (n_bins - b)
            j = int(np.searchsorted(cum, target))  # the value whose count reaches the target
            lo, hi = start + 1, d - (n_bins - 1 - b)
            cuts = sorted({min(max(e, lo), hi) for e in (j, j + 1)})
            start = min(cuts, key=lambda e: abs(cum[e - 1] - target))
            ends[b] = start
        per_value = 1 + np.searchsorted(ends, np.arange(d), side="right")
    else:
        below = cum - counts
        per_value = np.minimum(1 + (n_bins * (below + (counts - 1) / 2) // n).astype(np.intp),
                               n_bins)
        for i in range(1, d):
            per_value[i] = max(per_value[i], per_value[i - 1] + 1)
        per_value = np.minimum(per_value, n_bins - (d - 1 - np.arange(d)))
    return per_value.astype(np.uint8)[inverse.reshape(-1)]


def rfm_scores(recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray,
               ties: Ties = "min") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R, F and M scores (uint8, 1-5); a lower recency scores higher.

    Args:
        recency: (n,) days since the last purchase, non-negative integers.
        frequency: (n,) number of purchases.
        monetary: (n,) total spend; scored in whole currency units.
        ties: "min" (`quantile_scores`, the simulated world's) or "balanced"
            (`balanced_scores`).
    """
    if ties not in ("min", "balanced"):
        raise ParameterError(f"ties = {ties!r}: allowed 'min' or 'balanced'")
    score = balanced_scores if ties == "balanced" else quantile_scores
    recency = np.asarray(recency)
    r = score(recency.max(initial=0) - recency) if recency.size else recency
    f = score(np.asarray(frequency))
    monetary = np.asarray(monetary)
    units = monetary.astype(np.int64) if monetary.min(initial=0) >= 0 else \
        np.floor(monetary).astype(np.int64)  # truncation is floor for non-negative spend
    m = score(units)
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
                          as_of: np.datetime64, ties: Ties = "min") -> dict[str, np.ndarray]:
    """Recency, frequency, monetary, scores and segments from a transaction table.

    Only transactions on or before `as_of` count; purchases of one customer on one day count
    as one purchase (frequency is the number of purchase days).

    Args:
        customer_ids: (n_rows,) any sortable ids.
        dates: (n_rows,) datetime64.
        amounts: (n_rows,) spend per row.
        as_of: the date the scores describe.
        ties: how tied values are scored: "min" or "balanced" (see `rfm_scores`).

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
    r, f, m = rfm_scores(recency, frequency, monetary, ties)
    return {"customer_id": uniq, "recency": recency, "frequency": frequency,
            "monetary": monetary, "r_score": r, "f_score": f, "m_score": m,
            "segment": segments(r, f)}
