"""A moment's customers decided one at a time, each decision answered at once.

`Campaign.act` answers a whole batch with array code; a marketing engine that meets customers
one by one (the NextBestAction environment) needs each answer before the next question. A
`MomentQueue` serves that path without a numpy call per decision: it checks the per-customer
rules of the whole moment at once, tables the side of the response of each customer an action
may reach (outside the holdout, with a consent, within the contact policy) in blocks
(`response.tables`), and then works out each decision on plain floats with the same formulas
(`response.combine`, `response.realize` with `FLOATS`, `constraints.combine_reasons`,
`Ledger.admit`), so a decision comes out bit for bit as the array path would give it. What was
sent reaches the world in one `Campaign.apply` when the moment ends (`flush`); customers of one
moment are distinct, so no decision of the moment depends on another's effect, except through
the shared phone capacity and budget, which are granted first come first served.

At a checkout moment the queue also shows point-of-sale offers (`sim.pos`): no consent or
contact rule applies to them (the holdout, the offer rules and the budget do), and elsewhere
they are stopped as `not_at_checkout`. Their lines join the baskets when the moment ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbasim.sim import constraints, long_term, pos, response, slates
from nbasim.sim.campaign import Campaign

BLOCK = 1024
"""Customers whose response (and, at their first message, long-term values) is tabled at a
time. A block's work is mostly per-call overhead over short arrays, so larger blocks are
cheaper: 1,024 takes 2.4 % fewer instructions per NextBestAction-v0 step than 256 did on the
`make bench` run (valgrind, 20,000 random steps), the same decisions bit for bit."""
PER_CUSTOMER = ("consent", "open", "word", "damp", "effect", "unsub", "value")
"""`response.Tables` fields with a customer axis before the others."""


@dataclass
class Decision:
    """One decision and its outcome.

    Attributes:
        reason: code from `constraints.REASONS` (0 = sent, or no action asked).
        sent: the action went out.
        truth: expected outcome of the message (None when not sent).
        realized: the drawn outcome (None when not sent).
        value_change: change in the customer's expected value (won back minus driven away).
        slot: for a slate sent, the slot redeemed (0-based, -1: none); else None.
        incremental_value: true incremental value of what was sent (`sim.long_term`; the
            batch path's `Decisions.incremental_value`), 0 when nothing was sent.
    """

    reason: int
    sent: bool
    truth: response.Truth | None
    realized: response.Realized | None
    value_change: float
    slot: int | None = None
    incremental_value: float = 0.0


NOT_SENT = Decision(constraints.SENT, False, None, None, 0.0)
REJECTED = [Decision(reason, False, None, None, 0.0) for reason in range(len(constraints.REASONS))]
"""The decision stopped by each rule (shared, like `NOT_SENT`: never changed)."""


class MomentQueue:
    """The customers of one moment, in order, decided one at a time on today's state.

    Args:
        campaign: the campaign (rules, ledger, catalog) and through it the world.
        rows: (n,) distinct customers of the moment, in decision order.
        checkout: the moment is a checkout: its customers are at a till, where pos offers
            may be shown (`sim.pos`).
        hour: the moment's hour (of the lines pos offers add to the baskets).
    """

    def __init__(self, campaign: Campaign, rows: np.ndarray, checkout: bool = False,
                 hour: int = 0):
        w, pop = campaign.world, campaign.world.pop
        self.campaign, self.day = campaign, w.today
        self.rows = np.asarray(rows, dtype=np.int64)
        self._n = self.rows.size
        rules = campaign.rules
        campaign.ledger.roll(self.day, rules.budget_period_days)
        holdout = campaign.holdout[self.rows]
        consent = pop.consent[self.rows]
        contact = campaign.contact_reasons(self.rows)
        self._holdout, self._consent = holdout.tolist(), consent.tolist()
        self._contact = contact.tolist()
        offer_reason = campaign.offer_reasons(self.rows)  # segment and offer rules, or None
        self.offer_reason = offer_reason
        """(n, len(OFFERS)) int8 codes of the offer rules at the moment's start, or None."""
        self._offer = None if offer_reason is None else offer_reason.tolist()
        # Only customers an action may reach need their response tabled: `_reach[j]` is the
        # position of the moment's j-th customer among them (-1 for the others).
        reach = ~holdout & (consent > 0) & (contact == constraints.SENT)
        self._reach_rows = self.rows[reach]
        self._reach = np.where(reach, np.cumsum(reach) - 1, -1).tolist()
        self._capacity, self._budget = campaign.capacity(), campaign.budget()
        cat, rp = campaign.actions, w.params.response
        self._codes = list(zip(cat.offer.tolist(), cat.variant.tolist(), cat.target.tolist(),
                               np.maximum(cat.channel, 0).tolist(),
                               np.maximum(cat.slot, 0).tolist(),
                               np.maximum(cat.wording, 0).tolist(), cat.discount.tolist(),
                               strict=True))
        self._click, self._price = list(rp.click_rate), list(rp.channel_price)
        self._block = -1
        self._sent: list[tuple[int, int, int, int, response.Realized]] = []
        self._slates: list[tuple[int, np.ndarray]] = []  # (row, slate) of slates sent
        self._checkout, self._hour, self._is_pos = checkout, hour, cat.pos.tolist()
        self._pos_sent: list[tuple[int, int, response.Realized]] = []  # (j, action, outcome)
        self._lines: pos.Lines | None = None

    def decide(self, j: int, action: int) -> Decision:
        """Send `action` (a valid catalog index) to the moment's `j`-th customer, within the rules.

        Raises:
            IndexError: `j` is not a position of the moment.
        """
        if not 0 <= j < self._n:
            raise IndexError(f"position {j}: the moment has {self._n} customers")
        if action == 0:
            return NOT_SENT
        if self._is_pos[action]:
            return self._decide_pos(j, action)
        offer, variant, target, ch, slot, wording, discount = self._codes[action]
        consents = (self._consent[j] >> ch) & 1
        reason = constraints.combine_reasons(self._holdout[j], consents, self._contact[j])
        if reason == constraints.SENT and self._offer is not None:
            reason = self._offer[j][offer]
        if reason != constraints.SENT:
            return REJECTED[reason]
        block, b = divmod(self._reach[j], BLOCK)  # a customer the rules let an action reach
        if block != self._block:
            self._tables(block)
        t = self._t  # per-customer tables customers last: t.open[ch][slot][b]
        ledger = self.campaign.ledger
        reason = ledger.admit(ch == constraints.PHONE, self._price[ch] + discount * t.basket[b],
                              self._capacity, self._budget)
        if reason != constraints.SENT:
            return REJECTED[reason]
        rp = self.campaign.world.params.response
        truth = response.combine(
            response.FLOATS, rp, reachable=consents, open_=t.open[ch][slot][b],
            word=t.word[wording][b], effect=t.effect[variant][b], damp=t.damp[ch][b],
            unsub=t.unsub[ch][b], click_rate=self._click[ch], price=self._price[ch],
            delivery=t.delivery[ch], discount=discount, p0=t.p_organic[b], basket=t.basket[b],
            margin_rate=t.margin_rate[b],
            value=1.0 if t.value is None else t.value[variant][b])
        real = response.realize(truth, self._u[b], True, discount, self._price[ch], rp,
                                response.FLOATS, None if t.value is None else t.value[variant][b])
        ledger.spent += real.price + real.discount_cost
        self._sent.append((int(self.rows[j]), ch, offer, target, real))
        revived = real.incremental and not self._alive[b]
        v = self._values()
        value = long_term.incremental_value(truth, v.consent_value[b][ch], v.alive_value[b],
                                            v.dead_value[b], v.fatigue_cost[b], rp,
                                            response.FLOATS)
        return Decision(reason, True, truth, real, self._value[b] * (revived - real.churned),
                        incremental_value=value)

    def _decide_pos(self, j: int, action: int) -> Decision:
        """Show a pos offer to the moment's `j`-th customer (`sim.pos`), within its rules."""
        if self._holdout[j]:
            return REJECTED[constraints.HOLDOUT]
        if not self._checkout:
            return REJECTED[constraints.NOT_AT_CHECKOUT]
        offer, discount = self._codes[action][0], self._codes[action][6]
        if self._offer is not None and self._offer[j][offer] != constraints.SENT:
            return REJECTED[self._offer[j][offer]]
        c = self.campaign
        if self._lines is None:  # the moment's customers, once
            self._lines = pos.Lines.of(c.world, self.rows, c.actions)
            self._pos_u = pos.uniforms(c.world, self.day, self.rows)
        rp = c.world.params.response
        t = pos.truth(self._lines.take(np.array([j])), np.array([action]), c.actions, rp)
        reason = c.ledger.admit(False, float(discount * t.basket[0]), self._capacity,
                                self._budget)
        if reason != constraints.SENT:
            return REJECTED[reason]
        real = pos.realize(t, self._pos_u[:, j:j + 1], discount, rp)
        c.ledger.spent += float(real.discount_cost[0])
        self._pos_sent.append((j, action, real))
        row = self.rows[j:j + 1]
        alive = bool(c.world.pop.alive[row[0]])
        worth = float(c.expected_value(row)[0])
        revived = bool(real.incremental[0]) and not alive
        # As `pos.fill_grids`: no consent at stake, no fatigue.
        incremental = long_term.incremental_value(t, 0.0, worth * alive, worth * (not alive),
                                                  0.0, rp)
        return Decision(reason, True, response.Truth(*(v[0].item() for v in vars(t).values())),
                        response.Realized(*(v[0].item() for v in vars(real).values())),
                        worth * (revived - bool(real.churned[0])),
                        incremental_value=float(incremental[0]))

    def decide_slate(self, j: int, slate: np.ndarray) -> Decision:
        """Send a slate (K actions, checked by `slates.check`) to the moment's `j`-th customer.

        The rules are slot 1's message's, every offer shown must pass the offer rules, and the
        budget is charged the slate's deepest discount at worst (`sim.slates`); the response
        is worked out with the array code for this one customer (`slates.cascade`, `realize`).

        Raises:
            IndexError: `j` is not a position of the moment.
        """
        if not 0 <= j < self._n:
            raise IndexError(f"position {j}: the moment has {self._n} customers")
        slate = np.asarray(slate, dtype=np.int64)[None, :]
        action = int(slate[0, 0])
        if action == 0:
            return NOT_SENT
        c, ch = self.campaign, self._codes[action][3]
        consents = (self._consent[j] >> ch) & 1
        reason = constraints.combine_reasons(self._holdout[j], consents, self._contact[j])
        if reason == constraints.SENT and self.offer_reason is not None:
            reason = int(slates.offer_reasons(self.offer_reason[j:j + 1], slate, c.actions)[0])
        if reason != constraints.SENT:
            return REJECTED[reason]
        rows = self.rows[j:j + 1]
        customers = c.world.customers_for_response(rows)
        worst = self._price[ch] + float(slates.deepest_discount(slate, c.actions)[0]
                                        * customers.basket[0])
        reason = c.ledger.admit(ch == constraints.PHONE, worst, self._capacity, self._budget)
        if reason != constraints.SENT:
            return REJECTED[reason]
        w, rp = c.world, c.world.params.response
        t = response.tables(customers, rp, w.mods.channel_up[self.day], np.array([ch]))
        cas = slates.cascade(customers, t, slate, c.actions, rp, c.slate_continuation)
        real, slot = slates.realize(cas, c.day_uniforms(self.day, rows),
                                    c.slate_draws.rows(w, self.day, rows, slate.shape[1]),
                                    np.array([self._price[ch]]), rp, c.slate_continuation)
        truth = response.Truth(*(v[0].item() for v in vars(cas.truth).values()))
        real = response.Realized(*(v[0].item() for v in vars(real).values()))
        c.ledger.spent += real.price + real.discount_cost
        caught = int(slot[0])  # a slate's purchase is of the offer that caught the customer
        target = int(c.actions.target[slate[0, caught]]) if caught >= 0 else -1
        self._sent.append((int(rows[0]), ch, self._codes[action][0], target, real))
        self._slates.append((int(rows[0]), slate[0]))
        revived = real.incremental and not customers.alive[0]
        value = float(c.expected_value(rows, customers)[0])
        incremental = c.values_sent(rows, customers, np.array([ch]), cas.truth, t)
        return Decision(reason, True, truth, real, value * (revived - real.churned),
                        int(slot[0]), float(incremental[0]))

    def flush(self) -> np.ndarray:
        """Apply every message sent so far to the world (once, when the moment ends).

        Returns:
            (m,) the customers whose basket took a line from a pos offer (`sim.pos`).
        """
        took = np.zeros(0, dtype=np.int64)
        if self._pos_sent:
            at, actions, reals = zip(*self._pos_sent, strict=True)
            at, fields = np.array(at), zip(*(vars(r).values() for r in reals), strict=True)
            took = pos.apply(self.campaign, self.rows[at], np.array(actions),
                             response.Realized(*(np.concatenate(f) for f in fields)), self.day,
                             self._hour, self._lines, at, self._pos_u[pos.U_AMOUNT, at])
            self._pos_sent = []
        if self._slates and self.campaign.rules.offer_caps:
            rows, shown = zip(*self._slates, strict=True)
            slates.record_offers(self.campaign.offer_history, np.array(rows), np.stack(shown),
                                 self.campaign.actions, self.day)
        self._slates = []
        if not self._sent:
            return took
        rows, channel, offer, target, reals = zip(*self._sent, strict=True)
        fields = zip(*(vars(r).values() for r in reals), strict=True)
        self.campaign.apply(np.array(rows, dtype=np.int64), np.array(channel, dtype=np.int64),
                            response.Realized(*(np.array(f) for f in fields)), self.day,
                            np.array(offer, dtype=np.int64), np.array(target, dtype=np.int64))
        self._sent = []
        return took

    def _tables(self, block: int) -> None:
        """Table the response of the block-th `BLOCK` customers an action may reach."""
        c = self.campaign
        w = c.world
        rows = self._reach_rows[block * BLOCK:(block + 1) * BLOCK]
        customers = w.customers_for_response(rows)
        t = response.tables(customers, w.params.response, w.mods.channel_up[self.day])
        # As plain lists, customers last: `tables` works them out in that layout, so the
        # lists come from contiguous memory (several times faster than customers first).
        self._t = response.Tables(**{
            k: v if v is None else (v.transpose(*range(1, v.ndim), 0) if k in PER_CUSTOMER
                                    else v).tolist()
            for k, v in vars(t).items()})
        self._u = c.day_uniforms(self.day, rows).T.tolist()
        self._alive = customers.alive.tolist()
        self._value = c.expected_value(rows, customers).tolist()
        self._block = block
        self._block_inputs, self._v = (rows, customers, t), None

    def _values(self) -> long_term.CustomerValues:
        """The current block's `Campaign.customer_values` (every channel) as lists, once.

        Worked out at the block's first message sent only: most blocks of most policies
        send nothing.
        """
        if self._v is None:
            v = self.campaign.customer_values(*self._block_inputs[:2],
                                              tables=self._block_inputs[2])
            self._v = long_term.CustomerValues(*(x.tolist() for x in vars(v).values()))
        return self._v
