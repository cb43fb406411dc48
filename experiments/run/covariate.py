"""The CUPED covariate: what a CRM predicts of each customer's spend before the campaign.

Built once per cell from the observable history at the first decision (the day-0 state:
first purchase day, purchases, last purchase day, total spend), never from latent traits:

- `present`: 1 for a customer present at the first decision, 0 for one who arrives later
  (newcomers have no history; this column lets their mean differ);
- `predicted_spend`: the BG/NBD expected repeat purchases over the run, conditional on each
  customer's own (x, t_x, T) (Fader, Hardie and Lee 2005, eq. 10, with the model fitted by
  maximum likelihood on these same histories), times their mean spend per purchase so far.

A fit that fails, or predicts something not finite, falls back to each customer's spend per
day of tenure (at least 30 days) times the run's days. Either way the covariate is fixed
before any contact, so it cannot carry the campaign's effect (`experiments.run.cuped`).
"""

from __future__ import annotations

import hashlib

import numpy as np

from nbasim.sim import calibration

MAX_FIT_ROWS = 20_000
"""BG/NBD is fitted on at most this many customers (every k-th row), the prediction made for
all: the parameters are population-level and settle long before."""
WEEK = 7.0
"""The fit's time unit, in days (the unit of the published BG/NBD parameters)."""
FLOOR_DAYS = 30.0
"""Tenure below which the fallback's spend per day is taken over this many days."""
NAMES = ("present", "predicted_spend")
"""The covariate's columns."""
_FITS: dict[bytes, dict[str, float] | None] = {}
"""BG/NBD fits of this process by the SHA-256 of their inputs: the cells of one seed share
their day-0 histories, so a worker fits each seed once, whatever the policy."""
_MAX_FITS = 64


def history_covariates(join_day: np.ndarray, frequency: np.ndarray, monetary: np.ndarray,
                       last_purchase_day: np.ndarray, present: np.ndarray, day: int,
                       horizon_days: float) -> np.ndarray:
    """The covariate matrix of every customer, as of the end of day `day - 1`.

    Args:
        join_day: (n,) day of each customer's first purchase (negative before the run).
        frequency: (n,) purchases so far (the first included).
        monetary: (n,) total spend so far.
        last_purchase_day: (n,) day of the last purchase.
        present: (n,) bool, the customers present now; the others get zeros.
        day: the first day not yet simulated; a present customer's age is `day - join_day`.
        horizon_days: days ahead to predict (the run's decision days).

    Returns:
        (n, 2) float64, the columns of `NAMES`.
    """
    n = np.asarray(join_day).size
    out = np.zeros((n, len(NAMES)))
    rows = np.flatnonzero(present)
    out[rows, 0] = 1.0
    if rows.size == 0:
        return out
    join = np.asarray(join_day, dtype=np.float64)[rows]
    purchases = np.maximum(np.asarray(frequency, dtype=np.float64)[rows], 1.0)
    spend = np.asarray(monetary, dtype=np.float64)[rows]
    age = np.maximum(day - join, 1.0)
    last = np.clip(np.asarray(last_purchase_day, dtype=np.float64)[rows] - join, 0.0, age)
    repeat = _expected_repeat(purchases - 1.0, last / WEEK, age / WEEK, horizon_days / WEEK)
    if repeat is None:
        out[rows, 1] = spend / np.maximum(age, FLOOR_DAYS) * horizon_days
    else:
        out[rows, 1] = repeat * spend / purchases
    return out


def _expected_repeat(x: np.ndarray, t_x: np.ndarray, age: np.ndarray,
                     t: float) -> np.ndarray | None:
    """BG/NBD E[purchases in (T, T + t] | x, t_x, T] fitted on these histories, or None."""
    step = max(1, -(-x.size // MAX_FIT_ROWS))
    if x.size < 10 or not np.any(x[::step] > 0):
        return None
    rows = np.ascontiguousarray(np.column_stack([x[::step], t_x[::step], age[::step]]))
    key = hashlib.sha256(rows.tobytes()).digest()
    if key not in _FITS:
        if len(_FITS) >= _MAX_FITS:
            _FITS.clear()
        _FITS[key] = _fit(*rows.T)
    p = _FITS[key]
    if p is None:
        return None
    with np.errstate(all="ignore"):
        pred = calibration.bgnbd_conditional(t, x, t_x, age, p["r"], p["alpha"], p["a"], p["b"])
    return pred if np.isfinite(pred).all() else None


def _fit(x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> dict[str, float] | None:
    """BG/NBD parameters fitted by maximum likelihood, None when the fit fails."""
    try:
        with np.errstate(all="ignore"):
            params = calibration.fit_bgnbd(x, t_x, age).params
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return None
    return params if all(np.isfinite(v) and v > 0 for v in params.values()) else None
