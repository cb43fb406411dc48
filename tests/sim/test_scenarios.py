"""Scenarios, overrides and shocks: presets, bad input, modifiers and their effect on a run."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import lifecycle, scenarios, shocks
from nbasim.sim.params import CHANNELS, ParameterError, ScenarioParams
from nbasim.sim.scenarios import SCENARIOS, get_scenario, parse_value
from nbasim.sim.shocks import (
    CompetitorCampaign,
    HolidaySeason,
    PreferenceDrift,
    Recession,
    day_modifiers,
    parse_shock,
)
from nbasim.sim.world import World

SCENARIO_NAMES = sorted(SCENARIOS)


# ------------------------------------------------------------------------------ presets
def test_registries_list_names_with_descriptions():
    """Scenario and shock registries list every name with a one-line description."""
    assert set(scenarios.available()) == {"dry_cleaning_chain", "dry_cleaning_seeds",
                                          "retail_chain", "subscription"}
    assert set(shocks.available()) == {"recession", "competitor_campaign", "holiday_season",
                                       "preference_drift", "channel_outage", "budget_cut"}
    for desc in [*scenarios.available().values(), *shocks.available().values()]:
        assert desc and "\n" not in desc
    assert all(get_scenario(name).name == name for name in SCENARIO_NAMES)


def test_retail_chain_uses_the_cdnow_fits():
    """The retail chain keeps the CDNOW BG/NBD and Gamma-Gamma parameters (FHL 2005)."""
    p = get_scenario("retail_chain")
    assert (p.bgnbd_r, p.bgnbd_alpha, p.bgnbd_a, p.bgnbd_b) == (0.243, 4.414, 0.793, 2.426)
    assert (p.gg_p, p.gg_q, p.gg_gamma) == (6.25, 3.74, 15.44)


def test_overrides_change_only_their_fields():
    """An override sets its field, coerces its type, leaves the rest alone, and does not leak.

    The preset itself is unchanged afterwards: an override applies to its own call only.
    """
    base = get_scenario("retail_chain")
    new = get_scenario("retail_chain", {"churn_base": 0.001, "weekly": [1, 2, 3, 4, 5, 6, 7],
                                        "start_date": "2027-06-01"})
    assert new.churn_base == 0.001
    assert new.weekly == (1, 2, 3, 4, 5, 6, 7)
    assert str(new.start_date) == "2027-06-01"
    unchanged = set(ScenarioParams.model_fields) - {"churn_base", "weekly", "start_date"}
    for field in unchanged:
        assert getattr(new, field) == getattr(base, field), field
    assert get_scenario("retail_chain") == base


@pytest.mark.parametrize("field", sorted(set(ScenarioParams.model_fields) - {"name"}))
def test_every_field_accepts_its_own_value(field):
    """Overriding a field with the value it already has is accepted (a config round trip).

    E.g. `visit_hour_weekday` holds relative weights up to 5, so its type must not cap them
    at 1 as probabilities.
    """
    params = get_scenario("retail_chain")
    value = params.model_dump(mode="json")[field]
    assert getattr(get_scenario("retail_chain", {field: value}), field) == getattr(params, field)


@pytest.mark.parametrize(("text", "value"), [
    ("1.5", 1.5), ("3", 3), ("[1, 2]", [1, 2]), ("true", True), ("null", None),
    ("abc", "abc"), ('"quoted"', "quoted"), ("2026-03-01", "2026-03-01"),
])
def test_parse_value(text, value):
    """Override text is JSON when it parses, else a plain string."""
    assert parse_value(text) == value


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("name", "overrides", "match"), [
    ("no_such_world", {}, r"unknown scenario 'no_such_world'; allowed: dry_cleaning_chain"),
    ("retail_chain", {"weekly": [1, 1, 1]}, r"'weekly' = \[1, 1, 1\]: .*at least 7"),
    ("retail_chain", {"weekly": [1, 1, 1, 1, 1, 1, 0]}, r"'weekly.6' = 0: .*greater than 0"),
    ("retail_chain", {"stores": [{"name": "a", "x": -1, "y": 2}]}, r"'stores.0.x' = -1: "),
    ("retail_chain", {"no_field": 1}, r"override 'no_field' is not a field; allowed: "),
    ("retail_chain", {"name": "x"}, r"override 'name' is not a field"),
    ("retail_chain", {"at_risk_days": 400},
     r"at_risk_days < lapsed_days < churned_days, got 400, 180, 365"),
    ("retail_chain", {"city_size": 5}, r"store 'flagship' at \(15.0, 15.0\) lies outside the 5x5"),
    ("retail_chain", {"sequence_boost": [["apparel", "hats", 2.0]]},
     r"sequence_boost names unknown category 'hats'"),
    ("retail_chain", {"visit_hour_weekend": [0] * 24}, r"at least one positive hour"),
    ("retail_chain", {"categories": [{"name": "a"}, {"name": "a"}]},
     r"category names must be unique, got \['a', 'a'\]"),
    ("retail_chain", {"spend_scale": float("nan")}, r"'spend_scale' = nan: .*finite"),
    ("retail_chain", {"stores": [{"name": "a", "x": 1, "y": 1}, {"name": "a", "x": 2, "y": 2}]},
     r"^scenario: store names must be unique"),
    ("retail_chain", {"stores": [{"name": "online", "x": 1, "y": 1}]}, r"not 'online'"),
    ("retail_chain", {"purchase_process": "weekly"},
     r"'purchase_process' = 'weekly': .*\(allowed: one of poisson, renewal\)"),
    ("retail_chain", {"bgnbd_r": -1}, r"'bgnbd_r' = -1: .*\(allowed: float, > 0\)"),
])
def test_bad_scenario_input_names_field_and_value(name, overrides, match):
    """Unknown scenarios and fields, bad values and broken cross-field rules: ParameterError.

    One case per way a message is built: a plain bound with its "(allowed: ...)" (bgnbd_r),
    a list (weekly) and one of its items (weekly.6), a choice (purchase_process), a nested
    model's field (stores.0.x), a non-finite number, override names, and each cross-field
    rule of ScenarioParams.
    """
    with pytest.raises(ParameterError, match=match):
        get_scenario(name, overrides)


@pytest.mark.parametrize(("customers", "days", "match"), [
    (0, 10, r"customers = 0: must be a positive integer"),
    (1.5, 10, r"customers = 1.5: must be a positive integer"),
    (10, 0, r"days = 0: must be an integer from 1 to 20000"),
    (10, 20_001, r"days = 20001: must be an integer from 1 to 20000"),
    (10, 2.5, r"days = 2.5: must be an integer from 1 to 20000"),
    (True, 10, r"customers = True: must be a positive integer"),
    (10**14, 10, r"customers = 100,000,000,000,000: needs about .* GiB, more than"),
])
def test_bad_world_size_names_field_and_value(customers, days, match):
    """Non-positive, non-integer or unaffordable customers and days raise ParameterError."""
    with pytest.raises(ParameterError, match=match):
        World(get_scenario("retail_chain"), customers, days, 0)


@pytest.mark.parametrize("seed", [-1, None, True])
def test_bad_seed_is_rejected(seed):
    """The seed must be an integer >= 0 (None would draw fresh entropy: never reproducible)."""
    with pytest.raises(ParameterError, match="seed = .*: must be an integer >= 0"):
        World(get_scenario("retail_chain"), 10, 5, seed)


def test_shock_outside_the_run_is_rejected():
    """A shock that starts after the last day would silently do nothing: it is an error."""
    with pytest.raises(ParameterError, match="start_day = 60: must fall within the run's 30"):
        World(get_scenario("retail_chain"), 10, 30, 0, [parse_shock("competitor_campaign")])


@pytest.mark.parametrize(("spec", "match"), [
    ("no_such_shock", r"unknown shock 'no_such_shock'; allowed: recession, competitor_campaign"),
    ("recession:spend_drop=2", r"shock recession field 'spend_drop' = 2: .*less than 1"),
    ("recession:oops", r"shock 'recession:oops': expected key=value, got 'oops'"),
    ("recession:foo=1", r"shock recession field 'foo' = 1: Extra inputs are not permitted"),
    ("competitor_campaign:start_day=-1", r"'start_day' = -1: .*greater than or equal to 0"),
    ("holiday_season:rate_boost=-1", r"'rate_boost' = -1: "),
    ("preference_drift:per_year=2", r"'per_year' = 2: "),
])
def test_bad_shock_names_field_and_value(spec, match):
    """Unknown shocks, malformed specs and out-of-range parameters raise ParameterError."""
    with pytest.raises(ParameterError, match=match):
        parse_shock(spec)


@pytest.mark.parametrize(("spec", "match"), [
    ("preference_drift:channel_to=fax", r"channel_to.*'fax'"),
    ("preference_drift:channel_from=pigeon", r"channel_from.*'pigeon'"),
])
def test_unknown_drift_channel_fails_at_parse_time(spec, match):
    """A drift to an unknown channel fails when the shock is parsed, naming field and value.

    Not later in `World(...)`, after the population has been built, without the field's name.
    """
    with pytest.raises(ParameterError, match=match):
        parse_shock(spec)


def test_drift_category_out_of_range_fails_when_the_world_is_built():
    """A drift category index beyond the scenario's categories names the value and the range."""
    shock = parse_shock("preference_drift:category_index=9")
    with pytest.raises(ParameterError, match=r"category_index = 9; allowed: 0..4"):
        World(get_scenario("retail_chain"), 100, 10, 0, [shock])


