"""Checked inputs of the off-policy estimators: arrays, names and settings.

Each check returns the input as the array the estimators read, or raises `OPEError`
naming the field, the first bad row and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from nbasim.errors import NbasimError

ESTIMATORS = {
    "dm": "direct method: the reward model's value of the target",
    "ips": "inverse propensity scoring",
    "snips": "self-normalised IPS",
    "dr": "doubly robust: DM plus an IPS correction of its residuals",
    "sndr": "self-normalised doubly robust",
    "switch_dr": "switch-DR: DR without the correction on rows whose weight exceeds tau",
}
"""Estimator names, in the order they are reported, with a line each."""

MODEL_BASED = frozenset({"dm", "dr", "sndr", "switch_dr"})
"""Estimators that need a reward model (q_logged and q_target)."""

_ATOL = 1e-6  # tolerance on a distribution's row sums


class OPEError(NbasimError):
    """Bad off-policy-evaluation input; the message names what is wrong and what is allowed."""


# --- validation --------------------------------------------------------------------------


def _vector(name: str, values: object, n: int | None = None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or (n is not None and v.shape[0] != n):
        raise OPEError(f"{name} shape {v.shape}: expected ({'n' if n is None else n},)")
    return v


def _first_bad(v: np.ndarray, bad: np.ndarray) -> str:
    i = int(np.flatnonzero(bad)[0])
    return f"row {i} holds {v[i].item()!r}"


def check_rewards(reward: object, n: int | None = None) -> np.ndarray:
    """Rewards as (n,) float64, all finite.

    Raises:
        OPEError: a wrong shape, or a NaN or infinite reward (naming the first row).
    """
    r = _vector("reward", reward, n)
    if r.size and not (math.isfinite(r.sum()) or np.isfinite(r).all()):
        raise OPEError(f"reward: {_first_bad(r, ~np.isfinite(r))}; rewards must be finite "
                       "numbers (no NaN or missing value)")
    return r


def check_pscores(pscore: object, n: int | None = None) -> np.ndarray:
    """Logged propensities as (n,) float64, each in (0, 1].

    Raises:
        OPEError: a wrong shape, or a propensity that is missing, 0 or below, or above 1.
    """
    p = _vector("pscore", pscore, n)
    if p.size and not (p.min() > 0 and p.max() <= 1):  # False on NaN too
        bad = ~((p > 0) & (p <= 1))
        raise OPEError(f"pscore: {_first_bad(p, bad)}; a logged propensity must be in (0, 1] "
                       "(never 0, missing or above 1)")
    return p


def check_target_pscores(target_pscore: object, n: int | None = None) -> np.ndarray:
    """Target probabilities of the logged actions as (n,) float64, each in [0, 1].

    Raises:
        OPEError: a wrong shape, or a value outside [0, 1] or missing.
    """
    t = _vector("target_pscore", target_pscore, n)
    if t.size and not (t.min() >= 0 and t.max() <= 1 + _ATOL):
        bad = ~((t >= 0) & (t <= 1 + _ATOL))
        raise OPEError(f"target_pscore: {_first_bad(t, bad)}; allowed: 0 to 1")
    return t


def check_actions(action: object, n_actions: int, n: int | None = None) -> np.ndarray:
    """Logged actions as (n,) int64, each in 0..n_actions-1.

    Raises:
        OPEError: a wrong shape, a non-integer, or an action out of range.
    """
    a = np.asarray(action)
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        raise OPEError(f"action shape {a.shape}: expected ({'n' if n is None else n},)")
    if a.size and a.dtype.kind not in "iu":
        raise OPEError(f"action dtype {a.dtype}: expected integers 0..{n_actions - 1}")
    if a.size and (a.min() < 0 or a.max() >= n_actions):
        bad = (a < 0) | (a >= n_actions)
        raise OPEError(f"action: {_first_bad(a, bad)}; allowed 0 to {n_actions - 1}")
    return a.astype(np.int64, copy=False)


def check_action_dist(action_dist: object, n: int | None = None) -> np.ndarray:
    """A target distribution as (n, n_actions) float64: entries >= 0, rows summing to 1.

    Raises:
        OPEError: a wrong shape, a negative or missing entry, or a row not summing to 1.
    """
    d = np.asarray(action_dist, dtype=np.float64)
    if d.ndim != 2 or (n is not None and d.shape[0] != n) or d.shape[1] < 1:
        raise OPEError(f"action_dist shape {d.shape}: expected ({'n' if n is None else n}, "
                       "n_actions)")
    if d.size and not d.min() >= 0:
        i = int(np.flatnonzero(~(d >= 0).all(axis=1))[0])
        raise OPEError(f"action_dist: row {i} holds a negative or missing probability; "
                       "allowed: 0 to 1")
    sums = d.sum(axis=1)
    off = np.abs(sums - 1) > _ATOL
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise OPEError(f"action_dist: row {i} sums to {sums[i]:.6g}; each row must sum to 1")
    return d


def check_clip(clip: float | None) -> None:
    """Raise `OPEError` unless `clip` is None or a finite weight > 0."""
    if clip is not None and not (isinstance(clip, int | float) and clip > 0
                                 and math.isfinite(clip)):
        raise OPEError(f"clip = {clip!r}: expected None (no clipping) or a weight > 0")


def check_tau(tau: float) -> None:
    """Raise `OPEError` unless `tau` is a weight threshold > 0."""
    if not (isinstance(tau, int | float) and tau > 0):
        raise OPEError(f"tau = {tau!r}: expected a weight threshold > 0 (inf: plain DR)")


def check_estimators(estimators: Iterable[str] | None) -> tuple[str, ...]:
    """Estimator names in report order; None means all of `ESTIMATORS`.

    Raises:
        OPEError: an unknown or repeated name, or an empty list.
    """
    if estimators is None:
        return tuple(ESTIMATORS)
    names = [str(e).strip().lower().replace("-", "_") for e in estimators]
    bad = [e for e in names if e not in ESTIMATORS]
    if bad or not names or len(set(names)) != len(names):
        raise OPEError(f"estimators {list(estimators)}: each must be one of "
                       f"{', '.join(ESTIMATORS)}, at least one, no repeats")
    return tuple(e for e in ESTIMATORS if e in names)
