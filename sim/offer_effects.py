"""The effect of each offer on each customer: the customer-specific scale of every offer.

`response.tables` multiplies these into the treatment effect: responsiveness x offer effect
x the offer's scale for the customer (`OFFER_SCALES`, and for offers that name a category or
store, `target_scales`), and values an incremental purchase of a targeted category at its
price and margin (`values`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from nbasim.sim import lifecycle
from nbasim.sim.param_types import OFFERS
from nbasim.sim.response_params import ResponseParams

if TYPE_CHECKING:
    from nbasim.sim.response import Customers


def _offer_scales() -> dict[str, Callable]:
    """Offer name -> scale(c, s): the customer-specific part of its effect, (n,) for c's rows.

    `s` is the `OfferScaleParams` of the scenario.
    """
    def discount(c, s):
        return s.discount_base + s.discount_per_price_sensitivity * c.price_sensitivity

    def win_back(c, s):
        by_stage = np.full(len(lifecycle.STAGES), s.win_back_other)
        by_stage[[lifecycle.AT_RISK, lifecycle.LAPSED, lifecycle.CHURNED]] = (
            s.win_back_at_risk, s.win_back_lapsed, s.win_back_churned)
        return by_stage[c.stage]

    def cart_reminder(c, s):
        # cart_open x exp(-age / decay) x min(base + ratio, cap): 0 without an open cart.
        scale = np.zeros(c.cart_open.shape)
        i = np.flatnonzero(c.cart_open)
        scale[i] = np.exp(-c.cart_age[i] / s.cart_decay_days) * np.minimum(
            s.cart_value_base + c.cart_ratio[i], s.cart_value_cap)
        return scale

    return {
        "discount_10": discount, "discount_20": discount, "discount_30": discount,
        "free_delivery": lambda c, s: (s.free_delivery_base
                                       + s.free_delivery_per_online_share * c.online_share),
        "cross_sell": lambda c, s: (s.cross_sell_base
                                    + s.cross_sell_per_affinity * c.next_category_affinity),
        "loyalty_x2": lambda c, s: s.loyalty_base + s.loyalty_per_frequency * np.minimum(
            c.frequency / s.loyalty_full_frequency, 1.0),
        "second_store_bonus": lambda c, s: s.second_store_scale * np.exp(
            -c.second_store_distance / s.second_store_distance_cells),
        "win_back": win_back, "cart_reminder": cart_reminder,
    }


OFFER_SCALES = _offer_scales()


def target_scales(c: Customers, s) -> list[tuple[str, np.ndarray]]:
    """(offer, scale (n,)) of each targeted offer variant, in target order (`sim.targets`).

    A cross-sell of a category: base + per_affinity x the customer's fit for it; a visit
    bonus for a store: scale x exp(-distance / distance_cells), nil at the primary store
    (its distance is infinite).
    """
    out = []
    if c.category_fit is not None:
        out += [("cross_sell", s.cross_sell_base + s.cross_sell_per_affinity * fit)
                for fit in c.category_fit.T]
    if c.store_distance is not None:
        out += [("second_store_bonus", s.second_store_scale * np.exp(
            -dist / s.second_store_distance_cells)) for dist in c.store_distance.T]
    return out


def effects(c: Customers, rp: ResponseParams) -> np.ndarray:
    """Responsiveness x effect of every offer variant for c's rows (the latent-dead: win-back).

    Returns:
        (n_variants, n) float64: the `OFFERS`, then the targeted variants (`sim.targets`);
        row 0 (no action) is 0. Offers of one scale function (the discounts) share its
        scale, worked out once.
    """
    n = c.p_organic.shape[0]
    targeted = target_scales(c, rp.offer_scale)
    effect = np.empty((len(OFFERS) + len(targeted), n))
    effect[0] = 0.0
    alive = c.alive.astype(np.float64)  # what `scale * alive` casts it to
    scales: dict[Callable, np.ndarray] = {}
    for offer in range(1, len(OFFERS)):
        scale_of = OFFER_SCALES[OFFERS[offer]]
        if scale_of not in scales:
            scale = scale_of(c, rp.offer_scale)
            scales[scale_of] = scale if OFFERS[offer] == "win_back" else scale * alive
        out = effect[offer]
        np.multiply(rp.offer_effect[offer], scales[scale_of], out=out)
        np.multiply(c.responsiveness, out, out=out)
    for i, (name, scale) in enumerate(targeted):
        out = effect[len(OFFERS) + i]
        np.multiply(rp.offer_effect[OFFERS.index(name)], scale * alive, out=out)
        np.multiply(c.responsiveness, out, out=out)
    return effect


def values(c: Customers) -> np.ndarray | None:
    """Value of an incremental purchase per offer variant over the customer's average.

    Returns:
        (n_variants, n) float64, 1 but for targeted cross-sells (their category's price x
        margin over the customer's affinity-weighted one); None without targets.
    """
    if c.category_fit is None and c.store_distance is None:
        return None
    k_c = 0 if c.category_value is None else c.category_value.shape[1]
    k_s = 0 if c.store_distance is None else c.store_distance.shape[1]
    value = np.ones((len(OFFERS) + k_c + k_s, c.p_organic.shape[0]))
    if k_c:
        value[len(OFFERS):len(OFFERS) + k_c] = c.category_value.T
    return value
