"""The customer base as struct-of-arrays: one numpy column per attribute, one row per customer.

Rows are ordered by join day: the customers present at day 0 come first, then those who
arrive during the run, so "present on day d" is always a prefix `[:n_present]`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from nbasim.sim import lifecycle
from nbasim.sim.catalog import Catalog
from nbasim.sim.geography import City, store_dtype
from nbasim.sim.params import CHANNELS, OFFERS, WORDINGS, ScenarioParams, TraitParams
from nbasim.sim.seasonality import daily_multiplier

NO_DAY = np.iinfo(np.int16).min  # "never" in day columns
BETA_EPS = 1e-3
"""Added to both Beta parameters of a trait drawn around a mean, so a mean of 0 or 1 is valid."""


@dataclass
class Population:
    """Aligned columns, one row per customer (n_customers rows each).

    Latent traits (hidden from policies, fixed at birth):
        purchase_rate: float32, purchases per day while alive (BG/NBD lambda / 7).
        dropout: float32, probability of dying after each repeat purchase (BG/NBD p).
        spend_rate: float32, Gamma-Gamma nu; a basket is Gamma(p, 1/nu) x scale.
        home_zone, work_zone: uint16 zones on the city grid.
        visit_hour: uint8, preferred weekday visit hour.
        online_share: float32, share of shopping done online.
        category_affinity: float32 (n, n_categories), rows sum to 1.
        price_sensitivity: float32 in [0, 1].
        channel_affinity: float32 (n, n_channels) in [0, 1].
        send_hour: uint8, preferred hour to receive a message.
        wording: uint8, preferred wording (index into `WORDINGS`).
        responsiveness: float32, scale of the treatment effect; below 0 contact harms
            (sleeping dogs).
        alive: bool, latent; a dead customer buys nothing until won back.

    Observable state:
        join_day: int16, day of the first purchase (negative for the burn-in base).
        last_purchase_day: int16; recency = day - last_purchase_day.
        frequency: uint16, number of purchases; monetary: float32, total spend.
        stage: uint8 lifecycle stage; segment: uint8 RFM segment; r_score, f_score,
            m_score: uint8 1-5.
        last_category, last_store, primary_store: uint8 (uint16 with many stores).
        visits_primary, visits_other: uint16 visits to the primary store and to others.
        consent: uint8 bit mask over channels (bit k = channel k); an unsubscribe is
            permanent.
        fatigue: float32 (n, n_channels), decays daily.
        contact_days: uint32 bit mask of contact days, bit 0 = `last_contact_day`.
        last_contact_day: int16.
        cart_value: float32 open cart value (0 = no cart); cart_day: int16 day it opened.
        blocked_until: int16, a sleeping dog put off by a contact buys nothing organically
            until this day.
        opens, clicks, conversions: uint8 (n, n_channels) responses to messages so far (a
            conversion from the end of the day its attribution window closes)
            (saturating at 255).
        category_days: int16 (n, n_categories) day of the last purchase of each category
            (`NO_DAY`: none known; the burn-in leaves its last purchase only).
        store_daytime: uint8 (n, n_stores) weekday purchases in working hours at each store
            (where the CRM infers the work-area store; saturating at 255).
        sends: uint8 (n, n_channels) messages sent (saturating at 255).
        offer_sends, offer_redemptions: uint8 (n, len(OFFERS) - 1) messages of each offer
            sent and redeemed (an attributed conversion, counted when its window closes).
    """

    purchase_rate: np.ndarray
    dropout: np.ndarray
    spend_rate: np.ndarray
    home_zone: np.ndarray
    work_zone: np.ndarray
    visit_hour: np.ndarray
    online_share: np.ndarray
    category_affinity: np.ndarray
    price_sensitivity: np.ndarray
    channel_affinity: np.ndarray
    send_hour: np.ndarray
    wording: np.ndarray
    responsiveness: np.ndarray
    alive: np.ndarray
    join_day: np.ndarray
    last_purchase_day: np.ndarray
    frequency: np.ndarray
    monetary: np.ndarray
    stage: np.ndarray
    segment: np.ndarray
    r_score: np.ndarray
    f_score: np.ndarray
    m_score: np.ndarray
    last_category: np.ndarray
    last_store: np.ndarray
    primary_store: np.ndarray
    visits_primary: np.ndarray
    visits_other: np.ndarray
    consent: np.ndarray
    fatigue: np.ndarray
    contact_days: np.ndarray
    last_contact_day: np.ndarray
    cart_value: np.ndarray
    cart_day: np.ndarray
    blocked_until: np.ndarray
    opens: np.ndarray
    clicks: np.ndarray
    conversions: np.ndarray
    category_days: np.ndarray
    store_daytime: np.ndarray
    sends: np.ndarray
    offer_sends: np.ndarray
    offer_redemptions: np.ndarray

    @property
    def n_customers(self) -> int:
        """Number of rows (present and future customers)."""
        return self.alive.shape[0]

    def nbytes(self) -> int:
        """Bytes held by all columns."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    def recency(self, day: int, stop: int | None = None) -> np.ndarray:
        """Days since the last purchase, as of `day`, for rows `[:stop]`. int16."""
        return (np.int16(day) - self.last_purchase_day[:stop]).astype(np.int16, copy=False)

    def n_present(self, day: int) -> int:
        """Number of customers who have joined by `day` (rows are sorted by join day).

        The day-0 base joined on days before 0, so `n_present(-1)` is its size.
        """
        return int(np.searchsorted(self.join_day, day, side="right"))


