"""What a CRM knows at an hour of a day the world simulated whole (for NextBestAction-v0).

The world simulates a day at its 00:00 tick (`sim.calendar`), so by the time that day's
moments are decided the population already holds the purchases and carts of the whole day. A
`DayView` keeps the CRM columns a day changes (`DAY_COLUMNS`) as they stood before it, and the
hour of each customer's purchase and abandoned cart that day, so that a decision at hour h
sees only what happened before it:

- the state before the day, with the 00:00 lifecycle crossings (recency reaching a
  threshold, which needs no purchase to happen);
- the customer's purchase that day (frequency, monetary, last purchase day, visits, stage)
  and abandoned cart, when it came before hour h or is the event that raised the decision
  (the checkout of a `checkout` moment, the cart of a `cart_abandoned` one); events at hour h
  itself are otherwise not yet known, since hours are the calendar's finest grain;
- the RFM scores, segments and conversion counts of the end of the day before (the CRM's
  nightly batch: today's quantiles depend on everyone's purchases of today, and a conversion
  counts when its attribution window closes, `World.step`);
- consent, contact history, opens and clicks as they stand: only the messages of earlier
  moments change them.

It also says who can be decided for without looking ahead: the customers whose last purchase
before the day puts them at-risk at 00:00 (the world's own crossings leave out those who buy
later that day), and at the campaign moment the customers known by then (a newcomer joins at
the first purchase).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbasim.envs.context import CRM_COLUMNS
from nbasim.sim import lifecycle
from nbasim.sim.calendar import HOURS_PER_DAY, KINDS, DecisionMoment, day_moments
from nbasim.sim.params import ScenarioParams
from nbasim.sim.population import Population
from nbasim.sim.world import DayOutcome

PURCHASE_COLUMNS = ("last_purchase_day", "frequency", "monetary", "visits_primary",
                    "visits_other", "stage", "last_category", "category_days", "store_daytime")
"""CRM columns a purchase changes."""
CART_COLUMNS = ("cart_value", "cart_day")
"""CRM columns an abandoned cart changes (a purchase closes the cart: value 0)."""
NIGHTLY_COLUMNS = ("r_score", "f_score", "m_score", "segment", "conversions",
                   "offer_redemptions")
"""CRM columns recomputed at the end of a day (conversions and redemptions: those of the
attribution windows that closed that day)."""
DAY_COLUMNS = PURCHASE_COLUMNS + CART_COLUMNS + NIGHTLY_COLUMNS
"""Every CRM column `World.step` changes; the others change only when messages land."""
NEVER = HOURS_PER_DAY
"""Hour recorded for a customer with no such event on the day."""


def snapshot(pop: Population) -> dict[str, np.ndarray]:
    """Copies of the population's `DAY_COLUMNS`, as they stand now (before the next day)."""
    return {k: getattr(pop, k).copy() for k in DAY_COLUMNS}


@dataclass
class DayView:
    """One simulated day as a CRM meets it, hour by hour.

    Attributes:
        day: the simulated day.
        before: `DAY_COLUMNS` as they stood before the day, one row per customer, the stage
            with the day's 00:00 crossings.
        n_before: customers present before the day (the newcomers of the day come after).
        at_risk: (k,) rows of customers who turned at-risk at 00:00.
        bought: (n_present,) int8 hour of each customer's purchase that day, `NEVER` if none.
        carted: (n_present,) int8 hour of each customer's abandoned cart, `NEVER` if none.
    """

    day: int
    before: dict[str, np.ndarray]
    n_before: int
    at_risk: np.ndarray
    bought: np.ndarray
    carted: np.ndarray

    @classmethod
    def of(cls, outcome: DayOutcome, before: dict[str, np.ndarray], n_before: int,
           params: ScenarioParams) -> DayView:
        """The view of a day from its outcome and the `snapshot` taken before it.

        Args:
            outcome: what the world's `step` returned for the day.
            before: `snapshot` of the population before the day (the view takes it over).
            n_before: customers present before the day.
            params: the scenario (lifecycle thresholds).
        """
        crossed = lifecycle.crossings_by_last_day(before["last_purchase_day"][:n_before],
                                                  outcome.day, params)
        for stage, rows in crossed.items():
            before["stage"][rows] = stage
        tx = outcome.transactions
        bought = np.full(outcome.n_present, NEVER, dtype=np.int8)
        bought[tx.customer] = tx.hour
        carted = np.full(outcome.n_present, NEVER, dtype=np.int8)
        carted[outcome.carts] = outcome.cart_hours
        return cls(outcome.day, before, n_before, crossed[lifecycle.AT_RISK], bought, carted)

    def moments(self, outcome: DayOutcome, campaign_hour: int, n_stores: int
                ) -> list[DecisionMoment]:
        """The day's decision moments (`sim.calendar.day_moments`) without look-ahead.

        The at-risk moment holds the 00:00 crossings by the last purchase before the day, and
        the campaign moment the customers present before the day or whose first purchase came
        before the campaign hour. Same order: time, then `KINDS`.
        """
        out = []
        for m in day_moments(outcome, campaign_hour, n_stores):
            if m.kind == "at_risk":
                continue
            if m.kind == "campaign":
                rows = m.customers
                m = DecisionMoment(m.kind, m.day, m.hour, rows[
                    (rows < self.n_before) | (self.bought[rows] < m.hour)])
            out.append(m)
        if self.at_risk.size:
            out.append(DecisionMoment("at_risk", self.day, 0, self.at_risk))
        out.sort(key=lambda m: (m.hour, KINDS.index(m.kind)))
        return out

    def columns(self, pop: Population, rows: np.ndarray, hour: int, kind: str
                ) -> dict[str, np.ndarray]:
        """The `CRM_COLUMNS` of customers `rows` as known at `hour` by a moment of `kind`.

        Args:
            pop: the population, as the world left it at the end of the day.
            rows: (k,) customers.
            hour: the moment's hour of the day.
            kind: the moment's kind (its own checkout or cart is known to it).

        Returns:
            Column name -> (k, ...) values, for `envs.context.contexts` with rows `arange(k)`.
        """
        bought = self.bought[rows] < hour + (kind == "checkout")
        carted = self.carted[rows] < hour + (kind == "cart_abandoned")
        # Each column is read from the state before the day, or from the population, or
        # row by row when the moment's customers differ (a purchase or cart before the hour).
        some, every, cart = bool(bought.any()), bool(bought.all()), bool(carted.any())
        before = self.before
        cols = {}
        for k in CRM_COLUMNS:
            if k in _NIGHTLY or (k in _PURCHASE and not some):
                cols[k] = before[k][rows]
            elif k in _PURCHASE and not every:  # (per-category, per-store columns: one row each)
                cols[k] = np.where(bought.reshape(-1, *[1] * (before[k].ndim - 1)),
                                   getattr(pop, k)[rows], before[k][rows])
            elif k == "cart_day":
                cols[k] = (np.where(carted, pop.cart_day[rows], before[k][rows]) if cart
                           else before[k][rows])
            elif k == "cart_value":  # (a purchase closes the cart)
                value = np.where(bought, 0, before[k][rows])
                cols[k] = np.where(carted, pop.cart_value[rows], value) if cart else value
            else:
                cols[k] = getattr(pop, k)[rows]
        return cols


_PURCHASE = frozenset(PURCHASE_COLUMNS)
_NIGHTLY = frozenset(NIGHTLY_COLUMNS)
