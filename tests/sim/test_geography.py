"""The city grid and gravity (Huff) store choice, by hand and in a simulated run."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nbasim.sim.geography import City, store_dtype
from nbasim.sim.scenarios import SCENARIOS, get_scenario

TWO_STORES = {"city_size": 2, "huff_distance_decay": 2.0, "stores": [
    {"name": "a", "x": 0.5, "y": 0.5, "attractiveness": 1.0},
    {"name": "b", "x": 1.5, "y": 0.5, "attractiveness": 2.0}]}

# A 4 x 4 town with three stores and fast, loyal buyers, so that one zone sees thousands of
# visits in a few weeks: weekly rate Gamma(2, 1/1) (two visits a week on average), dropout
# Beta(1, 500), a base that joined during the last 30 days, no newcomers.
TOWN = {"city_size": 4, "stores": [
    {"name": "west", "x": 0.5, "y": 1.5, "attractiveness": 1.0},
    {"name": "centre", "x": 2.0, "y": 2.0, "attractiveness": 2.0},
    {"name": "east", "x": 3.5, "y": 3.0, "attractiveness": 1.0}],
    "bgnbd_r": 2.0, "bgnbd_alpha": 1.0, "bgnbd_a": 1.0, "bgnbd_b": 500.0,
    "burn_in_days": 30, "acquisition_rate": 0.0, "churn_base": 0.0}


def test_zones_by_hand():
    """Zone id = row x size + column; its centre is (column + 0.5, row + 0.5)."""
    city = City(get_scenario("dry_cleaning_chain", {
        "city_size": 3, "stores": [{"name": "s", "x": 1, "y": 1}]}))
    assert city.n_zones == 9 and city.n_stores == 1
    np.testing.assert_array_equal(city.zone_xy[5], [2.5, 1.5])  # row 1, column 2
    np.testing.assert_array_equal(city.zone_xy[6], [0.5, 2.5])  # row 2, column 0
    np.testing.assert_array_equal(city.huff, np.ones((9, 1)))


def test_huff_by_hand():
    """Two stores on a 2 x 2 grid, decay 2, distance + 0.5 cell.

    Zone 0 at (0.5, 0.5): store a at distance 0 + 0.5 -> weight 1 / 0.25 = 4; store b at
    distance 1 + 0.5 -> 2 / 2.25 = 8/9; P(a) = 4 / (4 + 8/9) = 36/44 = 9/11.
    Zone 1 at (1.5, 0.5): a at 1.5 -> 1 / 2.25 = 4/9; b at 0.5 -> 2 / 0.25 = 8;
    P(a) = (4/9) / (4/9 + 8) = 4/76 = 1/19.
    """
    city = City(get_scenario("dry_cleaning_chain", TWO_STORES))
    np.testing.assert_allclose(city.huff[0], [9 / 11, 2 / 11])
    np.testing.assert_allclose(city.huff[1], [1 / 19, 18 / 19])
    # zone 2 at (0.5, 1.5): a at 1 + 0.5 -> 4/9; b at sqrt(2) + 0.5 -> 2 / (sqrt(2) + 0.5)^2
    w_a, w_b = 4 / 9, 2 / (np.sqrt(2) + 0.5) ** 2
    np.testing.assert_allclose(city.huff[2], [w_a / (w_a + w_b), w_b / (w_a + w_b)])


def test_second_store_distance_by_hand():
    """Distance from each zone to its second-nearest store, without the 0.5-cell offset.

    Stores at (0.5, 0.5) and (1.5, 0.5): zone 0 at (0.5, 0.5) is 0 and 1 away, zone 1 at
    (1.5, 0.5) 1 and 0, zone 2 at (0.5, 1.5) 1 and sqrt(2), zone 3 at (1.5, 1.5) sqrt(2) and 1.
    """
    city = City(get_scenario("dry_cleaning_chain", TWO_STORES))
    np.testing.assert_allclose(city.second_store_distance, [1, 1, np.sqrt(2), np.sqrt(2)])


def test_choose_stores_at_the_boundaries():
    """Zone 0 of the hand example: u below 9/11 picks store a, u at or above it store b."""
    city = City(get_scenario("dry_cleaning_chain", TWO_STORES))
    u = np.array([0.0, 0.81, 9 / 11 - 1e-12, 9 / 11 + 1e-12, 0.99, 1 - 1e-16])
    assert city.choose_stores(np.zeros(6, dtype=np.int64), u).tolist() == [0, 0, 0, 1, 1, 1]
    assert city.choose_stores(np.zeros(1, dtype=np.int64), u[:1]).dtype == np.uint8


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_probabilities_are_distributions(scenario):
    """Huff rows and zone densities are probability distributions."""
    city = City(get_scenario(scenario))
    assert city.huff.shape == (city.n_zones, city.n_stores)
    assert ((city.huff > 0) & (city.huff <= 1)).all()
    np.testing.assert_allclose(city.huff.sum(axis=1), 1.0)
    for density in (city.home_density, city.work_density):
        assert (density > 0).all() and density.sum() == pytest.approx(1.0)
    centre = (city.n_zones // 2) + (int(np.sqrt(city.n_zones)) // 2)
    assert city.work_density[centre] > city.home_density[centre]  # jobs crowd the centre


def test_nearer_and_more_attractive_stores_win():
    """From a store's own zone it is the favourite; more attractiveness raises every share."""
    base = get_scenario("dry_cleaning_chain")
    city = City(base)
    for j, (x, y) in enumerate(city.store_xy):
        zone = int(min(y, base.city_size - 1)) * base.city_size + int(min(x, base.city_size - 1))
        assert city.huff[zone].argmax() == j
    stores = [s.model_dump() for s in base.stores]
    stores[0]["attractiveness"] *= 2
    bigger = City(get_scenario("dry_cleaning_chain", {"stores": stores}))
    assert (bigger.huff[:, 0] > city.huff[:, 0]).all()


