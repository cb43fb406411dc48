"""The daily world: reproducibility, invariants, lifecycle, dynamics and the BG/NBD check."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate, stats

from nbasim.sim import behaviour, lifecycle, rfm
from nbasim.sim.catalog import Catalog
from nbasim.sim.daily import DailySeries
from nbasim.sim.population import Population
from nbasim.sim.scenarios import SCENARIOS, get_scenario
from nbasim.sim.seasonality import daily_multiplier, weekdays, yearly_profile
from nbasim.sim.shocks import CompetitorCampaign, HolidaySeason
from nbasim.sim.world import Transactions

SCENARIO_NAMES = sorted(SCENARIOS)


def assert_outcomes_equal(a, b) -> None:
    """Two day outcomes are identical, array by array."""
    assert (a.day, a.arrivals, a.n_present) == (b.day, b.arrivals, b.n_present)
    for f in dataclasses.fields(Transactions):
        x, y = getattr(a.transactions, f.name), getattr(b.transactions, f.name)
        assert x.dtype == y.dtype, f.name
        np.testing.assert_array_equal(x, y, err_msg=f"day {a.day}: {f.name}")
    for name in ("carts", "cart_hours", "churned"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.crossed.keys() == b.crossed.keys()
    for stage in a.crossed:
        np.testing.assert_array_equal(a.crossed[stage], b.crossed[stage])


def outcomes_equal(a, b) -> bool:
    """Whether two day outcomes are identical."""
    try:
        assert_outcomes_equal(a, b)
    except AssertionError:
        return False
    return True


# --------------------------------------------------------------------------- reproducibility
def test_same_seed_gives_identical_days(make_world, record):
    """Two runs on one seed: identical outcomes on each of 20 days and identical final state."""
    runs = [record(make_world("retail_chain", 3000, 20, seed=7)) for _ in range(2)]
    assert sum(o.transactions.customer.size for o in runs[0].outcomes) > 0
    assert sum(o.carts.size for o in runs[0].outcomes) > 0
    for a, b in zip(runs[0].outcomes, runs[1].outcomes, strict=True):
        assert_outcomes_equal(a, b)
    for name, col in runs[0].end.items():
        np.testing.assert_array_equal(col, runs[1].end[name], err_msg=name)


def test_different_seeds_give_different_days(make_world, record):
    """Runs on two seeds differ on most days."""
    a = record(make_world("retail_chain", 3000, 20, seed=7))
    b = record(make_world("retail_chain", 3000, 20, seed=8))
    same = sum(outcomes_equal(x, y) for x, y in zip(a.outcomes, b.outcomes, strict=True))
    assert same == 0
    assert not np.array_equal(a.end["monetary"], b.end["monetary"])


def test_step_after_the_horizon_raises(make_world):
    """Stepping past the last day raises instead of running off the end."""
    world = make_world(days=2)
    world.step()
    world.step()
    with pytest.raises(RuntimeError, match="horizon of 2 days is over"):
        world.step()


# ---------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_no_purchase_by_a_dead_customer(make_world, record, scenario):
    """Every buyer was alive at the start of the day; the dead stay dead; churners die."""
    world = make_world(scenario, 5000, 60, seed=3, overrides={"churn_base": 0.01})
    run = record(world, watch=("alive",))
    n_churned = 0
    for out, before in zip(run.outcomes, run.before, strict=True):
        alive = before["alive"]
        assert alive[out.transactions.customer].all(), f"day {out.day}"
        assert alive[out.carts].all(), f"day {out.day}"
        assert alive[out.churned].all(), f"day {out.day}"
        n_churned += out.churned.size
    after = [b["alive"] for b in run.before[1:]] + [run.end["alive"]]
    for out, before, now in zip(run.outcomes, run.before, after, strict=True):
        assert not (now & ~before["alive"]).any(), f"day {out.day}: the dead came back"
        assert not now[out.churned].any()
        assert np.array_equal(before["alive"] & ~now, np.isin(np.arange(now.size), out.churned))
    assert n_churned > 0


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_money_is_conserved(make_world, record, scenario):
    """The rise of `monetary` and `frequency` per customer equals their transactions."""
    world = make_world(scenario, 5000, 40, seed=2)
    run = record(world)
    n = world.pop.n_customers
    rows = np.concatenate([o.transactions.customer for o in run.outcomes])
    amount = np.concatenate([o.transactions.amount for o in run.outcomes])
    assert rows.size > 100 and (amount > 0).all()
    spent = np.bincount(rows, weights=amount, minlength=n)
    gained = run.end["monetary"].astype(np.float64) - run.start["monetary"]
    bought = np.bincount(rows, minlength=n)
    # monetary is float32: each purchase rounds the amount and the new total by at most half
    # a float32 spacing of the final total, so the error is at most bought x spacing.
    tolerance = bought * np.spacing(run.end["monetary"]).astype(np.float64)
    assert (np.abs(gained - spent) <= tolerance).all()
    assert gained.sum() == pytest.approx(amount.sum(), rel=1e-6)
    np.testing.assert_array_equal(run.end["frequency"].astype(np.int64) - run.start["frequency"],
                                  bought)
    visits = (run.end["visits_primary"].astype(np.int64) + run.end["visits_other"]
              - run.start["visits_primary"] - run.start["visits_other"])
    np.testing.assert_array_equal(visits, bought)


def test_margin_is_spend_times_category_margin(make_world, record):
    """Each transaction's margin is its amount times the margin share set for its category."""
    # Two categories with margins set by hand: "half" keeps 0.5 of a sale, "quarter" 0.25.
    world = make_world("dry_cleaning_chain", 3000, 15, overrides={
        "categories": [{"name": "half", "margin": 0.5}, {"name": "quarter", "margin": 0.25}],
        "sequence_boost": []})
    seen = set()
    for out in record(world).outcomes:
        tx = out.transactions
        assert (tx.category < 2).all()
        np.testing.assert_allclose(tx.margin, tx.amount * np.array([0.5, 0.25])[tx.category],
                                   rtol=1e-6)
        seen |= set(tx.category.tolist())
        assert (tx.store < len(world.outlet_names)).all()
        assert (tx.hour < 24).all()
    assert seen == {0, 1}


