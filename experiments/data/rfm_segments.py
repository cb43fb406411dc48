"""RFM of a transaction log: a date option read, segment sizes, migration and k-means clusters.

Pure functions over the columns `sim.rfm.rfm_from_transactions` scores (the module that
scores the simulated population, with tie-aware quintiles here) and over segment names (the
default map's or a segments file's); `experiments.data.rfm_report` writes what they return.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import numpy as np

from nbasim.sim import rfm
from nbasim.sim.params import ParameterError

KMEANS_SEED = 0  # k-means++ seeding is random; a fixed seed makes reruns identical
MONEY_DECIMALS = 6  # spend sums are rounded in the files so 0.1 + 0.2 reads 0.3


def parse_date(option: str, value: str | date | np.datetime64,
               date_format: str | None = None) -> np.datetime64:
    """A day from an ISO date (or one in `date_format`, the log's strptime format).

    Args:
        option: the option's name, for the message (e.g. "as_of").
        value: "2024-03-31" (also "20240331"), a `datetime.date` or a `np.datetime64`.
        date_format: a strptime format also accepted, such as "%d/%m/%Y".

    Returns:
        datetime64[D].

    Raises:
        ParameterError: the value is not a date in either layout.
    """
    if isinstance(value, np.datetime64) and not np.isnat(value):
        return value.astype("datetime64[D]")
    if isinstance(value, date):
        return np.datetime64(value.isoformat()[:10], "D")
    if isinstance(value, str):
        text = value.strip()
        try:
            return np.datetime64(date.fromisoformat(text), "D")
        except ValueError:
            pass
        if date_format:
            try:
                return np.datetime64(datetime.strptime(text, date_format).date(), "D")
            except ValueError:
                pass
    layouts = "an ISO date such as 2024-03-31" + (
        f" or a date in the format {date_format!r}" if date_format else "")
    raise ParameterError(f"{option} = {value!r}: not a date; expected {layouts}")


def customer_columns(scored: dict[str, np.ndarray],
                     names: Sequence[str] = rfm.SEGMENTS) -> dict[str, np.ndarray]:
    """The columns of `customers.csv`, each (n_customers,), from the scored columns.

    Args:
        scored: columns from `sim.rfm.rfm_from_transactions`, whose `segment` indexes `names`.
        names: the segment names.
    """
    return {
        "customer_id": scored["customer_id"],
        "recency": scored["recency"].astype(np.int64),
        "frequency": scored["frequency"].astype(np.int64),
        "monetary": np.round(scored["monetary"], MONEY_DECIMALS),
        "r_score": scored["r_score"].astype(np.int64),
        "f_score": scored["f_score"].astype(np.int64),
        "m_score": scored["m_score"].astype(np.int64),
        "segment": np.array(names, dtype=object)[scored["segment"]],
    }


def segment_table(scored: dict[str, np.ndarray], names: Sequence[str] = rfm.SEGMENTS,
                  actions: Sequence[str] | None = None) -> list[dict]:
    """Size, value and recommended action of each named segment (means None when empty).

    Args:
        scored: columns from `sim.rfm.rfm_from_transactions`, whose `segment` indexes `names`.
        names: the segment names.
        actions: each segment's recommended action (None: no action column).

    Returns:
        One dict per segment of `names`, in that order: segment, customers, share, revenue,
        revenue_share, mean_monetary, mean_recency, mean_frequency (and action).
    """
    k = len(names)
    seg = scored["segment"].astype(np.intp)
    size = np.bincount(seg, minlength=k)
    revenue = np.bincount(seg, weights=scored["monetary"], minlength=k)
    recency = np.bincount(seg, weights=scored["recency"], minlength=k)
    frequency = np.bincount(seg, weights=scored["frequency"], minlength=k)
    n, total = max(int(size.sum()), 1), float(revenue.sum())
    rows = []
    for s, name in enumerate(names):
        m = int(size[s])
        rows.append({
            "segment": name, "customers": m, "share": m / n,
            "revenue": round(float(revenue[s]), MONEY_DECIMALS),
            "revenue_share": float(revenue[s]) / total if total > 0 else 0.0,
            "mean_monetary": float(revenue[s]) / m if m else None,
            "mean_recency": float(recency[s]) / m if m else None,
            "mean_frequency": float(frequency[s]) / m if m else None,
            **({} if actions is None else {"action": actions[s]}),
        })
    return rows


def migration(at_day: dict[str, np.ndarray], at_other: dict[str, np.ndarray],
              day: np.datetime64, other: np.datetime64,
              names: Sequence[str] = rfm.SEGMENTS) -> dict:
    """Customers counted from their segment at the earlier date to the later one.

    Every customer in the base at the earlier date is in it at the later date too (a base only
    grows), so the counts sum to the earlier base; customers whose first purchase falls
    between the dates are counted apart as `entered`.

    Args:
        at_day: `rfm_from_transactions` columns at `day`.
        at_other: the same at `other`.
        day: the as-of date.
        other: the compare date.
        names: the segment names `segment` indexes.

    Returns:
        from_date, to_date, segments (row and column order), counts and shares
        (n_segments, n_segments; rows: segment at from_date), customers_both, entered,
        kept_segment (share on the diagonal), from_sizes and to_sizes (each date's whole base
        per segment).
    """
    (d0, early), (d1, late) = sorted([(day, at_day), (other, at_other)], key=lambda p: p[0])
    idx = np.searchsorted(late["customer_id"], early["customer_id"])
    before, after = early["segment"], late["segment"][idx]
    k = len(names)
    counts, shares = rfm.transition_matrix(before, after, k)
    both = int(counts.sum())
    return {
        "from_date": str(d0), "to_date": str(d1), "segments": list(names),
        "counts": counts.tolist(), "shares": shares.tolist(), "customers_both": both,
        "entered": len(late["customer_id"]) - both,
        "kept_segment": float(np.trace(counts)) / both if both else 0.0,
        "from_sizes": np.bincount(early["segment"], minlength=k).tolist(),
        "to_sizes": np.bincount(late["segment"], minlength=k).tolist(),
    }


def clusters(scored: dict[str, np.ndarray], k: int) -> tuple[np.ndarray, dict]:
    """K-means clusters on R, F and M (`sim.rfm.kmeans_segments`, seeded), sizes and centres.

    Args:
        scored: `rfm_from_transactions` columns.
        k: number of clusters, 2 to the number of distinct (recency, frequency, monetary)
            points (more clusters than points would leave some empty).

    Returns:
        (n_customers,) cluster of each customer (0 = highest mean spend), and k, seed and per
        cluster: cluster, customers, share, revenue and the centre in the data's units
        (mean recency, frequency, monetary of its members).

    Raises:
        ParameterError: k outside 2 to the number of distinct points.
    """
    r, f, m = scored["recency"], scored["frequency"], scored["monetary"]
    n = len(r)
    if k > n:
        raise ParameterError(f"k = {k}: more clusters than customers; allowed 2 to the number "
                             f"of customers ({n})")
    distinct = len(np.unique(np.column_stack([r, f, m]).astype(float), axis=0))
    if k > distinct:
        raise ParameterError(f"k = {k}: the {n} customers have only {distinct} distinct "
                             f"(recency, frequency, monetary) points; allowed 2 to {distinct}")
    labels = rfm.kmeans_segments(r, f, m, k, np.random.default_rng(KMEANS_SEED))
    size = np.bincount(labels, minlength=k)
    rows = []
    for c in range(k):
        member = labels == c
        s = int(size[c])
        rows.append({
            "cluster": c, "customers": s, "share": s / n,
            "revenue": round(float(m[member].sum()), MONEY_DECIMALS),
            "mean_recency": float(r[member].mean()) if s else None,
            "mean_frequency": float(f[member].mean()) if s else None,
            "mean_monetary": float(m[member].mean()) if s else None,
        })
    return labels.astype(np.int64), {
        "k": k, "seed": KMEANS_SEED,
        "features": "log1p of recency, frequency, monetary, standardised; clusters numbered "
                    "by mean spend, 0 highest",
        "clusters": rows}
