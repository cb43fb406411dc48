"""Budget pacing: wrap any policy so that its spend tracks a budget path and never exceeds it.

`paced(policy, budget, action_costs=..., horizon=...)` returns a policy with the same
`act`/`update` interface. Two mechanisms work together:

- a price on cost: the inner policy learns from `rewards - lam * costs`, where the Lagrange
  multiplier `lam` is updated online from the spend that `update` reports (dual descent:
  `lam <- max(0, lam + lr * (spend - rho * periods) / rho)`, with `rho = budget / horizon` the
  spend per `act` call on the even path and `periods` the `act` calls since the last update),
  so the policy learns which actions are worth their cost at the going price;
- a hard cap: at `act` time an action is only allowed while its cost bound `action_costs[a]`
  fits in what is left, `min(budget, path_slack * budget * (t + 1) / horizon) - spent -
  committed`, where `t` counts the earlier `act` calls, `spent` the costs reported so far and
  `committed` the cost bounds of actions taken but not yet reported. With `path_slack` = inf
  only the budget itself caps spend.

How a row that does not fit is handled: actions whose bound exceeds what is left are masked
out before the inner policy draws; if the drawn actions together still exceed it, rows are
visited in a random order (drawn from the wrapper's own generator, so no customer is favoured
by position) and each keeps its action while it fits, otherwise it gets action 0, which must
cost 0. Reported pscores, conditional on the rows visited before: for an action other than 0
the inner policy's pscore, which is exact; for action 0 the inner policy's pscore of what it
drew (action 0 itself, or the action that did not fit), a lower bound on the exact
probability of action 0 and never 0 (exact whenever no drawn action had to be replaced).

Spend never exceeds `budget` (up to floating-point rounding) as long as the realised cost of
each action is at most `action_costs[a]` and every acted row is reported once to `update`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from nbasim.policies.base import Params, Policy, PolicyError


class PacedParams(Params):
    """Parameters of the pacing wrapper.

    Attributes:
        budget: total money to spend over the horizon, finite, >= 0.
        horizon: number of `act` calls (e.g. days) the budget is spread over, >= 1.
        lr: step size of the Lagrange multiplier per period of relative overspend, >= 0.
        lambda0: starting value of the multiplier, >= 0.
        path_slack: >= 1; cumulative spend may run at most this factor ahead of the even path
            (inf: only the total budget caps spend).
    """

    model_config = Params.model_config | {"allow_inf_nan": True}

    budget: float = Field(ge=0, allow_inf_nan=False)
    horizon: int = Field(ge=1)
    lr: float = Field(0.1, ge=0, allow_inf_nan=False)
    lambda0: float = Field(0.0, ge=0, allow_inf_nan=False)
    path_slack: float = Field(1.1, ge=1)


class Paced(Policy):
    """A policy whose spend is priced by a Lagrange multiplier and capped by a budget.

    Build it with `paced`. Attributes after each call: `lam` (the multiplier), `spent` (costs
    reported to `update`), `committed` (cost bounds of actions not yet reported), `calls`
    (number of `act` calls).
    """

    Params = PacedParams

    def __init__(self, policy: Any, *, action_costs: np.ndarray, seed: int = 0,
                 **params: Any):
        for attr in ("act", "update", "n_actions", "dim_context"):
            if not hasattr(policy, attr):
                raise PolicyError(f"policy {policy!r}: has no {attr!r}; expected a policy "
                                  "with act, update, n_actions and dim_context")
        inner_name = getattr(policy, "name", "") or type(policy).__name__
        self.name = f"paced({inner_name})"
        features = getattr(policy, "action_features", None)
        if features is None:
            features = np.zeros((policy.n_actions, 1))
        # Build our own base state (catalog, params, generator) the way Policy does.
        super().__init__(action_features=features, dim_context=policy.dim_context, seed=seed,
                         **params)
        costs = np.asarray(action_costs, dtype=np.float64)
        if costs.shape != (self.n_actions,):
            raise PolicyError(f"action_costs shape {costs.shape}: expected ({self.n_actions},), "
                              "one upper bound per action")
        if not np.isfinite(costs).all() or (costs < 0).any():
            raise PolicyError("action_costs: expected finite values >= 0")
        if costs[0] != 0:
            raise PolicyError(f"action_costs[0] = {costs[0]!r}: action 0 (no action) must "
                              "cost 0, it is what replaces actions that do not fit")
        self.policy = policy
        self.needs_truth = getattr(policy, "needs_truth", False)
        self.action_costs = costs
        self.lam = float(self.params.lambda0)
        self.spent = 0.0
        self.committed = 0.0
        self.calls = 0
        self._calls_at_update = 0

    @property
    def remaining(self) -> float:
        """Money that the next `act` call may still commit (path cap and budget)."""
        p = self.params
        path = p.budget * min(1.0, p.path_slack * (self.calls + 1) / p.horizon)
        return max(0.0, min(p.budget, path) - self.spent - self.committed)

    def act(self, contexts: np.ndarray, eligible: np.ndarray | None, *,
            truth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The inner policy's actions among those that fit what is left of the budget."""
        n = contexts.shape[0]
        left = self.remaining
        affordable = self.action_costs <= left                     # action 0 always is
        mask = None
        if eligible is not None or not affordable.all():
            mask = np.broadcast_to(affordable, (n, self.n_actions))
            mask = mask & eligible if eligible is not None else mask.copy()
        actions, pscores = self.policy.act(contexts, mask, truth=truth)
        actions = np.asarray(actions, dtype=np.int64).copy()
        pscores = np.asarray(pscores, dtype=np.float64).copy()
        bound = self.action_costs[actions]
        if bound.sum() > left:
            order = self.rng.permutation(n)
            keep = _fit(bound[order], left)
            actions[order[~keep]] = 0
            bound = self.action_costs[actions]
        self.committed += float(bound.sum())
        self.calls += 1
        return actions, pscores

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               pscores: np.ndarray, costs: np.ndarray | None = None) -> None:
        """Pass the cost-priced rewards to the inner policy; move the multiplier."""
        bound = self.action_costs[actions]
        paid = bound if costs is None else costs
        self.policy.update(contexts, actions, rewards - self.lam * paid, pscores, costs=costs)
        spend = float(paid.sum())
        self.spent += spend
        self.committed = max(0.0, self.committed - float(bound.sum()))
        p = self.params
        rho = p.budget / p.horizon
        periods = self.calls - self._calls_at_update
        self._calls_at_update = self.calls
        if rho > 0:
            self.lam = max(0.0, self.lam + p.lr * (spend - rho * periods) / rho)