CHUNK = 1 << 16  # rows drawn at a time: bounds the build's temporaries; part of the stream


def _columns(n_channels: int, n_categories: int, n_stores: int) -> dict[str, tuple]:
    """Column name -> (dtype, width or None, fill value); the one place dtypes are chosen."""
    f32, u8, u16, i16 = np.float32, np.uint8, np.uint16, np.int16
    store_type = store_dtype(n_stores)
    return {
        "purchase_rate": (f32, None, 0), "dropout": (f32, None, 0), "spend_rate": (f32, None, 0),
        "home_zone": (u16, None, 0), "work_zone": (u16, None, 0), "visit_hour": (u8, None, 0),
        "online_share": (f32, None, 0), "category_affinity": (f32, n_categories, 0),
        "price_sensitivity": (f32, None, 0), "channel_affinity": (f32, n_channels, 0),
        "send_hour": (u8, None, 0), "wording": (u8, None, 0), "responsiveness": (f32, None, 0),
        "alive": (bool, None, True), "join_day": (i16, None, 0),
        "last_purchase_day": (i16, None, 0), "frequency": (u16, None, 0),
        "monetary": (f32, None, 0), "stage": (u8, None, 0), "segment": (u8, None, 0),
        "r_score": (u8, None, 0), "f_score": (u8, None, 0), "m_score": (u8, None, 0),
        "last_category": (u8, None, n_categories), "last_store": (store_type, None, 0),
        "primary_store": (store_type, None, 0), "visits_primary": (u16, None, 0),
        "visits_other": (u16, None, 0), "consent": (u8, None, 0),
        "fatigue": (f32, n_channels, 0), "contact_days": (np.uint32, None, 0),
        "last_contact_day": (i16, None, NO_DAY), "cart_value": (f32, None, 0),
        "cart_day": (i16, None, NO_DAY), "blocked_until": (i16, None, NO_DAY),
        "opens": (u8, n_channels, 0), "clicks": (u8, n_channels, 0),
        "conversions": (u8, n_channels, 0),
        "category_days": (i16, n_categories, NO_DAY), "store_daytime": (u8, n_stores, 0),
        "sends": (u8, n_channels, 0), "offer_sends": (u8, len(OFFERS) - 1, 0),
        "offer_redemptions": (u8, len(OFFERS) - 1, 0),
    }


def column_layout(n_channels: int, n_categories: int, n_stores: int) -> dict[str, tuple]:
    """Column name -> (dtype, width or None) of a population's state."""
    return {k: (dtype, width) for k, (dtype, width, _) in
            _columns(n_channels, n_categories, n_stores).items()}


