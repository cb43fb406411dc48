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

import functools
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
_LOG1P_U8 = np.log1p(np.arange(256, dtype=np.uint8)).astype(np.float32)
"""log1p of each uint8 count as `np.log1p` gives it for uint8 (in float16), as float32."""


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


@dataclass(frozen=True)
class _Layout:
    """What `contexts` needs of a `CrmSpec`, worked out once per spec (`_layout`).

    Attributes:
        width: number of context columns.
        segments, stages, channels, stores, categories: arange of each group's size (the
            codes a one-hot compares with; channels: the consent bits).
        cycle_days: (n_categories,) float64 repurchase cycles.
    """

    width: int
    segments: np.ndarray
    stages: np.ndarray
    channels: np.ndarray
    stores: np.ndarray
    categories: np.ndarray
    cycle_days: np.ndarray


@functools.cache
def _layout(spec: CrmSpec) -> _Layout:
    return _Layout(len(feature_names(spec)), np.arange(len(rfm.SEGMENTS)),
                   np.arange(len(lifecycle.STAGES)), np.arange(len(CHANNELS)),
                   np.arange(len(spec.stores)), np.arange(len(spec.categories)),
                   np.asarray(spec.cycle_days))


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

    Each group of features (a one-hot, a per-channel or per-offer count) is written as one
    block into a preallocated array, in the order of `feature_names`.

    Args:
        columns: `CRM_COLUMNS` by name, one row per customer (the population itself, or a
            CampaignDay observation).
        rows: (n,) customers.
        day: today.
        spec: the scenario's `CrmSpec`.

    Returns:
        (n, len(feature_names(spec))) float32.
    """
    # Every row in order (NextBestAction-v0's moment columns): read in place, no copy.
    col = (columns if _every_row(rows, len(columns["frequency"]))
           else {k: columns[k][rows] for k in CRM_COLUMNS})
    lay = _layout(spec)
    n = len(col["frequency"])
    out = np.empty((n, lay.width), dtype=np.float32)
    recency = (day - col["last_purchase_day"].astype(np.float64)).clip(0)
    freq = col["frequency"].astype(np.float64)
    tenure = (day - col["join_day"].astype(np.float64)).clip(0)
    contacts, last_contact = col["contact_days"], col["last_contact_day"]
    cart_age = (day - col["cart_day"].astype(np.float64)).clip(0)
    cart_open = (col["cart_value"] > 0) & (cart_age <= spec.cart_ttl_days)
    visits = col["visits_primary"].astype(np.float64) + col["visits_other"]
    cycle = tenure / np.maximum(freq - 1, 1)
    out[:, 0] = recency / 365
    out[:, 1] = np.log1p(freq)
    out[:, 2] = np.log1p(col["monetary"])
    out[:, 3] = col["r_score"] / 5
    out[:, 4] = col["f_score"] / 5
    out[:, 5] = col["m_score"] / 5
    j = _one_hot(out, 6, col["segment"], lay.segments)
    j = _one_hot(out, j, col["stage"], lay.stages)
    out[:, j] = tenure / 365
    j += 1
    out[:, j:j + lay.channels.size] = (col["consent"][:, None] >> lay.channels) & 1
    j += lay.channels.size
    out[:, j] = contacts_last_7_days(contacts, last_contact, day) / 7
    out[:, j + 1] = contacts_last_7_days(contacts, last_contact, day, window=30) / 30
    out[:, j + 2] = np.minimum(day - last_contact.astype(np.int64), 60) / 60
    j = _log1p(out, j + 3, col["opens"])
    j = _log1p(out, j, col["clicks"])
    j = _log1p(out, j, col["conversions"])
    out[:, j] = col["visit_hour"] / 24
    out[:, j + 1] = col["visits_primary"] / np.maximum(visits, 1)
    out[:, j + 2] = np.where(freq > 1, recency / np.maximum(cycle, 1), 0.0)
    out[:, j + 3] = cart_open
    out[:, j + 4] = np.log1p(np.where(cart_open, col["cart_value"], 0))
    out[:, j + 5] = np.where(cart_open, cart_age, 0) / 7
    j = _one_hot(out, j + 6, col["primary_store"], lay.stores)
    j = _one_hot(out, j, col["last_category"], lay.categories)
    j = _category_history(out, j, col["category_days"], day, lay.cycle_days)
    j = _lifetime(out, j, freq, recency, tenure, col["monetary"], spec)
    daytime = col["store_daytime"]
    j = _one_hot(out, j, np.where(daytime.max(axis=1) > 0, daytime.argmax(axis=1), -1),
                 lay.stores)
    sends = np.maximum(col["sends"], 1).astype(np.float64)
    j = _put(out, j, col["opens"] / sends)
    j = _put(out, j, col["clicks"] / sends)
    j = _log1p(out, j, col["offer_sends"])
    _log1p(out, j, col["offer_redemptions"])
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


def _every_row(rows: np.ndarray, n: int) -> bool:
    """Whether `rows` is `arange(n)`: n strictly increasing integers from 0 to n - 1."""
    rows = np.asarray(rows)
    return rows.dtype.kind in "iu" and rows.shape == (n,) and (
        n == 0 or (rows[0] == 0 and rows[-1] == n - 1 and bool((rows[1:] > rows[:-1]).all())))


def _one_hot(out: np.ndarray, j: int, codes: np.ndarray, values: np.ndarray) -> int:
    """Write `codes == values[k]` into columns j, j + 1, ...; return the next column."""
    out[:, j:j + values.size] = codes[:, None] == values
    return j + values.size


def _put(out: np.ndarray, j: int, block: np.ndarray) -> int:
    """Write a (n, k) block into columns j to j + k; return the next column."""
    out[:, j:j + block.shape[1]] = block
    return j + block.shape[1]


def _log1p(out: np.ndarray, j: int, counts: np.ndarray) -> int:
    """Write log1p of (n, k) counts into columns j to j + k; return the next column.

    uint8 counts are looked up in `_LOG1P_U8`, the values `np.log1p` gives them.
    """
    return _put(out, j, _LOG1P_U8[counts] if counts.dtype == np.uint8 else np.log1p(counts))


def _category_history(out: np.ndarray, j: int, days: np.ndarray, day: int,
                      cycle_days: np.ndarray) -> int:
    """Categories bought (count / n_categories) and each one's days since over its cycle."""
    known = days != NO_DAY
    out[:, j] = known.sum(axis=1) / days.shape[1]
    return _put(out, j + 1, np.where(known, (day - days.astype(np.float64)) / cycle_days, 0.0))