def test_last_purchase_columns_follow_transactions(make_world, record):
    """Nobody buys twice a day; buyers' last day, store and category are the transaction's."""
    world = make_world("retail_chain", 3000, 15)
    outcomes = record(world).outcomes
    for out in outcomes:
        rows = out.transactions.customer
        np.testing.assert_array_equal(np.unique(rows), np.sort(rows))
    pop, last = world.pop, outcomes[-1]  # nobody has bought since the last day
    tx = last.transactions
    assert tx.customer.size > 0
    assert (pop.last_purchase_day[tx.customer] == last.day).all()
    np.testing.assert_array_equal(pop.last_store[tx.customer], tx.store)
    np.testing.assert_array_equal(pop.last_category[tx.customer], tx.category)
    assert (pop.cart_value[tx.customer] == 0).all()


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_customer_count_is_conserved(make_world, record, scenario):
    """Columns keep n_customers rows; present counts rise to n_customers by the last day."""
    n, days = 4000, 60
    world = make_world(scenario, n, days, overrides={"acquisition_rate": 0.005})
    n_init = world.n_present
    run = record(world)
    present = [o.n_present for o in run.outcomes]
    assert all(np.diff(present) >= 0)
    assert present[-1] == n == world.n_present
    assert n_init + sum(o.arrivals for o in run.outcomes) == n
    for out in run.outcomes:
        assert out.n_present == world.pop.n_present(out.day)
    for name, col in run.end.items():
        assert col.shape[0] == n, name


def test_newcomers_join_over_the_horizon(make_world, record):
    """Newcomers arrive on their join day with a first purchase flagged `first`, stage new."""
    world = make_world("retail_chain", 10_000, 60, overrides={"acquisition_rate": 0.005})
    pop = world.pop
    n_init = lo = world.n_present
    run = record(world, watch=("frequency",))
    days_with_arrivals = 0
    for out, before in zip(run.outcomes, run.before, strict=True):
        tx = out.transactions
        newcomers = np.arange(lo, out.n_present)
        np.testing.assert_array_equal(tx.customer[tx.first], newcomers)
        assert (tx.customer[~tx.first] < lo).all()
        assert (pop.join_day[newcomers] == out.day).all()
        assert (before["frequency"][newcomers] == 0).all()
        days_with_arrivals += newcomers.size > 0
        lo = out.n_present
    assert days_with_arrivals > 30 and world.n_present > n_init
    assert (pop.frequency[n_init:] >= 1).all()
    # a newcomer who has not bought again is still `new` (at-risk is 90 days away)
    once = n_init + np.flatnonzero(pop.frequency[n_init:] == 1)
    assert once.size > 0 and (pop.stage[once] == lifecycle.NEW).all()


