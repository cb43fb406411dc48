"""Per-seed breakdowns of a group by category (start segment, channel), and their estimates.

Pure functions over the columns the report read from `segments.parquet` and
`channels.parquet`: `pivot` lays one group's rows out as `(n_seeds, n_categories)` per
value, and `estimate` gives each category's mean over seeds and 95 % interval
(`stats.mean_ci`, as summary.json's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nbasim.experiments.results import stats


@dataclass(frozen=True)
class Breakdown:
    """One group's values per seed and category.

    Attributes:
        seeds: the seeds, (n_seeds,), the rows of every value.
        categories: the categories, the columns of every value.
        values: value name -> (n_seeds, n_categories); 0 where a seed has no row.
    """

    seeds: np.ndarray
    categories: list[str]
    values: dict[str, np.ndarray]


@dataclass(frozen=True)
class Estimate:
    """Per category: the mean over seeds and its 95 % interval (a point with one seed).

    Attributes:
        mean, lo, hi: (n_categories,) each.
    """

    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def pivot(seed: np.ndarray, category: np.ndarray, columns: Mapping[str, np.ndarray],
          categories: Sequence[str]) -> Breakdown:
    """Lay one group's rows out by seed and category.

    Args:
        seed: (n_rows,) each row's seed.
        category: (n_rows,) each row's category, one of `categories`.
        columns: value name -> (n_rows,) values.
        categories: the categories in the order wanted.

    Returns:
        The breakdown; rows of the same seed and category are summed.
    """
    seeds, si = np.unique(np.asarray(seed), return_inverse=True)
    index = {c: i for i, c in enumerate(categories)}
    ci = np.array([index[c] for c in np.asarray(category).astype(str).tolist()], dtype=np.intp)
    values = {}
    for name, v in columns.items():
        out = np.zeros((seeds.size, len(categories)))
        np.add.at(out, (si.reshape(-1), ci), np.asarray(v, dtype=np.float64))
        values[name] = out
    return Breakdown(seeds, list(categories), values)


def estimate(values: np.ndarray) -> Estimate:
    """Each column's mean over the rows (seeds) and its 95 % t-interval.

    Args:
        values: (n_seeds, n_categories), finite.
    """
    cols = [stats.mean_ci(values[:, j]) for j in range(values.shape[1])]
    mean, lo, hi = (np.array([c[k] for c in cols]) for k in range(3))
    return Estimate(mean, lo, hi)

