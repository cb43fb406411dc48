"""The calendar: a simpy environment at batch level (never one process per customer).

Time is in hours from the start of day 0. One process ticks the days: at hour 24d it runs
the world's day d, then schedules that day's decision moments as timeouts carrying the rows
of the customers concerned:

- `at_risk` at hour 0: customers who crossed into at-risk;
- `campaign` at `campaign_hour`: the daily campaign batch (every present customer);
- `checkout` at each visit hour: customers who bought in a store in that hour;
- `cart_abandoned` at each session hour: customers who left an online cart.

Moments of one time come out in a fixed order (the order of `KINDS`), so traces are exact.

The world simulates a whole day at its 00:00 tick, so a moment at hour h sees state as of the
end of its day (purchases after h included), and the day's at-risk crossings leave out those who
buy later that day. Consumers that must not look ahead read state captured before the tick and
pass their own `moments` (NextBestAction-v0 does: `envs.crm_view`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from nbasim.sim import lifecycle
from nbasim.sim.params import ParameterError
from nbasim.sim.world import DayOutcome, World

KINDS = ("at_risk", "campaign", "checkout", "cart_abandoned")
HOURS_PER_DAY = 24


@dataclass(frozen=True)
class DecisionMoment:
    """A moment at which a policy may act, for a batch of customers.

    Attributes:
        kind: one of `KINDS`.
        day: simulated day; hour: hour of that day.
        customers: (n,) int64 rows of the customers concerned.
    """

    kind: str
    day: int
    hour: int
    customers: np.ndarray

    @property
    def time(self) -> int:
        """Hours since the start of day 0."""
        return self.day * HOURS_PER_DAY + self.hour


def day_moments(outcome: DayOutcome, campaign_hour: int, n_stores: int) -> list[DecisionMoment]:
    """The decision moments raised by one simulated day, in time order, then `KINDS` order."""
    d = outcome.day
    moments = [DecisionMoment("at_risk", d, 0, outcome.crossed[lifecycle.AT_RISK]),
               DecisionMoment("campaign", d, campaign_hour, np.arange(outcome.n_present))]
    tx = outcome.transactions
    in_store = tx.store < n_stores
    for kind, rows, hours in (("checkout", tx.customer[in_store], tx.hour[in_store]),
                              ("cart_abandoned", outcome.carts, outcome.cart_hours)):
        for hour in np.unique(hours):
            moments.append(DecisionMoment(kind, d, int(hour), rows[hours == hour]))
    moments.sort(key=lambda m: (m.hour, KINDS.index(m.kind)))
    return [m for m in moments if m.customers.size or m.kind == "campaign"]


class Calendar:
    """Runs a world day by day in simpy time and queues its decision moments.

    Args:
        world: the world to run.
        campaign_hour: hour of the daily campaign batch.
        on_day: called with each day's outcome right after the world simulated it.
        keep_moments: queue the moments for `next_moment`; when False they are dropped.
        moments: makes a day's moments from its outcome, the campaign hour and the number of
            stores, in time then `KINDS` order (by default `day_moments`).
    """

    def __init__(self, world: World, campaign_hour: int = 9,
                 on_day: Callable[[DayOutcome], None] | None = None, keep_moments: bool = True,
                 moments: Callable[[DayOutcome, int, int], list[DecisionMoment]] = day_moments):
        if not 0 <= campaign_hour < HOURS_PER_DAY:
            raise ParameterError(f"campaign_hour = {campaign_hour}: allowed 0-23")
        self.world, self.campaign_hour = world, campaign_hour
        self.on_day, self.keep_moments, self.moments = on_day, keep_moments, moments
        self.queue: deque[DecisionMoment] = deque()
        self._scheduled: deque[DecisionMoment] = deque()  # scheduled, not yet arrived
        self._start(world.day * HOURS_PER_DAY)

    def _start(self, now: float) -> None:
        self.env = simpy.Environment(initial_time=now)
        for m in self._scheduled:
            self.env.timeout(m.time - now, value=m).callbacks.append(self._arrive)
        self.env.process(self._days())

    def __getstate__(self) -> dict:
        """Pickle the calendar as data: simpy's generators cannot be pickled."""
        state = {k: v for k, v in self.__dict__.items() if k != "env"}
        state["now"] = self.env.now
        return state

    def __setstate__(self, state: dict) -> None:
        now = state.pop("now")
        self.__dict__.update(state)
        self._start(now)

    def _days(self):
        world = self.world
        yield self.env.timeout(world.day * HOURS_PER_DAY - self.env.now)  # the next day's tick
        while world.day < world.days:
            outcome = world.step()
            if self.on_day is not None:
                self.on_day(outcome)
            if self.keep_moments:
                for m in self.moments(outcome, self.campaign_hour, world.city.n_stores):
                    self._scheduled.append(m)
                    self.env.timeout(m.hour, value=m).callbacks.append(self._arrive)
            yield self.env.timeout(HOURS_PER_DAY)

    def _arrive(self, event: simpy.events.Event) -> None:
        self._scheduled.popleft()
        self.queue.append(event.value)

    def next_moment(self) -> DecisionMoment | None:
        """Advance simulated time to the next decision moment; None when the horizon is over."""
        while not self.queue:
            if self.env.peek() == float("inf"):
                return None
            self.env.step()
        return self.queue.popleft()

    def run(self) -> None:
        """Run to the end of the horizon (moments, if kept, stay queued)."""
        self.env.run()