def _lifetime(out: np.ndarray, j: int, freq: np.ndarray, recency: np.ndarray,
              tenure: np.ndarray, monetary: np.ndarray, spec: CrmSpec) -> int:
    """P(alive) (BG/NBD, FHL 2005) and log1p of the expected spend over `CLV_DAYS`.

    x = repeat purchases, t_x = days from the first purchase to the last, T = days since the
    first; the expected spend is P(alive) x the posterior mean rate (r + x) / (alpha + T) x
    `CLV_DAYS` (dropout over the horizon left out) x the Gamma-Gamma posterior mean basket
    (Fader, Hardie and Lee 2005, "RFM and CLV"). Written into columns j and j + 1.
    """
    r, alpha, a, b = spec.bgnbd
    p, q, gamma = spec.gamma_gamma
    x = np.maximum(freq - 1, 0)
    alive = bgnbd_p_alive(x, np.maximum(tenure - recency, 0), tenure, r, alpha, a, b)
    mean = monetary / np.maximum(freq, 1)
    basket = (p * gamma + p * freq * mean) / (p * freq + q - 1)
    clv = alive * (r + x) / (alpha + tenure) * CLV_DAYS * basket
    out[:, j] = alive
    out[:, j + 1] = np.log1p(clv)
    return j + 2
