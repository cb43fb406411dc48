"""A moment's customers decided one at a time, each decision answered at once.

`Campaign.act` answers a whole batch with array code; a marketing engine that meets customers
one by one (the NextBestAction environment) needs each answer before the next question. A
`MomentQueue` serves that path without a numpy call per decision: it checks the per-customer
rules of the whole moment at once, tables each customer's side of the response in blocks
(`response.tables`), and then works out each decision on plain floats with the same formulas
(`response.combine`, `response.realize` with `FLOATS`, `constraints.combine_reasons`,
`Ledger.admit`), so a decision comes out bit for bit as the array path would give it. What was
sent reaches the world in one `Campaign.apply` when the moment ends (`flush`); customers of one
moment are distinct, so no decision of the moment depends on another's effect, except through
the shared phone capacity and budget, which are granted first come first served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbasim.sim import constraints, response
from nbasim.sim.campaign import Campaign

BLOCK = 256


@dataclass
class Decision:
    """One decision and its outcome.

    Attributes:
        reason: code from `constraints.REASONS` (0 = sent, or no action asked).
        sent: the action went out.
        truth: expected outcome of the message (None when not sent).
        realized: the drawn outcome (None when not sent).
        value_change: change in the customer's expected value (won back minus driven away).
    """

    reason: int
    sent: bool
    truth: response.Truth | None
    realized: response.Realized | None
    value_change: float


NOT_SENT = Decision(constraints.SENT, False, None, None, 0.0)


class MomentQueue:
    """The customers of one moment, in order, decided one at a time on today's state.

    Args:
        campaign: the campaign (rules, ledger, catalog) and through it the world.
        rows: (n,) distinct customers of the moment, in decision order.
    """

    def __init__(self, campaign: Campaign, rows: np.ndarray):
        w, pop = campaign.world, campaign.world.pop
        self.campaign, self.day = campaign, w.today
        self.rows = np.asarray(rows, dtype=np.int64)
        rules = campaign.rules
        campaign.ledger.roll(self.day, rules.budget_period_days)
        self._holdout = campaign.holdout[self.rows].tolist()
        self._contact = constraints.contact_reasons(
            pop.contact_days[self.rows], pop.last_contact_day[self.rows], self.day,
            rules).tolist()
        self._capacity, self._budget = campaign.capacity(), campaign.budget()
        cat, rp = campaign.actions, w.params.response
        self._codes = list(zip(cat.offer.tolist(), np.maximum(cat.channel, 0).tolist(),
                               np.maximum(cat.slot, 0).tolist(),
                               np.maximum(cat.wording, 0).tolist(), cat.discount.tolist(),
                               strict=True))
        self._click, self._price = list(rp.click_rate), list(rp.channel_price)
        self._block = -1
        self._sent: list[tuple[int, int, response.Realized]] = []

    def decide(self, j: int, action: int) -> Decision:
        """Send `action` (a valid catalog index) to the moment's `j`-th customer, within the rules.

        Raises:
            IndexError: `j` is not a position of the moment.
        """
        if not 0 <= j < self.rows.size:
            raise IndexError(f"position {j}: the moment has {self.rows.size} customers")
        if action == 0:
            return NOT_SENT
        offer, ch, slot, wording, discount = self._codes[action]
        b = self._tables(j)
        t = self._t
        consents = t.consent[b][ch]
        reason = constraints.combine_reasons(self._holdout[j], consents, self._contact[j])
        ledger = self.campaign.ledger
        if reason == constraints.SENT:
            reason = ledger.admit(ch == constraints.PHONE,
                                  self._price[ch] + discount * t.basket[b], self._capacity,
                                  self._budget)
        if reason != constraints.SENT:
            return Decision(reason, False, None, None, 0.0)
        rp = self.campaign.world.params.response
        truth = response.combine(
            response.FLOATS, rp, reachable=consents, open_=t.open[b][ch][slot],
            word=t.word[b][wording], effect=t.effect[b][offer], damp=t.damp[b][ch],
            unsub=t.unsub[b][ch], click_rate=self._click[ch], price=self._price[ch],
            delivery=t.delivery[ch], discount=discount, p0=t.p_organic[b], basket=t.basket[b],
            margin_rate=t.margin_rate[b])
        real = response.realize(truth, self._u[b], True, discount, self._price[ch], rp,
                                response.FLOATS)
        ledger.spent += real.price + real.discount_cost
        self._sent.append((int(self.rows[j]), ch, real))
        revived = real.incremental and not self._alive[b]
        return Decision(reason, True, truth, real, self._value[b] * (revived - real.churned))

    def flush(self) -> None:
        """Apply every message sent so far to the world (once, when the moment ends)."""
        if not self._sent:
            return
        rows, channel, reals = zip(*self._sent, strict=True)
        fields = zip(*(vars(r).values() for r in reals), strict=True)
        self.campaign.apply(np.array(rows, dtype=np.int64), np.array(channel, dtype=np.int64),
                            response.Realized(*(np.array(f) for f in fields)), self.day)
        self._sent = []

    def _tables(self, j: int) -> int:
        """Position of customer `j` in the current block of tables, building the block if new."""
        block, b = divmod(j, BLOCK)
        if block != self._block:
            c = self.campaign
            w = c.world
            rows = self.rows[block * BLOCK:(block + 1) * BLOCK]
            customers = w.customers_for_response(rows)
            t = response.tables(customers, w.params.response, w.mods.channel_up[self.day])
            self._t = response.Tables(**{k: v.tolist() for k, v in vars(t).items()})
            self._u = c.day_uniforms(self.day, rows).T.tolist()
            self._alive = customers.alive.tolist()
            self._value = c.expected_value(rows, customers).tolist()
            self._block = block
        return b
