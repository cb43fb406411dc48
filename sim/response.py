"""The response to an action, computed analytically for any (customer, action) pairs.

For customer i and action a = (offer, channel, slot, wording), over the attribution window:

- organic conversion p0 = alive x (1 - exp(-rate x window x demand));
- engagement: P(open) = consent x delivery[ch] x open[ch] x (offset + affinity[i, ch]) x slot
  fit (`ResponseParams.open_affinity_offset`, `slot_fit_floor`),
  P(click | open) = click[ch] x wording fit;
- effect among those who open: tau = responsiveness x offer effect(i) x wording fit x fatigue
  damping x (1 + click_weight x P(click | open)), clipped to [-1, 1];
  the offer effect depends on the customer (price sensitivity for discounts, online share for
  free delivery, the next category's affinity for cross-sell, frequency for loyalty points,
  distance to a second store for the visit bonus, lifecycle for win-back, the open cart for
  the reminder; `ResponseParams.offer_scale`); latent-dead customers respond only to win-back;
- a targeted offer (`sim.targets`): a cross-sell of category k takes the customer's fit for k
  (affinity x sequence odds after their last category x readiness, `Catalog.fit`) in place
  of the suggested category's affinity, and its purchase is valued at k's price and margin;
  a visit bonus for store s takes the distance from the nearer of home and work to s, and
  is nil for the customer's primary store;
- conversion of those who open: p0 + (1 - p0) x tau when tau >= 0, p0 x (1 + tau) for sleeping
  dogs (tau < 0), who also unsubscribe more; with the action p1 = p0 + P(open) x (that - p0);
- money: a converting customer spends the expected basket B (Gamma-Gamma mean x price level)
  at margin rate m; every opened conversion redeems the discount, including those who would
  have bought anyway; every sent message costs the channel's price. So
  incremental margin = (p1 - p0) x B x m x v - discount x B x P(open) x p1(opened) - price[ch],
  with v = 1 but for a targeted cross-sell (the category's price x margin over the
  customer's average).

No action (row 0) has p1 = p0 and an incremental margin of exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from nbasim.sim import arrays, offer_effects
from nbasim.sim.actions import SLOT_HOURS, ActionCatalog, CatalogGrid
from nbasim.sim.params import WORDINGS, ResponseParams


@dataclass
class Truth:
    """True expected outcome of actions for customers (all arrays of shape (n,)).

    Attributes:
        p_organic: conversion probability in the window without action.
        p_treated: conversion probability in the window with the action.
        p_open: probability the message is delivered and opened.
        p_click: probability it is also clicked.
        p_unsubscribe: probability the customer unsubscribes from the channel.
        basket: expected spend of a conversion; margin_rate: its margin share.
        cost: expected cost (channel price plus expected discount redeemed).
        uplift: p_treated - p_organic.
        incremental_margin: expected margin with the action minus without, net of cost.
        effect: the effect tau among those who open (negative for sleeping dogs).
        p_delivered: probability the message is delivered.
    """

    p_organic: np.ndarray
    p_treated: np.ndarray
    p_open: np.ndarray
    p_click: np.ndarray
    p_unsubscribe: np.ndarray
    basket: np.ndarray
    margin_rate: np.ndarray
    cost: np.ndarray
    uplift: np.ndarray
    incremental_margin: np.ndarray
    effect: np.ndarray
    p_delivered: np.ndarray


@dataclass
class Customers:
    """What the response needs to know of each customer (aligned (n,) arrays, or (n, k)).

    Built by `World.customers_for_response`; latent traits included, so it never reaches
    a policy. `category_fit`, `category_value` (n, k categories targeted) and
    `store_distance` (n, k stores targeted) serve the targeted offers (`sim.targets`); None
    when the scenario names no targets.
    """

    p_organic: np.ndarray
    basket: np.ndarray
    margin_rate: np.ndarray
    alive: np.ndarray
    consent: np.ndarray
    channel_affinity: np.ndarray
    send_hour: np.ndarray
    wording: np.ndarray
    responsiveness: np.ndarray
    price_sensitivity: np.ndarray
    online_share: np.ndarray
    next_category_affinity: np.ndarray
    frequency: np.ndarray
    second_store_distance: np.ndarray
    stage: np.ndarray
    cart_open: np.ndarray
    cart_age: np.ndarray
    cart_ratio: np.ndarray
    fatigue: np.ndarray
    category_fit: np.ndarray | None = None
    category_value: np.ndarray | None = None
    store_distance: np.ndarray | None = None

    def take(self, index: np.ndarray) -> Customers:
        """The customers at `index` (repeats allowed), every field indexed alike."""
        return Customers(**{k: None if v is None else v[index] for k, v in vars(self).items()})


def _slot_fit(send_hour: np.ndarray, slot_hour: np.ndarray, rp: ResponseParams) -> np.ndarray:
    gap = np.abs(send_hour - slot_hour)
    gap = np.minimum(gap, 24 - gap)
    floor = rp.slot_fit_floor
    return floor + (1 - floor) * np.exp(-0.5 * (gap / rp.slot_width_hours) ** 2)


def _open(delivery, open_rate, affinity, slot_fit, rp: ResponseParams) -> np.ndarray:
    return np.clip(delivery * open_rate * (rp.open_affinity_offset + affinity) * slot_fit,
                   0.0, 1.0)


def _damp(fatigue, fatigue_sum, rp: ResponseParams) -> np.ndarray:
    return np.exp(-rp.fatigue_damping * ((1 - rp.fatigue_spill) * fatigue
                                         + rp.fatigue_spill * fatigue_sum))


@dataclass(frozen=True)
class Ops:
    """Elementwise functions for numpy arrays or for plain floats, so one formula serves both.

    The formulas below use only arithmetic and these functions (every exponential is taken in
    `tables`), so a decision worked out on floats is bit for bit the one worked out on arrays.
    """

    clip: Callable
    where: Callable
    maximum: Callable
    minimum: Callable
    to_int: Callable


ARRAYS = Ops(np.clip, np.where, np.maximum, np.minimum, lambda v: v.astype(np.int64))
FLOATS = Ops(lambda v, lo, hi: min(max(v, lo), hi), lambda c, a, b: a if c else b, max, min,
             int)


@dataclass
class Tables:
    """The customers' side of the response, tabled by what it depends on.

    The channel axis holds every channel, or one channel per customer (`tables(channel=...)`):
    `channels` says which.

    Attributes:
        p_organic, basket, margin_rate: (n,) as in `Truth`.
        channels: (1, n_channels) every channel, or (n, 1) each customer's own channel.
        consent: (n, k) 1 where the customer accepts the channel, k channels as in `channels`.
        open: (n, k, n_slots) P(open) of a message that is sent, by channel and slot.
        word: (n, n_wordings) wording fit.
        damp: (n, k) fatigue damping.
        effect: (n, n_variants) responsiveness x offer effect, per offer variant
            (`ActionCatalog.variant`).
        unsub: (n, k) base unsubscribe probability of a delivered message.
        delivery: (n_channels,) delivery probability of the day, by channel.
        value: (n, n_variants) value of an incremental purchase over the customer's average
            (`_values`), or None when the scenario names no targets (1 throughout).
    """

    p_organic: np.ndarray
    basket: np.ndarray
    margin_rate: np.ndarray
    channels: np.ndarray
    consent: np.ndarray
    open: np.ndarray
    word: np.ndarray
    damp: np.ndarray
    effect: np.ndarray
    unsub: np.ndarray
    delivery: np.ndarray
    value: np.ndarray | None = None


def tables(c: Customers, rp: ResponseParams, channel_up: np.ndarray | None = None,
           channel: np.ndarray | None = None) -> Tables:
    """Table the customers' side of the response (see `Tables`).

    Args:
        c: the customers, (n,) rows.
        rp: response parameters.
        channel_up: (n_channels,) delivery multiplier of the day (0 during an outage).
        channel: (n,) one channel per customer to table alone (default: every channel).
    """
    n = c.p_organic.shape[0]
    delivery = np.asarray(rp.delivery) * (1.0 if channel_up is None else channel_up)
    # Worked out channels first, customers last (long inner loops), and handed over as
    # (n, ...) views: `chans` is (k, 1) for every channel, (1, n) for one per customer.
    chans = (np.arange(len(rp.delivery))[:, None] if channel is None
             else np.asarray(channel, dtype=np.intp)[None, :])
    here = np.arange(n)
    fat = c.fatigue.T.astype(np.float64)
    fat_ch = fat[chans, here]
    # Slot fit by the whole hour of the preferred send time (0-23), worked out once per hour.
    fit = _slot_fit(np.arange(24.0), np.asarray(SLOT_HOURS, dtype=np.float64)[:, None], rp)
    effect = offer_effects.effects(c, rp)
    value = offer_effects.values(c)
    word = np.take(np.where(np.eye(len(WORDINGS), dtype=bool), rp.wording_match,
                            rp.wording_miss), c.wording, axis=1)
    return Tables(
        p_organic=c.p_organic, basket=c.basket, margin_rate=c.margin_rate, channels=chans.T,
        consent=((c.consent.astype(np.int64) >> chans) & 1).T,
        open=_open(delivery[chans][:, None], np.asarray(rp.open_rate)[chans][:, None],
                   c.channel_affinity.T[chans, here][:, None], np.take(fit, c.send_hour, axis=1),
                   rp).transpose(2, 0, 1),
        word=word.T, damp=_damp(fat_ch, arrays.row_sums(fat), rp).T, effect=effect.T,
        unsub=(delivery[chans] * np.asarray(rp.unsubscribe_rate)[chans] * (1 + fat_ch)).T,
        delivery=delivery, value=None if value is None else value.T)


def combine(ops: Ops, rp: ResponseParams, *, reachable, open_, word, effect, damp, unsub,
            click_rate, price, delivery, discount, p0, basket, margin_rate,
            value=1.0) -> Truth:
    """The response of customers to actions from their picked table entries.

    Every argument is an array (all broadcasting together) or, with `FLOATS`, a number:
    `reachable` is 1 when an action is sent on a channel the customer consents to; `open_`,
    `word`, `effect`, `damp` and `unsub` are the customer's table entries for the action's
    channel, slot, wording and offer; `click_rate`, `price`, `delivery` and `discount` are the
    action's channel and offer figures. `unsub` None leaves `p_unsubscribe` None (for callers
    that want the margin only). `value` is the offer variant's `Tables.value` entry. It is
    `respond` to the offer after `engage`.
    """
    e = engage(ops, rp, reachable=reachable, open_=open_, word=word, click_rate=click_rate)
    return respond(ops, rp, e, reachable=reachable, word=word, effect=effect, damp=damp,
                   unsub=unsub, price=price, delivery=delivery, discount=discount, p0=p0,
                   basket=basket, margin_rate=margin_rate, value=value)


@dataclass
class Engagement:
    """What a message's channel, slot and wording do, whatever its offer (see `combine`).

    Attributes:
        p_open: P(open), 0 where the message is not sent or not consented to.
        p_click: P(open and click).
        boost: 1 + click_weight x P(click | open), the factor clicks add to the effect.
    """

    p_open: np.ndarray
    p_click: np.ndarray
    boost: np.ndarray


def engage(ops: Ops, rp: ResponseParams, *, reachable, open_, word, click_rate) -> Engagement:
    """The offer-free part of `combine` (its arguments of the same names)."""
    p_open = reachable * open_
    p_click_open = ops.clip(click_rate * word, 0.0, 1.0)
    return Engagement(p_open, p_open * p_click_open, 1 + rp.click_weight * p_click_open)


def respond(ops: Ops, rp: ResponseParams, e: Engagement, *, reachable, word, effect, damp,
            unsub, price, delivery, discount, p0, basket, margin_rate, value=1.0) -> Truth:
    """The rest of `combine`: the offer's effect on those whom `e` says it engages."""
    p_open = e.p_open
    # Effect among those who open, stronger for those who also click.
    tau = ops.clip(effect * word * damp * e.boost, -1.0, 1.0)
    p1_opened = ops.where(tau >= 0, p0 + (1 - p0) * tau, p0 * (1 + tau))
    p1 = p0 + p_open * (p1_opened - p0)
    cost = reachable * price + discount * basket * p_open * p1_opened
    p_unsub = None if unsub is None else reachable * ops.clip(
        unsub + p_open * rp.sleeping_dog_unsubscribe * ops.maximum(-tau, 0.0), 0.0, 1.0)
    uplift = p1 - p0
    return Truth(p0, p1, p_open, e.p_click, p_unsub, basket, margin_rate, cost,
                 uplift, uplift * (basket * margin_rate * value) - cost, tau,
                 reachable * delivery)


