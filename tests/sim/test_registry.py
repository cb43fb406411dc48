"""Registering scenarios and shocks: found by name, harmless twice, refused when different."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import scenarios, shocks
from nbasim.sim.params import ParameterError, ScenarioParams
from nbasim.sim.scenarios import SCENARIOS, get_scenario, register_scenario
from nbasim.sim.shocks import SHOCKS, DayModifiers, Shock, parse_shock, register_shock
from nbasim.sim.world import World


@pytest.fixture(autouse=True)
def _clean_registries():
    """Each test starts from the built-in registries and leaves them as it found them."""
    saved_scenarios, saved_shocks = dict(SCENARIOS), dict(SHOCKS)
    yield
    SCENARIOS.clear()
    SCENARIOS.update(saved_scenarios)
    SHOCKS.clear()
    SHOCKS.update(saved_shocks)


def _bakery() -> ScenarioParams:
    return get_scenario("retail_chain", {"description": "A bakery chain.", "churn_base": 0.001})


# -------------------------------------------------------------------------- scenarios
def test_registered_scenario_is_found_by_name_downstream():
    """After registering, get_scenario, overrides, the listing and a World all find it."""
    register_scenario("bakery", _bakery())
    params = get_scenario("bakery")
    assert params.name == "bakery" and params.churn_base == 0.001
    assert get_scenario("bakery", {"churn_base": 0.002}).churn_base == 0.002
    assert scenarios.available()["bakery"] == "A bakery chain."
    world = World(get_scenario("bakery"), 500, 3, 0)
    assert world.params.name == "bakery"
    assert sum(world.step().transactions.customer.size for _ in range(3)) > 0


def test_a_mapping_of_fields_registers_too():
    """A mapping of ScenarioParams fields is validated at registration."""
    data = _bakery().model_dump()
    del data["name"]
    register_scenario("bakery", data)
    assert get_scenario("bakery") == _bakery().model_copy(update={"name": "bakery"})


def test_running_the_registration_cell_twice_is_harmless():
    """The notebook case: the same object, or an equal one built again, registers again."""
    first = register_scenario("bakery", _bakery())
    assert register_scenario("bakery", _bakery()) == first
    assert register_scenario("bakery", first) == first
    register_scenario("retail_chain", get_scenario("retail_chain"))  # a built-in, as it is
    assert get_scenario("bakery") == first


def test_a_different_scenario_under_a_taken_name_is_refused():
    """Other parameters under a taken name need replace=True; then they win."""
    register_scenario("bakery", _bakery())
    other = get_scenario("retail_chain", {"churn_base": 0.003})
    with pytest.raises(ParameterError, match="'bakery' is already registered.*replace=True"):
        register_scenario("bakery", other)
    with pytest.raises(ParameterError, match="'retail_chain' is already registered"):
        register_scenario("retail_chain", other)
    assert get_scenario("bakery").churn_base == 0.001
    register_scenario("bakery", other, replace=True)
    assert get_scenario("bakery").churn_base == 0.003


@pytest.mark.parametrize("name, params, match", [
    ("", None, "scenario name ''"),
    (3, None, "scenario name 3"),
    ("bakery", [("churn_base", 1)], "must be ScenarioParams or a mapping"),
    ("bakery", {"churn_base": 2.0}, r"scenario 'bakery' field 'churn_base' = 2.0"),
    ("bakery", {"stores": []}, "scenario 'bakery' field 'stores'"),
])
def test_bad_registrations_are_refused(name, params, match):
    """A bad name or preset fails at registration, naming what is wrong."""
    if params is None:
        params = _bakery()
    elif isinstance(params, dict):
        params = _bakery().model_dump() | params
    with pytest.raises(ParameterError, match=match):
        register_scenario(name, params)
    assert "bakery" not in SCENARIOS


# ----------------------------------------------------------------------------- shocks
def _define_flu():
    """What a notebook cell does each time it runs: define the class anew."""

    class Flu(Shock):
        """Fewer store visits for a while."""

        rate_drop: float = 0.3
        """Share of purchases lost."""

        def apply(self, mods: DayModifiers, on: np.ndarray) -> None:
            mods.rate[on] *= 1 - self.rate_drop

    return Flu


def test_registered_shock_is_parsed_and_applied():
    """parse_shock finds a registered shock, validates it, and its modifiers apply."""
    flu = register_shock("flu", _define_flu())
    shock = parse_shock("flu:start_day=2,rate_drop=0.5")
    assert isinstance(shock, flu) and shock.name == "flu"
    mods = shocks.day_modifiers([shock], 5, 3)
    assert mods.rate.tolist() == [1, 1, 0.5, 0.5, 0.5]
    assert shocks.available()["flu"] == "Fewer store visits for a while."
    with pytest.raises(ParameterError, match="shock flu field 'rate_drop'"):
        parse_shock("flu:rate_drop=oops")


def test_running_the_shock_cell_twice_is_harmless():
    """The same class, or the class defined again by the same cell, registers again."""
    first = register_shock("flu", _define_flu())
    assert register_shock("flu", first) is first
    again = _define_flu()
    assert register_shock("flu", again) is again and SHOCKS["flu"] is again
    stale = first()
    assert stale.name == "flu"  # an instance made before the cell ran again keeps its name
    register_shock("recession", shocks.Recession)


def test_a_different_shock_under_a_taken_name_is_refused():
    """Another class under a taken name needs replace=True."""
    register_shock("flu", _define_flu())

    class Flu(Shock):
        """Another flu."""

        def apply(self, mods: DayModifiers, on: np.ndarray) -> None:
            mods.churn[on] *= 2

    with pytest.raises(ParameterError, match="'flu' is already registered as .*replace=True"):
        register_shock("flu", Flu)
    with pytest.raises(ParameterError, match="'recession' is already registered"):
        register_shock("recession", Flu)
    register_shock("flu", Flu, replace=True)
    assert SHOCKS["flu"] is Flu


@pytest.mark.parametrize("name, cls, match", [
    ("", None, "shock name ''"),
    ("flu:bad", None, "without ':', ',' or '='"),
    ("flu", int, "must be a subclass of Shock"),
    ("flu", Shock, "must be a subclass of Shock"),
    ("flu", lambda mods, on: None, "must be a subclass of Shock"),
    ("flu2", shocks.Recession, "already registered as 'recession'"),
])
def test_bad_shock_registrations_are_refused(name, cls, match):
    """A bad name, a non-shock or a class registered under another name is refused."""
    with pytest.raises(ParameterError, match=match):
        register_shock(name, _define_flu() if cls is None else cls)
    assert name not in SHOCKS


def test_a_shock_without_apply_is_refused():
    """A Shock subclass must say what it does."""

    class Nothing(Shock):
        """Does nothing."""

    with pytest.raises(ParameterError, match="defines apply"):
        register_shock("nothing", Nothing)