def build_population(params: ScenarioParams, n_customers: int, days: int, city: City,
                     catalog: Catalog, rng: np.random.Generator) -> Population:
    """Draw a population: traits, join days and the burn-in history of the day-0 base.

    The base present at day 0 joined uniformly over the `burn_in_days` before it (days -1 back
    to -burn_in_days), or by the `burn_in_profile` histogram of join ages; its history (repeat
    purchases, dropout, last purchase, spend) is drawn exactly from BG/NBD and Gamma-Gamma.
    The rest arrives during the run at `acquisition_rate` (a share of the initial base per
    day), following the demand seasonality. Traits are drawn `CHUNK` rows at a time straight
    into the final columns, so the build needs little memory beyond the state itself.

    Args:
        params: scenario.
        n_customers: rows in all (day-0 base plus arrivals).
        days: horizon of the run.
        city: built from the same params.
        catalog: built from the same params.
        rng: the population stream.
    """
    n = n_customers
    growth = params.acquisition_rate * days
    n_new = int(round(n * growth / (1 + growth))) if n > 1 else 0
    join = np.empty(n, dtype=np.int16)
    join[: n - n_new] = np.sort(-_join_ages(params, n - n_new, rng))
    if n_new:
        season = daily_multiplier(params, days)
        join[n - n_new:] = np.sort(rng.choice(days, size=n_new, p=season / season.sum()))
    cols = {name: np.full((n, width) if width else n, fill, dtype=dtype)
            for name, (dtype, width, fill) in _columns(
                len(CHANNELS), catalog.n_categories, city.n_stores).items()}
    cols["join_day"] = join
    pop = Population(**cols)
    for lo in range(0, n, CHUNK):
        _draw_chunk(pop, lo, min(n, lo + CHUNK), params, city, catalog, rng)
    return pop


def _join_ages(params: ScenarioParams, n: int, rng: np.random.Generator) -> np.ndarray:
    """Join ages of the day-0 base, in days before day 0 (1 to burn_in_days).

    Uniform, or by the `burn_in_profile` histogram and uniform within each bin.
    """
    if not params.burn_in_profile:
        return rng.integers(1, params.burn_in_days + 1, n)
    weights = np.asarray(params.burn_in_profile, dtype=np.float64)
    k = weights.size
    edges = np.round(np.linspace(0, params.burn_in_days, k + 1)).astype(np.int64)
    bins = rng.choice(k, size=n, p=weights / weights.sum())
    width = edges[bins + 1] - edges[bins]
    return edges[bins] + 1 + np.floor(rng.random(n) * width).astype(np.int64)


def _draw_chunk(pop: Population, lo: int, hi: int, params: ScenarioParams, city: City,
                catalog: Catalog, rng: np.random.Generator) -> None:
    """Draw traits of rows [lo, hi), and the burn-in history of the day-0 base among them."""
    n, rows = hi - lo, slice(lo, hi)
    # Purchase rate, dropout and spend (BG/NBD per week -> per day; Gamma-Gamma).
    pop.purchase_rate[rows] = rng.gamma(params.bgnbd_r, 1.0 / params.bgnbd_alpha, n) / 7.0
    pop.dropout[rows] = rng.beta(params.bgnbd_a, params.bgnbd_b, n)
    pop.spend_rate[rows] = rng.gamma(params.gg_q, 1.0 / params.gg_gamma, n)

    # Where they live and work, when they visit.
    home = rng.choice(city.n_zones, size=n, p=city.home_density)
    commuter = rng.random(n) < params.commuter_share
    pop.home_zone[rows] = home
    pop.work_zone[rows] = np.where(commuter, rng.choice(city.n_zones, size=n,
                                                        p=city.work_density), home)
    hours = np.asarray(params.visit_hour_weekday, dtype=np.float64)
    pop.visit_hour[rows] = rng.choice(24, size=n, p=hours / hours.sum())
    if params.online_share_mean > 0:
        m, k = params.online_share_mean, params.traits.online_share_concentration
        pop.online_share[rows] = rng.beta(k * m + BETA_EPS, k * (1 - m) + BETA_EPS, n)

    # Tastes and reactions to contact.
    pop.category_affinity[rows] = rng.dirichlet(catalog.base_affinity, size=n)
    pop.price_sensitivity[rows] = rng.beta(*params.price_sensitivity_beta, n)
    m, k = np.asarray(params.channel_affinity_mean), params.traits.channel_affinity_concentration
    pop.channel_affinity[rows] = rng.beta(k * m + BETA_EPS, k * (1 - m) + BETA_EPS,
                                          size=(n, len(m)))
    pop.send_hour[rows] = rng.choice(24, size=n, p=send_hour_weights(params.traits))
    pop.wording[rows] = rng.choice(len(WORDINGS), size=n, p=params.traits.wording_share)
    pop.responsiveness[rows] = rng.normal(params.responsiveness_mean,
                                          params.responsiveness_sd, n)
    consent = rng.random((n, len(CHANNELS))) < np.asarray(params.consent_rate)
    pop.consent[rows] = (consent * (1 << np.arange(len(CHANNELS)))).sum(axis=1)
    primary = city.huff[home].argmax(axis=1)
    pop.primary_store[rows] = primary
    pop.last_store[rows] = primary

    # Observable history: newcomers start empty (their first purchase comes in the run).
    k = int(np.count_nonzero(pop.join_day[rows] < 0))  # the day-0 base is a prefix
    pop.last_purchase_day[rows] = pop.join_day[rows]
    if k == 0:
        return
    base = slice(lo, lo + k)
    join = pop.join_day[base].astype(np.int64)
    hist = _burn_in(params, pop.purchase_rate[base], pop.dropout[base], pop.spend_rate[base],
                    -join, (pop.category_affinity[base] * catalog.price_level).sum(axis=1), rng)
    pop.last_purchase_day[base] = join + hist["last_offset"]
    pop.frequency[base] = hist["purchases"]
    pop.monetary[base] = hist["spend"]
    pop.alive[base] = hist["alive"]
    pop.visits_primary[base] = rng.binomial(hist["purchases"], city.huff[home[:k], primary[:k]])
    pop.visits_other[base] = hist["purchases"] - pop.visits_primary[base]
    pop.last_store[base] = city.choose_stores(home[:k], rng.random(k))
    pop.last_category[base] = catalog.choose(
        pop.category_affinity[base], pop.last_category[base], np.full(k, 1e6),
        np.ones(catalog.n_categories), rng.random(k))
    # The CRM's category history starts with the last purchase of the burn-in.
    pop.category_days[np.arange(lo, lo + k), pop.last_category[base]] = \
        pop.last_purchase_day[base]
    recency = -1 - pop.last_purchase_day[base].astype(np.int64)  # as of the end of day -1
    pop.stage[base] = lifecycle.stage_from_history(recency, pop.frequency[base], params)


