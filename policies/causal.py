"""Causal learners: they learn the uplift of a message, not the margin that follows it.

A learner trained on the attributed margin pays a message for purchases that would have
happened anyway, so it learns to mail the customers who buy most. The learners here are
trained on the `uplift_opened` reward (for an opened message, window margin minus cost minus
what the customer would have made uncontacted, see `envs.uplift_baseline`; minus the cost
alone for an unopened one), whose expectation is the message's incremental margin, and they
treat "no action" as what it is: an uplift of exactly 0, never learned, always a choice
(Sawant et al. 2018, "Contextual Multi-Armed Bandits for Causal Marketing"; Hsieh,
Kasiviswanathan and Kveton 2022, "Uplifting Bandits").

`causal_lints`: linear Thompson sampling on the uplift of actions 1..K-1 over the factorised
features phi(x, a) = x~ (x) f~_a (context with an intercept, times the action's offer,
channel, slot and wording features with an intercept), so evidence about one action informs
its neighbours. Only messages teach the model, and their rewards' spread gives the noise
scale that the posterior is drawn at, so confidence follows the reward's noise. A row's
action for one posterior sample is the eligible message of highest sampled uplift if that
uplift is above the hurdle, else no action; each row acts on one of `n_samples` samples picked
uniformly, so pscores are exact. The posterior and its samples are rebuilt, at the noise
scale of the moment, when the messages learned from have grown by `REFRESH` and at least
`REFRESH_ROWS` since they were last built: every day in a daily campaign, and every few
dozen messages, not every one, when decisions come one at a time. The hurdle is the price a
message must beat: the future value its fatigue costs, which the window does not see
(`hurdle`), and a guard against the winner's curse, which makes the best of hundreds of
sampled uplifts look positive long before any is (`caution` times the posterior's SD, so
that it shrinks as evidence grows).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from nbasim.policies.bandits import _uniform
from nbasim.policies.base import Params, Policy, PolicyError, pick
from nbasim.policies.ridge import inverse_root, kron_stats, outer_products

# Rows per chunk in `act`: no temporary above about this many floats (16 MB).
_CHUNK_FLOATS = 1 << 21
REFRESH = 0.01
"""Relative growth of the data that rebuilds the posterior and its samples; a rebuild is a
Cholesky factorisation of a (d m) x (d m) matrix."""
_BOUND_SLACK = 1e-3
"""Margin below the hurdle that `_ScoreBound` must clear for a row to be skipped: far above
the float32 rounding of a score, so a skipped row's messages are all below the hurdle."""
REFRESH_ROWS = 64
"""Fewest new rows that rebuild it (decisions one at a time would otherwise rebuild it at
every one of the first hundred)."""