def offer_grids(t: Tables, grid: CatalogGrid, rp: ResponseParams, part: slice = slice(None),
                *, unsubscribe: bool = True) -> Iterator[Truth]:
    """True response of customers to every action of a catalog, one offer at a time.

    The same numbers as `truth(..., grid=True)`, bit for bit, worked out along the catalog's
    axes (`ActionCatalog.grid`): what depends on the channel, slot and wording only
    (`engage`) once for all offers, the effect once per offer, channel and wording, and
    only what needs them all over the whole grid; customers last, so that every operation
    runs over them in one long inner loop.

    Args:
        t: the customers' `tables` of every channel.
        grid: the catalog's axes.
        rp: response parameters.
        part: the customers of `t` to answer for (m of them).
        unsubscribe: work out `p_unsubscribe` too (None otherwise).

    Yields:
        For each offer of `grid` in turn, the `Truth` of its actions, every field
        broadcasting to (n_channels, n_slots, n_wordings, m); reshaped to
        (n_channels x n_slots x n_wordings, m) they follow the catalog's order.
    """
    ch = grid.channel

    def per_channel(a: np.ndarray) -> np.ndarray:
        """(n, n_all_channels) table -> (n_channels, 1, 1, m)."""
        return a[part].T[ch][:, None, None, :]

    # Consent as 0.0 or 1.0 (exactly what numpy casts it to in each product), so that the
    # products over the whole grid take no casting.
    reachable = per_channel(t.consent).astype(np.float64)
    word = t.word[part].T[grid.wording]  # (n_wordings, m)
    e = engage(ARRAYS, rp, reachable=reachable,
               open_=t.open[part].transpose(1, 2, 0)[ch][:, grid.slot][:, :, None, :],
               word=word, click_rate=np.asarray(rp.click_rate)[ch][:, None, None, None])
    figures = {"price": np.asarray(rp.channel_price)[ch][:, None, None, None],
               "delivery": t.delivery[ch][:, None, None, None], "damp": per_channel(t.damp),
               "unsub": per_channel(t.unsub) if unsubscribe else None,
               "p0": t.p_organic[part], "basket": t.basket[part],
               "margin_rate": t.margin_rate[part]}
    effect = t.effect[part].T
    value = None if t.value is None else t.value[part].T
    for offer, discount in zip(grid.offer, grid.discount, strict=True):
        yield respond(ARRAYS, rp, e, reachable=reachable, word=word, effect=effect[offer],
                      discount=discount, value=1.0 if value is None else value[offer],
                      **figures)


