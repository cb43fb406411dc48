"""The context a policy sees: what a CRM knows of a customer, never the latent traits.

Features are scaled to roughly [0, 1] and clipped to [0, `CLIP`]; `feature_names` gives the
name of each column, in order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nbasim.sim import constraints, lifecycle, rfm
from nbasim.sim.campaign import Campaign
from nbasim.sim.constraints import contacts_last_7_days
from nbasim.sim.params import CHANNELS

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


CRM_COLUMNS = ("join_day", "last_purchase_day", "frequency", "monetary", "r_score", "f_score",
               "m_score", "segment", "stage", "consent", "contact_days", "last_contact_day",
               "opens", "clicks", "conversions", "visit_hour", "visits_primary", "visits_other",
               "primary_store", "cart_value", "cart_day")
"""The population columns a CRM holds: the raw material of every context feature."""


def contexts(columns: Mapping[str, np.ndarray], rows: np.ndarray, day: int,
             cart_ttl_days: int, n_stores: int) -> np.ndarray:
    """Context vectors of customers `rows` as of `day`, from their CRM columns.

    Args:
        columns: `CRM_COLUMNS` by name, one row per customer (the population itself, or a
            CampaignDay observation).
        rows: (n,) customers.
        day: today.
        cart_ttl_days: days an abandoned cart stays open.
        n_stores: number of stores (one-hot of the primary store).

    Returns:
        (n, len(feature_names)) float32.
    """
    col = {k: columns[k][rows] for k in CRM_COLUMNS}
    rows = np.asarray(rows, dtype=np.int64)
    n = rows.size
    recency = (day - col["last_purchase_day"].astype(np.float64)).clip(0)
    freq = col["frequency"].astype(np.float64)
    tenure = (day - col["join_day"].astype(np.float64)).clip(0)
    contacts, last_contact = col["contact_days"], col["last_contact_day"]
    cart_age = (day - col["cart_day"].astype(np.float64)).clip(0)
    cart_open = (col["cart_value"] > 0) & (cart_age <= cart_ttl_days)
    visits = col["visits_primary"].astype(np.float64) + col["visits_other"]
    cycle = tenure / np.maximum(freq - 1, 1)
    cols = [
        recency / 365, np.log1p(freq), np.log1p(col["monetary"]),
        col["r_score"] / 5, col["f_score"] / 5, col["m_score"] / 5,
        *_one_hot(col["segment"], len(rfm.SEGMENTS)),
        *_one_hot(col["stage"], len(lifecycle.STAGES)),
        tenure / 365,
        *[(col["consent"] >> k) & 1 for k in range(len(CHANNELS))],
        contacts_last_7_days(contacts, last_contact, day) / 7,
        contacts_last_7_days(contacts, last_contact, day, window=30) / 30,
        np.minimum(day - last_contact.astype(np.int64), 60) / 60,
        *np.log1p(col["opens"].T), *np.log1p(col["clicks"].T),
        *np.log1p(col["conversions"].T),
        col["visit_hour"] / 24, col["visits_primary"] / np.maximum(visits, 1),
        np.where(freq > 1, recency / np.maximum(cycle, 1), 0.0), cart_open,
        np.log1p(np.where(cart_open, col["cart_value"], 0)),
        np.where(cart_open, cart_age, 0) / 7,
        *_one_hot(col["primary_store"], n_stores),
    ]
    out = np.empty((n, len(cols)), dtype=np.float32)
    for j, c in enumerate(cols):
        out[:, j] = c
    return np.clip(out, 0.0, CLIP, out=out)


def consent_mask(consent: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Actions each customer may receive, by consent: (k, n_actions) bool, no action always.

    Args:
        consent: (k,) bit masks, bit j set when the customer consents to channel j.
        channel: (n_actions,) each action's channel index, -1 for no action.
    """
    return (channel < 0) | (constraints.consents(np.asarray(consent)[:, None], channel) == 1)


def of_campaign(campaign: Campaign, rows: np.ndarray) -> np.ndarray:
    """Context vectors of customers `rows` of a campaign's world as of today."""
    w = campaign.world
    return contexts(vars(w.pop), rows, w.today, w.params.cart_ttl_days, w.city.n_stores)


def _one_hot(codes: np.ndarray, k: int) -> list[np.ndarray]:
    return [codes == j for j in range(k)]