@pytest.mark.parametrize("overrides", [
    {"online_share_mean": 1.0}, {"online_share_mean": 0.999}, {"commuter_share": 0.0},
    {"commuter_share": 1.0}, {"churn_base": 1.0}, {"yearly_amplitude": 0.99},
    {"channel_affinity_mean": [0, 0, 0, 0]}, {"channel_affinity_mean": [1, 1, 1, 1]},
    {"consent_rate": [1, 1, 1, 1]}, {"cart_abandon_ratio": 0.0}, {"city_size": 180},
    {"acquisition_rate": 0.0}, {"sequence_repeat": 1e-6},
])
def test_every_accepted_boundary_value_builds_a_world(overrides):
    """Values at the edge of what validation accepts build and run a world.

    E.g. `online_share_mean = 1.0` passes validation, so the online share's Beta draw must
    not get a zero parameter (Beta(k m, k (1 - m)) at m = 1), which numpy would reject.
    """
    world = World(get_scenario("retail_chain", overrides), 500, 3, 0)
    for _ in range(3):
        world.step()
    assert ((world.pop.online_share >= 0) & (world.pop.online_share <= 1)).all()


# ------------------------------------------------------------------------ shock modifiers
def test_parse_shock_builds_the_registered_class():
    """`NAME:key=value` gives the registered class with parsed values, defaults elsewhere."""
    shock = parse_shock("competitor_campaign:start_day=5,churn_multiplier=2.5")
    assert isinstance(shock, CompetitorCampaign)
    assert (shock.start_day, shock.duration_days, shock.churn_multiplier) == (5, 30, 2.5)
    assert parse_shock("holiday_season:duration_days=null").duration_days is None
    assert isinstance(parse_shock("recession"), Recession)


