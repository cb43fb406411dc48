"""The reward model of the direct method and the doubly robust family.

The reward model for DM and the DR family is a ridge regression per action over the
standardised context plus an intercept, fitted to the reward minus its overall mean, so an
action the log rarely or never took is predicted near the overall mean reward
(`fit_reward_model`). `cross_fit` fits it on k - 1 folds and predicts the k-th (k = 1: one fit
on all rows, predicting the same rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nbasim.experiments.ope.inputs import OPEError, check_actions, check_rewards


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
                     n_actions: int, *, l2: float = 1.0) -> RidgeRewardModel:
    """Fit `RidgeRewardModel`: per action, argmin |y_a - Z_a b|^2 + l2 |b|^2, y = r - mean(r).

    The intercept is penalised too, so an action with few rows is shrunk towards the overall
    mean reward and an action with none is predicted at it.

    Args:
        contexts: (n, dim_context) finite floats (dim_context may be 0: per-action means).
        action: (n,) logged actions in 0..n_actions-1.
        reward: (n,) logged rewards.
        n_actions: number of actions to predict.
        l2: ridge penalty, > 0.

    Raises:
        OPEError: bad shapes or values, or `l2` <= 0.
    """
    if not (isinstance(l2, int | float) and l2 > 0):
        raise OPEError(f"l2 = {l2!r}: expected a ridge penalty > 0")
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
    ridge = l2 * np.eye(d)
    for k in range(n_actions):
        rows = order[bounds[k]:bounds[k + 1]]
        if rows.size:
            zk = z[rows]
            coef[k] = np.linalg.solve(zk.T @ zk + ridge, zk.T @ y[rows])
    return RidgeRewardModel(coef, center, scale, mean_reward)


def cross_fit(contexts: np.ndarray, action: np.ndarray, reward: np.ndarray, n_actions: int, *,
              folds: int = 1, seed: int = 0,
              l2: float = 1.0) -> tuple[list[RidgeRewardModel], np.ndarray]:
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
        return [fit_reward_model(contexts, action, reward, n_actions, l2=l2)], \
            np.zeros(n, dtype=np.int64)
    fold = np.random.default_rng(seed).permutation(np.arange(n) % folds)
    x = np.asarray(contexts, dtype=np.float64).reshape(n, -1)
    a = np.asarray(action)
    models = [fit_reward_model(x[fold != j], a[fold != j], r[fold != j], n_actions, l2=l2)
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