class CausalParams(Params):
    """Parameters of `causal_lints`.

    Attributes:
        prior_sd: prior standard deviation of every uplift weight, in money per message
            (> 0): uplifts are near 0 until messages show otherwise. Our choice of 0.1: a
            message's true incremental margin is cents to a few units, and a context and
            action share about a hundred active weights.
        n_samples: posterior samples per `act` call, 1 to 1024 (the time of `act` grows
            with it; pscores are exact at any number).
        hurdle: the fixed part of the price (money per message) a sampled uplift must beat
            to be sent, >= 0: what the window does not see. A message's fatigue raises the
            customer's churn hazard for weeks; the world's long-term truth puts it at 0.12 a
            message on average in the dry-cleaning chain (0.33 at the 90th percentile). Our
            choice of 0.15, in that chain's money.
        caution: the part of the price that guards against the winner's curse, >= 0: the
            best of K sampled uplifts looks positive long before any is, by about
            sqrt(2 ln K) posterior SDs, and that shrinks as the posterior tightens. The hurdle
            is `hurdle` + c s sqrt(2 ln K), K the catalog's messages and s the posterior SD of
            the uplift of a message like those learned from (`_UpliftModel.uplift_sd`), which
            falls as 1 / sqrt(messages): about 0.2 after the first 100,000 messages of the
            dry-cleaning chain (432 messages, sqrt(2 ln K) = 3.48). Too high a price, and a
            learner whose first samples fall short stops sending and never learns: on a
            planted problem of two messages, a hurdle of 1.5 SDs stopped it after 130 to 330
            messages in three seeds of 75,000 decisions.
            Our choice of 0.43 (1.5 posterior SDs in the dry-cleaning chain), measured at
            50,000 customers x 180 days (`learning.toml`, seeds 0, 1 and 2): true incremental
            margin 45,817, 43,544 and 42,333 at churn 0.237 to 0.241, against 45,363, 34,115
            and 37,209 at churn 0.224 to 0.231 for a fixed hurdle of 0.5 (caution 0, which at
            20,000 x 120 days had beaten 0, 0.3 and 1.0), and the playbook's 23,907, 24,049
            and 22,015 at 0.239 to 0.241.
        explore: share of uniform exploration over the eligible actions (no action
            included), in [0, 1).
        noise_prior: noise standard deviation assumed before any reward is seen, > 0.
    """

    prior_sd: float = Field(0.1, gt=0)
    n_samples: int = Field(8, ge=1, le=1024)
    hurdle: float = Field(0.15, ge=0)
    caution: float = Field(0.43, ge=0)
    explore: float = Field(0.0, ge=0, lt=1)
    noise_prior: float = Field(1.0, gt=0)