def test_shock_windows_by_hand():
    """A window covers [start, start + duration), or to the end of the run without duration."""
    assert Recession(start_day=2, duration_days=3).window(7).tolist() == [
        False, False, True, True, True, False, False]
    assert Recession(start_day=5).window(7).tolist() == [False] * 5 + [True] * 2
    assert not Recession(start_day=10, duration_days=3).window(7).any()


def test_day_modifiers_by_hand():
    """Recession (days 2-4) and a competitor (days 3-5, x3) over 7 days, by hand."""
    mods = day_modifiers([Recession(start_day=2, duration_days=3),
                          CompetitorCampaign(start_day=3, duration_days=3, churn_multiplier=3)],
                         7, 4)
    np.testing.assert_allclose(mods.spend, [1, 1, 0.85, 0.85, 0.85, 1, 1])
    np.testing.assert_allclose(mods.rate, [1, 1, 0.95, 0.95, 0.95, 1, 1])
    np.testing.assert_allclose(mods.churn, [1, 1, 1, 3, 3, 3, 1])
    assert not mods.channel_shift.any() and (mods.category_weight == 1).all()
    assert mods.channel_shift.shape == (7, len(CHANNELS)) and mods.category_weight.shape == (7, 4)


def test_shocks_stack_multiplicatively():
    """Two recessions on one day multiply: spend x 0.85 x 0.85 = 0.7225; a holiday x 1.1."""
    mods = day_modifiers([Recession(), Recession(), HolidaySeason(start_day=0)], 3, 2)
    np.testing.assert_allclose(mods.spend, [0.7225 * 1.1] * 3)
    np.testing.assert_allclose(mods.rate, [0.95 * 0.95 * 1.5] * 3)


