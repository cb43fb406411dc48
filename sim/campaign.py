"""Actions applied to the world: rules, the response draw, and what it changes.

`Campaign.act` is the one way actions reach customers. In order: validate the request, check
the rules (holdout, consent, contact policy, capacity, budget), draw the response from the
truth, then update the world: contact history and fatigue, unsubscribes, sleeping dogs who are
put off or leave, and purchases the action caused, which land 1 to `attribution_days` days
later through the world's pending queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbasim.sim import arrays, constraints, long_term, offer_rules, pos, response, slates
from nbasim.sim.actions import ActionCatalog, CatalogGrid, catalog_for
from nbasim.sim.constraints import ContactRules, Ledger
from nbasim.sim.long_term import LTV_HORIZON_DAYS
from nbasim.sim.params import ParameterError, ResponseParams
from nbasim.sim.world import World

TRUTH_GRIDS = ("margins", "values")
"""The truth grids `Campaign.truth_grids` works out (what the oracles read)."""
GRID_BLOCK = 1000
"""Customers whose truth grid `Campaign.truth_grids` works out at a time: one offer's
(n_channels x n_slots x n_wordings, GRID_BLOCK) arrays stay in the CPU's caches. Not a power
of two: the grid is written out transposed, and rows a power of two of bytes apart share
cache sets (a block of 1024 writes 3x slower)."""
BLOCK = 32_768
"""Messages whose response `Campaign.act` works out at a time: a block's arrays stay in the
CPU's caches through the long chain of array operations (a third faster than all at once)."""


@dataclass
class Decisions:
    """Actions taken for a batch of customers and what came of them.

    Attributes:
        rows: (n,) customers; actions: (n,) requested actions.
        reason: (n,) int8 code from `constraints.REASONS` (0 = sent, or no action asked).
        sent: (n,) the action went out (an action other than 0 that passed the rules).
        truth: expected outcome of the messages sent, aligned with `rows[sent]`.
        realized: their drawn outcome, aligned with `rows[sent]`.
        incremental_value: (k,) true incremental value of the messages sent
            (`sim.long_term`), aligned with `rows[sent]`.
        slates: (n, K) requested slates (`sim.slates`; `actions` is their slot 1), or None.
        slot: (k,) slot redeemed of each slate sent (0-based, -1: none), or None.
    """

    rows: np.ndarray
    actions: np.ndarray
    reason: np.ndarray
    sent: np.ndarray
    truth: response.Truth
    realized: response.Realized
    incremental_value: np.ndarray
    slates: np.ndarray | None = None
    slot: np.ndarray | None = None