class CausalLinTS(Policy):
    """Thompson sampling on the uplift of each message; no action is worth exactly 0."""

    Params = CausalParams
    objective: ClassVar[str | None] = "uplift_opened"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        feats = np.hstack([self.action_features[1:], np.ones((self.n_actions - 1, 1))])
        self._model = _UpliftModel(self.dim_context + 1, feats)
        self._noise = [0.0, 0.0, 0]  # sum, sum of squares and count of the rewards seen
        self._bound = _ScoreBound(feats)
        # E max of K standard normals is about sqrt(2 ln K): the winner's curse in SDs.
        self._curse = float(np.sqrt(2 * np.log(max(self.n_actions - 1, 1))))
        self._feats32 = feats.astype(np.float32)
        self._draw32: tuple[np.ndarray | None, np.ndarray | None] = (None, None)

    @property
    def noise(self) -> float:
        """Standard deviation of the rewards seen (the prior's before any)."""
        total, squares, n = self._noise
        if n < 2:
            return self.params.noise_prior
        return float(np.sqrt(max(squares / n - (total / n) ** 2, 0.0))) or \
            self.params.noise_prior

    def act(self, contexts: np.ndarray,
            eligible: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the message of highest sampled uplift above the hurdle, else no action."""
        n, k = contexts.shape[0], self.n_actions
        s, explore = self.params.n_samples, self.params.explore
        actions, pscores = np.zeros(n, dtype=np.int64), np.ones(n)
        for rows, at, scores in self._scored(contexts, eligible):
            u = self.rng.random(rows.size)
            counts = np.bincount(at * k + scores.argmax(axis=1),
                                 minlength=rows.size * k).reshape(rows.size, k)
            counts[:, 0] += s - np.bincount(at, minlength=rows.size)
            # Rows all of whose samples say no action take it for sure (without exploration).
            live = np.arange(rows.size) if explore > 0 else np.flatnonzero(counts[:, 0] < s)
            dist = counts[live] / s
            if explore > 0:
                mask = None if eligible is None else eligible[rows]
                dist = (1 - explore) * dist + explore * _uniform(dist.shape, mask)
            actions[rows[live]], pscores[rows[live]] = pick(dist, u[live])
        return actions, pscores

    def shortlist(self, contexts: np.ndarray, eligible: np.ndarray | None,
                  size: int) -> np.ndarray:
        """Per row, no action plus the `size` eligible messages of highest sampled uplift.

        Messages are listed only in the rows where one clears the hurdle: a candidate
        generator for `causal_vw`. One posterior sample, drawn afresh at each call
        (`n_samples` must be 1), serves every row of the call: given it, a row's shortlist is
        a function of its context, so a choice among the shortlist has an exact pscore
        conditional on the call's sample (drawn independently of the customers' outcomes).
        A fresh sample at each call keeps a screen whose sample falls short of the hurdle
        everywhere from going quiet for good.

        Args:
            contexts: (n, dim_context) float.
            eligible: None or (n, n_actions) bool, as `act` receives it.
            size: messages per shortlist, >= 1.

        Returns:
            (n, n_actions) bool, True on each row's shortlist and on no action.
        """
        if self.params.n_samples != 1:
            raise PolicyError(f"shortlist needs n_samples = 1, not {self.params.n_samples}")
        n, k = contexts.shape[0], self.n_actions
        short = np.zeros((n, k), dtype=bool)
        short[:, 0] = True
        self._model.draw(self.rng, self.noise, self.params.prior_sd, 1)   # rebuilt if due
        fresh = self._model.resample(self.rng)
        for rows, at, scores in self._scored(contexts, eligible, fresh):
            best = scores[:, 1:].max(axis=1)
            at, scores = at[best > scores[:, 0]], scores[best > scores[:, 0], 1:]
            top = min(size, k - 1)
            cols = np.argpartition(-scores, top - 1, axis=1)[:, :top] if top < k - 1 else \
                np.broadcast_to(np.arange(k - 1), scores.shape)
            keep = np.take_along_axis(scores, cols, axis=1) > -np.inf   # eligible only
            r = np.broadcast_to(rows[at][:, None], cols.shape)
            short[r[keep], cols[keep] + 1] = True
        return short

    def _scored(self, contexts: np.ndarray, eligible: np.ndarray | None,
                draw: np.ndarray | None = None,
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per chunk of rows, the sampled scores of the (row, sample) pairs that may send.

        The samples are the model's current ones (`_UpliftModel.draw`), or `draw` (d, m, S).

        Yields:
            rows (r,) of the chunk; at (q,), the positions in `rows` of the (row, sample)
            pairs whose best message may clear the hurdle; scores (q, n_actions)
            float32: column 0 the hurdle, the others the sampled uplifts, -inf where
            ineligible. Every other pair's argmax is no action.
        """
        n, k = contexts.shape[0], self.n_actions
        s = self.params.n_samples
        # Scores in float32: half the time of float64, and the argmax of uplifts of cents
        # against noise of units does not move at the seventh digit.
        if draw is None:
            draw = self._model.draw(self.rng, self.noise, self.params.prior_sd, s)
            if self._draw32[0] is not draw:   # the samples change only at a rebuild
                self._draw32 = (draw, draw.astype(np.float32))
            draw = self._draw32[1]
        else:
            draw = draw.astype(np.float32)
        feats = self._feats32
        xt = np.hstack([contexts, np.ones((n, 1))]).astype(np.float32)
        hurdle = self.params.hurdle
        if self.params.caution > 0:
            hurdle += self.params.caution * self._model.uplift_sd() * self._curse
        step = max(1, _CHUNK_FLOATS // (k * s))
        for lo in range(0, n, step):
            rows = np.arange(lo, min(lo + step, n))
            xw = (xt[rows] @ draw.reshape(xt.shape[1], -1)).reshape(rows.size, -1, s)
            allowed = None if eligible is None else self._bound.allowed(eligible[rows, 1:])
            at, sam = np.nonzero(self._bound.pairs(xw, allowed) >= hurdle - _BOUND_SLACK)
            scores = np.empty((at.size, k), dtype=np.float32)
            scores[:, 0] = hurdle
            scores[:, 1:] = xw[at, :, sam] @ feats.T
            if eligible is not None:
                scores = np.where(eligible[rows[at]], scores, -np.inf)
            yield rows, at, scores

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray) -> None:
        """Learn the uplift and the noise scale from the messages."""
        sent = actions > 0
        self._noise[0] += float(rewards[sent].sum())
        self._noise[1] += float((rewards[sent] ** 2).sum())
        self._noise[2] += int(sent.sum())
        if sent.any():
            xt = np.hstack([contexts[sent], np.ones((int(sent.sum()), 1))])
            self._model.add(xt, actions[sent] - 1, rewards[sent])


