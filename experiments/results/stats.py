"""Statistics across seeds: t-intervals of means and of paired differences.

Pure functions over arrays. `summarize` and `vs_baseline` produce exactly the `"metrics"` and
`"vs_baseline"` structures of a group in summary.json (see `experiments.run.layout`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as sps

LEVEL = 0.95
"""Default confidence level of every interval."""


def _as_values(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """Check and convert per-seed values to a 1-d float array.

    Args:
        values: per-seed values, shape (n_seeds,).
        name: what the values are, for error messages.

    Returns:
        The values as float64, shape (n_seeds,).

    Raises:
        ValueError: when the values are empty, not 1-d, or not all finite.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected a sequence of numbers, got {values!r}") from err
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d sequence of per-seed values, got shape "
                         f"{arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: no values; at least one seed is needed")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name}: values must be finite, got {arr[bad[0]]} at seed index "
                         f"{int(bad[0])}")
    return arr


def _check_level(level: float) -> None:
    """Raise ValueError unless 0 < level < 1."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: must lie strictly between 0 and 1, got {level!r}")


def _t_interval(arr: np.ndarray, level: float) -> tuple[float, float, float]:
    """Mean and t-interval of the mean of checked values (the interval is a point for n=1)."""
    mean = float(arr.mean())
    n = arr.size
    if n == 1:
        return mean, mean, mean
    sem = float(arr.std(ddof=1)) / math.sqrt(n)
    half = float(sps.t.ppf(0.5 + level / 2.0, df=n - 1)) * sem
    return mean, mean - half, mean + half


def mean_ci(values: Sequence[float] | np.ndarray, level: float = LEVEL,
            ) -> tuple[float, float, float]:
    """Mean over seeds and its Student-t confidence interval.

    The interval is `mean +- t(0.5 + level / 2, n - 1) * s / sqrt(n)` with `s` the sample
    standard deviation (ddof 1). With one value there is no spread to estimate and the
    interval is `[mean, mean]`.

    Args:
        values: per-seed values, shape (n_seeds,); all finite.
        level: confidence level, strictly between 0 and 1.

    Returns:
        `(mean, lo, hi)` as floats.

    Raises:
        ValueError: when the values are empty, not 1-d or contain NaN or infinity, or when
            the level is outside (0, 1).
    """
    _check_level(level)
    return _t_interval(_as_values(values, "values"), level)


def paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
           level: float = LEVEL) -> tuple[float, float, float]:
    """Mean and t-interval of the per-seed differences `a - b`.

    Both sequences are indexed by the same seeds (common random numbers), so the interval
    is the one of the mean difference, usually much narrower than two separate intervals.

    Args:
        a: per-seed values of a group, shape (n_seeds,).
        b: per-seed values of the reference, shape (n_seeds,), same seeds in the same order.
        level: confidence level, strictly between 0 and 1.

    Returns:
        `(mean, lo, hi)` of `a - b`.

    Raises:
        ValueError: when the lengths differ, or either input is empty or not finite, or the
            level is outside (0, 1).
    """
    _check_level(level)
    xa, xb = _as_values(a, "a"), _as_values(b, "b")
    if xa.size != xb.size:
        raise ValueError(f"paired: a has {xa.size} seeds and b has {xb.size}; paired "
                         "differences need the same seeds on both sides")
    return _t_interval(xa - xb, level)


def summarize(per_seed: Mapping[str, Sequence[float]], level: float = LEVEL,
              ) -> dict[str, dict[str, object]]:
    """The `"metrics"` block of a summary.json group.

    Args:
        per_seed: metric name -> per-seed values, each shape (n_seeds,) in seed order.
        level: confidence level, strictly between 0 and 1.

    Returns:
        `{metric: {"mean": float, "ci": [lo, hi], "per_seed": [float, ...]}}`, metrics in
        the input order.

    Raises:
        ValueError: naming the metric whose values are empty or not finite.
    """
    _check_level(level)
    out: dict[str, dict[str, object]] = {}
    for metric, values in per_seed.items():
        arr = _as_values(values, f"metric {metric!r}")
        mean, lo, hi = _t_interval(arr, level)
        out[metric] = {"mean": mean, "ci": [lo, hi], "per_seed": [float(v) for v in arr]}
    return out


def vs_baseline(group_per_seed: Mapping[str, Sequence[float]],
                baseline_per_seed: Mapping[str, Sequence[float]], level: float = LEVEL,
                ) -> dict[str, dict[str, object]]:
    """The `"vs_baseline"` block of a summary.json group: paired differences group - baseline.

    Only metrics that both sides have are compared (a metric a group cannot have is left
    out of its per-seed values). The baseline group itself gets `{}` in summary.json; that
    is the caller's choice, this function just compares what it is given.

    Args:
        group_per_seed: metric name -> per-seed values of the group, shape (n_seeds,).
        baseline_per_seed: metric name -> per-seed values of the baseline group, same seeds
            in the same order.
        level: confidence level, strictly between 0 and 1.

    Returns:
        `{metric: {"mean": float, "ci": [lo, hi]}}` in the group's metric order.

    Raises:
        ValueError: naming the metric whose values differ in length or are not finite.
    """
    _check_level(level)
    out: dict[str, dict[str, object]] = {}
    for metric, values in group_per_seed.items():
        if metric not in baseline_per_seed:
            continue
        xa = _as_values(values, f"metric {metric!r} of the group")
        xb = _as_values(baseline_per_seed[metric], f"metric {metric!r} of the baseline")
        if xa.size != xb.size:
            raise ValueError(f"metric {metric!r}: the group has {xa.size} seeds and the "
                             f"baseline {xb.size}; paired differences need the same seeds")
        mean, lo, hi = _t_interval(xa - xb, level)
        out[metric] = {"mean": mean, "ci": [lo, hi]}
    return out