def test_preference_drift_by_hand():
    """Drift from day 1 at 0.365 a year: day k of the drift shifts by 0.001 k."""
    mods = day_modifiers([PreferenceDrift(start_day=1, per_year=0.365, category_index=2,
                                          category_gain=0.5)], 5, 3)
    # elapsed = days since the start (counting the first as 1) / 365 -> 0, 1, 2, 3, 4 / 365
    email, push = CHANNELS.index("email"), CHANNELS.index("push")
    np.testing.assert_allclose(mods.channel_shift[:, email], [0, -0.001, -0.002, -0.003, -0.004])
    np.testing.assert_allclose(mods.channel_shift[:, push], [0, 0.001, 0.002, 0.003, 0.004])
    np.testing.assert_allclose(mods.category_weight[:, 2],
                               1 + 0.5 * np.array([0, 1, 2, 3, 4]) / 365)
    np.testing.assert_allclose(mods.category_weight[:, [0, 1]], 1.0)


# ------------------------------------------------------------------- shocks in a run
def churn_by_day(world) -> np.ndarray:
    """Customers who died on each day of a whole run."""
    return np.array([world.step().churned.size for _ in range(world.days)])


def test_competitor_campaign_raises_churn_in_its_window(make_world):
    """Same seed with and without the shock: equal days before it, more churn inside it.

    The default multiplier (x4) applies to the hazard only, which causes about a quarter of
    all deaths here (the rest is BG/NBD dropout after a purchase); over 8 seeds the window's
    churn rose by 80 % with a standard deviation of 11 %. We ask for 30 %.
    """
    shock = parse_shock("competitor_campaign:start_day=10,duration_days=10")
    base = make_world("dry_cleaning_chain", 20_000, 25, seed=3)
    hit = make_world("dry_cleaning_chain", 20_000, 25, seed=3, shocks=[shock])
    before = [base.step() for _ in range(10)]
    same = [hit.step() for _ in range(10)]
    for a, b in zip(before, same, strict=True):  # common random numbers until the shock
        np.testing.assert_array_equal(a.churned, b.churned)
        np.testing.assert_array_equal(a.transactions.amount, b.transactions.amount)
    window_base = sum(base.step().churned.size for _ in range(10))
    window_hit = sum(hit.step().churned.size for _ in range(10))
    assert window_hit > 1.3 * window_base


def test_competitor_campaign_multiplier_scales_hazard_churn(make_world):
    """Without BG/NBD dropout, churn is the hazard alone and scales with the multiplier.

    dropout ~ Beta(1e-6, 1e6) is 0 in float32, so all churn comes from the hazard; with a x5
    multiplier in days 5-14 the window's churn is about 5 times the baseline (we ask 3 to 7).
    """
    overrides = {"bgnbd_a": 1e-6, "bgnbd_b": 1e6, "churn_base": 0.001}
    shock = CompetitorCampaign(start_day=5, duration_days=10, churn_multiplier=5.0)
    base = churn_by_day(make_world("dry_cleaning_chain", 20_000, 15, 1, overrides))
    hit = churn_by_day(make_world("dry_cleaning_chain", 20_000, 15, 1, overrides, [shock]))
    np.testing.assert_array_equal(base[:5], hit[:5])
    assert 3 < hit[5:].sum() / base[5:].sum() < 7