# ---------------------------------------------------------------------------- lifecycle
@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_lifecycle_crossings_at_the_thresholds(make_world, record, scenario):
    """A customer whose last purchase was exactly at_risk/lapsed/churned days ago enters it."""
    world = make_world(scenario, 10_000, 40, seed=4)
    p, pop = world.params, world.pop
    thresholds = {lifecycle.AT_RISK: p.at_risk_days, lifecycle.LAPSED: p.lapsed_days,
                  lifecycle.CHURNED: p.churned_days}
    counts = dict.fromkeys(thresholds, 0)
    for _ in range(world.days):
        out = world.step()
        last = pop.last_purchase_day[: out.n_present]
        for stage, days in thresholds.items():
            rows = np.flatnonzero(last == out.day - days)
            np.testing.assert_array_equal(out.crossed[stage], rows)
            assert (pop.stage[rows] == stage).all()
            counts[stage] += rows.size
    assert all(k > 0 for k in counts.values()), counts


def test_stage_matches_recency_bands_every_day(make_world):
    """At the end of each day the stage agrees with the days since the last purchase."""
    world = make_world("dry_cleaning_chain", 10_000, 30, seed=1)
    p, pop = world.params, world.pop
    active = [lifecycle.NEW, lifecycle.ACTIVE, lifecycle.REACTIVATED]
    for _ in range(world.days):
        out = world.step()
        rec, stage = pop.recency(out.day, out.n_present), pop.stage[: out.n_present]
        assert np.isin(stage[rec < p.at_risk_days], active).all()
        band = (rec >= p.at_risk_days) & (rec < p.lapsed_days)
        assert (stage[band] == lifecycle.AT_RISK).all()
        assert (stage[(rec >= p.lapsed_days) & (rec < p.churned_days)] == lifecycle.LAPSED).all()
        assert (stage[rec >= p.churned_days] == lifecycle.CHURNED).all()
    assert (pop.stage == lifecycle.REACTIVATED).any()


def test_crossings_enter_a_new_stage(make_world):
    """Customers reported as crossing into a stage were not already in it, day 0 included.

    The day-0 stage must describe the base as of day -1, like the day-0 RFM scores: taken
    from recency as of day 0, a customer whose recency reaches a threshold on day 0 would
    already be in that stage, and the day-0 at-risk moment would announce an old crossing.
    """
    world = make_world("dry_cleaning_chain", 20_000, 3, seed=0)
    for _ in range(world.days):
        before = world.pop.stage.copy()
        out = world.step()
        for stage, rows in out.crossed.items():
            already = int((before[rows] == stage).sum())
            assert already == 0, (f"day {out.day}: {already} of {rows.size} customers crossing "
                                  f"into {lifecycle.STAGES[stage]} were in it already")


def test_after_purchase_by_hand():
    """A repeat purchase makes lapsed and churned customers reactivated, everyone else active."""
    stages = np.array([lifecycle.NEW, lifecycle.ACTIVE, lifecycle.AT_RISK, lifecycle.LAPSED,
                       lifecycle.CHURNED, lifecycle.REACTIVATED], dtype=np.uint8)
    np.testing.assert_array_equal(lifecycle.after_purchase(stages), [
        lifecycle.ACTIVE, lifecycle.ACTIVE, lifecycle.ACTIVE, lifecycle.REACTIVATED,
        lifecycle.REACTIVATED, lifecycle.ACTIVE])