def truth(c: Customers, actions: np.ndarray, catalog: ActionCatalog, rp: ResponseParams,
          channel_up: np.ndarray | None = None, *, grid: bool = False,
          t: Tables | None = None) -> Truth:
    """True expected response of customers to actions, for pairs or for a whole grid.

    Args:
        c: the customers, (n,) rows.
        actions: (n,) one action per customer, or with `grid` (n_actions,) actions for all.
        catalog: the action catalog.
        rp: response parameters.
        channel_up: (n_channels,) delivery multiplier of the day (0 during an outage).
        grid: answer every action for every customer: fields come out (n, n_actions).
        t: for pairs, the customers' `tables` of each action's channel, if already at hand.
    """
    o = catalog.variant[actions].astype(np.intp)
    ch = np.maximum(catalog.channel[actions], 0).astype(np.intp)
    sl = np.maximum(catalog.slot[actions], 0).astype(np.intp)
    wd = np.maximum(catalog.wording[actions], 0).astype(np.intp)
    if grid:
        t = tables(c, rp, channel_up)
        i, j = slice(None), ch  # every customer, each action's channel
        p0, basket, margin_rate = (t.p_organic[:, None], t.basket[:, None],
                                   t.margin_rate[:, None])
        open_, word, effect = t.open[i, j, sl], t.word[i, wd], t.effect[i, o]
        value = 1.0 if t.value is None else t.value[i, o]
    else:
        t = t if t is not None else tables(c, rp, channel_up, ch)
        j = 0  # the one channel tabled for each customer
        p0, basket, margin_rate = t.p_organic, t.basket, t.margin_rate
        # Each customer's entries, by flat index into the customers-last arrays the tables
        # are views of (a gather each, not a 2-d fancy index).
        n = p0.shape[0]
        here = np.arange(n)
        open_ = np.take(_customers_last(t.open), sl * n + here)
        word = np.take(_customers_last(t.word), wd * n + here)
        effect = np.take(_customers_last(t.effect), o * n + here)
        value = 1.0 if t.value is None else np.take(_customers_last(t.value), o * n + here)
    out = combine(ARRAYS, rp, reachable=(actions > 0) * t.consent[:, j],
                  open_=open_, word=word, effect=effect,
                  damp=t.damp[:, j], unsub=t.unsub[:, j], click_rate=np.asarray(rp.click_rate)[ch],
                  price=np.asarray(rp.channel_price)[ch], delivery=t.delivery[ch],
                  discount=catalog.discount[actions], p0=p0, basket=basket,
                  margin_rate=margin_rate, value=value)
    if grid:
        shape = out.uplift.shape
        for name in ("p_organic", "basket", "margin_rate"):
            setattr(out, name, np.broadcast_to(getattr(out, name), shape))
    return out


