"""Lifecycle stages, observable from purchase history, and their daily transitions.

A customer is `new` after a first purchase, `active` once they buy again, and passes to
`at_risk`, `lapsed` and `churned` as the days since the last purchase reach the scenario's
thresholds. A purchase from `lapsed` or `churned` makes them `reactivated`; their next purchase
makes them `active`. The stage is what a CRM sees: a customer whose latent state is dead stays
in `new`/`active` until the thresholds move them on.
"""

from __future__ import annotations

import numpy as np

from nbasim.sim.params import ScenarioParams

STAGES = ("new", "active", "at_risk", "lapsed", "churned", "reactivated")
NEW, ACTIVE, AT_RISK, LAPSED, CHURNED, REACTIVATED = range(len(STAGES))


def stage_from_history(recency: np.ndarray, frequency: np.ndarray,
                       params: ScenarioParams) -> np.ndarray:
    """Stage of customers known only by recency and frequency (the burn-in, a CRM export).

    Args:
        recency: (n,) days since the last purchase.
        frequency: (n,) number of purchases, at least 1.
        params: scenario (the thresholds).

    Returns:
        (n,) stage codes, uint8.
    """
    stage = np.where(frequency <= 1, NEW, ACTIVE).astype(np.uint8)
    stage[recency >= params.at_risk_days] = AT_RISK
    stage[recency >= params.lapsed_days] = LAPSED
    stage[recency >= params.churned_days] = CHURNED
    return stage


def after_purchase(stage: np.ndarray) -> np.ndarray:
    """Stage after a repeat purchase, for buyers' current stages. Shape preserved."""
    lapsed = (stage == LAPSED) | (stage == CHURNED)
    return np.where(lapsed, REACTIVATED, ACTIVE).astype(np.uint8)


def crossings_by_last_day(last_purchase_day: np.ndarray, day: int,
                           params: ScenarioParams) -> dict[int, np.ndarray]:
    """Customers whose days since the last purchase reach a threshold on `day`.

    Args:
        last_purchase_day: (n,) day of each customer's last purchase, after today's purchases.
        day: today.
        params: scenario (the thresholds).

    Returns:
        Stage code -> indices of customers who enter that stage today.
    """
    return {stage: np.flatnonzero(last_purchase_day == day - days) for stage, days in (
        (AT_RISK, params.at_risk_days), (LAPSED, params.lapsed_days),
        (CHURNED, params.churned_days))}