def test_recession_lowers_revenue_and_baskets(make_world):
    """A recession (spend -15 %, rate -5 %) lowers revenue to about 0.81 and baskets to 0.85.

    Same seed, 20 000 customers over 30 days (about 10 000 purchases): the standard error of
    the revenue ratio is about 2 %, so we allow 0.81 +- 0.08 and baskets 0.85 +- 0.05.
    """
    def totals(world):
        revenue = purchases = 0
        for _ in range(world.days):
            tx = world.step().transactions
            revenue += tx.amount.sum()
            purchases += tx.amount.size
        return revenue, purchases

    base = totals(make_world("dry_cleaning_chain", 20_000, 30, seed=6))
    hit = totals(make_world("dry_cleaning_chain", 20_000, 30, seed=6, shocks=[Recession()]))
    assert hit[0] / base[0] == pytest.approx(0.85 * 0.95, abs=0.08)
    assert (hit[0] / hit[1]) / (base[0] / base[1]) == pytest.approx(0.85, abs=0.05)


def test_holiday_season_raises_purchases_in_its_window(make_world):
    """A +100 % demand shock on days 5-14 about doubles purchases there (we ask 1.6-2.4)."""
    shock = parse_shock("holiday_season:start_day=5,duration_days=10,rate_boost=1.0")

    def purchases(world):
        return np.array([world.step().transactions.customer.size for _ in range(world.days)])

    base = purchases(make_world("dry_cleaning_chain", 20_000, 15, seed=2))
    hit = purchases(make_world("dry_cleaning_chain", 20_000, 15, seed=2, shocks=[shock]))
    np.testing.assert_array_equal(base[:5], hit[:5])
    assert 1.6 < hit[5:].sum() / base[5:].sum() < 2.4


# ------------------------------------------------------------------------------ renewal
def test_subscription_renews_every_30_days(make_world, record):
    """Every subscriber alive at the start of a day that is a multiple of 30 after joining buys."""
    world = make_world("subscription", 5000, 65, seed=1)
    assert world.params.renewal_days == 30
    pop = world.pop
    run = record(world, watch=("alive",))
    lo, renewals = world.pop.n_present(-1), 0
    for out, before in zip(run.outcomes, run.before, strict=True):
        d = out.day
        join = pop.join_day[:lo].astype(np.int64)
        due = np.flatnonzero(before["alive"][:lo] & (join < d) & ((d - join) % 30 == 0))
        bought = out.transactions.customer[~out.transactions.first]
        assert np.isin(due, bought).all(), f"day {d}"
        renewals += due.size
        lo = out.n_present
    assert renewals > 5000  # about two renewals per subscriber in 65 days
    newcomers = np.flatnonzero(pop.join_day >= 0)
    joined_early = newcomers[pop.join_day[newcomers] < 35]
    renewed = pop.frequency[joined_early] >= 2
    assert joined_early.size > 0 and renewed[pop.alive[joined_early]].all()


def test_subscription_base_has_a_renewal_history(make_world):
    """At day 0 an alive subscriber renewed within the last renewal period.

    The burn-in must follow `purchase_process`: drawn from the Poisson (BG/NBD) process
    instead, alive subscribers would start with recencies up to 720 days, most of them in
    the `churned` stage, and "reactivate" at their first renewal in the run.
    """
    world = make_world("subscription", 5000, 10, seed=0)
    pop, n = world.pop, world.n_present
    alive = pop.alive[:n]
    recency = -pop.last_purchase_day[:n].astype(np.int64)  # as of day 0
    stale = int((recency[alive] > world.params.renewal_days).sum())
    assert stale == 0, f"{stale} of {alive.sum()} alive subscribers last paid over 30 days ago"
    assert not (pop.stage[:n][alive] == lifecycle.CHURNED).any()
