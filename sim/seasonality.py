"""Weekly and yearly seasonality of demand, as one multiplier per simulated day."""

from __future__ import annotations

import numpy as np

from nbasim.sim.params import ScenarioParams


def yearly_profile(params: ScenarioParams) -> np.ndarray:
    """Demand multiplier for each day of the year (a cosine wave plus a holiday peak).

    Normalised to mean 1 over the year, so that purchase rates keep their yearly average.

    Returns:
        (366,) float64, indexed by day of year (0 = 1 January).
    """
    doy = np.arange(366, dtype=np.float64)
    wave = 1.0 + params.yearly_amplitude * np.cos(2 * np.pi * (doy - params.yearly_peak_day) / 365)
    gap = np.abs(doy - params.holiday_day)
    gap = np.minimum(gap, 365 - gap)
    peak = 1.0 + params.holiday_height * np.exp(-0.5 * (gap / params.holiday_width_days) ** 2)
    profile = wave * peak
    return profile / profile[:365].mean()


def daily_multiplier(params: ScenarioParams, days: int) -> np.ndarray:
    """Demand multiplier for each simulated day, weekday pattern times yearly profile.

    Returns:
        (days,) float64; day 0 is `params.start_date`.
    """
    dates = np.datetime64(params.start_date) + np.arange(days)
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    weekly = np.asarray(params.weekly, dtype=np.float64)
    return weekly[weekdays(params, days)] / weekly.mean() * yearly_profile(params)[doy]


def weekdays(params: ScenarioParams, days: int) -> np.ndarray:
    """Day of week (0 = Monday) for each simulated day. Shape (days,)."""
    dates = np.datetime64(params.start_date) + np.arange(days)
    return ((dates.view("int64") - 4) % 7).astype(np.int8)  # 1970-01-01 was a Thursday