def paced(policy: Any, budget: float, *, action_costs: np.ndarray, horizon: int,
          lr: float = 0.1, lambda0: float = 0.0, path_slack: float = 1.1,
          seed: int = 0) -> Paced:
    """Wrap `policy` so that its spend follows `budget` spread evenly over `horizon` calls.

    Args:
        policy: any policy (act/update, n_actions, dim_context).
        budget: total money over the horizon, finite, >= 0.
        action_costs: (n_actions,) upper bound of each action's cost, >= 0, 0 for action 0.
        horizon: number of `act` calls the budget is spread over (e.g. days), >= 1.
        lr: step size of the Lagrange multiplier on cost, >= 0.
        lambda0: starting multiplier, >= 0.
        path_slack: >= 1, how far ahead of the even path cumulative spend may run (inf: no
            path cap, only the budget).
        seed: seed of the wrapper's own generator (the order in which rows are fitted).

    Returns:
        A `Paced` policy with the same `act` and `update`.

    Raises:
        PolicyError: a parameter out of range, or action_costs of the wrong shape or sign.
    """
    return Paced(policy, action_costs=action_costs, seed=seed, budget=budget, horizon=horizon,
                 lr=lr, lambda0=lambda0, path_slack=path_slack)


def _fit(bound: np.ndarray, left: float) -> np.ndarray:
    """Greedy in row order: each row keeps its action while its cost bound still fits.

    Args:
        bound: (n,) cost bounds in the order the rows are visited.
        left: money available.

    Returns:
        (n,) bool, the rows that keep their action (same result as a row-by-row loop).
    """
    keep = bound == 0
    pending = np.flatnonzero(~keep)
    while pending.size:
        total = np.cumsum(bound[pending])
        over = np.flatnonzero(total > left)
        if over.size == 0:
            keep[pending] = True
            break
        j = over[0]                       # first row that does not fit: it gets action 0
        keep[pending[:j]] = True
        if j:
            left -= total[j - 1]
        rest = pending[j + 1:]
        pending = rest[bound[rest] <= left]   # later rows that cost more can never fit
    return keep
