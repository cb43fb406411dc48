"""Numpy contextual bandits, batched: epsilon-greedy, LinUCB and linear Thompson sampling.

Each keeps a ridge regression of the reward, in one of two forms (param `model`):

- `"per_action"` (default): a separate ridge model per action over the context
  x~ = [x, 1] (the 1 only with `intercept=True`);
- `"shared"`: one ridge model over the joint feature phi(x, a) = x~ (x) f~_a, the Kronecker
  product of x~ and f~_a = [action_features[a], 1]; it holds the interactions x (x) f_a, the
  action features, the context and an intercept, so a large catalog is learned through its
  features rather than one model per action.

`update` only accumulates sufficient statistics (the Gram matrices and moment vectors, grouped
by action in both forms) and then, once per call, refreshes A^-1 of each touched Gram matrix
and the parameter means: from the Cholesky factor L of A = L L' (A^-1 = L^-T L^-1), or, for an
action given a few rows, by the Woodbury identity. Thompson samples are theta + sigma L^-T z,
z standard normal: a triangular factor of the covariance, so draws do not depend on the BLAS
build.

Both forms answer the same two questions: the mean reward (n, n_actions) and the width term
phi' A^-1 phi (n, n_actions); per action it is x~' A_a^-1 x~, in the shared form x~' M_a x~
with M_a = sum_jl f~_aj f~_al A^-1[(., j), (., l)] (K matrices of d x d, precomputed per update).
`act` works through the rows in chunks, so a call over a million customers and a 433-action
catalog never builds an (n, n_actions, ...) array at once.

Every choice is exact in probability: for epsilon-greedy and LinUCB ties of the best score
(within a relative 1e-5, the rounding of the float32 widths) are split evenly, for LinTS a
sample's tie goes to the lowest index; with `explore` > 0 the policy's distribution is mixed
with the uniform one over the eligible actions, so `pscores` are at least explore / n_eligible
and the logs serve off-policy evaluation. Action 0 (no action) is an arm like any other.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from nbasim.policies.base import Params, Policy, sample
from nbasim.policies.ridge import (
    PairProducts,
    f32,
    grouped_stats,
    inverse_root,
    kron_scores,
    kron_stats,
    outer_products,
    woodbury,
)

# Rows per chunk in `act` are chosen so that no temporary holds more than about this many
# floats (16 MB), whatever the number of customers in a call.
_CHUNK_FLOATS = 1 << 21
# A per-action batch of at most dim / _WOODBURY_ROWS rows updates the inverse by the Woodbury
# identity; a larger one refreshes it from a Cholesky factor (cheaper from about d / 4 rows).
_WOODBURY_ROWS = 4
# Scores within this relative distance of the best are ties: the widths come from float32
# products whose rounding differs between actions with identical models (measured: BLAS
# rounds 14 % of rows differently in some of 240 identical columns, by 2e-7), so untried
# actions would not tie exactly.
_TIE = 1e-5


class BanditParams(Params):
    """Parameters shared by the numpy bandits.

    Attributes:
        model: "per_action" (one ridge model per action) or "shared" (one over x~ (x) f~_a).
        l2: ridge penalty, > 0 (the prior precision of every weight).
        intercept: append a constant 1 to the context (and, in the shared model, to the
            action features).
        explore: share of uniform exploration over the eligible actions, in [0, 1).
    """

    model: Literal["per_action", "shared"] = "per_action"
    l2: float = Field(1.0, gt=0)
    intercept: bool = True
    explore: float = Field(0.0, ge=0, lt=1)


class EpsilonGreedyParams(BanditParams):
    """Epsilon-greedy: `explore` in [0, 1], the share of uniform exploration (0.1)."""

    explore: float = Field(0.1, ge=0, le=1)


class LinUCBParams(BanditParams):
    """LinUCB: `alpha` >= 0 scales the confidence width sqrt(phi' A^-1 phi)."""

    alpha: float = Field(1.0, ge=0)


class LinTSParams(BanditParams):
    """Linear Thompson sampling.

    Attributes:
        sigma: >= 0, scale of the posterior: weights ~ N(theta, sigma^2 A^-1).
        n_samples: parameter samples drawn per model and `act` call, in [1, 1024]; each row
            acts on one of them, picked uniformly, so its pscore is the share of samples whose
            argmax is the chosen action.
    """

    sigma: float = Field(0.5, ge=0)
    n_samples: int = Field(16, ge=1, le=1024)


class _LinearBandit(Policy):
    """Base of the numpy bandits: the ridge model, chunked scoring and exact pscores."""

    Params = BanditParams
    _n_samples = 1

    def __init__(self, *, action_features: np.ndarray, dim_context: int, seed: int,
                 **params: Any):
        super().__init__(action_features=action_features, dim_context=dim_context, seed=seed,
                         **params)
        p = self.params
        feats = self.action_features
        if p.intercept:
            feats = np.hstack([feats, np.ones((self.n_actions, 1))])
        dim = self.dim_context + int(p.intercept)
        if p.model == "per_action":
            self._model: _PerAction | _Shared = _PerAction(dim, self.n_actions, p.l2)
        else:
            self._model = _Shared(dim, feats, p.l2)

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n = contexts.shape[0]
        actions = np.empty(n, dtype=np.int64)
        pscores = np.empty(n)
        xt = self._augment(contexts)
        self._last = (contexts, xt)  # `update` with the same contexts reuses them
        self._prepare()
        explore = self.params.explore
        floats = max(self.n_actions * self._n_samples, self._model.floats_per_row, 1)
        step = max(1, _CHUNK_FLOATS // floats)
        for s in range(0, n, step):
            rows = slice(s, min(s + step, n))
            mask = None if eligible is None else eligible[rows]
            scores = self._scores(xt[rows])                      # (rows, S, K)
            if mask is not None:
                scores = np.where(mask[:, None, :], scores, -np.inf)
            if scores.shape[1] == 1:
                top = scores[:, 0]
                best = top.argmax(axis=1)
                high = top[np.arange(len(best)), best][:, None]
                ties = top >= high - _TIE * np.abs(high)
                n_ties = ties.sum(axis=1)
                if explore == 0 and (n_ties == 1).all():
                    # Deterministic rows: the argmax with probability 1, no draw needed.
                    actions[rows], pscores[rows] = best, 1.0
                    continue
                dist = ties / n_ties[:, None]
            else:
                dist = _argmax_dist(scores)
            if explore > 0:
                dist = (1.0 - explore) * dist + explore * _uniform(dist.shape, mask)
            actions[rows], pscores[rows] = sample(self.rng, dist)
        return actions, pscores

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        if contexts.shape[0]:
            last = getattr(self, "_last", None)
            xt = last[1] if last is not None and last[0] is contexts else self._augment(contexts)
            self._last = None
            self._model.add(xt, actions, rewards)

    def _augment(self, x: np.ndarray) -> np.ndarray:
        if not self.params.intercept:
            return x
        xt = np.empty((x.shape[0], x.shape[1] + 1))
        xt[:, :-1] = x
        xt[:, -1] = 1.0
        return xt

    def _prepare(self) -> None:
        """Draw what an `act` call shares across its rows (Thompson samples)."""

    def _scores(self, xt: np.ndarray) -> np.ndarray:
        """(n, S, K) scores of a chunk; each row acts on the argmax of one of its S rows."""
        raise NotImplementedError


class EpsilonGreedy(_LinearBandit):
    """Epsilon-greedy: the best ridge estimate with prob. 1 - explore, else uniform.

    Params (see `EpsilonGreedyParams`): explore=0.1, model="per_action", l2=1.0,
    intercept=True.
    """

    Params = EpsilonGreedyParams

    def _scores(self, xt: np.ndarray) -> np.ndarray:
        return self._model.mean(xt)[:, None, :]


class LinUCB(_LinearBandit):
    """LinUCB (Li et al. 2010): argmax of theta' phi + alpha sqrt(phi' A^-1 phi).

    Params (see `LinUCBParams`): alpha=1.0, model="per_action", l2=1.0, intercept=True,
    explore=0.0.
    """

    Params = LinUCBParams

    def _scores(self, xt: np.ndarray) -> np.ndarray:
        scores = self._model.mean(xt)
        alpha = self.params.alpha
        if alpha > 0:
            scores += alpha * np.sqrt(np.maximum(self._model.var(xt), 0.0))
        return scores[:, None, :]


class LinTS(_LinearBandit):
    """Linear Thompson sampling (Agrawal and Goyal 2013), batched with exact propensities.

    Each `act` call draws `n_samples` weight vectors per model from N(theta, sigma^2 A^-1)
    through the triangular factor L^-T of A^-1 (A = L L'); each row acts on one of them picked
    uniformly, so its action_dist is the share of samples whose argmax (over its eligible
    actions) is each action, mixed with the explore floor.

    Params (see `LinTSParams`): sigma=0.5, n_samples=16, model="per_action", l2=1.0,
    intercept=True, explore=0.0.
    """

    Params = LinTSParams

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._n_samples = self.params.n_samples
        self._draw: np.ndarray | None = None

    def _prepare(self) -> None:
        self._draw = self._model.draw(self.rng, self.params.sigma, self._n_samples)

    def _scores(self, xt: np.ndarray) -> np.ndarray:
        return self._model.sample_scores(xt, self._draw)


class _PerAction:
    """A ridge model per action over x~ (dim): A_a = l2 I + X_a' X_a, b_a = X_a' r_a.

    Keeps each A_a^-1 and theta_a = A_a^-1 b_a. A batch of k rows of an action updates its
    inverse by the Woodbury identity, A^-1 - U (I + X_k U)^-1 U' with U = A^-1 X_k' (k d^2
    operations instead of d^3), while k is small against d; a larger batch refreshes it from a
    Cholesky factor of A_a. The inverse root R_a (A_a = L_a L_a', R_a = L_a^-1, so
    A_a^-1 = R_a' R_a) that posterior draws need is computed only when a draw asks for it, for
    the actions updated since the last draw.

    Args:
        dim: length of x~.
        n_actions: number of actions.
        l2: ridge penalty.
    """

    def __init__(self, dim: int, n_actions: int, l2: float):
        self.dim, self.n_actions = dim, n_actions
        self.gram = np.tile(l2 * np.eye(dim), (n_actions, 1, 1))   # (K, d, d)
        self.moment = np.zeros((n_actions, dim))                     # (K, d)
        self.inverse = np.tile(np.eye(dim) / l2, (n_actions, 1, 1))  # A_a^-1 (K, d, d)
        self.theta = np.zeros((n_actions, dim))                      # (K, d)
        self._root_t = np.tile(np.eye(dim) / np.sqrt(l2), (n_actions, 1, 1))  # R_a' (K, d, d)
        self._stale_roots = np.zeros(n_actions, dtype=bool)
        self._pairs = PairProducts(dim)
        # Widest temporaries of `var`, per row: the pair products and the (n, K) result.
        self.floats_per_row = self._pairs.starts[-1] + n_actions
        self._inv_pairs32 = np.tile(self._pairs.coefficients(self.inverse[0])[:, None],
                                    (1, n_actions))

    def add(self, xt: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Accumulate a batch, then refresh the touched actions' inverses and means."""
        touched, grams, moments, blocks = grouped_stats(xt, actions, rewards)
        self.gram[touched] += grams
        self.moment[touched] += moments
        sizes = np.array([len(b) for b in blocks])
        small = sizes <= self.dim // _WOODBURY_ROWS
        if small.any():
            inverse = self.inverse[touched]
            # Small blocks in groups of sizes up to the same power of two (padded to the
            # group's longest): a few batched updates with little padding.
            size_class = np.where(small, np.ceil(np.log2(sizes)), -1).astype(int)
            for c in np.unique(size_class[small]):
                i = np.flatnonzero(size_class == c)
                inverse[i] = woodbury(inverse[i], [blocks[j] for j in i])
        if not small.all():
            root_t = inverse_root(self.gram[touched[~small]]).transpose(0, 2, 1)
            fresh = np.matmul(root_t, root_t.transpose(0, 2, 1))
            if small.any():
                inverse[~small] = fresh
            else:
                inverse = fresh
        self.inverse[touched] = inverse
        self.theta[touched] = np.matmul(inverse, self.moment[touched, :, None])[:, :, 0]
        self._inv_pairs32[:, touched] = self._pairs.coefficients(inverse).T
        self._stale_roots[touched] = True

    def mean(self, xt: np.ndarray) -> np.ndarray:
        """(n, K) estimated rewards."""
        return xt @ self.theta.T

    def var(self, xt: np.ndarray) -> np.ndarray:
        """(n, K) x~' A_a^-1 x~, as one product of the pairs x_i x_j with A_a^-1's entries."""
        return self._pairs.forms(xt, self._inv_pairs32)

    def draw(self, rng: np.random.Generator, sigma: float, n_samples: int) -> np.ndarray:
        """(d, S K) weights, S samples per action from N(theta_a, sigma^2 A_a^-1)."""
        stale = np.flatnonzero(self._stale_roots)
        if stale.size:
            self._root_t[stale] = inverse_root(self.gram[stale]).transpose(0, 2, 1)
            self._stale_roots[stale] = False
        z = rng.standard_normal((self.n_actions, self.dim, n_samples))
        w = self.theta[:, :, None] + sigma * np.matmul(self._root_t, z)    # (K, d, S)
        return np.ascontiguousarray(w.transpose(1, 2, 0).reshape(self.dim, -1))

    def sample_scores(self, xt: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """(n, S, K) scores of every row under every sample."""
        return (xt @ draw).reshape(xt.shape[0], -1, self.n_actions)


class _Shared:
    """One ridge model over phi(x, a) = x~ (x) f~_a (dim d m): A = l2 I + Phi' Phi.

    Args:
        dim: length of x~ (d).
        feats: (K, m) action features f~.
        l2: ridge penalty.
    """

    def __init__(self, dim: int, feats: np.ndarray, l2: float):
        self.dim = dim
        self.feats = feats
        self.n_actions, self.m = feats.shape
        p = dim * self.m
        self.gram = l2 * np.eye(p)
        self.moment = np.zeros(p)
        self.root_t = np.eye(p) / np.sqrt(l2)       # R' with A^-1 = R' R
        self.weights = np.zeros((dim, self.m))      # theta as (d, m)
        self.floats_per_row = self.n_actions * dim  # the widest temporary of `var`
        self._outer = outer_products(feats)
        self._stack32 = f32(self._stack(np.eye(p) / l2))

    def add(self, xt: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Accumulate a batch (grouped by action), then refresh the root and the mean."""
        d, m = self.dim, self.m
        gram, moment = kron_stats(xt, actions, rewards, self.feats, self._outer)
        self.gram += gram
        self.moment += moment
        self.root_t = inverse_root(self.gram).T
        inv = self.root_t @ self.root_t.T
        self.weights = (inv @ self.moment).reshape(d, m)
        self._stack32 = f32(self._stack(inv))

    def _stack(self, inv: np.ndarray) -> np.ndarray:
        """(K, d, d) M_a with x~' M_a x~ = phi(x, a)' A^-1 phi(x, a)."""
        d, m = self.dim, self.m
        inv4 = inv.reshape(d, m, d, m).transpose(0, 2, 1, 3).reshape(d * d, m * m)
        return (inv4 @ self._outer.T).T.reshape(self.n_actions, d, d)

    def mean(self, xt: np.ndarray) -> np.ndarray:
        """(n, K) estimated rewards."""
        return (xt @ self.weights) @ self.feats.T

    def var(self, xt: np.ndarray) -> np.ndarray:
        """(n, K) phi(x, a)' A^-1 phi(x, a) = x~' M_a x~."""
        x32 = xt.astype(np.float32)
        y = np.matmul(x32, self._stack32)                                  # (K, n, d)
        return np.einsum("knd,nd->nk", y, x32).astype(np.float64)

    def draw(self, rng: np.random.Generator, sigma: float, n_samples: int) -> np.ndarray:
        """(d, m, S) weights, S samples from N(theta, sigma^2 A^-1)."""
        z = rng.standard_normal((self.root_t.shape[0], n_samples))
        w = self.weights.reshape(-1, 1) + sigma * (self.root_t @ z)
        return w.reshape(self.dim, self.m, n_samples)

    def sample_scores(self, xt: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """(n, S, K) scores of every row under every sample."""
        return kron_scores(xt, draw, self.feats)


def _argmax_dist(scores: np.ndarray) -> np.ndarray:
    """(n, K) share of the S score rows (n, S, K) whose argmax is each action.

    It is the exact action_dist of "pick one of the S rows uniformly, then its argmax" (ties
    of a sample go to the lowest index, a deterministic rule, so the share stays exact).
    """
    n, s, k = scores.shape
    cells = (np.arange(n)[:, None] * k + scores.argmax(axis=2)).ravel()
    return np.bincount(cells, minlength=n * k).reshape(n, k) / s


def _uniform(shape: tuple[int, int], eligible: np.ndarray | None) -> np.ndarray:
    """(n, K) uniform action_dist over the eligible actions."""
    if eligible is None:
        return np.full(shape, 1.0 / shape[1])
    return eligible / eligible.sum(axis=1, keepdims=True)
