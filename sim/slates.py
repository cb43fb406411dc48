"""Slates: K offers in one message or app screen, read as a cascade, redeemed at most once.

A slate is a row of K actions, (n, K) int64 for n customers, in the order shown. It is one
message: it goes out through slot 1's channel, at slot 1's send hour, in slot 1's wording, so
the rules (consent, contact limit, capacity, budget), P(open), P(click), fatigue and the
channel's price are slot 1's, exactly as if slot 1 were sent alone; slots 2..K add only their
offers. Empty slots are 0 and trail the offers; a slate whose slot 1 is 0 is no message
and must be all 0. An offer shown twice (two actions of one offer) acts at its first slot
only: the customer has read it already. Every offer of a slate must pass the offer rules
(segment suppressions, offer caps); one that does not stops the whole message, under its
reason, and every offer shown counts towards its offer cap.

Attention is a cascade (Craswell, Zoeter, Taylor and Ramsey 2008, "An experimental comparison
of click position-bias models"): a customer who opens the message reads slot 1; at slot j an
offer of effect tau_j (`sim.response`, with the message's wording, fatigue and clicks) catches
them with probability max(tau_j, 0) (they buy because of it and redeem it) or puts them off
with probability max(-tau_j, 0) (a sleeping dog: no purchase in the window); either ends the
reading. Otherwise they read on to slot j+1 with the continuation probability gamma
(`slate_continuation`, default `CONTINUATION`). The probability of reading slot j is then at
most gamma^(j-1), the examination curve of the position-based model (Richardson, Dominowska
and Ragno 2007; Chuklin, Markov and de Rijke 2015, "Click models for web search"): with
gamma = 0.7 it is 1, 0.70, 0.49, 0.34, 0.24 over five slots, between the 1/rank curve that
Joachims, Swaminathan and Schnabel (2017, "Unbiased learning-to-rank with biased feedback")
use and the flatter curves fitted to e-mail and app lists; our choice, configurable. An opener
whom no slot caught or put off still buys organically with p0, and then redeems the deepest
discount among the slots read (the first of them on a tie; slot 1 when none is a discount).

So, with R_j the probability of reading slot j (R_1 = 1, R_{j+1} = R_j (1 - c_j - b_j)
gamma, c_j = max(tau_j, 0), b_j = max(-tau_j, 0)), C = sum R_j c_j and B = sum R_j b_j:

- conversion of an opener: p1_opened = p0 + (1 - p0) C - p0 B (for K = 1, `response`'s);
- expected discount of an opener: basket x (sum_j R_j c_j d_j + p0 sum_j S_j D_j), S_j the
  probability of stopping after slot j uncaught, D_j the deepest discount of slots 1..j;
- unsubscribes and churn of sleeping dogs scale with B where a single message has -tau;
- `Truth.effect` of a slate is C - B (an offer's effect takes the sign of the customer's
  responsiveness, so at most one of them is not 0), what `sim.long_term` reads.

This truth is exact and drawn from nothing, vectorised over customers with a loop over the K
slots. Drawing: the funnel and the organic, unsubscribe, churn and delay draws are the day's
response uniforms of a single message (`Campaign.day_uniforms`), and slot 1 uses its effect
uniform, so a slate whose later slots do nothing draws exactly what slot 1 alone would; slots
2..K draw their continuation and effect uniforms from the day's "slate" stream, rows by
customer (common random numbers: one customer's slate shifts no one else's draws).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from nbasim.sim import response
from nbasim.sim.actions import ActionCatalog
from nbasim.sim.params import ParameterError, ResponseParams

if TYPE_CHECKING:
    from nbasim.sim.world import World

CONTINUATION = 0.7
"""Default probability of reading on to the next slot after one that neither caught nor put
off the customer (see the module docstring for the sources)."""
MAX_SLATE = 10
"""Largest slate size allowed."""


class SlateError(ParameterError):
    """A slate that breaks the slate rules; the message names the row and what is allowed."""


def check(slates: np.ndarray, n_actions: int) -> np.ndarray:
    """Validate slates of actions against the slate rules (see the module docstring).

    Args:
        slates: (n, K) integer actions, 0 for an empty slot.
        n_actions: size of the catalog.

    Returns:
        The slates as int64.

    Raises:
        SlateError: naming the first bad row and what is allowed: integers, actions in
            range, slot 1 no action only for an empty slate, empty slots after the offers,
            no action repeated.
    """
    s = np.asarray(slates)
    if s.ndim != 2 or not 1 <= s.shape[1] <= MAX_SLATE:
        raise SlateError(f"slates shape {s.shape}: expected (n, K), 1 <= K <= {MAX_SLATE}")
    if s.size and s.dtype.kind not in "iu":
        raise SlateError(f"slates dtype {s.dtype}: must be integers")
    if not s.size:
        return s.astype(np.int64)
    s = s.astype(np.int64)
    bad = (s < 0) | (s >= n_actions)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise SlateError(f"slate row {i} slot {j + 1}: action {s[i, j]}: allowed 0 to "
                         f"{n_actions - 1}")
    empty = s == 0
    # An empty slot may only be followed by empty slots (slot 1 empty: the whole slate).
    gap = empty[:, :-1] & ~empty[:, 1:]
    if gap.any():
        i, j = np.argwhere(gap)[0]
        raise SlateError(f"slate row {i}: slot {j + 1} is empty (0) but slot {j + 2} holds "
                         f"action {s[i, j + 1]}: allowed offers first, then empty slots; a "
                         "slate whose slot 1 is no action must be all 0")
    ordered = np.sort(s, axis=1)
    repeat = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] > 0)
    if repeat.any():
        i, j = np.argwhere(repeat)[0]
        raise SlateError(f"slate row {i}: action {ordered[i, j + 1]} shown twice: allowed "
                         "each action at most once per slate")
    return s


def message_actions(slates: np.ndarray, catalog: ActionCatalog) -> np.ndarray:
    """Each slot's offer sent as slot 1's message: its channel, send slot and wording.

    Args:
        slates: (n, K) checked slates.
        catalog: the action catalog (a full product, `ActionCatalog.grid`).

    Returns:
        (n, K) actions of the catalog: slot j's offer with slot 1's channel, slot and wording
        (slot 1's action where the slot is empty or the slate is).
    """
    per_offer = int(np.prod(catalog.grid().shape[1:]))
    first = slates[:, :1]
    shift = np.where(slates > 0, (slates - 1) // per_offer, 0) - np.where(
        first > 0, (first - 1) // per_offer, 0)
    return np.where((slates > 0) & (first > 0), first + shift * per_offer, first)


def deepest_discount(slates: np.ndarray, catalog: ActionCatalog) -> np.ndarray:
    """(n,) the largest discount share of each slate's offers (its worst-case cost)."""
    return catalog.discount[slates].max(axis=1)


def offer_reasons(reasons: np.ndarray, slates: np.ndarray, catalog: ActionCatalog
                  ) -> np.ndarray:
    """(n,) the reason an offer rule stops each slate: its first shown offer stopped, or 0.

    Args:
        reasons: (n, len(OFFERS)) int8 offer reasons (`Campaign.offer_reasons`).
        slates: (n, K) checked slates.
        catalog: the action catalog.
    """
    per_slot = np.take_along_axis(reasons, catalog.offer[slates].astype(np.int64), axis=1)
    per_slot = np.where(slates > 0, per_slot, 0)
    first = (per_slot != 0).argmax(axis=1)
    return per_slot[np.arange(slates.shape[0]), first]


@dataclass
class Cascade:
    """What the cascade of each slate works out to (all (n, K) but `truth`).

    Attributes:
        truth: the slate's truth as one message (`response.Truth`, (n,) fields).
        catch: c_j, P(slot j catches a customer who reads it).
        put_off: b_j, P(slot j puts off a customer who reads it).
        read: R_j, P(an opener reads slot j).
        discount: d_j, discount share of slot j's offer (0 on an empty slot).
        organic_slot: the slot whose offer an organic buyer who read slots 1..j redeems.
        value: v_j, slot j's `Tables.value` entry (a targeted cross-sell's purchase is of
            its category), or None when the scenario names no targets (1 throughout).
    """

    truth: response.Truth
    catch: np.ndarray
    put_off: np.ndarray
    read: np.ndarray
    discount: np.ndarray
    organic_slot: np.ndarray
    value: np.ndarray | None = None


def cascade(customers: response.Customers, t: response.Tables, slates: np.ndarray,
            catalog: ActionCatalog, rp: ResponseParams, continuation: float) -> Cascade:
    """The true response to slates, as one message each (module docstring), without drawing.

    Args:
        customers: the customers, (n,) rows.
        t: their `response.tables` of slot 1's channel (one channel per customer).
        slates: (n, K) checked slates.
        catalog: the action catalog.
        rp: response parameters.
        continuation: gamma, in (0, 1].
    """
    n, k = slates.shape
    msg = message_actions(slates, catalog)
    per_slot = [response.truth(customers, msg[:, j], catalog, rp, t=t) for j in range(k)]
    first = per_slot[0]
    offer = catalog.offer[slates]
    # An empty slot, or an offer already shown, does nothing.
    fresh = slates > 0
    for j in range(1, k):
        fresh[:, j] &= (offer[:, :j] != offer[:, j:j + 1]).all(axis=1)
    tau = np.stack([s.effect for s in per_slot], axis=1)
    catch = np.where(fresh, np.maximum(tau, 0.0), 0.0)
    put_off = np.where(fresh, np.maximum(-tau, 0.0), 0.0)
    read = np.empty((n, k))
    read[:, 0] = 1.0
    for j in range(1, k):
        read[:, j] = read[:, j - 1] * (1 - catch[:, j - 1] - put_off[:, j - 1]) * continuation \
            * (slates[:, j] > 0)
    c_total = (read * catch).sum(axis=1)
    b_total = (read * put_off).sum(axis=1)
    discount = np.where(slates > 0, catalog.discount[slates], 0.0)
    # Stopping uncaught after slot j: reached it, not caught or put off, not reading on.
    on = np.zeros((n, k))
    on[:, :-1] = read[:, 1:]
    stop = read * (1 - catch - put_off) - on
    organic_slot = _deepest_so_far(discount)
    deepest = np.take_along_axis(discount, organic_slot, axis=1)
    p0, basket, margin_rate, p_open = (first.p_organic, first.basket, first.margin_rate,
                                       first.p_open)
    # p0 + (1 - p0) C - p0 B, in the order `response` works out one offer (bit for bit).
    p1_opened = np.where(b_total > 0, p0 * (1 - b_total), p0) + (1 - p0) * c_total
    p1 = p0 + p_open * (p1_opened - p0)
    reachable = (slates[:, 0] > 0) * t.consent[:, 0]
    price = np.asarray(rp.channel_price)[np.maximum(catalog.channel[slates[:, 0]], 0)]
    redeemed = (read * catch * discount).sum(axis=1) + p0 * (stop * deepest).sum(axis=1)
    cost = reachable * price + basket * p_open * redeemed
    p_unsub = reachable * np.clip(t.unsub[:, 0] + p_open * rp.sleeping_dog_unsubscribe * b_total,
                                  0.0, 1.0)
    uplift = p1 - p0
    value = (None if t.value is None else
             np.stack([response.pair_values(t, catalog, msg[:, j]) for j in range(k)], axis=1))
    if value is None:
        valued = uplift
    else:  # each slot's share of the uplift at its offer's value, as one message is valued
        share = read * ((1 - p0)[:, None] * catch - p0[:, None] * put_off)
        valued = p_open * (share * value).sum(axis=1)
    truth = replace(first, p_treated=p1, p_unsubscribe=p_unsub, cost=cost, uplift=uplift,
                    incremental_margin=valued * (basket * margin_rate) - cost,
                    effect=c_total - b_total)
    return Cascade(truth, catch, put_off, read, discount, organic_slot, value)


def _deepest_so_far(discount: np.ndarray) -> np.ndarray:
    """(n, K) index of the deepest discount among slots 1..j (the first on a tie)."""
    best = np.zeros(discount.shape, dtype=np.int64)
    for j in range(1, discount.shape[1]):
        prev = np.take_along_axis(discount, best[:, j - 1:j], axis=1)[:, 0]
        best[:, j] = np.where(discount[:, j] > prev, j, best[:, j - 1])
    return best


def realize(cas: Cascade, u: np.ndarray, slate_u: np.ndarray, price: np.ndarray,
            rp: ResponseParams, continuation: float) -> tuple[response.Realized, np.ndarray]:
    """Draw the outcome of slates sent, consistent with their cascade.

    Args:
        cas: the slates' `cascade`.
        u: (N_UNIFORMS, n) the customers' response uniforms of the day.
        slate_u: (n, 2 (K - 1)) their slate uniforms: slot j+1's continuation in column
            2 (j - 1), its effect in column 2 (j - 1) + 1.
        price: (n,) message price.
        rp: response parameters.
        continuation: gamma.

    Returns:
        The realized outcome (as `response.realize`'s fields) and (n,) the slot redeemed,
        0-based, or -1 when the customer did not convert.
    """
    t, (n, k) = cas.truth, cas.catch.shape
    first_discount = cas.discount[:, 0]
    real = response.realize(t, u, np.ones(n, dtype=bool), first_discount, price, rp)
    opened = real.opened
    reading = opened.copy()
    caught = np.zeros(n, dtype=bool)
    blocked = np.zeros(n, dtype=bool)
    slot = np.full(n, -1, dtype=np.int64)
    last_read = np.zeros(n, dtype=np.int64)
    for j in range(k):
        if j == 0:
            effect_u = u[response.U_EFFECT]
        else:
            reading &= slate_u[:, 2 * (j - 1)] < continuation
            reading &= cas.read[:, j] > 0  # an empty slot ends the slate
            effect_u = slate_u[:, 2 * (j - 1) + 1]
        last_read[reading] = j
        got = reading & (effect_u < cas.catch[:, j])
        off = reading & (effect_u < cas.put_off[:, j])
        slot[got] = j
        caught |= got
        blocked |= off
        reading &= ~(got | off)
    organic = opened & ~caught & ~blocked & (u[response.U_ORGANIC] < t.p_organic)
    rows = np.arange(n)
    slot[organic] = cas.organic_slot[rows[organic], last_read[organic]]
    converted = caught | organic
    churned = opened & (u[response.U_CHURN] < rp.sleeping_dog_churn * np.maximum(-t.effect, 0))
    discount_cost = converted * cas.discount[rows, np.maximum(slot, 0)] * t.basket
    attributed = converted * t.basket * t.margin_rate - discount_cost
    if cas.value is not None:  # a caught purchase is of the catching slot's target
        value = cas.value[rows, np.maximum(slot, 0)]
        attributed = attributed + caught * (t.basket * t.margin_rate) * (value - 1.0)
    real = replace(real, converted=converted, incremental=caught, blocked=blocked,
                   churned=churned, discount_cost=discount_cost, attributed_margin=attributed,
                   reward=attributed - real.price)
    return real, slot


class DayDraws:
    """The day's slate uniforms, drawn once a day and handed out by customer row.

    (n_present, 2 (K - 1)) uniforms from the world's "slate" stream of the day.
    """

    def __init__(self):
        self._key: tuple[int, int] | None = None
        self._u = np.zeros((0, 0))

    def rows(self, world: World, day: int, rows: np.ndarray, k: int) -> np.ndarray:
        """(len(rows), 2 (k - 1)) uniforms of customers `rows` on `day`."""
        if self._key != (day, k):
            self._u = world.day_rng("slate", day).random((world.pop.n_present(day),
                                                          2 * (k - 1)))
            self._key = (day, k)
        return self._u[rows]


def record_offers(history, rows: np.ndarray, slates: np.ndarray, catalog: ActionCatalog,
                  day: int) -> None:
    """Count the offers of slots 2..K of slates sent towards their offer caps.

    Args:
        history: the campaign's `offer_rules.OfferHistory` (slot 1 is recorded by `apply`).
        rows: (m,) customers sent a slate.
        slates: (m, K) their slates.
        catalog: the action catalog.
        day: the day sent.
    """
    offer = catalog.offer[slates]
    for j in range(1, slates.shape[1]):
        shown = np.flatnonzero((slates[:, j] > 0)
                               & (offer[:, :j] != offer[:, j:j + 1]).all(axis=1))
        if shown.size:
            history.record(rows[shown], offer[shown, j], day)