class _ScoreBound:
    """An upper bound of max over messages of x~' W f~_a, from x~' W alone (no (n, K) scores).

    sum_j f_aj (x~' W)_j <= sum over groups of max over the group's columns j of
    max(f_max_j (x~' W)_j, f_min_j (x~' W)_j), where a group is a set of feature columns no
    message has two of nonzero (the one-hots of an offer, a channel, a slot, a wording),
    f_max_j and f_min_j are column j's extremes among the messages that have it nonzero, and
    a group that some message leaves at 0 contributes at least 0. For a catalog that is the
    product of its parts, the bound is the best message's score itself.

    Args:
        feats: (K, m) f~ of the messages.
    """

    def __init__(self, feats: np.ndarray):
        nonzero = feats != 0
        groups: list[list[int]] = []
        for j in range(feats.shape[1]):
            free = next((g for g in groups if not (nonzero[:, g].any(axis=1)
                                                   & nonzero[:, j]).any()), None)
            if free is None:
                groups.append([j])
            else:
                free.append(j)
        self.order = np.concatenate([np.asarray(g) for g in groups])
        self.starts = np.cumsum([0] + [len(g) for g in groups])[:-1]
        self.can_be_zero = np.array([not nonzero[:, g].any(axis=1).all() for g in groups])
        # Each column's extremes among the messages that have it: a message without it
        # is counted by its group, at 0 when `can_be_zero`.
        self.high = np.where(nonzero, feats, -np.inf).max(axis=0)
        self.low = np.where(nonzero, feats, np.inf).min(axis=0)
        never = ~nonzero.any(axis=0)
        self.high[never] = self.low[never] = 0.0
        self.high = self.high.astype(np.float32)[self.order]
        self.low = self.low.astype(np.float32)[self.order]
        self.nonzero = nonzero.astype(np.float32)

    def allowed(self, eligible: np.ndarray) -> np.ndarray:
        """(n, m) bool: the columns some eligible message of each row has nonzero.

        Args:
            eligible: (n, K) bool, the messages each row may receive.
        """
        return (eligible.astype(np.float32) @ self.nonzero) > 0

    def pairs(self, xw: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
        """(n, S) the bound for each row and sample; `xw` is (n, m, S) x~' W_s.

        With `allowed` (n, m), only the columns of a row's eligible messages count (a
        channel the customer does not consent to cannot lift their bound).
        """
        xw = xw[:, self.order, :]
        col = np.maximum(self.high[:, None] * xw, self.low[:, None] * xw)
        if allowed is not None:
            col = np.where(allowed[:, self.order, None], col, -np.inf)
        group = np.maximum.reduceat(col, self.starts, axis=1)
        group[:, self.can_be_zero, :] = np.maximum(group[:, self.can_be_zero, :], 0.0)
        return group.sum(axis=1)


class _UpliftModel:
    """Bayesian linear uplift over phi(x, a) = x~ (x) f~_a: prior N(0, prior_sd^2 I).

    Keeps the data part Phi' Phi and Phi' r; the posterior at noise sigma is
    N(A^-1 Phi' r, sigma^2 A^-1) with A = Phi' Phi + (sigma / prior_sd)^2 I, built when drawn
    (the noise scale is learned as rewards come in, so the prior's weight moves with it).

    Args:
        dim: length of x~ (d).
        feats: (K, m) action features f~ of the messages.
    """

    def __init__(self, dim: int, feats: np.ndarray):
        self.dim, self.feats = dim, feats
        self.n_actions, self.m = feats.shape
        p = dim * self.m
        self.gram = np.zeros((p, p))
        self.moment = np.zeros(p)
        self.weights = np.zeros((dim, self.m))     # the last posterior mean, as (d, m)
        self.n = 0                                  # rows learned from
        self._sd: float | None = None              # `uplift_sd` at the last draw
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._outer = outer_products(feats)
        self._drawn: tuple[int, np.ndarray] | None = None   # (n at the draw, the draw)
        self._posterior: tuple[np.ndarray, np.ndarray] | None = None  # (mean, sigma A^-1/2)

    def add(self, xt: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Keep a batch; it enters the sufficient statistics at the next rebuild."""
        self._pending.append((xt, actions, rewards))
        self.n += len(actions)

    def _fold(self) -> None:
        """Add the kept batches: sum_a X_a' X_a (x) f_a f_a' and sum_a (X_a' r_a) (x) f_a."""
        if not self._pending:
            return
        xt, actions, rewards = (np.concatenate(part) for part in zip(*self._pending,
                                                                      strict=True))
        self._pending = []
        gram, moment = kron_stats(xt, actions, rewards, self.feats, self._outer)
        self.gram += gram
        self.moment += moment

    def draw(self, rng: np.random.Generator, sigma: float, prior_sd: float,
             n_samples: int) -> np.ndarray:
        """(d, m, S) weights, S samples from the posterior at noise `sigma`.

        The samples of the last call are kept until the data has grown by `REFRESH` and at
        least `REFRESH_ROWS` rows since they were drawn.
        """
        if self._drawn is not None:
            n, draw = self._drawn
            if self.n - n < max(REFRESH * n, REFRESH_ROWS):
                return draw
        self._fold()
        p = self.gram.shape[0]
        lam = (sigma / prior_sd) ** 2                # the prior's precision
        root_t = inverse_root(self.gram + lam * np.eye(p)).T
        if self.n:
            sd = sigma * np.sqrt(max(p - lam * np.sum(root_t * root_t), 0.0) / self.n)
        else:
            sd = prior_sd * np.sqrt(np.mean(np.sum(self.feats ** 2, axis=1)))
        self._sd = float(sd)
        mean = root_t @ (root_t.T @ self.moment)
        self.weights = mean.reshape(self.dim, self.m)
        self._posterior = (mean, sigma * root_t)
        z = rng.standard_normal((p, n_samples))
        draw = (mean[:, None] + sigma * (root_t @ z)).reshape(self.dim, self.m, n_samples)
        self._drawn = (self.n, draw)
        return draw

    def resample(self, rng: np.random.Generator) -> np.ndarray:
        """(d, m, 1) a new sample from the posterior of the last `draw`."""
        if self._posterior is None:
            raise RuntimeError("resample needs a draw first")
        mean, root = self._posterior
        z = rng.standard_normal((mean.size, 1))
        return (mean[:, None] + root @ z).reshape(self.dim, self.m, 1)

    def uplift_sd(self) -> float:
        """Posterior SD of the uplift of a message like those learned from, at the last draw.

        The mean over the n rows learned from of phi' Sigma phi, Sigma = sigma^2 A^-1, is
        sigma^2 tr(A^-1 Phi' Phi) / n = sigma^2 (p - lambda tr(A^-1)) / n, lambda the prior's
        precision (sigma / prior_sd)^2: the noise scale times the square root of the model's
        effective number of parameters per row, which falls as 1 / sqrt(n) once the data
        outweigh the prior. Before any row, the prior's SD of a message's uplift for a
        customer with an intercept alone: prior_sd times the root mean square of |f~_a|.
        """
        if self._sd is None:
            raise RuntimeError("uplift_sd needs a draw first")
        return self._sd
