"""The context a policy sees: what a CRM knows of a customer, never the latent traits.

Features are scaled to roughly [0, 1] and clipped to [0, `CLIP`]; `feature_names` gives the
name of each column, in order. Beside RFM, lifecycle, consent and contact history, they hold
what a CRM marketer uses: the last category and how many categories were bought, how due
each category is for a repurchase (days since its last purchase over its cycle), P(alive)
and an expected customer value from BG/NBD and Gamma-Gamma on the customer's own history
with the scenario's parameters, the work-area store inferred from weekday daytime visits,
open and click rates per channel, and each offer's past sends and redemptions. Every one
is worked out from `CRM_COLUMNS`, never from a latent trait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nbasim.sim import constraints, lifecycle, rfm
from nbasim.sim.calibration import bgnbd_p_alive
from nbasim.sim.campaign import Campaign
from nbasim.sim.constraints import contacts_last_7_days
from nbasim.sim.params import CHANNELS, OFFERS, ScenarioParams
from nbasim.sim.population import NO_DAY

CLIP = 10.0
CLV_DAYS = 365
"""Horizon of the expected customer value in the context."""


@dataclass(frozen=True)
class CrmSpec:
    """What the context needs of a scenario besides the CRM columns (nothing latent).

    Attributes:
        stores, categories: names, in the scenario's order.
        cycle_days: (n_categories,) each category's repurchase cycle.
        cart_ttl_days: days an abandoned cart stays open.
        bgnbd: (r, alpha, a, b) per day; gamma_gamma: (p, q, gamma x spend_scale).
    """

    stores: tuple[str, ...]
    categories: tuple[str, ...]
    cycle_days: tuple[float, ...]
    cart_ttl_days: int
    bgnbd: tuple[float, float, float, float]
    gamma_gamma: tuple[float, float, float]

    @classmethod
    def of(cls, params: ScenarioParams) -> CrmSpec:
        """The spec of a scenario (BG/NBD's weekly alpha turned into days)."""
        return cls(tuple(s.name for s in params.stores),
                   tuple(c.name for c in params.categories),
                   tuple(float(c.cycle_days) for c in params.categories),
                   params.cart_ttl_days,
                   (params.bgnbd_r, params.bgnbd_alpha * 7, params.bgnbd_a, params.bgnbd_b),
                   (params.gg_p, params.gg_q, params.gg_gamma * params.spend_scale))


def feature_names(spec: CrmSpec) -> tuple[str, ...]:
    """Names of the context columns for a scenario's `CrmSpec`."""
    return (("recency_years", "log_frequency", "log_monetary", "r_score", "f_score", "m_score")
            + tuple(f"segment_{s}" for s in rfm.SEGMENTS)
            + tuple(f"stage_{s}" for s in lifecycle.STAGES)
            + ("tenure_years",) + tuple(f"consent_{c}" for c in CHANNELS)
            + ("contacts_7d", "contacts_30d", "days_since_contact")
            + tuple(f"{k}_{c}" for k in ("log_opens", "log_clicks", "log_conversions")
                    for c in CHANNELS)
            + ("visit_hour", "primary_store_share", "recency_vs_cycle", "cart_open",
               "log_cart_value", "cart_age_weeks")
            + tuple(f"primary_store_{s}" for s in spec.stores)
            + tuple(f"last_category_{c}" for c in spec.categories) + ("n_categories_bought",)
            + tuple(f"repurchase_due_{c}" for c in spec.categories)
            + ("p_alive", "log_expected_clv")
            + tuple(f"work_store_{s}" for s in spec.stores)
            + tuple(f"{k}_rate_{c}" for k in ("open", "click") for c in CHANNELS)
            + tuple(f"{k}_{o}" for k in ("log_sends", "log_redemptions") for o in OFFERS[1:]))


CRM_COLUMNS = ("join_day", "last_purchase_day", "frequency", "monetary", "r_score", "f_score",
               "m_score", "segment", "stage", "consent", "contact_days", "last_contact_day",
               "opens", "clicks", "conversions", "visit_hour", "visits_primary", "visits_other",
               "primary_store", "cart_value", "cart_day", "last_category", "category_days",
               "store_daytime", "sends", "offer_sends", "offer_redemptions")
"""The population columns a CRM holds: the raw material of every context feature."""


def contexts(columns: Mapping[str, np.ndarray], rows: np.ndarray, day: int,
             spec: CrmSpec) -> np.ndarray:
    """Context vectors of customers `rows` as of `day`, from their CRM columns.

    Args:
        columns: `CRM_COLUMNS` by name, one row per customer (the population itself, or a
            CampaignDay observation).
        rows: (n,) customers.
        day: today.
        spec: the scenario's `CrmSpec`.

    Returns:
        (n, len(feature_names(spec))) float32.
    """
    col = {k: columns[k][rows] for k in CRM_COLUMNS}
    rows = np.asarray(rows, dtype=np.int64)
    n = rows.size
    recency = (day - col["last_purchase_day"].astype(np.float64)).clip(0)
    freq = col["frequency"].astype(np.float64)
    tenure = (day - col["join_day"].astype(np.float64)).clip(0)
    contacts, last_contact = col["contact_days"], col["last_contact_day"]
    cart_age = (day - col["cart_day"].astype(np.float64)).clip(0)
    cart_open = (col["cart_value"] > 0) & (cart_age <= spec.cart_ttl_days)
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
        *_one_hot(col["primary_store"], len(spec.stores)),
        *_one_hot(col["last_category"], len(spec.categories)),
        *_category_history(col["category_days"], day, spec),
        *_lifetime(freq, recency, tenure, col["monetary"], spec),
        *_one_hot(np.where(col["store_daytime"].max(axis=1) > 0,
                           col["store_daytime"].argmax(axis=1), -1), len(spec.stores)),
        *_rates(col["opens"], col["sends"]), *_rates(col["clicks"], col["sends"]),
        *np.log1p(col["offer_sends"].T), *np.log1p(col["offer_redemptions"].T),
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
    return contexts(vars(w.pop), rows, w.today, CrmSpec.of(w.params))


def _one_hot(codes: np.ndarray, k: int) -> list[np.ndarray]:
    return [codes == j for j in range(k)]


def _category_history(days: np.ndarray, day: int, spec: CrmSpec) -> list[np.ndarray]:
    """Categories bought (count / n_categories) and each one's days since over its cycle."""
    known = days != NO_DAY
    due = np.where(known, (day - days.astype(np.float64)) / np.asarray(spec.cycle_days), 0.0)
    return [known.sum(axis=1) / days.shape[1], *due.T]


def _lifetime(freq: np.ndarray, recency: np.ndarray, tenure: np.ndarray, monetary: np.ndarray,
              spec: CrmSpec) -> list[np.ndarray]:
    """P(alive) (BG/NBD, FHL 2005) and log1p of the expected spend over `CLV_DAYS`.

    x = repeat purchases, t_x = days from the first purchase to the last, T = days since the
    first; the expected spend is P(alive) x the posterior mean rate (r + x) / (alpha + T) x
    `CLV_DAYS` (dropout over the horizon left out) x the Gamma-Gamma posterior mean basket
    (Fader, Hardie and Lee 2005, "RFM and CLV").
    """
    r, alpha, a, b = spec.bgnbd
    p, q, gamma = spec.gamma_gamma
    x = np.maximum(freq - 1, 0)
    alive = bgnbd_p_alive(x, np.maximum(tenure - recency, 0), tenure, r, alpha, a, b)
    mean = monetary / np.maximum(freq, 1)
    basket = (p * gamma + p * freq * mean) / (p * freq + q - 1)
    clv = alive * (r + x) / (alpha + tenure) * CLV_DAYS * basket
    return [alive, np.log1p(clv)]


def _rates(count: np.ndarray, sends: np.ndarray) -> list[np.ndarray]:
    """Per channel: count / messages sent (0 before any)."""
    return list((count / np.maximum(sends, 1).astype(np.float64)).T)
