"""Parameter models: every field documented and bounded, errors named, named constants used."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import nbasim.sim
from nbasim.errors import NbasimError
from nbasim.sim import behaviour, response
from nbasim.sim.actions import build_catalog
from nbasim.sim.catalog import Catalog
from nbasim.sim.geography import City
from nbasim.sim.params import (
    FrozenModel,
    GeographyParams,
    OfferScaleParams,
    ParameterError,
    TraitParams,
    allowed,
)
from nbasim.sim.population import send_hour_weights
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World


def _sim_models() -> list[type[FrozenModel]]:
    """Every parameter model defined in nbasim.sim (all its modules imported first)."""
    for info in pkgutil.iter_modules(nbasim.sim.__path__):
        importlib.import_module(f"nbasim.sim.{info.name}")
    found, todo = [], [FrozenModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("nbasim.sim."):
                found.append(sub)
    return found


MODELS = _sim_models()


def test_the_models_are_found():
    """The walk finds the scenario, its nested models, contact rules and shocks."""
    names = {m.__name__ for m in MODELS}
    assert {"ScenarioParams", "ResponseParams", "OfferScaleParams", "TraitParams",
            "GeographyParams", "HourPeak", "StoreSpec", "CategorySpec", "ContactRules",
            "Recession", "BudgetCut"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_has_a_docstring(model):
    """Each field says what it is (attribute docstrings become field descriptions)."""
    missing = [f for f, info in model.model_fields.items() if not (info.description or "").strip()]
    assert not missing, f"{model.__name__} fields without a docstring: {missing}"


@pytest.mark.parametrize("model", [OfferScaleParams, TraitParams, GeographyParams],
                         ids=lambda m: m.__name__)
def test_named_constants_are_bounded_and_sourced(model):
    """Each named world constant has a range and says where its value comes from."""
    for field in model.model_fields:
        if field == "send_hour_peaks":  # bounded through HourPeak and its length
            assert "at least 1" in allowed(model, field)
            continue
        assert any(op in allowed(model, field) for op in (">", "<")), field
    text = " ".join(info.description for info in model.model_fields.values()) + model.__doc__
    assert "our choice" in text.lower()


def test_parameter_error_is_an_nbasim_error():
    """ParameterError derives from NbasimError, so `except ValueError` still catches it."""
    assert issubclass(ParameterError, NbasimError) and issubclass(ParameterError, ValueError)
    with pytest.raises(NbasimError, match="churn_base"):
        get_scenario("retail_chain", {"churn_base": -1})


@pytest.mark.parametrize("override, match", [
    ({"response": {"offer_scale": {"discount_base": -1}}},
     r"'response.offer_scale.discount_base' = -1: .*\(allowed: float, >= 0\)"),
    ({"response": {"slot_fit_floor": 1.5}}, r"'response.slot_fit_floor' = 1.5.*<= 1"),
    ({"geography": {"home_density_spread": 0}}, r"'geography.home_density_spread' = 0.*> 0"),
    ({"geography": {"work_start_hour": 18}}, "work_start_hour < work_end_hour, got 18 and 17"),
    ({"traits": {"wording_share": [0.5, 0.5, 0.5, 0.5]}}, "wording_share must sum to 1"),
    ({"traits": {"send_hour_peaks": [{"hour": 24, "sd": 1, "weight": 1}]}},
     r"'traits.send_hour_peaks.0.hour' = 24"),
    ({"traits": {"send_hour_peaks": [{"hour": 3, "sd": 1, "weight": 0}],
                 "send_hour_floor": 0}}, "send hours need a positive send_hour_floor"),
    ({"traits": {"wording_shares": [1, 0, 0, 0]}}, "'traits.wording_shares'.*Extra inputs"),
])
def test_bad_named_constants_are_refused_by_name(override, match):
    """A bad nested value fails at the boundary with its dotted field name and range.

    One bound per nested model (offer scales, response, geography, send-hour peaks), each
    cross-field rule, and an unknown nested key. Top-level bounds are in
    test_scenarios::test_bad_scenario_input_names_field_and_value.
    """
    with pytest.raises(ParameterError, match=match):
        get_scenario("dry_cleaning_chain", override)


# ------------------------------------------------------------ named numbers are used
def _customers(overrides=None):
    world = World(get_scenario("retail_chain", overrides), 1500, 10, 5)
    for _ in range(3):
        world.step()
    return world.customers_for_response(np.arange(world.n_present))


def _grid(rp_update: dict):
    c = _customers()
    rp = get_scenario("retail_chain").response
    catalog = build_catalog()
    base = response.truth(c, np.arange(catalog.n_actions), catalog, rp, grid=True)
    new = response.truth(c, np.arange(catalog.n_actions), catalog,
                         rp.model_copy(update=rp_update), grid=True)
    return catalog, base, new


def test_offer_scale_changes_only_its_offer():
    """discount_base = 0.4 -> 0.8 raises the effect of discounts and leaves other offers alone.

    scale = base + 1.2 x price sensitivity, so every positive effect of a discount grows.
    """
    catalog, base, new = _grid({"offer_scale": OfferScaleParams(discount_base=0.8)})
    disc = np.isin(catalog.offer, [1, 2, 3])
    helped = base.effect[:, disc] > 0
    assert (new.effect[:, disc][helped] >= base.effect[:, disc][helped]).all()
    assert (new.effect[:, disc] != base.effect[:, disc]).any()
    np.testing.assert_array_equal(new.effect[:, ~disc], base.effect[:, ~disc])


def test_open_constants_change_opens():
    """A lower slot-fit floor or affinity offset never raises opens, and does lower some."""
    for update in ({"slot_fit_floor": 0.2}, {"open_affinity_offset": 0.1}):
        _, base, new = _grid(update)
        assert (new.p_open <= base.p_open).all() and (new.p_open < base.p_open).any()


def test_trait_constants_shape_the_population(make_world):
    """Wording shares, send-hour peaks and the affinity concentration drive the draws."""
    world = make_world("retail_chain", 3000, 2, overrides={"traits": {
        "wording_share": [0, 0, 1, 0], "send_hour_floor": 0,
        "send_hour_peaks": [{"hour": 3, "sd": 0.5, "weight": 1}],
        "channel_affinity_concentration": 400}})
    pop = world.pop
    assert (pop.wording == 2).all()
    assert set(np.unique(pop.send_hour).tolist()) <= {1, 2, 3, 4, 5}
    # Beta sd = sqrt(m (1 - m) / (k + 1)): 0.025 at m = 0.5, k = 400 (0.22 at k = 4).
    assert pop.channel_affinity[:, 0].std() < 0.03
    w = send_hour_weights(TraitParams())
    assert w.sum() == pytest.approx(1.0) and w.argmax() == 19  # the evening peak is highest


def test_geography_constants_shape_the_city():
    """Density spreads and floors move homes and jobs; the offset moves every distance."""
    base = get_scenario("dry_cleaning_chain")
    city = City(base)
    flat = City(get_scenario("dry_cleaning_chain", {"geography": {"home_density_spread": 1e6}}))
    assert flat.home_density.std() < city.home_density.std()
    far = City(get_scenario("dry_cleaning_chain", {"geography": {"distance_offset_cells": 2}}))
    np.testing.assert_allclose(far.second_store_distance, city.second_store_distance)
    assert not np.allclose(far.huff, city.huff)


def test_working_hours_decide_where_visits_start():
    """Weekday visits start at work within [work_start_hour, work_end_hour), home otherwise."""
    home, work = np.zeros(4, dtype=np.int64), np.ones(4, dtype=np.int64)
    hours = np.array([7, 8, 16, 17])
    night = get_scenario("dry_cleaning_chain", {"geography": {"work_start_hour": 8,
                                                              "work_end_hour": 17}})
    assert behaviour.visit_zones(home, work, hours, False, night).tolist() == [0, 1, 1, 0]
    assert behaviour.visit_zones(home, work, hours, False,
                                 get_scenario("dry_cleaning_chain")).tolist() == [0, 0, 1, 0]
    assert behaviour.visit_zones(home, work, hours, True, night).tolist() == [0, 0, 0, 0]


def test_visit_hour_sd_spreads_weekday_visits():
    """visit_hour_sd scales the normal jitter around the preferred hour (rounded)."""
    u = np.linspace(0.01, 0.99, 99)
    preferred = np.full(99, 12, dtype=np.uint8)
    narrow = behaviour.visit_hours(preferred, False, get_scenario("retail_chain"), u)
    wide = behaviour.visit_hours(preferred, False,
                                 get_scenario("retail_chain", {"visit_hour_sd": 3.0}), u)
    assert narrow.min() >= 10 and narrow.max() <= 14  # ndtri(0.01) = -2.33 -> -2 hours
    assert wide.min() <= 5 and wide.max() >= 19       # 3 x -2.33 = -7 hours


def test_readiness_floor_enters_the_category_choice():
    """A floor of 1 makes every category equally ready; the default lets recency matter."""
    params = get_scenario("dry_cleaning_chain")
    k = 5000
    rng = np.random.default_rng(0)
    affinity = np.full((k, 6), 1 / 6)
    last, recency, weight, u = np.full(k, 6), np.full(k, 2.0), np.ones(6), rng.random(k)
    default = Catalog(params).choose(affinity, last, recency, weight, u)
    flat = Catalog(get_scenario("dry_cleaning_chain", {"category_readiness_floor": 1.0}))
    even = flat.choose(affinity, last, recency, weight, u)
    assert np.bincount(default, minlength=6)[0] > 2 * np.bincount(default, minlength=6)[3]
    assert np.abs(np.bincount(even, minlength=6) / k - 1 / 6).max() < 0.03
