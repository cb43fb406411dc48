"""`nbasim/CampaignDay-v0`: one step is one simulated day; an action for every customer at once.

Observation: the CRM's tables as they stand this morning, one row per customer (zeros for
customers not yet joined): `envs.context.CRM_COLUMNS` in their own compact dtypes (days as
int16, counts as uint8/uint16, consent as bit masks...), plus `day` and `eligible`, 1 for the
customers a message may reach today (present, outside the holdout, allowed by the contact
policy and their segment's caps, and consenting to at least one channel).
`env.unwrapped.contexts(obs, rows)` turns rows of it into the float feature vectors named by
`feature_names`, and `action_mask(obs, rows)` gives the actions each may receive (by consent
and the offer rules); the env itself builds no feature matrix, so a day stays
cheap however large the base. Action: one action index per customer (actions of ineligible
customers are ignored). Reward: the day's attributed margin minus cost (objective `margin`),
plus the change in expected customer value (objective `ltv`); `info["customers"]`,
`info["customer_rewards"]` and `info["customer_costs"]` give it per decided customer. With
objective `window` a decision's reward is the margin of everything the customer buys in the
attribution window after it, minus its cost, contacted or not: it is known when the window
closes, and `info["matured"]` lists the days whose windows closed at this step (the step's
reward is their sum; the horizon closes the rest, shorter). Objective `uplift` is `window`
minus an estimate of what the customer would have made uncontacted in that window, fitted
on the holdout and the uncontacted customers as the run goes (`envs.uplift_baseline`), so
that a reward estimates the decision's incremental margin; `uplift_opened` keeps that only
for opened messages (an unopened one earns minus its cost, no action 0), which removes the
organic noise of every decision no message could have changed. `info["decisions"]` (the fields of
`sim.campaign.Decisions`, truth and outcome of what was sent as dicts of arrays) and
`info["outcome"]` (the next day's purchases and deaths) hold the full detail.
`info["next"]` describes the day the returned observation asks to decide (in `reset` and
`step` alike): its `day` and, with option `truth`, `true_margins` and `true_values` (or the one
the option names), the true incremental margin and value of every action for each eligible
customer; every other entry of a step's `info` describes the day the step decided.
With option `slate_size=K > 1` the action is (n_customers, K): a slate of K offers per
customer in one message (`sim.slates`; the space is `envs.slate_space.Slates`), and
`info["slots"]` counts the redemptions by slot (slot 1 first), `info["decisions"]` adds
"slates" and "slot" (the slot each sent message's customer redeemed, -1 none).
`info["rejected"]` counts the actions the rules stopped by reason (`sim.constraints.REASONS`:
e.g. "contact_limit", "segment_cap", "suppressed", "offer_cap"), and
`info["decisions"]["reason"]` gives each decided customer's code.
The horizon ends the episode as `truncated`.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from nbasim.envs import context, setup
from nbasim.envs.setup import UPLIFT_OBJECTIVES, WINDOW_OBJECTIVES
from nbasim.envs.slate_space import Slates
from nbasim.envs.uplift_baseline import FOLDS, RECENT_DAYS, UpliftBaseline, baseline_features
from nbasim.sim import constraints
from nbasim.sim.actions import catalog_for
from nbasim.sim.constraints import REASONS
from nbasim.sim.params import CHANNELS, ParameterError
from nbasim.sim.population import column_layout
from nbasim.sim.scenarios import get_scenario


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
        catalog = catalog_for(params)
        n = self.options.customers
        self._crm = context.CrmSpec.of(params)
        self.feature_names = context.feature_names(self._crm)
        self.action_features = catalog.features
        self.action_table = catalog.table()
        self.n_actions = catalog.n_actions
        self._channel = catalog.channel.astype(np.int64)
        self._offer = catalog.offer.astype(np.int64)
        self.observation_space = spaces.Dict({
            "day": spaces.Discrete(self.options.days), "eligible": spaces.MultiBinary(n),
            **{k: _box(dtype, (n, width) if width else (n,)) for k, (dtype, width) in
               column_layout(len(CHANNELS), len(params.categories), len(params.stores)).items()
               if k in context.CRM_COLUMNS}})
        k = self.options.slate_size
        self.action_space = (spaces.MultiDiscrete(np.full(n, self.n_actions, dtype=np.int64))
                             if k == 1 else Slates(self.n_actions, k, n))
        self.world = self.campaign = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Build a new world from the env's generator (seed it here) and simulate day 0."""
        super().reset(seed=seed)
        self.world, self.campaign = setup.build(self.options,
                                                int(self.np_random.integers(2**63 - 1)))
        self._margin = np.zeros(self.options.customers)  # each customer's margin so far
        self._windows: deque[dict] = deque()  # decisions whose window is open (objective window)
        self._baseline = (UpliftBaseline(len(self.feature_names) + 2 + len(RECENT_DAYS))
                          if self.options.objective in UPLIFT_OBJECTIVES else None)
        obs = self._observe()
        return obs, {"next": self._next()}

    def step(self, action):
        """Act for every eligible customer today, then simulate the next day."""
        if self.world is None:
            raise RuntimeError("call reset() before step()")
        action = self._check(action)
        w, c = self.world, self.campaign
        rows = self._rows
        windows = self.options.objective in WINDOW_OBJECTIVES
        if windows:  # what the window's reward needs, as it stands before the decisions
            record = {"day": w.today, "customers": rows, "start": self._margin[rows].copy()}
            if self._baseline is not None:
                record.update(self._baseline_inputs(rows))
        dec = c.act(rows, action[rows])
        real, sent = dec.realized, np.flatnonzero(dec.sent)
        rewards, costs = np.zeros(rows.size), np.zeros(rows.size)
        rewards[sent] = real.reward
        costs[sent] = real.price + real.discount_cost
        if self.options.objective == "ltv":
            to = rows[sent]
            revived = real.incremental & ~w.pop.alive[to]
            rewards[sent] += setup.value_change(c, to, revived, real.churned)
        if windows:
            opened = np.zeros(rows.size, dtype=bool)
            opened[sent] = real.opened
            self._windows.append({**record, "costs": costs, "sent": dec.sent, "opened": opened})
        info = {"day": w.today, "sent": int(dec.sent.sum()),
                "true_uplift": float(dec.truth.uplift.sum()),
                "true_incremental_margin": float(dec.truth.incremental_margin.sum()),
                "true_incremental_value": float(dec.incremental_value.sum()),
                "cost": float((real.price + real.discount_cost).sum()),
                "rejected": {REASONS[k]: int(v) for k, v in
                             enumerate(np.bincount(dec.reason, minlength=len(REASONS))) if k and v},
                "customers": rows, "customer_costs": costs,
                "decisions": {"actions": dec.actions, "reason": dec.reason, "sent": dec.sent,
                              "truth": vars(dec.truth), "realized": vars(real)}}
        if dec.slates is not None:
            info["slots"] = np.bincount(dec.slot[dec.slot >= 0], minlength=dec.slates.shape[1])
            info["decisions"].update(slates=dec.slates, slot=dec.slot)
        out = w.step()
        held = c.holdout[out.transactions.customer]
        info.update(purchases=int(out.transactions.customer.size),
                    holdout_purchases=int(held.sum()),
                    revenue=float(out.transactions.amount.sum()),
                    holdout_revenue=float(out.transactions.amount[held].sum()),
                    outcome={"day": out.day, "transactions": vars(out.transactions),
                             "churned": out.churned, "n_present": out.n_present})
        truncated = w.day >= w.days
        np.add.at(self._margin, out.transactions.customer, out.transactions.margin)
        if windows:
            info["matured"] = self._close_windows(truncated)
            reward = float(sum(m["rewards"].sum() for m in info["matured"]))
        else:
            info["customer_rewards"] = rewards
            reward = float(rewards.sum())
        obs = self._observe()
        info["next"] = self._next()
        return obs, reward, False, truncated, info

    def _close_windows(self, truncated: bool) -> list[dict]:
        """Decisions whose attribution window closed today (all of them at the horizon).

        Each: {"day", "customers", "rewards", "costs", "days"}, rewards being the margin the
        customer made in the window minus the decision's cost (objectives `uplift` and
        `uplift_opened`: minus the baseline too, given as "baselines"; `uplift_opened`: minus
        the cost alone where no message was opened); "days" is the window's length (shorter
        than the attribution window for those the horizon cut).
        """
        today, span = self.world.today, self.world.params.response.attribution_days
        done = []
        while self._windows and (truncated or today - self._windows[0]["day"] >= span):
            d = self._windows.popleft()
            rows, days = d["customers"], min(today - d["day"], span)
            rewards = self._margin[rows] - d["start"] - d["costs"]
            out = {"day": d["day"], "customers": rows, "costs": d["costs"], "days": days}
            if self._baseline is not None:
                out["baselines"] = self._baselines(d, days)
                rewards = rewards - out["baselines"]
            if self.options.objective == "uplift_opened":
                rewards = np.where(d["opened"], rewards, -d["costs"])
            done.append({**out, "rewards": rewards})
        return done

    def _baseline_inputs(self, rows: np.ndarray) -> dict:
        """Features of today's decided customers and of the holdout who consent to a channel."""
        w, c = self.world, self.campaign
        here = w.n_present
        hold = np.flatnonzero(c.holdout[:here] & (w.pop.consent[:here] > 0))
        return {"hold": hold, "start_hold": self._margin[hold].copy(),
                "x": self._features(rows), "x_hold": self._features(hold)}

    def _features(self, rows: np.ndarray) -> np.ndarray:
        w, pop = self.world, self.world.pop
        day = w.today
        return baseline_features(context.of_campaign(self.campaign, rows), pop.monetary[rows],
                                 day - pop.join_day[rows].astype(np.float64),
                                 day - pop.last_purchase_day[rows].astype(np.float64))

    def _baselines(self, d: dict, days: int) -> np.ndarray:
        """The decisions' baselines; the window then teaches the model (objective uplift)."""
        rows, hold = d["customers"], d["hold"]
        margin = np.concatenate([self._margin[rows] - d["start"],
                                 self._margin[hold] - d["start_hold"]])
        who = np.concatenate([rows, hold])
        base = self._baseline.close(np.vstack([d["x"], d["x_hold"]]), margin / days,
                                    np.full(who.size, float(days)),
                                    np.concatenate([~d["sent"], np.ones(hold.size, bool)]),
                                    who % FOLDS)
        return base[:rows.size]

    def contexts(self, obs: dict[str, np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
        """Feature vectors (named by `feature_names`) of customers `rows` of an observation.

        Args:
            obs: an observation of this env.
            rows: (k,) customers; by default the eligible ones, in increasing order.

        Returns:
            (k, len(feature_names)) float32.
        """
        rows = np.flatnonzero(obs["eligible"]) if rows is None else np.asarray(rows)
        return context.contexts(obs, rows, int(obs["day"]), self._crm)

    def action_mask(self, obs: dict[str, np.ndarray], rows: np.ndarray | None = None
                    ) -> np.ndarray:
        """Actions each customer may receive: (k, n_actions) bool, no action always.

        An action is masked out when the customer does not consent to its channel, or when
        the offer rules forbid its offer (option `suppress`: withheld from the customer's
        segment; `offer_caps`: the offer's cap reached). The offer rules are read from the
        world as it stands, so `obs` should be the latest observation.

        Args:
            obs: an observation of this env.
            rows: (k,) customers; by default the eligible ones, in increasing order.
        """
        rows = np.flatnonzero(obs["eligible"]) if rows is None else np.asarray(rows)
        mask = context.consent_mask(obs["consent"][rows], self._channel)
        if self.campaign is not None and self.campaign.rules.by_offer:
            offer = self.campaign.offer_reasons(rows)[:, self._offer]
            mask &= offer == constraints.SENT
        return mask

    def _check(self, action) -> np.ndarray:
        a = np.asarray(action)
        n, k = self.options.customers, self.options.slate_size
        if k > 1:
            if a.shape != (n, k):
                raise ParameterError(f"action shape {a.shape}: expected ({n}, {k}), a slate "
                                     "of slate_size actions per customer")
            return a  # the slates are checked by the world (`sim.slates.check`)
        if a.shape != (n,):
            raise ParameterError(f"action shape {a.shape}: expected ({n},), one per customer")
        if a.dtype.kind not in "iu":
            raise ParameterError(f"action dtype {a.dtype}: expected integers")
        if a.min() < 0 or a.max() >= self.n_actions:
            raise ParameterError(f"action {a[(a < 0) | (a >= self.n_actions)][0]}: allowed 0 to "
                                 f"{self.n_actions - 1}")
        return a.astype(np.int64, copy=False)

    def _next(self) -> dict:
        """`info["next"]`: the day the returned observation asks to decide, and its truth.

        "day", and with option `truth` "true_margins" (true incremental margins) and
        "true_values" (true incremental values, `sim.long_term`), or the one the option
        names, each (n_eligible, n_actions), rows in the order of
        `np.flatnonzero(obs["eligible"])`; call after `_observe`.
        """
        out, which = {"day": self.world.today}, setup.truth_grids(self.options.truth)
        if which:
            for name, grid in self.campaign.truth_grids(self._rows, which).items():
                out[f"true_{name}"] = grid
        return out

    def _observe(self) -> dict[str, np.ndarray]:
        """The CRM tables this morning and who may be contacted today."""
        w, c, pop, n = self.world, self.campaign, self.world.pop, self.options.customers
        here = w.n_present
        obs = {k: _rows_or_zeros(getattr(pop, k), here, n) for k in context.CRM_COLUMNS}
        ok = ~c.holdout[:here] & (pop.consent[:here] > 0)
        ok &= constraints.contact_reasons(pop.contact_days[:here], pop.last_contact_day[:here],
                                          w.today, c.rules, pop.segment[:here]
                                          ) == constraints.SENT
        eligible = np.zeros(n, dtype=np.int8)
        eligible[:here] = ok
        self._rows = np.flatnonzero(ok)
        obs.update(day=np.int64(w.today), eligible=eligible)
        return obs


def _rows_or_zeros(column: np.ndarray, here: int, n: int) -> np.ndarray:
    """A copy of a column's first `here` rows, zeros below (customers not yet joined)."""
    out = np.empty_like(column)
    out[:here] = column[:here]
    out[here:] = 0
    return out


def _box(dtype: type, shape: tuple[int, ...]) -> spaces.Box:
    """A Box spanning a dtype's whole range (floats: non-negative, finite)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return spaces.Box(info.min, info.max, shape, dtype)
    return spaces.Box(0.0, np.finfo(dtype).max, shape, dtype)
