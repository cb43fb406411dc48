"""Off-policy estimators over per-row terms: pure functions over arrays.

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
arrays chunk by chunk (see `experiments.ope.targets.reduce_terms`). The functions `ips`,
`snips`, `direct_method`, `doubly_robust`, `self_normalized_doubly_robust` and
`switch_doubly_robust` take the arrays of the notation above; `experiments.ope.evaluation.
evaluate` runs several with intervals and diagnostics in one call (what `nbasim ope` and the
validation against the simulator's truth share).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from nbasim.experiments.ope.inputs import (
    MODEL_BASED,
    OPEError,
    check_action_dist,
    check_actions,
    check_clip,
    check_estimators,
    check_pscores,
    check_rewards,
    check_target_pscores,
    check_tau,
)

DEFAULT_TAU = 10.0
"""Default switch-DR threshold: rows where the target is more than ten times as likely as the
logger to take the logged action get no IPS correction."""

LEVEL = 0.95
"""Confidence level of the bootstrap intervals."""


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


def check_nonempty(terms: Terms) -> None:
    """Raise `OPEError` when the terms hold no row."""
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


ESTIMATOR_FUNCTIONS = {"dm": _dm, "ips": _ips, "snips": _snips, "dr": _dr, "sndr": _sndr,
                       "switch_dr": _switch_dr}
"""Estimator name -> function(terms, clip, tau) -> value."""


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
    check_clip(clip)
    check_tau(tau)
    check_nonempty(terms)
    missing = [e for e in names if e in MODEL_BASED]
    if missing and (terms.q_logged is None or terms.q_target is None):
        raise OPEError(f"estimators {missing} need a reward model (q_logged and q_target); "
                       "without one, allowed: ips, snips")
    return {e: ESTIMATOR_FUNCTIONS[e](terms, clip, tau) for e in names}


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
    check_nonempty(Terms(q_target, q_target, q_target))
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