def _burn_in(params: ScenarioParams, rate: np.ndarray, dropout: np.ndarray,
             spend_rate: np.ndarray, age: np.ndarray, price: np.ndarray,
             rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Exact history of customers who made a first purchase `age` days ago.

    Poisson (BG/NBD): repeat purchases are Poisson(rate x age) arrivals M; the customer dies
    right after the J-th repeat purchase, J ~ Geometric(dropout). So N = min(M, J) repeat
    purchases happen, the customer is alive iff M < J, and the last of them falls at
    age x Beta(N, M - N + 1) (the N-th of M uniform order statistics).

    Renewal: K = floor((age - 1) / period) renewals fell before day 0; the customer dies at the
    J-th, J ~ Geometric(dropout), so N = min(K, J) renewals happen and the customer is alive iff
    K < J. Add-on purchases are Poisson(rate x time alive), the last at its uniform maximum.

    Spend is the sum of the Gamma baskets of every purchase.
    """
    if params.purchase_process == "renewal":
        period = params.renewal_days
        k = (age - 1) // period
        j = rng.geometric(np.clip(dropout, 1e-9, 1.0))
        renewals = np.minimum(k, j)
        alive = k < j
        lifetime = np.where(alive, age, renewals * period)
        addons = rng.poisson(rate * lifetime)
        last_addon = np.floor(lifetime * rng.beta(np.maximum(addons, 1), 1))
        offset = np.maximum(renewals * period, np.where(addons > 0, last_addon, 0))
        n_rep = renewals + addons
    else:
        m = rng.poisson(rate * age)
        j = rng.geometric(np.clip(dropout, 1e-9, 1.0))
        n_rep = np.minimum(m, j)
        alive = m < j
        frac = rng.beta(np.maximum(n_rep, 1), np.maximum(m - n_rep, 0) + 1)
        offset = np.where(n_rep > 0, np.floor(age * frac), 0)
    offset = np.minimum(offset.astype(np.int64), np.maximum(age - 1, 0))
    spend = rng.gamma((n_rep + 1) * params.gg_p, 1.0) / spend_rate * params.spend_scale * price
    # Capped so that a run of up to MAX_DAYS daily purchases cannot overflow uint16 counters.
    return {"purchases": np.minimum(n_rep + 1, 40_000), "alive": alive,
            "last_offset": offset, "spend": spend}


def send_hour_weights(traits: TraitParams) -> np.ndarray:
    """Shares of the 24 hours as customers' preferred hour to receive messages.

    The sum of the Gaussian `send_hour_peaks` (weight x exp(-(h - hour)^2 / (2 sd^2))) plus
    `send_hour_floor` at every hour, normalised. Returns (24,) float64 summing to 1.
    """
    h = np.arange(24)
    w = 0.0
    for peak in traits.send_hour_peaks:
        w = w + peak.weight * np.exp(-0.5 * ((h - peak.hour) / peak.sd) ** 2)
    w = w + traits.send_hour_floor
    return w / w.sum()
