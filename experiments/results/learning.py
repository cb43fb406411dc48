"""Learning curves: how a policy's true earnings per decision and its regret evolve over a run.

Pure functions over the daily table's arrays (see `experiments.run.layout.DAILY_COLUMNS`),
one group (a policy on a scenario variant) at a time, pivoted to `(n_seeds, n_days)`:

- `weekly_per_decision`: per seed and week (days 0-6 are week 0, days 7-13 week 1, ...), the
  sum over the week's days of a metric (`true_incremental_margin`, `true_incremental_value`)
  over the sum of `eligible`, the customers decided for that week, sent a message or not.
- `cumulative_regret`: per seed and day, the oracle's metric minus the policy's, summed from
  the first day; on the last day it is the `regret` (or `regret_ltv`) of summary.json.
- `seed_band`: the mean over seeds and its 95 % interval at each point, by `stats.mean_ci`,
  the helper behind summary.json's intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbasim.experiments.results import stats

WEEK_DAYS = 7
"""Days per week of the weekly curves."""


@dataclass(frozen=True)
class Band:
    """A curve over seeds: mean and interval per point.

    Attributes:
        x: the points (weeks or days), shape (n_points,).
        mean: mean over the seeds that have a value, shape (n_points,); NaN where none has.
        lo: lower end of the interval, shape (n_points,).
        hi: upper end of the interval, shape (n_points,).
    """

    x: np.ndarray
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _check_table(name: str, values: np.ndarray, n_days: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected per-seed daily values of shape (n_seeds, n_days), "
                         f"got shape {arr.shape}")
    if n_days is not None and arr.shape[1] != n_days:
        raise ValueError(f"{name}: has {arr.shape[1]} days, expected {n_days}")
    return arr


def weekly_per_decision(days: np.ndarray, metric: np.ndarray, eligible: np.ndarray,
                        week_days: int = WEEK_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """A metric per decision, per seed and week.

    Args:
        days: the simulated days, shape (n_days,); day `d` falls in week `d // week_days`.
        metric: per seed and day, e.g. `true_incremental_margin`, shape (n_seeds, n_days);
            NaN where a seed lacks a day.
        eligible: decisions per seed and day (customers decided for), shape (n_seeds, n_days).
        week_days: days per week, at least 1.

    Returns:
        `(weeks, rate)`: the weeks present, shape (n_weeks,), and the week's summed metric
        over its summed decisions, shape (n_seeds, n_weeks); NaN where a seed has no day or
        no decision in the week.

    Raises:
        ValueError: on shapes that do not match or a week shorter than a day.
    """
    if week_days < 1:
        raise ValueError(f"week_days: must be at least 1, got {week_days!r}")
    days = np.asarray(days)
    if days.ndim != 1:
        raise ValueError(f"days: expected shape (n_days,), got {days.shape}")
    metric = _check_table("metric", metric, days.size)
    eligible = _check_table("eligible", eligible, days.size)
    if metric.shape != eligible.shape:
        raise ValueError(f"metric has shape {metric.shape} and eligible {eligible.shape}; "
                         "they must match")
    weeks, which = np.unique(days.astype(np.int64) // week_days, return_inverse=True)
    have = ~(np.isnan(metric) | np.isnan(eligible))
    total = np.zeros((metric.shape[0], weeks.size))
    decided = np.zeros_like(total)
    covered = np.zeros_like(total, dtype=bool)
    for k in range(weeks.size):
        cols = which == k
        total[:, k] = np.where(have[:, cols], metric[:, cols], 0.0).sum(axis=1)
        decided[:, k] = np.where(have[:, cols], eligible[:, cols], 0.0).sum(axis=1)
        covered[:, k] = have[:, cols].any(axis=1)
    ok = covered & (decided > 0)
    rate = np.divide(total, decided, out=np.full(total.shape, np.nan), where=ok)
    return weeks, rate


def cumulative_regret(oracle: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """The oracle's metric minus the policy's, summed over days, per seed.

    Args:
        oracle: the oracle's daily metric on the same seeds and days, shape (n_seeds, n_days).
        policy: the policy's daily metric, shape (n_seeds, n_days).

    Returns:
        Cumulative regret, shape (n_seeds, n_days); NaN from the first day a seed lacks on
        either side.

    Raises:
        ValueError: when the shapes differ.
    """
    oracle = _check_table("oracle", oracle)
    policy = _check_table("policy", policy)
    if oracle.shape != policy.shape:
        raise ValueError(f"oracle has shape {oracle.shape} and policy {policy.shape}; regret "
                         "pairs the same seeds and days")
    return np.cumsum(oracle - policy, axis=1)


def common_seeds(seeds_a: np.ndarray, a: np.ndarray, seeds_b: np.ndarray, b: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The rows of two per-seed tables for the seeds both have, in the same seed order.

    Args:
        seeds_a: the seeds of the rows of `a`, shape (n_a,).
        a: per-seed values, shape (n_a, n_days).
        seeds_b: the seeds of the rows of `b`, shape (n_b,).
        b: per-seed values, shape (n_b, n_days).

    Returns:
        `(a_rows, b_rows)`, each of shape (n_common, n_days).
    """
    _, ia, ib = np.intersect1d(np.asarray(seeds_a), np.asarray(seeds_b), return_indices=True)
    return np.asarray(a)[ia], np.asarray(b)[ib]


def seed_band(x: np.ndarray, per_seed: np.ndarray, level: float = stats.LEVEL) -> Band:
    """Mean over seeds and its t-interval at each point (`stats.mean_ci` of the finite values).

    Args:
        x: the points, shape (n_points,).
        per_seed: values, shape (n_seeds, n_points); NaN where a seed has no value.
        level: confidence level, strictly between 0 and 1.

    Returns:
        The band; at a point with one value the interval is that value, with none all NaN.
    """
    per_seed = _check_table("per_seed", per_seed, np.asarray(x).size)
    out = np.full((3, per_seed.shape[1]), np.nan)
    for k in range(per_seed.shape[1]):
        col = per_seed[:, k]
        col = col[np.isfinite(col)]
        if col.size:
            out[:, k] = stats.mean_ci(col, level)
    return Band(np.asarray(x), out[0], out[1], out[2])
