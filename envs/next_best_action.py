"""`nbasim/NextBestAction-v0`: one step is one decision for one customer, in event order.

The simpy calendar raises the day's moments (customers turning at-risk at 00:00, the daily
campaign, checkouts in a store, abandoned carts); every customer of a moment outside the
holdout is one decision. Observation: the customer's context followed by a one-hot of the
moment's kind. Action: an index into the action catalog (`Discrete`). Reward: the decision's
attributed margin minus its cost (plus the change in expected value with objective `ltv`).
The end of the horizon is reported as `truncated`.

No look-ahead: the world simulates a day whole at its 00:00 tick, but a decision at hour h sees
only what a CRM knows then (`envs.crm_view`): the state before the day, plus the customer's
purchase and cart of that day if they came before h (or raised the decision: the checkout of
a `checkout` moment, the cart of a `cart_abandoned` one), the RFM scores of the night before,
and the messages of earlier moments. Who is decided for is known by then too: at-risk by the
last purchase before the day, and at the campaign only customers who have joined.

`info`: `info["next"]` describes the decision the returned observation asks for (in `reset`
and `step` alike): its `day`, `hour`, `moment` and `customer` (all None once the horizon is
over) and, with option `truth`, `true_margins` and `true_values` (or the one the option
names), the true incremental margin and value (`sim.long_term`) of every action for it,
(n_actions,) each. Every other entry of a step's `info` describes the decision the step took:
its `day`, `hour`, `moment` and `customer`, `sent`, the rule that stopped it (`rejected`),
its `true_uplift`, `true_incremental_margin` and `true_incremental_value` (`sim.long_term`),
its `cost` and, when sent, its drawn outcome `realized` (the fields of
`sim.response.Realized`: opened, clicked, converted, unsubscribed, ...; else None); and what
happened in the world while the env moved on to the next decision: `lines`, the lines that
point-of-sale offers added to the baskets when the step closed a checkout moment (the fields
of `sim.world.Transactions`, else None), and `outcomes`, the days the world simulated
(usually none; one at the first decision of a day), each as CampaignDay-v0's
`info["outcome"]`: {"day", "transactions", "churned", "n_present"}.

`batch()` hands over the rest of the current moment at once (contexts, masks, truth), for a
caller that decides a moment's customers in one go, as an engine scoring a batch does; each
decision is still taken by its own `step`, in order.

With option `slate_size=K > 1` the action is a slate, (K,) actions shown in one message
(`sim.slates`, space `envs.slate_space.Slates`), decided by `MomentQueue.decide_slate`, and a
sent slate's `info["slot"]` is the slot the customer redeemed (0-based, -1 none).

Each step is one `MomentQueue.decide` on plain floats (the same formulas as the batch path, bit
for bit); what was sent reaches the world when the moment ends.

A scenario whose `channels` list "pos" also has point-of-sale offers (`sim.pos`): shown at the
till to the customer of a `checkout` moment, they act on the basket being bought (a line of
the targeted category, or more of the basket's own) or put the customer off the next visit.
They need no consent and are no contact; elsewhere `action_mask` leaves them out and a step
that asks for one is stopped with `info["rejected"] == "not_at_checkout"`. The truth of
`info["next"]` holds theirs at a checkout and 0 elsewhere (where they are not shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from nbasim.envs import context, crm_view, setup
from nbasim.envs.setup import WINDOW_OBJECTIVES
from nbasim.envs.slate_space import Slates
from nbasim.sim import pos, slates
from nbasim.sim.actions import catalog_for
from nbasim.sim.calendar import KINDS, Calendar, DecisionMoment
from nbasim.sim.constraints import REASONS
from nbasim.sim.moment_queue import BLOCK, MomentQueue
from nbasim.sim.params import CHANNELS, ParameterError
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import DayOutcome

DEFAULTS = {"customers": 2_000, "days": 30}
INTEGERS = (int, np.integer)


@dataclass(frozen=True)
class MomentBatch:
    """The decisions of a moment not yet taken (`NextBestActionEnv.batch`), in step order.

    Attributes:
        day, hour, kind: the moment (`sim.calendar.KINDS`).
        customers: (k,) their rows.
        contexts: (k, dim_context) float32 observations.
        segment: (k,) RFM segment codes as the CRM knows them (`sim.rfm.SEGMENTS`).
        masks: (k, n_actions) bool `action_mask` of each.
        truth: with option `truth`, {"true_margins"/"true_values": (k, n_actions)}; else {}.
    """

    day: int
    hour: int
    kind: str
    customers: np.ndarray
    contexts: np.ndarray
    segment: np.ndarray
    masks: np.ndarray
    truth: dict[str, np.ndarray]


class NextBestActionEnv(gym.Env):
    """Decisions one at a time, as a marketing engine meets them.

    Args:
        **options: see `envs.setup.EnvOptions`; by default 2,000 customers over 30 days.
    """

    metadata = {"render_modes": []}

    def __init__(self, **options: Any):
        self.options = setup.parse_options({**DEFAULTS, **options})
        if self.options.objective in WINDOW_OBJECTIVES:
            raise ParameterError(f"objective = {self.options.objective!r}: available in "
                                 "CampaignDay-v0 only; "
                                 "here 'margin' or 'ltv'")
        params = get_scenario(self.options.scenario, self.options.overrides)
        catalog = catalog_for(params)
        self._crm = context.CrmSpec.of(params)
        self.feature_names = context.feature_names(self._crm) + tuple(
            f"moment_{k}" for k in KINDS)
        self.action_features = catalog.features
        self.action_table = catalog.table()
        self.n_actions = catalog.n_actions
        self._channel = catalog.channel.astype(np.int64)
        self._pos = catalog.pos
        self._offer = catalog.offer.astype(np.int64)
        self._consent = np.array([self.feature_names.index(f"consent_{c}") for c in CHANNELS])
        self.observation_space = spaces.Box(0.0, context.CLIP, (len(self.feature_names),),
                                            np.float32)
        self._slate_size = k = self.options.slate_size
        self.action_space = spaces.Discrete(self.n_actions) if k == 1 else Slates(
            self.n_actions, k)
        self._which = setup.truth_grids(self.options.truth)
        self.world = self.campaign = self.calendar = self._queue = self._moment = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Build a new world from the env's generator (seed it here); go to the first decision."""
        super().reset(seed=seed)
        self.world, self.campaign = setup.build(
            self.options, int(self.np_random.integers(2**63 - 1)), first_day=False)
        self._before, self._n_before = crm_view.snapshot(self.world.pop), self.world.n_present
        self._view = None
        self.calendar = Calendar(self.world, moments=self._day_moments)
        self._queue, self._ltv = None, self.options.objective == "ltv"
        self._outcomes: list[dict] = []
        self._advance()
        self._outcomes = []  # (the days before any decision, as CampaignDay-v0's day 0)
        return self._observe(), {"next": self._next()}

    def step(self, action):
        """Take the action for the current customer, then move to the next decision."""
        queue = self._queue
        if queue is None:
            raise RuntimeError("call reset() before step()" if self.calendar is None
                               else "the episode is over: call reset()")
        j, m = self._i, self._moment
        if self._slate_size > 1:
            dec = queue.decide_slate(j, self._check_slate(action))
        else:
            if isinstance(action, INTEGERS) and 0 <= (a := int(action)) < self.n_actions:
                action = a
            else:
                self._check(action)
                action = int(np.asarray(action))
            dec = queue.decide(j, action)
        if dec.sent:
            real, truth = dec.realized, dec.truth
            reward = real.reward + (dec.value_change if self._ltv else 0.0)
            info = {"day": m.day, "hour": m.hour, "moment": m.kind,
                    "customer": self._customers[j], "sent": True, "rejected": None,
                    "true_uplift": truth.uplift,
                    "true_incremental_margin": truth.incremental_margin,
                    "true_incremental_value": dec.incremental_value,
                    "cost": real.price + real.discount_cost, "realized": vars(real)}
        else:
            reward = 0.0
            info = {"day": m.day, "hour": m.hour, "moment": m.kind,
                    "customer": self._customers[j], "sent": False,
                    "rejected": REASONS[dec.reason] if dec.reason else None,
                    "true_uplift": 0.0, "true_incremental_margin": 0.0,
                    "true_incremental_value": 0.0, "cost": 0.0, "realized": None}
        if dec.slot is not None:
            info["slot"] = dec.slot
        self._i = j = j + 1
        info["lines"], info["outcomes"] = None, ()
        if j >= len(self._customers):  # the moment is over: what the world did meanwhile
            self._lines = None
            self._advance()
            info["lines"], info["outcomes"] = self._lines, tuple(self._outcomes)
            self._outcomes = []
        info["next"] = self._next()
        return self._observe(), reward, False, self._queue is None, info

    def action_mask(self, obs: np.ndarray | None = None) -> np.ndarray:
        """Actions the customer may receive: (n_actions,) bool, no action always.

        An action is masked out when the customer does not consent to its channel (a pos
        action: when the decision is not a checkout's), or when the offer rules forbid its
        offer to the current customer (options `suppress` and `offer_caps`, as they stand at
        the moment's start).

        Args:
            obs: an observation of this env; by default the current one.
        """
        x = self._observe() if obs is None else np.asarray(obs)
        return self._masks(x[None, :], self._i)[0]

    def _masks(self, x: np.ndarray, i: int) -> np.ndarray:
        """`action_mask` of observations `x` (k, dim) of the moment's customers from the i-th."""
        bits = (x[:, self._consent] > 0.5) @ (1 << np.arange(len(CHANNELS)))
        mask = context.consent_mask(bits, self._channel)
        if (self._moment is not None and self._moment.kind == "checkout"
                and self._slate_size == 1):  # (a slate is a message: no pos offer in it)
            mask |= self._pos
        if self._queue is not None and self._queue.offer_reason is not None:
            mask &= self._queue.offer_reason[i:i + x.shape[0], self._offer] == 0  # 0: SENT
        return mask

    def batch(self) -> MomentBatch | None:
        """The current moment's decisions not yet taken, at once; None after the horizon.

        For a caller that decides a moment's customers in one go: `contexts[i]` is the
        observation that the i-th next `step` decides for, `masks[i]` its `action_mask`, and
        `truth` (with option `truth`) the grids `info["next"]` would hand over one by one.
        """
        m = self._moment
        if m is None:
            return None
        i = self._i
        x = self._x[i:]
        rows = self._queue.rows[i:]
        truth = {}
        if self._which:
            grids = self.campaign.truth_grids(rows, self._which, checkout=m.kind == "checkout")
            truth = {f"true_{k}": v for k, v in grids.items()}
        return MomentBatch(m.day, m.hour, m.kind, rows, x, self._segment[i:],
                           self._masks(x, i), truth)

    def _check(self, action) -> None:
        """Raise a `ParameterError` naming what is wrong with an action the space rejects."""
        if not self.action_space.contains(action):
            raise ParameterError(f"action {action!r}: allowed an integer 0 to "
                                 f"{self.n_actions - 1}")

    def _check_slate(self, action) -> np.ndarray:
        """The slate as int64, or a `ParameterError` naming what is wrong with it."""
        a = np.asarray(action)
        if a.shape != (self.options.slate_size,):
            raise ParameterError(f"action shape {a.shape}: expected ({self.options.slate_size},),"
                                 " a slate of slate_size actions")
        return pos.check_slates(slates.check(a[None, :], self.n_actions), self.campaign.actions
                                )[0]

    def _day_moments(self, outcome: DayOutcome, campaign_hour: int, n_stores: int
                     ) -> list[DecisionMoment]:
        """The calendar's `moments`: keep the day's view and make its moments without look-ahead.

        Called right after the world simulated a day, once the previous day's moments are all
        decided and sent (simpy time order), so the state now is the state before the next day.
        """
        self._outcomes.append({"day": outcome.day, "transactions": vars(outcome.transactions),
                               "churned": outcome.churned, "n_present": outcome.n_present})
        self._view = crm_view.DayView.of(outcome, self._before, self._n_before,
                                         self.world.params)
        self._before, self._n_before = crm_view.snapshot(self.world.pop), self.world.n_present
        return self._view.moments(outcome, campaign_hour, n_stores)

    def _advance(self) -> None:
        """Close the current moment and move to the next one that has a customer to decide for."""
        if self._queue is not None:
            took = self._queue.flush()
            for k in ("monetary", "category_days"):  # pos lines: known before the next day
                self._before[k][took] = getattr(self.world.pop, k)[took]
            if took.size:
                self._lines = vars(self.world.lines[self._queue.day][-1])
        self._queue = None
        while True:
            moment = self.calendar.next_moment()
            if moment is None:
                self._moment = None
                return
            rows = moment.customers[~self.campaign.holdout[moment.customers]]
            if rows.size:
                break
        self._moment, self._i = moment, 0
        self._queue = MomentQueue(self.campaign, rows, moment.kind == "checkout", moment.hour)
        self._customers = rows.tolist()
        w = self.world
        columns = self._view.columns(w.pop, rows, moment.hour, moment.kind)
        self._segment = columns["segment"]
        x = np.zeros((rows.size, len(self.feature_names)), dtype=np.float32)
        x[:, :-len(KINDS)] = context.contexts(columns, np.arange(rows.size), moment.day,
                                              self._crm)
        x[:, x.shape[1] - len(KINDS) + KINDS.index(moment.kind)] = 1.0
        self._x = x
        self._truth_block = -1

    def _observe(self) -> np.ndarray:
        if self._queue is None:
            return np.zeros(len(self.feature_names), dtype=np.float32)
        return self._x[self._i]

    def _next(self) -> dict:
        """The decision the current observation asks for, with its truth under option truth.

        `true_margins` and `true_values` (`sim.long_term`), each (n_actions,), or the one the
        option names, are as of the moment's start (what the moment sends lands at its end).
        """
        m = self._moment
        if m is None:
            return {"day": None, "hour": None, "moment": None, "customer": None}
        out = {"day": m.day, "hour": m.hour, "moment": m.kind,
               "customer": self._customers[self._i]}
        which = self._which
        if which:
            block, b = divmod(self._i, BLOCK)
            if block != self._truth_block:
                rows = self._queue.rows[block * BLOCK:(block + 1) * BLOCK]
                self._truth = self.campaign.truth_grids(rows, which,
                                                        checkout=m.kind == "checkout")
                self._truth_block = block
            for name, grid in self._truth.items():
                out[f"true_{name}"] = grid[b].copy()
        return out
