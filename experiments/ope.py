"""Off-policy estimators, their bootstrap intervals and diagnostics: pure functions over arrays.

Notation (as in Open Bandit Pipeline's `ope/estimators.py`), for n logged rounds and
n_actions actions:

- `reward` (n,): the logged reward r_i; `action` (n,) int: the logged action a_i;
- `pscore` (n,): the logger's probability of a_i, mu(a_i | x_i), in (0, 1];
- `target_pscore` (n,): the target's probability of the logged action, pi(a_i | x_i), in [0, 1];
- `action_dist` (n, n_actions): the target's distribution pi(. | x_i), rows summing to 1;
- `q_hat` (n, n_actions): a reward model's prediction q(x_i, a) for every action.

The importance weight is w_i = pi(a_i | x_i) / mu(a_i | x_i), optionally clipped at `clip`:
w_i <- min(w_i, clip). The estimators of the target's value V(pi) = E_x E_{a~pi} [r]:

- DM (direct method): mean_i sum_a pi(a | x_i) q(x_i, a) = mean_i q_target_i;
- IPS: mean_i w_i r_i;
- SNIPS: sum_i w_i r_i / sum_i w_i;
- DR (doubly robust): mean_i [q_target_i + w_i (r_i - q_logged_i)], q_logged_i = q(x_i, a_i);
- SNDR: mean_i q_target_i + sum_i w_i (r_i - q_logged_i) / sum_i w_i;
- switch-DR (as in OBP's `SwitchDoublyRobust`): DR whose correction is dropped on rows whose
  (unclipped) weight exceeds `tau`: mean_i [q_target_i + 1{w_i <= tau} w_i (r_i - q_logged_i)].

Every estimator reads only five per-row arrays, the `Terms`: reward, pscore, target_pscore,
q_logged and q_target. `model_terms` reduces (n, n_actions) arrays to them once, so the
bootstrap resamples rows of five vectors, and a caller with a huge catalog can reduce its
arrays chunk by chunk (see `experiments.ope_cmd`). The functions `ips`, `snips`,
`direct_method`, `doubly_robust`, `self_normalized_doubly_robust` and `switch_doubly_robust`
take the arrays of the notation above; `evaluate` runs several with intervals and diagnostics
in one call (what `nbasim ope` and the validation against the simulator's truth share).

Intervals are percentile bootstrap intervals over rows (resampled with replacement from a
seeded generator). The DM interval holds the reward model fixed: it shows the sampling noise
of the contexts, not the model's own error.

The reward model for DM and the DR family is a ridge regression per action over the
standardised context plus an intercept, fitted to the reward minus its overall mean, so an
action the log rarely or never took is predicted near the overall mean reward
(`fit_reward_model`). `cross_fit` fits it on k - 1 folds and predicts the k-th (k = 1: one fit
on all rows, predicting the same rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

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

DEFAULT_TAU = 10.0
"""Default switch-DR threshold: rows where the target is more than ten times as likely as the
logger to take the logged action get no IPS correction."""

LEVEL = 0.95
"""Confidence level of the bootstrap intervals."""

_ATOL = 1e-6  # tolerance on a distribution's row sums


class OPEError(ValueError):
    """Bad off-policy-evaluation input; the message names what is wrong and what is allowed."""


class Terms(NamedTuple):
    """The per-row arrays every estimator reads, each (n,) float64.

    Attributes:
        reward: logged rewards.
        pscore: logger's probabilities of the logged actions, in (0, 1].
        target_pscore: target's probabilities of the logged actions, in [0, 1].
        q_logged: reward model at the logged action, q(x_i, a_i) (None without a model).
        q_target: reward model averaged over the target, sum_a pi(a|x_i) q(x_i, a) (None
            without a model).
    """

    reward: np.ndarray
    pscore: np.ndarray
    target_pscore: np.ndarray
    q_logged: np.ndarray | None = None
    q_target: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> Terms:
        """The terms of the given rows (indices or a boolean mask)."""
        return Terms(*(None if v is None else v[rows] for v in self))


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


def _check_clip(clip: float | None) -> None:
    if clip is not None and not (isinstance(clip, int | float) and clip > 0
                                 and math.isfinite(clip)):
        raise OPEError(f"clip = {clip!r}: expected None (no clipping) or a weight > 0")


def _check_tau(tau: float) -> None:
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


# --- reduction and weights ------------------------------------------------------------------


def model_terms(action: np.ndarray, action_dist: np.ndarray,
                q_hat: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None,
                                                          np.ndarray | None]:
    """Reduce (n, n_actions) arrays to the per-row values the estimators read.

    Args:
        action: (n,) logged actions.
        action_dist: (n, n_actions) target distribution.
        q_hat: (n, n_actions) reward-model predictions, or None.

    Returns:
        target_pscore = pi(a_i|x_i), q_logged = q(x_i, a_i) and
        q_target = sum_a pi(a|x_i) q(x_i, a), each (n,); the last two None without `q_hat`.

    Raises:
        OPEError: shapes that do not match, an action out of range or a bad distribution.
    """
    d = check_action_dist(action_dist)
    n, k = d.shape
    a = check_actions(action, k, n)
    rows = np.arange(n)
    target_pscore = d[rows, a]
    if q_hat is None:
        return target_pscore, None, None
    q = np.asarray(q_hat, dtype=np.float64)
    if q.shape != d.shape:
        raise OPEError(f"q_hat shape {q.shape}: expected the shape of action_dist {d.shape}")
    if q.size and not (math.isfinite(q.sum()) or np.isfinite(q).all()):
        raise OPEError("q_hat holds NaN or infinity; predictions must be finite")
    return target_pscore, q[rows, a], np.einsum("ij,ij->i", d, q)


def importance_weights(pscore: np.ndarray, target_pscore: np.ndarray,
                       clip: float | None = None) -> np.ndarray:
    """w_i = pi(a_i|x_i) / mu(a_i|x_i), clipped at `clip` if given; (n,)."""
    w = target_pscore / pscore
    if clip is not None:
        np.minimum(w, clip, out=w)
    return w


def _terms(reward: object, pscore: object, target_pscore: object) -> Terms:
    r = check_rewards(reward)
    return Terms(r, check_pscores(pscore, r.size), check_target_pscores(target_pscore, r.size))


def _model(reward: object, action: np.ndarray, pscore: object, action_dist: np.ndarray,
           q_hat: np.ndarray) -> Terms:
    t, q_logged, q_target = model_terms(action, action_dist, q_hat)
    r = check_rewards(reward, t.size)
    return Terms(r, check_pscores(pscore, t.size), t, q_logged, q_target)


def _nonempty(terms: Terms) -> None:
    if terms.reward.size == 0:
        raise OPEError("the log has no rows: an estimate needs at least one logged round")


# --- the estimators over terms ---------------------------------------------------------------


def _ips(t: Terms, clip: float | None, tau: float) -> float:
    w = importance_weights(t.pscore, t.target_pscore, clip)
    return float(np.dot(w, t.reward) / w.size)


def _snips(t: Terms, clip: float | None, tau: float) -> float:
    w = importance_weights(t.pscore, t.target_pscore, clip)
    total = w.sum()
    return float(np.dot(w, t.reward) / total) if total > 0 else math.nan


def _dm(t: Terms, clip: float | None, tau: float) -> float:
    return float(t.q_target.mean())


def _dr(t: Terms, clip: float | None, tau: float) -> float:
    w = importance_weights(t.pscore, t.target_pscore, clip)
    return float(t.q_target.mean() + np.dot(w, t.reward - t.q_logged) / w.size)


def _sndr(t: Terms, clip: float | None, tau: float) -> float:
    w = importance_weights(t.pscore, t.target_pscore, clip)
    total = w.sum()
    correction = np.dot(w, t.reward - t.q_logged) / total if total > 0 else 0.0
    return float(t.q_target.mean() + correction)


def _switch_dr(t: Terms, clip: float | None, tau: float) -> float:
    raw = t.target_pscore / t.pscore
    w = np.where(raw <= tau, raw if clip is None else np.minimum(raw, clip), 0.0)
    return float(t.q_target.mean() + np.dot(w, t.reward - t.q_logged) / w.size)


_FUNCS = {"dm": _dm, "ips": _ips, "snips": _snips, "dr": _dr, "sndr": _sndr,
          "switch_dr": _switch_dr}


def estimate(terms: Terms, estimators: Sequence[str] | None = None, *, clip: float | None = None,
             tau: float = DEFAULT_TAU) -> dict[str, float]:
    """Point estimates of several estimators over validated terms.

    Args:
        terms: per-row arrays (see `Terms`); q_logged and q_target are needed by the
            model-based estimators (`MODEL_BASED`).
        estimators: names from `ESTIMATORS` (default: all).
        clip: largest importance weight, or None.
        tau: switch-DR threshold on the unclipped weight.

    Returns:
        {name: value} in report order (NaN for SNIPS when every weight is 0).

    Raises:
        OPEError: an unknown estimator, a model-based one without model terms, bad `clip`/`tau`.
    """
    names = check_estimators(estimators)
    _check_clip(clip)
    _check_tau(tau)
    _nonempty(terms)
    missing = [e for e in names if e in MODEL_BASED]
    if missing and (terms.q_logged is None or terms.q_target is None):
        raise OPEError(f"estimators {missing} need a reward model (q_logged and q_target); "
                       "without one, allowed: ips, snips")
    return {e: _FUNCS[e](terms, clip, tau) for e in names}


def ips(reward: np.ndarray, pscore: np.ndarray, target_pscore: np.ndarray, *,
        clip: float | None = None) -> float:
    """Inverse propensity scoring: mean_i w_i r_i.

    Args:
        reward: (n,) logged rewards.
        pscore: (n,) logger's probabilities of the logged actions, in (0, 1].
        target_pscore: (n,) target's probabilities of the logged actions, in [0, 1].
        clip: largest importance weight, or None.

    Raises:
        OPEError: mismatched shapes, a NaN reward, a propensity outside (0, 1], bad `clip`.
    """
    return estimate(_terms(reward, pscore, target_pscore), ("ips",), clip=clip)["ips"]


def snips(reward: np.ndarray, pscore: np.ndarray, target_pscore: np.ndarray, *,
          clip: float | None = None) -> float:
    """Self-normalised IPS: sum_i w_i r_i / sum_i w_i (NaN if every weight is 0).

    Args and raises as `ips`.
    """
    return estimate(_terms(reward, pscore, target_pscore), ("snips",), clip=clip)["snips"]


def direct_method(q_hat: np.ndarray, action_dist: np.ndarray) -> float:
    """Direct method: mean_i sum_a pi(a|x_i) q(x_i, a).

    Args:
        q_hat: (n, n_actions) reward-model predictions.
        action_dist: (n, n_actions) target distribution.

    Raises:
        OPEError: mismatched shapes, a bad distribution, a non-finite prediction.
    """
    d = check_action_dist(action_dist)
    n = d.shape[0]
    _, _, q_target = model_terms(np.zeros(n, dtype=np.int64), d, q_hat)
    _nonempty(Terms(q_target, q_target, q_target))
    return float(q_target.mean())


def doubly_robust(reward: np.ndarray, action: np.ndarray, pscore: np.ndarray,
                  action_dist: np.ndarray, q_hat: np.ndarray, *,
                  clip: float | None = None) -> float:
    """Doubly robust: mean_i [sum_a pi(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i))].

    Args:
        reward: (n,) logged rewards.
        action: (n,) logged actions.
        pscore: (n,) logger's probabilities of the logged actions, in (0, 1].
        action_dist: (n, n_actions) target distribution (w_i reads pi(a_i|x_i) from it).
        q_hat: (n, n_actions) reward-model predictions.
        clip: largest importance weight, or None.

    Raises:
        OPEError: mismatched shapes, bad values (see the `check_*` functions), bad `clip`.
    """
    t = _model(reward, action, pscore, action_dist, q_hat)
    return estimate(t, ("dr",), clip=clip)["dr"]


def self_normalized_doubly_robust(reward: np.ndarray, action: np.ndarray, pscore: np.ndarray,
                                  action_dist: np.ndarray, q_hat: np.ndarray, *,
                                  clip: float | None = None) -> float:
    """Self-normalised DR: DM + sum_i w_i (r_i - q(x_i, a_i)) / sum_i w_i.

    Args and raises as `doubly_robust`.
    """
    t = _model(reward, action, pscore, action_dist, q_hat)
    return estimate(t, ("sndr",), clip=clip)["sndr"]


def switch_doubly_robust(reward: np.ndarray, action: np.ndarray, pscore: np.ndarray,
                         action_dist: np.ndarray, q_hat: np.ndarray, *,
                         tau: float = DEFAULT_TAU, clip: float | None = None) -> float:
    """Switch-DR: DM + mean_i 1{w_i <= tau} w_i (r_i - q(x_i, a_i)).

    Args:
        reward: (n,) logged rewards.
        action: (n,) logged actions.
        pscore: (n,) logger's probabilities of the logged actions, in (0, 1].
        action_dist: (n, n_actions) target distribution.
        q_hat: (n, n_actions) reward-model predictions.
        tau: rows whose unclipped weight exceeds it keep only the DM part (inf: plain DR).
        clip: largest importance weight (applied to the weights at or below `tau`), or None.

    Raises:
        OPEError: as `doubly_robust`, or `tau` <= 0.
    """
    t = _model(reward, action, pscore, action_dist, q_hat)
    return estimate(t, ("switch_dr",), clip=clip, tau=tau)["switch_dr"]


# --- intervals and diagnostics ---------------------------------------------------------------


def bootstrap_ci(terms: Terms, estimators: Sequence[str] | None = None, *,
                 n_bootstrap: int = 200, seed: int = 0, clip: float | None = None,
                 tau: float = DEFAULT_TAU, level: float = LEVEL) -> dict[str, list[float]]:
    """Percentile bootstrap intervals; every estimator is computed on the same resamples.

    Rows are resampled with replacement, n of them per resample.

    Args:
        terms: per-row arrays (see `estimate`).
        estimators: names (default: all).
        n_bootstrap: resamples, >= 1.
        seed: seed of the generator that draws the resamples.
        clip: largest importance weight, or None.
        tau: switch-DR threshold.
        level: coverage of the interval, in (0, 1).

    Returns:
        {name: [lo, hi]} (the (1 - level)/2 and (1 + level)/2 quantiles of the resampled
        estimates; NaN resamples are dropped).
    """
    names = check_estimators(estimators)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) \
            or n_bootstrap < 1:
        raise OPEError(f"n_bootstrap = {n_bootstrap!r}: expected an integer >= 1")
    if not 0 < level < 1:
        raise OPEError(f"level = {level!r}: expected a probability in (0, 1)")
    estimate(terms, names, clip=clip, tau=tau)  # validates names, clip, tau and model terms
    rng = np.random.default_rng(seed)
    n = terms.reward.size
    draws = np.empty((n_bootstrap, len(names)))
    for b in range(n_bootstrap):
        sample = terms.take(rng.integers(0, n, n))
        draws[b] = [_FUNCS[e](sample, clip, tau) for e in names]
    q = [(1 - level) / 2, (1 + level) / 2]
    out = {}
    for j, e in enumerate(names):
        col = draws[:, j][~np.isnan(draws[:, j])]
        out[e] = np.quantile(col, q).tolist() if col.size else [math.nan, math.nan]
    return out


def unseen_target_mass(action: np.ndarray, action_dist: np.ndarray) -> np.ndarray:
    """Per row, the target's probability on actions the log never took (in any row).

    Args:
        action: (n,) logged actions.
        action_dist: (n, n_actions) target distribution (any rows; the log's actions are the
            `action` values).

    Returns:
        (m,) mass, one per row of `action_dist`. IPS cannot see these actions at all: their
        value enters no estimate except through the reward model.
    """
    d = np.asarray(action_dist, dtype=np.float64)
    seen = np.zeros(d.shape[1], dtype=bool)
    a = np.asarray(action)
    seen[a[(a >= 0) & (a < d.shape[1])]] = True
    return d[:, ~seen].sum(axis=1)


def diagnostics(terms: Terms, *, clip: float | None = None, tau: float = DEFAULT_TAU,
                unseen_mass: float | None = None) -> dict[str, float | int | None]:
    """How far to trust the weights.

    Args:
        terms: per-row arrays.
        clip: largest importance weight, or None.
        tau: switch-DR threshold.
        unseen_mass: mean target mass on actions the log never took (`unseen_target_mass`),
            if known.

    Returns:
        n_rounds; ess (effective sample size of the weights in use, (sum w)^2 / sum w^2) and
        ess_share (ess / n); max_weight and mean_weight of the unclipped weights (the mean is
        near 1 when the logger covers the target); zero_weight_share (rows the target would
        not have chosen); clipped_share (rows whose weight the clip lowered, None without a
        clip); over_tau_share (rows switch-DR leaves uncorrected); unseen_target_mass.
    """
    _nonempty(terms)
    raw = terms.target_pscore / terms.pscore
    w = raw if clip is None else np.minimum(raw, clip)
    s2 = float(np.dot(w, w))
    ess = float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0
    n = raw.size
    return {"n_rounds": int(n), "ess": ess, "ess_share": ess / n,
            "max_weight": float(raw.max()), "mean_weight": float(raw.mean()),
            "zero_weight_share": float(np.mean(raw == 0)),
            "clipped_share": None if clip is None else float(np.mean(raw > clip)),
            "over_tau_share": float(np.mean(raw > tau)),
            "unseen_target_mass": None if unseen_mass is None else float(unseen_mass)}


def evaluate_terms(terms: Terms, estimators: Sequence[str] | None = None, *,
                   clip: float | None = None, tau: float = DEFAULT_TAU, n_bootstrap: int = 200,
                   seed: int = 0, unseen_mass: float | None = None) -> dict[str, dict]:
    """Estimates with intervals, and diagnostics, from per-row terms.

    Returns:
        {"estimates": {name: {"value": float, "ci": [lo, hi] or None}}, "diagnostics": {...}};
        "ci" is None when `n_bootstrap` is 0.
    """
    names = check_estimators(estimators)
    values = estimate(terms, names, clip=clip, tau=tau)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) \
            or n_bootstrap < 0:
        raise OPEError(f"n_bootstrap = {n_bootstrap!r}: expected an integer >= 0 (0: no "
                       "intervals)")
    cis = bootstrap_ci(terms, names, n_bootstrap=n_bootstrap, seed=seed, clip=clip,
                       tau=tau) if n_bootstrap else dict.fromkeys(names)
    return {"estimates": {e: {"value": values[e], "ci": cis[e]} for e in names},
            "diagnostics": diagnostics(terms, clip=clip, tau=tau, unseen_mass=unseen_mass)}


def evaluate(reward: np.ndarray, action: np.ndarray, pscore: np.ndarray,
             action_dist: np.ndarray, q_hat: np.ndarray | None = None, *,
             estimators: Sequence[str] | None = None, clip: float | None = None,
             tau: float = DEFAULT_TAU, n_bootstrap: int = 200,
             seed: int = 0) -> dict[str, dict]:
    """Estimate a target's value from a log: every estimator, its interval, the diagnostics.

    Args:
        reward: (n,) logged rewards.
        action: (n,) logged actions.
        pscore: (n,) logger's probabilities of the logged actions, in (0, 1].
        action_dist: (n, n_actions) target distribution.
        q_hat: (n, n_actions) reward-model predictions (needed by dm, dr, sndr, switch_dr;
            without it the default estimators are ips and snips).
        estimators: names from `ESTIMATORS`.
        clip: largest importance weight, or None.
        tau: switch-DR threshold.
        n_bootstrap: bootstrap resamples (0: no intervals).
        seed: seed of the bootstrap.

    Returns:
        As `evaluate_terms`.

    Raises:
        OPEError: any bad input, naming it.
    """
    t_ps, q_logged, q_target = model_terms(action, action_dist, q_hat)
    n = t_ps.size
    terms = Terms(check_rewards(reward, n), check_pscores(pscore, n), t_ps, q_logged, q_target)
    if estimators is None and q_hat is None:
        estimators = ("ips", "snips")
    unseen = float(unseen_target_mass(action, action_dist).mean()) if n else None
    return evaluate_terms(terms, estimators, clip=clip, tau=tau, n_bootstrap=n_bootstrap,
                          seed=seed, unseen_mass=unseen)


# --- the reward model ------------------------------------------------------------------------


@dataclass(frozen=True)
class RidgeRewardModel:
    """A ridge regression of the reward per action over the standardised context.

    q(x, a) = mean_reward + [z, 1] . coef[a], z = (x - center) / scale.

    Attributes:
        coef: (n_actions, dim_context + 1) weights, the intercept last.
        center: (dim_context,) context means of the fitting rows.
        scale: (dim_context,) their standard deviations (1 where a feature is constant).
        mean_reward: the fitting rows' mean reward.
    """

    coef: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    mean_reward: float

    @property
    def n_actions(self) -> int:
        """Number of actions the model predicts."""
        return self.coef.shape[0]

    def predict(self, contexts: np.ndarray) -> np.ndarray:
        """(n, n_actions) predicted rewards for contexts (n, dim_context)."""
        z = _design(contexts, self.center, self.scale)
        return self.mean_reward + z @ self.coef.T


def _design(x: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    z = np.empty((x.shape[0], x.shape[1] + 1))
    np.subtract(x, center, out=z[:, :-1])
    z[:, :-1] /= scale
    z[:, -1] = 1.0
    return z


def fit_reward_model(contexts: np.ndarray, action: np.ndarray, reward: np.ndarray,
                     n_actions: int, *, lam: float = 1.0) -> RidgeRewardModel:
    """Fit `RidgeRewardModel`: per action, argmin |y_a - Z_a b|^2 + lam |b|^2, y = r - mean(r).

    The intercept is penalised too, so an action with few rows is shrunk towards the overall
    mean reward and an action with none is predicted at it.

    Args:
        contexts: (n, dim_context) finite floats (dim_context may be 0: per-action means).
        action: (n,) logged actions in 0..n_actions-1.
        reward: (n,) logged rewards.
        n_actions: number of actions to predict.
        lam: ridge penalty, > 0.

    Raises:
        OPEError: bad shapes or values, or `lam` <= 0.
    """
    if not (isinstance(lam, int | float) and lam > 0):
        raise OPEError(f"lam = {lam!r}: expected a ridge penalty > 0")
    r = check_rewards(reward)
    n = r.size
    a = check_actions(action, n_actions, n)
    x = np.asarray(contexts, dtype=np.float64).reshape(n, -1)
    if x.size and not np.isfinite(x).all():
        raise OPEError("contexts hold NaN or infinity; the reward model needs finite values")
    center = x.mean(axis=0) if n else np.zeros(x.shape[1])
    scale = x.std(axis=0) if n else np.ones(x.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    mean_reward = float(r.mean()) if n else 0.0
    z = _design(x, center, scale)
    y = r - mean_reward
    d = z.shape[1]
    coef = np.zeros((n_actions, d))
    order = np.argsort(a, kind="stable")
    bounds = np.searchsorted(a[order], np.arange(n_actions + 1))
    ridge = lam * np.eye(d)
    for k in range(n_actions):
        rows = order[bounds[k]:bounds[k + 1]]
        if rows.size:
            zk = z[rows]
            coef[k] = np.linalg.solve(zk.T @ zk + ridge, zk.T @ y[rows])
    return RidgeRewardModel(coef, center, scale, mean_reward)


def cross_fit(contexts: np.ndarray, action: np.ndarray, reward: np.ndarray, n_actions: int, *,
              folds: int = 1, seed: int = 0,
              lam: float = 1.0) -> tuple[list[RidgeRewardModel], np.ndarray]:
    """Reward models for cross-fitting: row i is to be predicted by `models[fold[i]]`.

    With `folds` = k > 1, rows are dealt to k folds at random (seeded) and model j is fitted on
    every row outside fold j, so no row's prediction has seen its own reward. With k = 1 one
    model is fitted on all rows and predicts them too (faster; its in-sample residuals make the
    DR correction a little too small).

    Returns:
        (models, fold): k models and (n,) int fold of each row.

    Raises:
        OPEError: `folds` not an integer in 1..n, or as `fit_reward_model`.
    """
    r = np.asarray(reward)
    n = r.shape[0]
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 1 \
            or (folds > 1 and folds > n):
        raise OPEError(f"folds = {folds!r}: expected an integer from 1 (no cross-fitting) to "
                       f"the number of rows ({n})")
    if folds == 1:
        return [fit_reward_model(contexts, action, reward, n_actions, lam=lam)], \
            np.zeros(n, dtype=np.int64)
    fold = np.random.default_rng(seed).permutation(np.arange(n) % folds)
    x = np.asarray(contexts, dtype=np.float64).reshape(n, -1)
    a = np.asarray(action)
    models = [fit_reward_model(x[fold != j], a[fold != j], r[fold != j], n_actions, lam=lam)
              for j in range(folds)]
    return models, fold


def predict_folds(models: Sequence[RidgeRewardModel], fold: np.ndarray,
                  contexts: np.ndarray) -> np.ndarray:
    """(n, n_actions) predictions, row i from `models[fold[i]]` (see `cross_fit`)."""
    if len(models) == 1:
        return models[0].predict(contexts)
    x = np.asarray(contexts, dtype=np.float64).reshape(len(fold), -1)
    out = np.empty((x.shape[0], models[0].n_actions))
    for j, m in enumerate(models):
        rows = fold == j
        out[rows] = m.predict(x[rows])
    return out
