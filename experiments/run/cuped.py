"""Regression-adjusted uplift over the holdout (CUPED: Deng, Xu, Kohavi and Walker 2013).

The raw uplift compares the treated customers' outcome with the holdout's, scaled to the
treated group: `n_T * (mean_T(y) - mean_H(y))`. Most of its noise is which customers happened
to land in the small holdout. CUPED subtracts the part of that difference a covariate fixed
before the run explains: with `theta` the least-squares coefficient of `y` on `x`, fitted on
the treated and holdout customers pooled,

    adjusted = raw - n_T * theta . (mean_T(x) - mean_H(x)).

Randomisation makes `E[mean_T(x) - mean_H(x)] = 0` whatever `x` is, so the adjustment moves
no expected value; it removes the share `R^2` of the variance that `x` explains. The standard
error is the difference-in-means one computed on the residuals `y - theta . x` (Deng et al.,
section 3.2), so intervals built on it account for the adjustment.

With k covariates `theta` is a vector (multiple regression, the "CUPAC" reading: `x theta` is
a history-based prediction of `y`). Its in-sample fit flatters the residuals by about `k / n`
of their variance (under 2 % for the runner's covariates on 3,000 customers); the standard
error does not correct for that.

Pure functions over arrays; sums are numpy's pairwise sums, never BLAS, so the same inputs
give the same bits whatever the thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CupedEstimate:
    """The uplift of the treated over the holdout, raw and adjusted.

    Attributes:
        raw: `n_T * (mean_T(y) - mean_H(y))`.
        adjusted: `raw - n_T * theta . (mean_T(x) - mean_H(x))`.
        theta: (k,) the pooled coefficient of `y` on `x`.
        se_raw: standard error of `raw`, `n_T * sqrt(s_T^2 / n_T + s_H^2 / n_H)`.
        se: the same on the residuals `y - theta . x`: the standard error of `adjusted`.
    """

    raw: float
    adjusted: float
    theta: np.ndarray
    se_raw: float
    se: float


def _check(y: np.ndarray, x: np.ndarray, treated: np.ndarray,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    treated = np.asarray(treated)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim != 1 or x.ndim != 2 or treated.ndim != 1 or treated.dtype != bool:
        raise ValueError(f"cuped: expected y (n,), x (n, k) and a boolean treated (n,), got "
                         f"shapes {y.shape}, {x.shape} and {treated.shape} ({treated.dtype})")
    if not x.shape[0] == y.size == treated.size:
        raise ValueError(f"cuped: y has {y.size} rows, x {x.shape[0]} and treated "
                         f"{treated.size}; one row per customer on all three")
    if not (np.isfinite(y).all() and np.isfinite(x).all()):
        raise ValueError("cuped: y and x must be finite")
    return y, x, treated


RCOND = 1e-10
"""Eigenvalues of the covariates' correlation matrix below this share of the largest are
dropped (the pseudo-inverse): exactly collinear columns, such as one-hot columns that add up to
another, then cost nothing."""
VARIES = 1e-10
"""A column whose centred sum of squares is below this share of its uncentred one is
constant up to rounding, and gets 0."""


def gram(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sums and the uncentred cross-products of `x`'s columns, for `theta(..., moments=)`.

    Rows of zeros add nothing to either, so the moments of all rows serve any prefix of them
    whose other rows are all zero (the covariates of customers who arrive later).

    Args:
        x: (n, k) covariates, or (n,) for one.

    Returns:
        (k,) column sums and (k, k) `sum_i x_i x_i^T`, as pairwise sums.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    k = x.shape[1]
    cols = [np.ascontiguousarray(x[:, j]) for j in range(k)]
    cross = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            cross[i, j] = cross[j, i] = (cols[i] * cols[j]).sum()
    return np.array([c.sum() for c in cols]), cross


def theta(y: np.ndarray, x: np.ndarray,
          moments: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The least-squares coefficient of `y` on `x` with an intercept, all rows pooled.

    `theta = Sxx^+ Sxy` with `Sxx` and `Sxy` the centred cross-products. The pseudo-inverse is
    taken on the correlation scale (`RCOND`): a covariate without variance gets 0, and of
    exactly collinear ones the minimum-norm combination, so the fitted values `x theta` are
    those of least squares on the columns that are not redundant.

    Args:
        y: (n,) outcomes.
        x: (n, k) covariates, or (n,) for one.
        moments: `gram(x)`, or that of rows whose extra rows are all zero, to skip the
            `O(n k^2)` cross-products (a run recomputes theta every day on the same `x`).

    Returns:
        (k,) coefficients (zeros with fewer than 2 rows).
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    n, k = x.shape
    if y.size < 2:
        return np.zeros(k)
    sums, cross = gram(x) if moments is None else moments
    mean = sums / n
    sxx = cross - n * np.outer(mean, mean)
    yc = y - y.mean()
    sxy = yc @ x
    # A column varies when its centred square is not rounding error of its uncentred one.
    keep = np.diag(sxx) > VARIES * np.diag(cross)
    scale = np.sqrt(np.where(keep, np.diag(sxx), 1.0))
    out = np.zeros(k)
    if keep.any():
        d = scale[keep]
        corr = sxx[np.ix_(keep, keep)] / np.outer(d, d)
        out[keep] = (np.linalg.pinv(corr, rcond=RCOND) @ (sxy[keep] / d)) / d
    return out


def adjustment(y: np.ndarray, x: np.ndarray, treated: np.ndarray,
               moments: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """What CUPED subtracts from the raw uplift: `n_T * theta . (mean_T(x) - mean_H(x))`.

    Args:
        y: (n,) each customer's outcome.
        x: (n, k) each customer's covariates, fixed before the run.
        treated: (n,) bool, True outside the holdout.
        moments: `gram(x)` when the caller has it (see `theta`).

    Returns:
        The adjustment (0 when either group is empty).
    """
    y, x, treated = _check(y, x, treated)
    n_t = int(treated.sum())
    if n_t == 0 or n_t == treated.size:
        return 0.0
    share = treated / n_t - ~treated / (treated.size - n_t)   # mean_T - mean_H as weights
    gap = share @ x
    return float(n_t * float((theta(y, x, moments) * gap).sum()))


def _se(values: np.ndarray, treated: np.ndarray) -> float:
    """`n_T * sqrt(s_T^2 / n_T + s_H^2 / n_H)` (ddof 1; NaN with fewer than 2 in a group)."""
    t, h = values[treated], values[~treated]
    if t.size < 2 or h.size < 2:
        return math.nan
    return float(t.size * math.sqrt(t.var(ddof=1) / t.size + h.var(ddof=1) / h.size))


def estimate(y: np.ndarray, x: np.ndarray, treated: np.ndarray) -> CupedEstimate:
    """The raw and the adjusted uplift of the treated over the holdout, with standard errors.

    Args:
        y: (n,) each customer's outcome (margin net of spend on them).
        x: (n, k) each customer's covariates, fixed before the run; or (n,) for one.
        treated: (n,) bool, True outside the holdout.

    Returns:
        The estimate; raw and adjusted are 0 when a group is empty.

    Raises:
        ValueError: on shapes that do not line up, a non-boolean `treated` or non-finite
            values.
    """
    y, x, treated = _check(y, x, treated)
    n_t = int(treated.sum())
    coef = theta(y, x)
    if n_t == 0 or n_t == treated.size:
        return CupedEstimate(0.0, 0.0, coef, math.nan, math.nan)
    raw = n_t * (y[treated].mean() - y[~treated].mean())
    share = treated / n_t - ~treated / (treated.size - n_t)   # mean_T - mean_H as weights
    gap = share @ x
    adjusted = raw - n_t * float((coef * gap).sum())
    residual = y - (x * coef).sum(axis=1)
    return CupedEstimate(float(raw), float(adjusted), coef, _se(y, treated),
                         _se(residual, treated))