class Campaign:
    """The marketing side of a world: its action catalog, holdout, rules and spend.

    Args:
        world: the world the actions reach.
        rules: contact policy and budget.
        holdout_fraction: share of customers, drawn at random, whom nobody may contact.
        slate_continuation: gamma of the slates' cascade (`sim.slates`), in (0, 1].
    """

    def __init__(self, world: World, rules: ContactRules | None = None,
                 holdout_fraction: float = 0.0,
                 slate_continuation: float = slates.CONTINUATION):
        if not 0.0 <= holdout_fraction < 1.0:
            raise ParameterError(f"holdout_fraction = {holdout_fraction!r}: allowed 0 <= x < 1")
        if not 0.0 < slate_continuation <= 1.0:
            raise ParameterError(f"slate_continuation = {slate_continuation!r}: allowed "
                                 "0 < x <= 1")
        self.slate_continuation, self.slate_draws = slate_continuation, slates.DayDraws()
        self.world, self.rules = world, rules or ContactRules()
        p = world.params
        self.actions: ActionCatalog = catalog_for(p)
        n = world.pop.n_customers
        self.holdout = world.day_rng("holdout", 0).random(n) < holdout_fraction
        self.ledger = Ledger()
        self.offer_history = offer_rules.OfferHistory(self.rules.offer_caps, n)
        self._suppressed = offer_rules.suppression_table(self.rules.suppress)
        self._price = np.where(self.actions.channel >= 0, np.append(  # pos: no price
            p.response.channel_price, 0.0)[np.maximum(self.actions.channel, 0)], 0.0)
        self._uniforms_day, self._words = -1, np.zeros((0, response.N_UNIFORMS), np.uint32)
        self._fatigue_table: tuple = (None, None)  # ((day, horizon), fatigue_churn_table)

    def contact_reasons(self, rows: np.ndarray) -> np.ndarray:
        """`constraints.contact_reasons` of customers `rows` today (segment caps included)."""
        pop = self.world.pop
        return constraints.contact_reasons(pop.contact_days[rows], pop.last_contact_day[rows],
                                           self.world.today, self.rules, pop.segment[rows])

    def offer_reasons(self, rows: np.ndarray) -> np.ndarray | None:
        """`constraints.offer_reasons` of customers `rows` today, or None without offer rules.

        Returns:
            (n, len(OFFERS)) int8 reason codes (suppressed for the segment, offer cap reached),
            or None when the rules have neither suppressions nor offer caps.
        """
        if not self.rules.by_offer:
            return None
        return constraints.offer_reasons(self._suppressed[self.world.pop.segment[rows]],
                                         self.offer_history.blocked(rows, self.world.today))

    def capacity(self) -> int:
        """Phone calls allowed today."""
        return int(self.world.params.response.phone_capacity_per_1000
                   * self.world.n_present / 1000)

    def budget(self, day: int | None = None) -> float | None:
        """Budget of the period on `day` (default: today) after shocks (None: unlimited)."""
        if self.rules.budget is None:
            return None
        return self.rules.budget * float(
            self.world.mods.budget[self.world.today if day is None else day])

    def act(self, rows: np.ndarray, actions: np.ndarray) -> Decisions:
        """Send `actions[i]` to customer `rows[i]` today, within the rules.

        `actions` may also be (n, K) slates, K offers in one message each (`sim.slates`).

        Raises:
            ParameterError: rows not present or repeated, actions out of range, shapes that
                differ; raised before the world changes.
            SlateError: a slate that breaks the slate rules (`sim.slates.check`).
        """
        rows, actions = self._validate(rows, actions)
        slate = actions if actions.ndim == 2 else None
        if slate is not None:
            actions = slate[:, 0]
        w, pop, d = self.world, self.world.pop, self.world.today
        cat = self.actions
        channel = cat.channel[actions]  # int8 (-1: no action)
        # The rules first, charging the budget the worst case (the whole basket discounted).
        worst = self._price[actions]
        if self.rules.budget is not None:
            discount = (cat.discount[actions] if slate is None
                        else slates.deepest_discount(slate, cat))
            off = np.flatnonzero(discount > 0)
            worst = worst.copy()
            worst[off] += discount[off] * w.basket(rows[off])
        offer_reason = self.offer_reasons(rows)
        if offer_reason is not None:
            offer_reason = (offer_reason[np.arange(rows.size), cat.offer[actions]]
                            if slate is None else slates.offer_reasons(offer_reason, slate, cat))
        reason = constraints.check(channel, worst, self.holdout[rows], pop.consent[rows],
                                   pop.contact_days[rows], pop.last_contact_day[rows], d,
                                   self.rules, self.capacity(), self.budget(), self.ledger,
                                   pop.segment[rows], offer_reason)
        sent = (actions > 0) & (reason == constraints.SENT)
        # Then the response, for what was sent only, a block of messages at a time.
        i = np.flatnonzero(sent)
        to, act, ch = rows[i], actions[i], channel[i].astype(np.int64)
        shown = None if slate is None else slate[i]
        out = arrays.joined([
            self._respond(to[lo:lo + BLOCK], act[lo:lo + BLOCK], ch[lo:lo + BLOCK],
                          None if shown is None else shown[lo:lo + BLOCK])
            for lo in range(0, max(to.size, 1), BLOCK)])
        truth, real, value = out[:3]
        # The budget was charged the worst case; give back what was not spent.
        self.ledger.spent -= float((worst[i] - real.price - real.discount_cost).sum())
        if slate is None:
            self.apply(to, ch, real, d, cat.offer[act], cat.target[act])
            return Decisions(rows, actions, reason, sent, truth, real, value)
        # A slate's purchase is of the offer that caught the customer (its target, if any).
        caught = out[3]
        target = cat.target[shown[np.arange(to.size), np.maximum(caught, 0)]]
        self.apply(to, ch, real, d, cat.offer[act], np.where(caught >= 0, target, -1))
        if self.rules.offer_caps:
            slates.record_offers(self.offer_history, to, shown, cat, d)
        return Decisions(rows, actions, reason, sent, truth, real, value, slate, out[3])

    def _respond(self, rows: np.ndarray, actions: np.ndarray, channel: np.ndarray,
                 slate: np.ndarray | None = None) -> tuple:
        """Truth, drawn outcome and true incremental value of messages sent today.

        Args:
            rows: (n,) customers.
            actions: (n,) the messages.
            channel: (n,) their channels.
            slate: (n, K) their slates (`sim.slates`; `actions` is slot 1), or None.

        Returns:
            (truth, realized, value), plus with slates the slot redeemed, (n,) (-1: none).
        """
        w, d, cat = self.world, self.world.today, self.actions
        rp, up = w.params.response, w.mods.channel_up[d]
        customers = w.customers_for_response(rows)
        t = response.tables(customers, rp, up, channel)
        if slate is not None:
            cas = slates.cascade(customers, t, slate, cat, rp, self.slate_continuation)
            value = self.values_sent(rows, customers, channel, cas.truth, t)
            real, slot = slates.realize(
                cas, self.day_uniforms(d, rows),
                self.slate_draws.rows(w, d, rows, slate.shape[1]), self._price[actions], rp,
                self.slate_continuation)
            return cas.truth, real, value, slot
        truth = response.truth(customers, actions, cat, rp, up, t=t)
        value = self.values_sent(rows, customers, channel, truth, t)
        real = response.realize(truth, self.day_uniforms(d, rows), True, cat.discount[actions],
                                self._price[actions], rp, response.ARRAYS,
                                response.pair_values(t, cat, actions))
        return truth, real, value

    def values_sent(self, rows: np.ndarray, customers: response.Customers,
                    channel: np.ndarray, truth: response.Truth,
                    t: response.Tables) -> np.ndarray:
        """True incremental value of messages about to be sent (state before they land)."""
        if rows.size == 0:
            return np.zeros(0)
        v = self.customer_values(rows, customers, channel, tables=t)
        return long_term.incremental_value(truth, v.consent_value, v.alive_value, v.dead_value,
                                           v.fatigue_cost, self.world.params.response)

    def customer_values(self, rows: np.ndarray, customers: response.Customers | None = None,
                        channel: np.ndarray | None = None,
                        tables: response.Tables | None = None) -> long_term.CustomerValues:
        """What the long-term truth needs of customers `rows` today (`sim.long_term`).

        Args:
            rows: (n,) customers.
            customers: their `World.customers_for_response(rows)`, if already at hand.
            channel: (n,) one channel per customer whose consent alone is valued; by default
                every channel (`consent_value` is then (n, n_channels)).
            tables: their `response.tables(..., channel)` (every channel when `channel` is
                None), if already at hand.
        """
        w, p = self.world, self.world.params
        c = customers if customers is not None else w.customers_for_response(rows)
        value = self.expected_value(rows, c)
        alive = c.alive.astype(bool)
        d = w.today
        churn_ahead = w.mods.churn[min(d + 1, w.days - 1):]
        recency = d - w.pop.last_purchase_day[rows].astype(np.int64)
        alive_value = np.where(alive, value, 0.0)
        if self._fatigue_table[0] != (d, w.days):  # one table a day
            self._fatigue_table = ((d, w.days), long_term.fatigue_churn_table(churn_ahead, p))
        fatigue = (alive_value * p.response.fatigue_per_message
                   * long_term.fatigue_churn(recency, churn_ahead, p, self._fatigue_table[1]))
        one = channel is not None
        t = tables if tables is not None else response.tables(c, p.response,
                                                              w.mods.channel_up[d], channel)
        consent = long_term.consent_values(t, c, self.actions, p.response,
                                           long_term.consent_messages(p))
        return long_term.CustomerValues(alive_value, np.where(alive, 0.0, value), fatigue,
                                        consent[:, 0] if one else consent)

    def incremental_margins(self, rows: np.ndarray) -> np.ndarray:
        """True incremental margin of every action, if sent today: (n, n_actions), column 0 is 0."""
        return self.truth_grids(rows, ("margins",))["margins"]

    def incremental_values(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """True incremental margin and true incremental value of every action, if sent today.

        The value is the margin net of the future value the action moves (`sim.long_term`).

        Returns:
            margins and values, each (n, n_actions) float64; column 0 (no action) is 0.
        """
        grids = self.truth_grids(rows)
        return grids["margins"], grids["values"]

    def truth_grids(self, rows: np.ndarray, which: tuple[str, ...] = TRUTH_GRIDS,
                    block: int = GRID_BLOCK, checkout: bool = False) -> dict[str, np.ndarray]:
        """The true incremental margins and/or values of every action, if sent today.

        Worked out along the catalog's axes (`response.offer_grids`), `block` customers and
        one offer at a time; the same numbers as `response.truth(..., grid=True)` and
        `long_term.incremental_value` give, bit for bit.

        Args:
            rows: (n,) customers.
            which: the grids wanted, among `TRUTH_GRIDS`: "margins" (true incremental
                margins) and "values" (true incremental values, `sim.long_term`).
            block: customers worked out at a time.
            checkout: the customers are at a checkout's till (pos actions have their truth,
                `sim.pos`; elsewhere 0, as they are not shown).

        Returns:
            {name: (n, n_actions) float64} for each name in `which`; column 0 (no action)
            is 0.

        Raises:
            ParameterError: an unknown grid name.
        """
        unknown = sorted(set(which) - set(TRUTH_GRIDS))
        if unknown:
            raise ParameterError(f"truth grids {unknown}: allowed {', '.join(TRUTH_GRIDS)}")
        rows = np.asarray(rows, dtype=np.int64)
        w, rp = self.world, self.world.params.response
        grid, offer_cols = pos.message_grid(self.actions)
        c = w.customers_for_response(rows)
        t = response.tables(c, rp, w.mods.channel_up[w.today])
        v = self.customer_values(rows, c, tables=t) if "values" in which else None
        out = {k: np.empty((rows.size, self.actions.n_actions)) for k in which}
        for grid_out in out.values():  # no action (what its truth works out to, exactly)
            grid_out[:, 0] = 0.0
        for lo in range(0, rows.size, block):
            part = slice(lo, lo + block)
            truths = response.offer_grids(t, grid, rp, part, unsubscribe=v is not None)
            for cols, truth in zip(offer_cols, truths, strict=True):
                if "margins" in out:
                    arrays.put_grid(out["margins"], part, cols, truth.incremental_margin)
                if v is not None:
                    arrays.put_grid(out["values"], part, cols,
                                    _grid_values(truth, v, part, grid, rp))
        pos.fill_grids(self, rows, out, checkout)  # (none without pos actions)
        return out

    def oracle(self, rows: np.ndarray) -> np.ndarray:
        """The best action per customer under the rules, greedy by true incremental margin.

        Each customer gets the action of highest incremental margin among those the
        per-customer rules allow (`constraints.customer_reasons`: holdout, consent, contact
        limit, gap, segment and offer rules), or no action when none
        is positive. Then the shared limits, greedily: phone calls go to the customers who gain
        most from a call over their best other action, up to today's capacity (the rest get that
        other action); finally actions are kept in decreasing order of margin while their
        worst-case cost fits the remaining budget, and the rest get no action.

        Returns:
            (n,) action per customer.
        """
        rows = np.asarray(rows, dtype=np.int64)
        w, pop, d, cat = self.world, self.world.pop, self.world.today, self.actions
        gain = self.incremental_margins(rows)
        ch = cat.channel.astype(np.int64)
        contact = self.contact_reasons(rows)
        offer_reason = self.offer_reasons(rows)
        allowed = constraints.customer_reasons(
            ch[None, :], self.holdout[rows][:, None], pop.consent[rows][:, None],
            contact[:, None], None if offer_reason is None else offer_reason[:, cat.offer]
        ) == constraints.SENT
        gain = np.where(allowed, gain, -np.inf)
        gain[:, 0] = 0.0
        best = gain.argmax(axis=1)
        phone = ch[best] == constraints.PHONE
        if phone.any():
            no_phone = np.where(ch[None, :] == constraints.PHONE, -np.inf, gain)
            fallback = no_phone.argmax(axis=1)
            extra = gain[np.arange(rows.size), best] - no_phone[np.arange(rows.size), fallback]
            callers = np.flatnonzero(phone)
            room = self.ledger.calls_left(d, self.capacity())
            dropped = callers[np.argsort(-extra[callers], kind="stable")][room:]
            best[dropped] = fallback[dropped]
        budget = self.budget()
        if budget is not None:
            left = self.ledger.money_left(d, self.rules.budget_period_days, budget)
            basket = w.customers_for_response(rows).basket
            cost = self._price[best] + cat.discount[best] * basket
            order = np.argsort(-gain[np.arange(rows.size), best], kind="stable")
            best[order[~constraints.within_budget(cost[order], left)]] = 0
        return best

    def _validate(self, rows: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, actions = np.asarray(rows), np.asarray(actions)
        if actions.ndim == 2 and rows.ndim == 1 and actions.shape[0] == rows.size:
            rows = self._validate(rows, np.zeros(rows.size, dtype=np.int64))[0]
            return rows, pos.check_slates(slates.check(actions, self.actions.n_actions),
                                          self.actions)
        if rows.ndim != 1 or actions.shape != rows.shape:
            raise ParameterError(f"rows {rows.shape} and actions {actions.shape} must be 1-d "
                                 "arrays of one length")
        for name, a in (("rows", rows), ("actions", actions)):
            if a.size and a.dtype.kind not in "iu":
                raise ParameterError(f"{name} dtype {a.dtype}: must be integers")
        n_act, n_here = self.actions.n_actions, self.world.n_present
        if actions.size and (actions.min() < 0 or actions.max() >= n_act):
            bad = actions[(actions < 0) | (actions >= n_act)][0]
            raise ParameterError(f"action {bad}: allowed 0 to {n_act - 1}")
        if rows.size and (rows.min() < 0 or rows.max() >= n_here):
            bad = rows[(rows < 0) | (rows >= n_here)][0]
            raise ParameterError(f"customer row {bad}: allowed 0 to {n_here - 1} (present)")
        increasing = rows.size < 2 or bool((rows[1:] > rows[:-1]).all())
        if not increasing and np.unique(rows).size != rows.size:
            raise ParameterError("rows repeat a customer: one action per customer per call")
        return rows.astype(np.int64), actions.astype(np.int64)

    def expected_value(self, rows: np.ndarray,
                       customers: response.Customers | None = None) -> np.ndarray:
        """Expected margin of customers over the next `LTV_HORIZON_DAYS` if they stay alive.

        A year of purchases at the customer's rate, expected basket and margin; with objective
        `ltv` a customer whom an action brings back gains it and one it drives away loses it.

        Args:
            rows: (n,) customers.
            customers: their `World.customers_for_response(rows)`, if already at hand.
        """
        c = customers if customers is not None else self.world.customers_for_response(rows)
        return self.world.pop.purchase_rate[rows] * LTV_HORIZON_DAYS * c.basket * c.margin_rate

    def day_uniforms(self, day: int, rows: np.ndarray) -> np.ndarray:
        """Uniforms of the day of customers `rows`: the same whatever else was decided.

        Rows `rows` of the day's response stream's `random((n_present, N_UNIFORMS),
        dtype=np.float32)`, turned around as `response.realize` takes them. Only the stream's
        raw 64-bit words are drawn for everyone (once a day), and made into floats for `rows`
        as numpy makes them: two per word, low half first, the top 24 bits of each half times
        2**-24 (exact in float32 and float64 alike).

        Returns:
            (N_UNIFORMS, len(rows)) float64.
        """
        if self._uniforms_day != day:
            n = self.world.pop.n_present(day)
            raw = self.world.day_rng("response", day).bit_generator.random_raw(
                n * response.N_UNIFORMS // 2)
            self._words = raw.astype("<u8", copy=False).view("<u4").reshape(
                n, response.N_UNIFORMS)
            self._uniforms_day = day
        words = np.take(self._words, rows, axis=0)
        words >>= 8
        out = np.empty((response.N_UNIFORMS, words.shape[0]))
        return np.multiply(words.T, 2.0 ** -24, out=out)

    def apply(self, rows: np.ndarray, channel: np.ndarray, real: response.Realized,
              day: int, offer: np.ndarray | None = None,
              target: np.ndarray | None = None) -> None:
        """Update the world for messages sent on `day` to `rows` through `channel`.

        Contact history and fatigue, the send, open and click counts (per channel, and sends
        per offer), unsubscribes, sleeping dogs put
        off or gone, incremental purchases queued to land `delay` days later, and attributed
        conversions queued to count when the attribution window closes (a CRM knows whether a
        customer bought in the window only then, never when the message is sent).

        Args:
            rows: (k,) customers sent a message (each once).
            channel: (k,) channel of each message.
            real: the drawn outcome of each, aligned with `rows`.
            day: the day they were sent.
            offer: (k,) offer code of each message (for the offer caps; None: no offer cap).
            target: (k,) `ActionCatalog.target` of each message (-1: none; None: no message
                names a target); the purchase a targeted offer causes is of its category or
                at its store.
        """
        pop, w = self.world.pop, self.world
        if self.rules.offer_caps:
            self.offer_history.record(rows, offer, day)
        rp, n_ch = w.params.response, pop.fatigue.shape[1]
        # Contact history: shift the day mask to today (bits beyond 32 days drop) and mark today.
        # (In uint32: numpy shifts by 32 or more to 0, as the bits shifted past 32 drop.)
        shift = np.clip(np.subtract(np.int32(day), pop.last_contact_day[rows], dtype=np.int32),
                        0, 32).view(np.uint32)
        pop.contact_days[rows] = (pop.contact_days[rows] << shift) | np.uint32(1)
        pop.last_contact_day[rows] = day
        # Per-channel columns are updated through their flat index, row x n_channels + channel.
        got = np.flatnonzero(real.delivered)
        fatigue = pop.fatigue.reshape(-1)
        fatigue[rows[got] * n_ch + channel[got]] += np.float32(rp.fatigue_per_message)
        if got.size:  # (the channels' strided columns summed in place, no turned-around copy)
            w.max_fatigue = max(w.max_fatigue, float(arrays.row_sums(
                np.take(pop.fatigue, rows[got], axis=0).T).max()))
        for column, happened in ((pop.sends, True), (pop.opens, real.opened),
                                 (pop.clicks, real.clicked)):
            i = np.flatnonzero(np.broadcast_to(happened, rows.shape))
            arrays.count_up(column, rows[i], channel[i])
        # A conversion is counted when its attribution window closes (`World.step`).
        i, close = np.flatnonzero(real.converted), day + rp.attribution_days
        if i.size and close < w.days:
            w.pending_conversions.setdefault(close, []).append(rows[i] * n_ch + channel[i])
        if offer is not None:  # each offer's sends now, its redemptions when the window closes
            at = arrays.count_up(pop.offer_sends, rows, offer - 1)
            if i.size and close < w.days:
                w.pending_redemptions.setdefault(close, []).append(at[i])
        unsub = real.unsubscribed
        pop.consent[rows[unsub]] &= ~(np.uint8(1) << channel[unsub].astype(np.uint8))
        pop.alive[rows[real.churned]] = False
        pop.blocked_until[rows[real.blocked]] = day + rp.attribution_days
        inc = np.flatnonzero(real.incremental)  # a few; grouped by delay, rows in order
        aimed = np.zeros(inc.size, dtype=bool) if target is None else target[inc] >= 0
        if aimed.any():
            w.queue_targeted(rows[inc[aimed]], day + real.delay[inc[aimed]],
                             self.actions.targets, target[inc[aimed]])
            inc = inc[~aimed]
        delays = real.delay[inc]
        for delay in np.unique(delays):
            land = day + int(delay)
            if land < w.days:
                w.pending.setdefault(land, []).append(rows[inc[delays == delay]])


def _grid_values(truth: response.Truth, v: long_term.CustomerValues, part: slice,
                 grid: CatalogGrid, rp: ResponseParams) -> np.ndarray:
    """True incremental values of one `response.offer_grids` truth (customers `part` of `v`)."""
    consent = v.consent_value[part].T[grid.channel][:, None, None, :]
    return long_term.incremental_value(truth, consent, v.alive_value[part], v.dead_value[part],
                                       v.fatigue_cost[part], rp)
