"""`nbasim/CampaignDay-v0`: one step is one simulated day; an action for every customer at once.

Observation: `contexts` (n_customers, n_features) float32, what the CRM knows of each customer
(zeros for customers not yet joined), and `eligible` (n_customers,) 1 for present customers
outside the holdout. Action: one action index per customer (actions of ineligible customers
are ignored). Reward: the day's attributed margin minus cost (objective `margin`), plus the
change in expected customer value (objective `ltv`). The horizon ends the episode as
`truncated`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs import context, setup
from sim.actions import build_catalog
from sim.constraints import REASONS
from sim.params import ParameterError
from sim.scenarios import get_scenario


class CampaignDayEnv(gym.Env):
    """A campaign decided one day at a time for the whole base (the fast path).

    Args:
        **options: see `envs.setup.EnvOptions` (scenario, overrides, shocks, customers, days,
            holdout, budget, contact policy, objective).
    """

    metadata = {"render_modes": []}

    def __init__(self, **options: Any):
        self.options = setup.parse_options(options)
        params = get_scenario(self.options.scenario, self.options.overrides)
        catalog = build_catalog(tuple(params.offers), tuple(params.channels))
        n = self.options.customers
        self.feature_names = context.feature_names(tuple(s.name for s in params.stores))
        self.action_features = catalog.features
        self.action_table = catalog.table()
        self.n_actions = catalog.n_actions
        self.observation_space = spaces.Dict({
            "contexts": spaces.Box(0.0, context.CLIP, (n, len(self.feature_names)), np.float32),
            "eligible": spaces.MultiBinary(n)})
        self.action_space = spaces.MultiDiscrete(np.full(n, self.n_actions, dtype=np.int64))
        self.world = self.campaign = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Build a new world from the env's generator (seed it here) and simulate day 0."""
        super().reset(seed=seed)
        self.world, self.campaign = setup.build(self.options,
                                                int(self.np_random.integers(2**63 - 1)))
        return self._observe(), self._with_truth({"day": self.world.today})

    def step(self, action):
        """Act for every eligible customer today, then simulate the next day."""
        if self.world is None:
            raise RuntimeError("call reset() before step()")
        action = self._check(action)
        w, c = self.world, self.campaign
        rows = np.flatnonzero(self._eligible)
        dec = c.act(rows, action[rows])
        real = dec.realized
        reward = float(real.reward.sum())
        if self.options.objective == "ltv":
            revived = real.incremental & ~w.pop.alive[rows]
            reward += float(setup.value_change(c, rows, revived, real.churned).sum())
        info = {"day": w.today, "sent": int(dec.sent.sum()),
                "true_uplift": float(dec.truth.uplift[dec.sent].sum()),
                "true_incremental_margin": float(dec.truth.incremental_margin[dec.sent].sum()),
                "cost": float((real.price + real.discount_cost).sum()),
                "rejected": {REASONS[k]: int(v) for k, v in
                             enumerate(np.bincount(dec.reason, minlength=len(REASONS))) if k and v}}
        out = w.step()
        held = c.holdout[out.transactions.customer]
        info.update(purchases=int(out.transactions.customer.size),
                    holdout_purchases=int(held.sum()),
                    revenue=float(out.transactions.amount.sum()),
                    holdout_revenue=float(out.transactions.amount[held].sum()))
        truncated = w.day >= w.days
        return self._observe(), reward, False, truncated, self._with_truth(info)

    def _check(self, action) -> np.ndarray:
        a = np.asarray(action)
        n = self.options.customers
        if a.shape != (n,):
            raise ParameterError(f"action shape {a.shape}: expected ({n},), one per customer")
        if a.dtype.kind not in "iu":
            raise ParameterError(f"action dtype {a.dtype}: expected integers")
        if a.min() < 0 or a.max() >= self.n_actions:
            raise ParameterError(f"action {a[(a < 0) | (a >= self.n_actions)][0]}: allowed 0 to "
                                 f"{self.n_actions - 1}")
        return a.astype(np.int64)

    def _with_truth(self, info: dict) -> dict:
        """Add the true margin of every action for the eligible customers (option truth).

        `info["true_margins"]` is (n_eligible, n_actions), rows in the order of
        `np.flatnonzero(eligible)`; call after `_observe`.
        """
        if self.options.truth:
            info["true_margins"] = self.campaign.incremental_margins(
                np.flatnonzero(self._eligible))
        return info

    def _observe(self) -> dict[str, np.ndarray]:
        w, n = self.world, self.options.customers
        here = w.n_present
        x = np.zeros((n, len(self.feature_names)), dtype=np.float32)
        x[:here] = context.contexts(self.campaign, np.arange(here))
        eligible = np.zeros(n, dtype=np.int8)
        eligible[:here] = ~self.campaign.holdout[:here]
        self._eligible = eligible.astype(bool)
        return {"contexts": x, "eligible": eligible}
