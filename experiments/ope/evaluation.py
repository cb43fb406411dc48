"""Estimates with intervals and diagnostics: what `nbasim ope` and `ope-validate` report.

Intervals are percentile bootstrap intervals over rows (resampled with replacement from a
seeded generator). The DM interval holds the reward model fixed: it shows the sampling noise
of the contexts, not the model's own error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nbasim.experiments.ope.estimators import (
    DEFAULT_TAU,
    ESTIMATOR_FUNCTIONS,
    LEVEL,
    Terms,
    check_nonempty,
    estimate,
    model_terms,
)
from nbasim.experiments.ope.inputs import OPEError, check_estimators, check_pscores, check_rewards


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
        draws[b] = [ESTIMATOR_FUNCTIONS[e](sample, clip, tau) for e in names]
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
    check_nonempty(terms)
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