def test_stage_from_history_by_hand():
    """Stages from (recency, frequency) with thresholds 60 / 120 / 240 (the defaults)."""
    params = get_scenario("retail_chain", {"at_risk_days": 60, "lapsed_days": 120,
                                           "churned_days": 240})
    recency = np.array([0, 10, 59, 60, 119, 120, 239, 240, 1000])
    frequency = np.array([1, 2, 5, 1, 3, 1, 9, 2, 1])
    expected = ["new", "active", "active", "at_risk", "at_risk", "lapsed", "lapsed", "churned",
                "churned"]
    got = lifecycle.stage_from_history(recency, frequency, params)
    assert [lifecycle.STAGES[s] for s in got] == expected


def test_rfm_columns_are_those_of_present_customers(make_world, record):
    """After each day R, F, M scores are 1-5 for present customers, 0 for future ones."""
    world = make_world("retail_chain", 5000, 30, overrides={"acquisition_rate": 0.005})
    pop = world.pop
    for _ in range(world.days):
        out = world.step()
        hi = out.n_present
        r, f, m = rfm.rfm_scores(pop.recency(out.day, hi), pop.frequency[:hi], pop.monetary[:hi])
        np.testing.assert_array_equal(pop.r_score[:hi], r)
        np.testing.assert_array_equal(pop.f_score[:hi], f)
        np.testing.assert_array_equal(pop.m_score[:hi], m)
        np.testing.assert_array_equal(pop.segment[:hi], rfm.segments(r, f))
        assert ((r >= 1) & (r <= 5)).all()
        assert not pop.r_score[hi:].any()


# ------------------------------------------------------------------------ probabilities
def test_churn_hazard_by_hand():
    """Hazard = base x multiplier x min(1 + recency / 90, 4) x (1 + 0.5 x fatigue)."""
    params = get_scenario("retail_chain", {"churn_base": 0.0002})
    recency = np.array([0, 90, 45, 1000])
    fatigue = np.array([0.0, 0.0, 2.0, 0.0])
    # 0.0002 x 1; 0.0002 x 2; 0.0002 x 1.5 x (1 + 0.5 x 2) = 0.0006; capped: 0.0002 x 4
    np.testing.assert_allclose(behaviour.churn_hazard(recency, fatigue, params, 1.0),
                               [0.0002, 0.0004, 0.0006, 0.0008])
    np.testing.assert_allclose(behaviour.churn_hazard(recency, None, params, 4.0),
                               [0.0008, 0.0016, 0.0012, 0.0032])
    # the bound covers everyone: 0.0002 x 4 x 4 x (1 + 0.5 x 2)
    assert behaviour.churn_bound(params, 4.0, 2.0) == pytest.approx(0.0064)


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_probability_lies_in_the_unit_interval(make_world, scenario):
    """Purchase, churn, dropout and cart probabilities lie in [0, 1]; demand is positive.

    With E ~ Exp(1) a customer buys when E < x_buy = rate x demand, P = 1 - exp(-x_buy), and
    abandons a cart when x_buy <= E < x_session, P = exp(-x_buy) - exp(-x_session): both lie
    in [0, 1], and sum to at most 1, exactly when demand > 0, rate >= 0 and session >= rate.
    """
    shocks = [HolidaySeason(start_day=0, duration_days=None, rate_boost=5.0),
              CompetitorCampaign(start_day=0, duration_days=None, churn_multiplier=1e4)]
    world = make_world(scenario, 5000, 400, shocks=shocks)
    pop, p = world.pop, world.params
    demand = world.demand * world.mods.rate
    assert (demand > 0).all() and np.isfinite(demand).all()
    assert (pop.purchase_rate >= 0).all()
    session = behaviour.session_rate(pop.purchase_rate, pop.online_share, p)
    assert (session >= pop.purchase_rate).all()
    recency = np.arange(0, 3000, dtype=np.float64)
    for fatigue in (None, np.full(recency.size, 30.0)):
        for mult in (0.0, 1.0, 1e4):
            h = behaviour.churn_hazard(recency, fatigue, p, mult)
            prob = -np.expm1(-h)
            assert (h >= 0).all() and ((prob >= 0) & (prob <= 1)).all()
            assert (np.diff(h) >= 0).all()  # the hazard never falls as recency grows
            assert h.max() <= behaviour.churn_bound(p, mult, 0.0 if fatigue is None else 30.0)
    assert ((pop.dropout >= 0) & (pop.dropout <= 1)).all()


