"""`nbasim/NextBestAction-v0`: one step is one decision for one customer, in event order.

The simpy calendar raises the day's moments (customers turning at-risk at 00:00, the daily
campaign, checkouts in a store, abandoned carts); every customer of a moment outside the
holdout is one decision. Observation: the customer's context followed by a one-hot of the
moment's kind. Action: an index into the action catalog (`Discrete`). Reward: the decision's
attributed margin minus its cost (plus the change in expected value with objective `ltv`);
`info` carries the true uplift and incremental margin, the cost and the rule that stopped the
action, if any. The end of the horizon is reported as `truncated`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs import context, setup
from sim.actions import build_catalog
from sim.calendar import KINDS, Calendar
from sim.constraints import REASONS
from sim.params import ParameterError
from sim.scenarios import get_scenario

DEFAULTS = {"customers": 2_000, "days": 30}


class NextBestActionEnv(gym.Env):
    """Decisions one at a time, as a marketing engine meets them.

    Args:
        **options: see `envs.setup.EnvOptions`; by default 2,000 customers over 30 days.
    """

    metadata = {"render_modes": []}

    def __init__(self, **options: Any):
        self.options = setup.parse_options({**DEFAULTS, **options})
        params = get_scenario(self.options.scenario, self.options.overrides)
        catalog = build_catalog(tuple(params.offers), tuple(params.channels))
        self.feature_names = context.feature_names(tuple(s.name for s in params.stores)) + tuple(
            f"moment_{k}" for k in KINDS)
        self.action_features = catalog.features
        self.n_actions = catalog.n_actions
        self.observation_space = spaces.Box(0.0, context.CLIP, (len(self.feature_names),),
                                            np.float32)
        self.action_space = spaces.Discrete(self.n_actions)
        self.world = self.campaign = self.calendar = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Build a new world from the env's generator (seed it here); go to the first decision."""
        super().reset(seed=seed)
        self.world, self.campaign = setup.build(
            self.options, int(self.np_random.integers(2**63 - 1)), first_day=False)
        self.calendar = Calendar(self.world)
        self._rows, self._x, self._i, self._moment = np.zeros(0, np.int64), None, 0, None
        self._advance()
        return self._observe(), self._where()

    def step(self, action):
        """Take the action for the current customer, then move to the next decision."""
        if self.calendar is None:
            raise RuntimeError("call reset() before step()")
        if self._moment is None:
            raise RuntimeError("the episode is over: call reset()")
        if not self.action_space.contains(action):
            raise ParameterError(f"action {action!r}: allowed an integer 0 to {self.n_actions - 1}")
        row = self._rows[self._i]
        dec = self.campaign.act(np.array([row]), np.array([int(action)]))
        real = dec.realized
        reward = float(real.reward[0])
        if self.options.objective == "ltv":
            revived = real.incremental & ~self.world.pop.alive[dec.rows]
            reward += float(setup.value_change(self.campaign, dec.rows, revived,
                                               real.churned)[0])
        info = {**self._where(), "sent": bool(dec.sent[0]),
                "true_uplift": float(dec.truth.uplift[0]) * bool(dec.sent[0]),
                "true_incremental_margin": float(dec.truth.incremental_margin[0])
                * bool(dec.sent[0]),
                "cost": float(real.price[0] + real.discount_cost[0]),
                "rejected": REASONS[dec.reason[0]] if dec.reason[0] else None}
        self._i += 1
        self._advance()
        return self._observe(), reward, False, self._moment is None, info

    def _advance(self) -> None:
        """Move to the next customer to decide for, pulling moments from the calendar."""
        while self._i >= self._rows.size:
            moment = self.calendar.next_moment()
            self._moment = moment
            if moment is None:
                return
            rows = moment.customers[~self.campaign.holdout[moment.customers]]
            kind = np.zeros((rows.size, len(KINDS)), dtype=np.float32)
            kind[:, KINDS.index(moment.kind)] = 1.0
            self._rows, self._i = rows, 0
            self._x = np.hstack([context.contexts(self.campaign, rows), kind])

    def _observe(self) -> np.ndarray:
        if self._moment is None:
            return np.zeros(len(self.feature_names), dtype=np.float32)
        return self._x[self._i]

    def _where(self) -> dict:
        m = self._moment
        if m is None:
            return {"day": self.world.days - 1, "moment": None, "customer": None}
        return {"day": m.day, "hour": m.hour, "moment": m.kind,
                "customer": int(self._rows[self._i])}
