"""Shared fixtures: small worlds built from named scenarios, and a day-by-day recorder."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest
from scipy import special

from nbasim.sim.population import Population
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.shocks import Shock
from nbasim.sim.world import DayOutcome, World


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers of this suite."""
    config.addinivalue_line(
        "markers", "slow: runs nbasim in a subprocess for several seconds; `make test` and CI "
        "run it, `pytest -m 'not slow'` leaves it out of a quick loop")


# Overrides that leave a pure BG/NBD purchase process: no churn hazard, flat demand, no
# newcomers, no online shop, every customer's first purchase on day -1.
PURE_BGNBD = {"churn_base": 0.0, "yearly_amplitude": 0.0, "holiday_height": 0.0,
              "weekly": [1, 1, 1, 1, 1, 1, 1], "acquisition_rate": 0.0, "burn_in_days": 1,
              "online_share_mean": 0.0}


@pytest.fixture
def pure_bgnbd() -> dict:
    """Scenario overrides that turn off everything that is not BG/NBD."""
    return dict(PURE_BGNBD)


def bgnbd_expected_repeats(t, r: float, alpha: float, a: float, b: float):
    """BG/NBD E[X(t)] (Fader, Hardie and Lee 2005), rates and t in the same unit."""
    return (a + b - 1) / (a - 1) * (
        1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t)))


@pytest.fixture
def bgnbd_mean() -> Callable[..., np.ndarray]:
    """The BG/NBD closed form of the mean repeat purchases, E[X(t)](t, r, alpha, a, b)."""
    return bgnbd_expected_repeats


@pytest.fixture
def make_world() -> Callable[..., World]:
    """Factory of small worlds: `make_world(scenario, n_customers, days, seed, overrides)`."""

    def make(scenario: str = "dry_cleaning_chain", n_customers: int = 2000, days: int = 20,
             seed: int = 0, overrides: Mapping[str, object] | None = None,
             shocks: Sequence[Shock] = ()) -> World:
        return World(get_scenario(scenario, overrides), n_customers, days, seed, shocks)

    return make


def columns(pop: Population) -> dict[str, np.ndarray]:
    """Copies of every population column, by name."""
    return {f.name: getattr(pop, f.name).copy() for f in dataclasses.fields(pop)}


@dataclasses.dataclass
class Recorded:
    """A run recorded day by day.

    Attributes:
        outcomes: one `DayOutcome` per simulated day.
        before: per day, copies of the watched columns at the start of that day.
        start: every column before the first recorded day; end: after the last.
    """

    outcomes: list[DayOutcome]
    before: list[dict[str, np.ndarray]]
    start: dict[str, np.ndarray]
    end: dict[str, np.ndarray]


@pytest.fixture
def record() -> Callable[..., Recorded]:
    """Function that steps a world to its horizon (or `days` days) and records every day."""

    def run(world: World, days: int | None = None, watch: Sequence[str] = ()) -> Recorded:
        start = columns(world.pop)
        outcomes, before = [], []
        for _ in range(world.days - world.day if days is None else days):
            before.append({name: getattr(world.pop, name).copy() for name in watch})
            outcomes.append(world.step())
        return Recorded(outcomes, before, start, columns(world.pop))

    return run