def test_seasonality_is_positive_and_averages_one():
    """Demand multipliers are positive, the yearly profile averages 1 over 365 days."""
    for name in SCENARIO_NAMES:
        params = get_scenario(name)
        profile = yearly_profile(params)
        assert (profile > 0).all()
        assert profile[:365].mean() == pytest.approx(1.0)
        assert (daily_multiplier(params, 2 * 366) > 0).all()
    params = get_scenario("retail_chain")
    assert yearly_profile(params).argmax() == pytest.approx(params.holiday_day, abs=3)


def test_seasonality_by_hand():
    """Weekday pattern (2, 1, 1, 1, 1, 1, 1) with a flat year: Monday is 2 / (8 / 7) = 1.75."""
    params = get_scenario("retail_chain", {"weekly": [2, 1, 1, 1, 1, 1, 1],
                                           "yearly_amplitude": 0.0, "holiday_height": 0.0,
                                           "start_date": "2026-01-01"})
    # 2026-01-01 is a Thursday (3); 2026-01-05 is the first Monday (day 4).
    np.testing.assert_array_equal(weekdays(params, 8), [3, 4, 5, 6, 0, 1, 2, 3])
    np.testing.assert_allclose(daily_multiplier(params, 8),
                               [0.875, 0.875, 0.875, 0.875, 1.75, 0.875, 0.875, 0.875])


def test_category_choice_matches_its_odds():
    """Category frequencies match affinity x sequence x readiness x weight, normalised.

    retail_chain: apparel -> shoes odds x 2, a repeat of apparel x 1.5. After apparel, with
    affinities (0.4, 0.1, 0.2, 0.2, 0.1) and long recency (readiness 1), the odds are
    (0.6, 0.2, 0.2, 0.2, 0.1) / 1.3. 200 000 draws: the standard error of each share is at
    most 0.0011; we allow 0.005.
    """
    catalog = Catalog(get_scenario("retail_chain"))
    n = 200_000
    rng = np.random.default_rng(0)
    affinity = np.tile([0.4, 0.1, 0.2, 0.2, 0.1], (n, 1))
    last = np.zeros(n, dtype=np.uint8)  # apparel
    got = catalog.choose(affinity, last, np.full(n, 1e6), np.ones(5), rng.random(n))
    share = np.bincount(got, minlength=5) / n
    np.testing.assert_allclose(share, np.array([0.6, 0.2, 0.2, 0.2, 0.1]) / 1.3, atol=0.005)
    # a day weight of 0 on a category removes it
    got = catalog.choose(affinity, last, np.full(n, 1e6), np.array([1, 1, 0, 1, 1.0]),
                         rng.random(n))
    assert not (got == 2).any()
    # odds at recency 0: every readiness is floored at 0.05, so the shares do not change
    got = catalog.choose(affinity, last, np.zeros(n), np.ones(5), rng.random(n))
    np.testing.assert_allclose(np.bincount(got, minlength=5) / n,
                               np.array([0.6, 0.2, 0.2, 0.2, 0.1]) / 1.3, atol=0.005)


def test_catalog_sequence_matrix_by_hand():
    """The sequence matrix has the repeat odds on the diagonal, boosts, and a neutral last row."""
    catalog = Catalog(get_scenario("retail_chain"))
    seq = catalog.sequence
    assert seq.shape == (6, 5)
    np.testing.assert_array_equal(np.diag(seq[:5]), [1.5] * 5)
    assert seq[0, 1] == 2.0 and seq[2, 4] == 1.3  # apparel -> shoes, home -> electronics
    np.testing.assert_array_equal(seq[catalog.none], np.ones(5))