@pytest.mark.parametrize("seed", range(3))
def test_choose_stores_frequencies_match_huff(seed):
    """200 000 draws from one zone: shares within 0.005 of the Huff row, chi-square p > 0.001.

    The standard error of a share is at most sqrt(0.25 / 200 000) = 0.0011, so 0.005 is
    about 4.5 standard errors.
    """
    city = City(get_scenario("dry_cleaning_chain"))
    rng = np.random.default_rng(seed)
    zone = int(rng.integers(city.n_zones))
    n = 200_000
    got = city.choose_stores(np.full(n, zone), rng.random(n))
    counts = np.bincount(got, minlength=city.n_stores)
    np.testing.assert_allclose(counts / n, city.huff[zone], atol=0.005)
    assert stats.chisquare(counts, city.huff[zone] * n).pvalue > 1e-3


def test_choose_stores_mixes_zones():
    """Draws for many zones at once follow each visit's own zone row."""
    city = City(get_scenario("retail_chain"))
    rng = np.random.default_rng(1)
    zones = rng.integers(city.n_zones, size=300_000)
    got = city.choose_stores(zones, rng.random(zones.size))
    expected = city.huff[zones].sum(axis=0)
    assert stats.chisquare(np.bincount(got, minlength=city.n_stores), expected).pvalue > 1e-3


def test_weekend_visits_from_one_home_zone_follow_its_huff_row(make_world, record):
    """In a run, weekend visits by customers of one home zone split across stores like Huff.

    On weekends every visit starts from home. Tolerance: 4 standard errors of a share,
    4 x sqrt(0.25 / visits); the zone below has several thousand weekend visits.
    """
    world = make_world("dry_cleaning_chain", 20_000, 28, overrides=TOWN)
    run = record(world)
    weekend = world.weekday >= 5
    rows = np.concatenate([o.transactions.customer for o in run.outcomes if weekend[o.day]])
    store = np.concatenate([o.transactions.store for o in run.outcomes if weekend[o.day]])
    home = world.pop.home_zone[rows]
    zone = int(np.bincount(home).argmax())
    mine = store[home == zone]
    assert mine.size > 2000
    share = np.bincount(mine, minlength=world.city.n_stores) / mine.size
    np.testing.assert_allclose(share, world.city.huff[zone], atol=4 * np.sqrt(0.25 / mine.size))
    counts = np.bincount(mine, minlength=world.city.n_stores)
    assert stats.chisquare(counts, world.city.huff[zone] * mine.size).pvalue > 1e-3


def test_visits_start_from_work_on_weekday_daytime(make_world, record):
    """All visits of a run follow Huff from home (weekends, evenings) or work (weekday 9-17 h).

    The expected count of each store is the sum of the Huff rows of each visit's start zone;
    a chi-square test accepts it (p > 0.001) and rejects starting every visit from home.
    """
    world = make_world("dry_cleaning_chain", 20_000, 14, overrides=TOWN)
    run = record(world)
    pop, city = world.pop, world.city
    expected_work = np.zeros(city.n_stores)
    expected_home = np.zeros(city.n_stores)
    counts = np.zeros(city.n_stores)
    for out in run.outcomes:
        tx = out.transactions
        daytime = (world.weekday[out.day] < 5) & (tx.hour >= 9) & (tx.hour < 17)
        start = np.where(daytime, pop.work_zone[tx.customer], pop.home_zone[tx.customer])
        expected_work += city.huff[start].sum(axis=0)
        expected_home += city.huff[pop.home_zone[tx.customer]].sum(axis=0)
        counts += np.bincount(tx.store, minlength=city.n_stores)
    assert counts.sum() > 20_000
    assert stats.chisquare(counts, expected_work).pvalue > 1e-3
    assert stats.chisquare(counts, expected_home).pvalue < 1e-6


def test_store_dtype_holds_every_store_and_the_online_shop():
    """uint8 up to 254 stores (255 is the online shop), uint16 beyond."""
    assert store_dtype(1) is np.uint8
    assert store_dtype(254) is np.uint8
    assert store_dtype(255) is np.uint16
