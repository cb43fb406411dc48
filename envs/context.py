"""The context a policy sees: what a CRM knows of a customer, never the latent traits.

Features are scaled to roughly [0, 1] and clipped to [0, `CLIP`]; `feature_names` gives the
name of each column, in order.
"""

from __future__ import annotations

import numpy as np

from sim import lifecycle, rfm
from sim.campaign import Campaign
from sim.constraints import contacts_last_7_days
from sim.params import CHANNELS

CLIP = 10.0


def feature_names(store_names: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the context columns for a world with these stores."""
    return (("recency_years", "log_frequency", "log_monetary", "r_score", "f_score", "m_score")
            + tuple(f"segment_{s}" for s in rfm.SEGMENTS)
            + tuple(f"stage_{s}" for s in lifecycle.STAGES)
            + ("tenure_years",) + tuple(f"consent_{c}" for c in CHANNELS)
            + ("contacts_7d", "contacts_30d", "days_since_contact")
            + tuple(f"{k}_{c}" for k in ("log_opens", "log_clicks", "log_conversions")
                    for c in CHANNELS)
            + ("visit_hour", "primary_store_share", "recency_vs_cycle", "cart_open",
               "log_cart_value", "cart_age_weeks")
            + tuple(f"primary_store_{s}" for s in store_names))


def contexts(campaign: Campaign, rows: np.ndarray) -> np.ndarray:
    """Context vectors of customers `rows` as of today.

    Returns:
        (n, len(feature_names)) float32.
    """
    w = campaign.world
    pop, d, p = w.pop, w.today, w.params
    rows = np.asarray(rows, dtype=np.int64)
    n = rows.size
    recency = (d - pop.last_purchase_day[rows].astype(np.float64)).clip(0)
    freq = pop.frequency[rows].astype(np.float64)
    tenure = (d - pop.join_day[rows].astype(np.float64)).clip(0)
    last_contact = pop.last_contact_day[rows].astype(np.int64)
    contacts, days = pop.contact_days[rows], pop.last_contact_day[rows]
    cart_age = (d - pop.cart_day[rows].astype(np.float64)).clip(0)
    cart_open = (pop.cart_value[rows] > 0) & (cart_age <= p.cart_ttl_days)
    visits = pop.visits_primary[rows].astype(np.float64) + pop.visits_other[rows]
    cycle = tenure / np.maximum(freq - 1, 1)
    cols = [
        recency / 365, np.log1p(freq), np.log1p(pop.monetary[rows]),
        pop.r_score[rows] / 5, pop.f_score[rows] / 5, pop.m_score[rows] / 5,
        *_one_hot(pop.segment[rows], len(rfm.SEGMENTS)),
        *_one_hot(pop.stage[rows], len(lifecycle.STAGES)),
        tenure / 365,
        *[(pop.consent[rows] >> k) & 1 for k in range(len(CHANNELS))],
        contacts_last_7_days(contacts, days, d) / 7,
        contacts_last_7_days(contacts, days, d, window=30) / 30,
        np.minimum(d - last_contact, 60) / 60,
        *np.log1p(pop.opens[rows].T), *np.log1p(pop.clicks[rows].T),
        *np.log1p(pop.conversions[rows].T),
        pop.visit_hour[rows] / 24, pop.visits_primary[rows] / np.maximum(visits, 1),
        np.where(freq > 1, recency / np.maximum(cycle, 1), 0.0), cart_open,
        np.log1p(np.where(cart_open, pop.cart_value[rows], 0)),
        np.where(cart_open, cart_age, 0) / 7,
        *_one_hot(pop.primary_store[rows], w.city.n_stores),
    ]
    out = np.empty((n, len(cols)), dtype=np.float32)
    for j, col in enumerate(cols):
        out[:, j] = col
    return np.clip(out, 0.0, CLIP, out=out)


def _one_hot(codes: np.ndarray, k: int) -> list[np.ndarray]:
    return [codes == j for j in range(k)]