def pair_values(t: Tables, catalog: ActionCatalog, actions: np.ndarray) -> np.ndarray | None:
    """(n,) each customer's `Tables.value` entry for their action, or None without targets.

    `t` is the customers' tables, one row per customer of `actions`.
    """
    if t.value is None:
        return None
    n = actions.shape[0]
    return np.take(_customers_last(t.value), catalog.variant[actions].astype(np.intp) * n
                   + np.arange(n))


def _customers_last(table: np.ndarray) -> np.ndarray:
    """A customers-first table, (n, ...), flattened customers last: (... x n,), C order.

    A view when the table is the transposed view `tables` hands over; entry [i, a, b] is at
    (a x n_b + b) x n + i.
    """
    return np.moveaxis(table, 0, -1).reshape(-1)


U_DELIVER, U_OPEN, U_CLICK, U_EFFECT, U_ORGANIC, U_UNSUBSCRIBE, U_CHURN, U_DELAY = range(8)
N_UNIFORMS = 8


@dataclass
class Realized:
    """One draw of the response to sent actions (all (n,) arrays).

    Attributes:
        delivered, opened, clicked: the funnel.
        converted: bought within the window after opening (the attributed conversion).
        incremental: an extra purchase the action caused (it lands `delay` days later).
        blocked: a sleeping dog put off buying for the window.
        unsubscribed: left the channel for good; churned: a sleeping dog who left.
        delay: days until an incremental purchase lands (1 to the window).
        discount_cost: discount redeemed; price: message cost.
        attributed_margin: margin of the attributed conversion net of the discount.
        reward: attributed margin minus price.
    """

    delivered: np.ndarray
    opened: np.ndarray
    clicked: np.ndarray
    converted: np.ndarray
    incremental: np.ndarray
    blocked: np.ndarray
    unsubscribed: np.ndarray
    churned: np.ndarray
    delay: np.ndarray
    discount_cost: np.ndarray
    price: np.ndarray
    attributed_margin: np.ndarray
    reward: np.ndarray


