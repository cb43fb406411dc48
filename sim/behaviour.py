"""Organic dynamics as array functions, written once and called by every code path.

Purchases, carts and churn share one exponential draw per customer and day (competing
intensities): with E ~ Exp(1), a customer buys when E < x (x = purchase rate x demand, so
P(buy) = 1 - exp(-x), the first arrival of a Poisson process), abandons a cart when
x <= E < x + k, and churns when x + k <= E < x + k + h. Because k + h is bounded, only the
customers with E below x plus that bound need any further work.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from nbasim.sim.params import ScenarioParams


def churn_hazard(recency: np.ndarray, fatigue_total: np.ndarray | None, params: ScenarioParams,
                 multiplier: float) -> np.ndarray:
    """Daily churn intensity beyond BG/NBD dropout: rises with recency, fatigue and shocks.

    h = base x multiplier x min(1 + recency / churn_recency_days, cap) x (1 + w x fatigue).

    Args:
        recency: (n,) days since the last purchase.
        fatigue_total: (n,) summed fatigue over channels, or None when nobody was contacted.
        params: scenario.
        multiplier: the day's shock multiplier.

    Returns:
        (n,) float64 intensities; with the shared draw a customer churns with probability
        exp(-session intensity) x (1 - exp(-h)).
    """
    h = params.churn_base * multiplier * np.minimum(
        1.0 + recency / params.churn_recency_days, params.churn_recency_cap)
    if fatigue_total is not None:
        h = h * (1.0 + params.churn_fatigue_weight * fatigue_total)
    return h


def churn_bound(params: ScenarioParams, multiplier: float, max_fatigue: float) -> float:
    """Upper bound of `churn_hazard` over all customers on a day."""
    return (params.churn_base * multiplier * params.churn_recency_cap
            * (1.0 + params.churn_fatigue_weight * max_fatigue))


def session_rate(purchase_rate: np.ndarray, online_share: np.ndarray,
                 params: ScenarioParams) -> np.ndarray:
    """Intensity of shopping sessions: purchases plus online sessions that end in a cart.

    Returns:
        (n,) float32, `purchase_rate` itself when the scenario has no online shop.
    """
    if params.online_share_mean == 0:
        return purchase_rate
    return (purchase_rate * (1 + online_share * params.cart_abandon_ratio)).astype(np.float32)


class GammaQuantile:
    """The quantile function of Gamma(shape, 1), tabled once, to draw from uniforms.

    Draws must come from per-customer uniforms (`sim.draws`), so the gamma is drawn by
    inversion: scipy's `gammaincinv` on a grid of probabilities (dense in the body, down to
    1e-12 in both tails), then linear interpolation; within the grid the relative error is
    below 1e-4.
    """

    def __init__(self, shape: float):
        body = np.linspace(0.0, 1.0, 1 << 14)[1:-1]
        tail = np.logspace(-12, -4, 64)
        self.p = np.unique(np.concatenate([tail, body, 1.0 - tail]))
        self.q = special.gammaincinv(shape, self.p)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Gamma(shape, 1) variates, one per uniform in (0, 1)."""
        return np.interp(u, self.p, self.q)


def basket_values(spend_rate: np.ndarray, price_level: np.ndarray, multiplier: float,
                  params: ScenarioParams, gamma: GammaQuantile, u: np.ndarray) -> np.ndarray:
    """Spend per purchase: Gamma-Gamma basket x category price level x the day's multiplier.

    Args:
        spend_rate: (n,) the buyers' Gamma-Gamma nu.
        price_level: (n,) price level of each chosen category.
        multiplier: the day's spend multiplier (shocks).
        params: scenario.
        gamma: the quantile function of Gamma(gg_p, 1).
        u: (n,) the buyers' uniforms.

    Returns:
        (n,) float64 spend.
    """
    base = gamma(u) / spend_rate
    return base * params.spend_scale * price_level * multiplier


def visit_hours(preferred: np.ndarray, weekend: bool, params: ScenarioParams,
                u: np.ndarray) -> np.ndarray:
    """Hour of each visit: near the customer's own hour on weekdays, the weekend pattern else.

    Args:
        preferred: (n,) the customers' usual hours.
        weekend: whether the day is a weekend day.
        params: scenario.
        u: (n,) the customers' uniforms in (0, 1).

    Returns:
        (n,) uint8 hours 0-23.
    """
    if weekend:
        w = np.cumsum(np.asarray(params.visit_hour_weekend, dtype=np.float64))
        return np.minimum(np.searchsorted(w / w[-1], u, side="right"), 23).astype(np.uint8)
    jitter = np.rint(special.ndtri(u) * params.visit_hour_sd).astype(np.int64)
    return np.clip(preferred.astype(np.int64) + jitter, 0, 23).astype(np.uint8)


def visit_zones(home: np.ndarray, work: np.ndarray, hours: np.ndarray, weekend: bool,
                params: ScenarioParams) -> np.ndarray:
    """Zone a visit starts from: work during weekday working hours, home otherwise.

    Working hours run from `geography.work_start_hour` to `work_end_hour` (9-17 h by default).
    """
    if weekend:
        return home
    geo = params.geography
    return np.where((hours >= geo.work_start_hour) & (hours < geo.work_end_hour), work, home)
