"""The response to an action, computed analytically for any (customer, action) pairs.

For customer i and action a = (offer, channel, slot, wording), over the attribution window:

- organic conversion p0 = alive x (1 - exp(-rate x window x demand));
- engagement: P(open) = consent x delivery[ch] x open[ch] x (0.5 + affinity[i, ch]) x slot fit,
  P(click | open) = click[ch] x wording fit;
- effect among those who open: tau = responsiveness x offer effect(i) x wording fit x fatigue
  damping x (1 + click_weight x P(click | open)), clipped to [-1, 1];
  the offer effect depends on the customer (price sensitivity for discounts, online share for
  free delivery, the next category's affinity for cross-sell, frequency for loyalty points,
  distance to a second store for the visit bonus, lifecycle for win-back, the open cart for
  the reminder); latent-dead customers respond only to win-back;
- conversion of those who open: p0 + (1 - p0) x tau when tau >= 0, p0 x (1 + tau) for sleeping
  dogs (tau < 0), who also unsubscribe more; with the action p1 = p0 + P(open) x (that - p0);
- money: a converting customer spends the expected basket B (Gamma-Gamma mean x price level)
  at margin rate m; every opened conversion redeems the discount, including those who would
  have bought anyway; every sent message costs the channel's price. So
  incremental margin = (p1 - p0) x B x m - discount x B x P(open) x p1(opened) - price[ch].

No action (row 0) has p1 = p0 and an incremental margin of exactly 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import lifecycle
from sim.actions import OFFERS, SLOT_HOURS, ActionCatalog
from sim.params import ResponseParams


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


@dataclass
class Customers:
    """What the response needs to know of each customer (aligned (n,) arrays, or (n, k)).

    Built by `World.customers_for_response`; latent traits included, so it never reaches
    a policy.
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


def offer_effect(c: Customers, offer: np.ndarray, rp: ResponseParams) -> np.ndarray:
    """The customer-specific base effect of each offer, before responsiveness. Shape (n,)."""
    base = np.asarray(rp.offer_effect)[offer]
    name = np.asarray(OFFERS)[offer]
    scale = np.ones(offer.shape[0])
    disc = np.char.startswith(name, "discount")
    scale[disc] = 0.4 + 1.2 * c.price_sensitivity[disc]
    for flag, value in (
            ("free_delivery", 0.3 + 1.4 * c.online_share),
            ("cross_sell", 0.5 + 2.0 * c.next_category_affinity),
            ("loyalty_x2", 0.3 + 1.2 * np.minimum(c.frequency / 10.0, 1.0)),
            ("second_store_bonus", 2.0 * np.exp(-c.second_store_distance / 4.0)),
            ("win_back", np.select([c.stage == lifecycle.AT_RISK, c.stage == lifecycle.LAPSED,
                                    c.stage == lifecycle.CHURNED], [0.8, 1.2, 1.5], 0.1)),
            ("cart_reminder", c.cart_open * np.exp(-c.cart_age / 3.0)
             * np.minimum(0.5 + c.cart_ratio, 2.0))):
        m = name == flag
        scale[m] = value[m]
    dead_damp = np.where(c.alive | (name == "win_back"), 1.0, 0.0)
    return base * scale * dead_damp


def truth(c: Customers, actions: np.ndarray, catalog: ActionCatalog,
          rp: ResponseParams) -> Truth:
    """True expected response of each customer to the action beside it.

    Args:
        c: the customers, (n,) rows.
        actions: (n,) action index per customer.
        catalog: the action catalog.
        rp: response parameters.
    """
    n = actions.shape[0]
    sent = actions > 0
    ch = np.maximum(catalog.channel[actions], 0).astype(np.intp)
    rows = np.arange(n)
    consent = (c.consent.astype(np.int64) >> ch) & 1
    gap = np.abs(c.send_hour.astype(np.float64)
                 - np.asarray(SLOT_HOURS)[np.maximum(catalog.slot[actions], 0)])
    gap = np.minimum(gap, 24 - gap)
    slot_fit = 0.5 + 0.5 * np.exp(-0.5 * (gap / rp.slot_width_hours) ** 2)
    affinity = c.channel_affinity[rows, ch]
    p_open = sent * consent * np.clip(np.asarray(rp.delivery)[ch] * np.asarray(rp.open_rate)[ch]
                                      * (0.5 + affinity) * slot_fit, 0.0, 1.0)
    word = np.where(c.wording == catalog.wording[actions], rp.wording_match, rp.wording_miss)
    p_click_open = np.clip(np.asarray(rp.click_rate)[ch] * word, 0.0, 1.0)
    fat = c.fatigue.astype(np.float64)
    damp = np.exp(-rp.fatigue_damping * ((1 - rp.fatigue_spill) * fat[rows, ch]
                                         + rp.fatigue_spill * fat.sum(axis=1)))
    # Effect among those who open, stronger for those who also click.
    tau = np.clip(c.responsiveness * offer_effect(c, catalog.offer[actions], rp) * word * damp
                  * (1 + rp.click_weight * p_click_open), -1.0, 1.0)
    p0 = c.p_organic
    p1_opened = np.where(tau >= 0, p0 + (1 - p0) * tau, p0 * (1 + tau))
    p1 = p0 + p_open * (p1_opened - p0)
    value = c.basket * c.margin_rate
    discount_cost = catalog.discount[actions] * c.basket * p_open * p1_opened
    cost = sent * consent * np.asarray(rp.channel_price)[ch] + discount_cost
    p_unsub = sent * consent * np.clip(
        np.asarray(rp.delivery)[ch] * np.asarray(rp.unsubscribe_rate)[ch] * (1 + fat[rows, ch])
        + p_open * rp.sleeping_dog_unsubscribe * np.maximum(-tau, 0.0), 0.0, 1.0)
    return Truth(p0, p1, p_open, p_open * p_click_open, p_unsub, c.basket, c.margin_rate, cost,
                 p1 - p0, (p1 - p0) * value - cost)