def realize(t: Truth, u: np.ndarray, sent: np.ndarray, discount: np.ndarray,
            price: np.ndarray, rp: ResponseParams, ops: Ops = ARRAYS,
            value: np.ndarray | float | None = None) -> Realized:
    """Draw outcomes consistent with the truth, from uniforms `u`.

    An opener with effect tau > 0 gets an extra purchase with probability tau, and buys anyway
    with probability p0 otherwise, so P(convert | open) = p0 + (1 - p0) tau as in `truth`; a
    sleeping dog (tau < 0) is put off buying for the window with probability -tau. Conversions
    are valued at the expected basket, so rewards vary only through who converts; the extra
    purchase of a targeted cross-sell is of its category, so it is valued at that category's
    price and margin (`value`, as in `truth`), a purchase made anyway at the average.

    Args:
        t: the truth for the same customers and actions.
        u: (N_UNIFORMS, n) uniforms in [0, 1), one row per `U_*` use.
        sent: (n,) actions that passed the rules (others have no outcome and no cost).
        discount: (n,) discount share of each action.
        price: (n,) message price of each action.
        rp: response parameters.
        ops: `ARRAYS`, or `FLOATS` when every argument is a number (one decision).
        value: (n,) each action's `Tables.value` entry (`pair_values`), or None: 1.
    """
    eps = 1e-12
    delivered = sent & (u[U_DELIVER] < t.p_delivered)
    opened = delivered & (u[U_OPEN] < t.p_open / ops.maximum(t.p_delivered, eps))
    clicked = opened & (u[U_CLICK] < t.p_click / ops.maximum(t.p_open, eps))
    tau = t.effect
    incremental = opened & (tau > 0) & (u[U_EFFECT] < tau)
    blocked = opened & (tau < 0) & (u[U_EFFECT] < -tau)
    converted = opened & (incremental | ((blocked ^ True) & (u[U_ORGANIC] < t.p_organic)))
    unsubscribed = delivered & (u[U_UNSUBSCRIBE] < t.p_unsubscribe / ops.maximum(t.p_delivered,
                                                                                  eps))
    churned = opened & (tau < 0) & (u[U_CHURN] < rp.sleeping_dog_churn * -tau)
    delay = 1 + ops.minimum(ops.to_int(u[U_DELAY] * rp.attribution_days),
                            rp.attribution_days - 1)
    discount_cost = converted * discount * t.basket
    price = sent * price
    attributed = converted * t.basket * t.margin_rate - discount_cost
    if value is not None:  # the extra purchase of a targeted cross-sell: of its category
        attributed = attributed + incremental * (t.basket * t.margin_rate) * (value - 1.0)
    return Realized(delivered, opened, clicked, converted, incremental, blocked, unsubscribed,
                    churned, delay, discount_cost, price, attributed, attributed - price)