# ------------------------------------------------------------------------ the BG/NBD check
def test_bgnbd_closed_form_agrees_with_direct_integration(bgnbd_mean):
    """The closed form equals E_p[(1 - (alpha / (alpha + p t))^r) / p], integrated numerically.

    Given lambda and p, E[X(t)] = (1 - exp(-lambda p t)) / p; averaging exp(-lambda p t) over
    lambda ~ Gamma(r, alpha) gives (alpha / (alpha + p t))^r, leaving one integral over
    p ~ Beta(a, b). This checks the helper that the statistical test below relies on.
    """
    r, alpha, a, b = 0.243, 7 * 4.414, 0.793, 2.426
    for t in (1.0, 30.0, 181.0, 2000.0):
        def integrand(p, t=t):
            return stats.beta.pdf(p, a, b) * -np.expm1(r * np.log(alpha / (alpha + p * t))) / p

        direct = integrate.quad(integrand, 0, 1, limit=200)[0]
        assert bgnbd_mean(t, r, alpha, a, b) == pytest.approx(direct, rel=1e-6)
    # near t = 0 everyone is alive: E[X(t)] ~ r t / alpha
    assert bgnbd_mean(1e-6, r, alpha, a, b) == pytest.approx(r * 1e-6 / alpha,
                                                                           rel=1e-4)


def test_simulated_repeat_purchases_match_bgnbd(make_world, pure_bgnbd, bgnbd_mean):
    """Mean repeat purchases of a pure BG/NBD base over t days match E[X(t + 1)] within 5 %.

    Customers join on day -1 (burn-in of one day), so after t = 180 simulated days each has
    t + 1 days of exposure; per-day parameters are alpha_day = 7 x alpha_week. Tolerance: the
    world draws at most one purchase a day (P = 1 - exp(-lambda)), an undercount of at most
    E[lambda^2] / (2 E[lambda]) = (r + 1) / (2 alpha_day) = 2.0 % while alive; sampling over
    5 seeds x 20 000 customers adds a standard error of 0.65 %. 5 % covers both; a world
    without dropout would give r t / alpha_day = 1.42 against E[X] = 0.90 and fail.
    """
    t, n = 180, 20_000
    means = []
    for seed in range(5):
        world = make_world("retail_chain", n, t, seed=seed, overrides=pure_bgnbd)
        assert (world.demand == 1.0).all() and world.n_present == n
        for _ in range(t):
            world.step()
        means.append(world.pop.frequency.astype(np.float64).mean() - 1)
    p = world.params
    expected = bgnbd_mean(t + 1, p.bgnbd_r, 7 * p.bgnbd_alpha, p.bgnbd_a,
                                      p.bgnbd_b)
    assert np.mean(means) == pytest.approx(expected, rel=0.05)


# ---------------------------------------------------------------------------- daily series
def test_daily_series_agrees_with_the_outcomes(make_world):
    """The daily series' counts and sums equal those of the day outcomes."""
    world = make_world("retail_chain", 3000, 20, overrides={"acquisition_rate": 0.005})
    series = DailySeries(world)
    alive = int(world.pop.alive[: world.n_present].sum())
    outs = []
    for _ in range(world.days):
        out = world.step()
        series.record(out)
        outs.append(out)
    table = series.table()
    assert len(table["day"]) == 20
    for out in outs:
        d, tx = out.day, out.transactions
        alive += out.arrivals - out.churned.size
        assert table["revenue"][d] == pytest.approx(tx.amount.sum())
        assert table["purchases"][d] == tx.customer.size
        assert table["present"][d] == out.n_present
        assert table["alive"][d] == alive
        assert table["new_customers"][d] == out.arrivals
        assert table["carts_abandoned"][d] == out.carts.size
        visits = sum(table[f"visits_{name}"][d] for name in series.outlets)
        assert visits == tx.customer.size
    assert alive == int(world.pop.alive.sum())
    stages = sum(table[f"stage_{s}"] for s in lifecycle.STAGES)
    np.testing.assert_array_equal(stages, table["present"])
    segments = sum(table[f"segment_{s}"] for s in rfm.SEGMENTS)
    np.testing.assert_array_equal(segments, table["present"])
    assert str(table["date"][0]) == "2026-01-01"


def test_population_columns_are_not_replaced_by_a_step(make_world):
    """A step updates columns in place, so views taken before stay live."""
    world = make_world(days=3)
    ids = {f.name: id(getattr(world.pop, f.name)) for f in dataclasses.fields(Population)}
    world.step()
    assert ids == {f.name: id(getattr(world.pop, f.name)) for f in dataclasses.fields(Population)}
