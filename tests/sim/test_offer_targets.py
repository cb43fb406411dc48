"""Offers that name a target: the catalog, the truth, and where their purchases land."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import response
from nbasim.sim.actions import OFFERS, build_catalog, catalog_for
from nbasim.sim.campaign import Campaign
from nbasim.sim.params import ParameterError, ResponseParams
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.targets import OfferTargets
from nbasim.sim.world import World

TARGETS = {"cross_sell_targets": ("outerwear", "household"),
           "visit_bonus_targets": ("north", "station")}


def targeted(**more):
    """The dry-cleaning chain with two category and two store targets."""
    return get_scenario("dry_cleaning_chain", {**TARGETS, **more})


def test_default_catalog_names_no_target():
    """Without targets the catalog is today's: 433 actions, no target anywhere."""
    cat = catalog_for(get_scenario("dry_cleaning_chain"))
    assert cat.n_actions == 433  # 9 offers x 4 channels x 3 slots x 4 wordings + no action
    assert set(cat.table()["target"]) == {"none"}
    assert np.array_equal(cat.variant, cat.offer)
    assert not any(n.startswith("target_") for n in cat.feature_names)


def test_targeted_catalog_table_features_and_grid():
    """Each target adds 48 actions of its offer, named in the table and one-hot in the features."""
    cat = catalog_for(targeted())
    # 9 + 2 cross-sell + 2 visit-bonus variants, 48 actions each, and no action.
    assert cat.n_actions == 13 * 48 + 1
    table = cat.table()
    assert table["target"][0] == "none"
    aimed = np.array(table["target"]) != "none"
    assert set(np.array(table["offer"])[aimed]) == {"cross_sell", "second_store_bonus"}
    assert {t: (np.array(table["target"]) == t).sum() for t in
            ("outerwear", "household", "north", "station")} == dict.fromkeys(
        ("outerwear", "household", "north", "station"), 48)
    names = list(cat.feature_names)
    cols = [names.index(f"target_category_{n}") for n in ("outerwear", "household")] + [
        names.index(f"target_store_{n}") for n in ("north", "station")]
    onehot = cat.features[:, cols]
    assert np.array_equal(onehot.sum(axis=1), aimed.astype(np.float32))
    assert np.array_equal(onehot[aimed].argmax(axis=1), cat.target[aimed])
    # Targeted variants follow their offer; the grid's offer axis holds the variants.
    g = cat.grid()
    assert g.offer.tolist() == [1, 2, 3, 4, 5, 10, 11, 6, 7, 12, 13, 8, 9]
    row = int(np.flatnonzero(np.array(table["target"]) == "station")[0])
    assert cat.describe(row) == "second_store_bonus for station by email, morning, rational"


@pytest.mark.parametrize("overrides, match", [
    ({"cross_sell_targets": ("socks",)}, "cross_sell_targets.*one of"),
    ({"visit_bonus_targets": ("north", "north")}, "visit_bonus_targets.*no repeats"),
    ({"cross_sell_targets": ("suits",), "offers": ("discount_10",)}, "needs the offer"),
])
def test_bad_targets_are_refused(overrides, match):
    """Unknown or repeated targets, or a target whose offer is left out, are named errors."""
    with pytest.raises(ParameterError, match=match):
        get_scenario("dry_cleaning_chain", overrides)


def test_catalog_refuses_a_target_without_its_offer():
    """build_catalog names a target whose offer is not in the catalog."""
    targets = OfferTargets.of(targeted())
    with pytest.raises(ParameterError, match="not in the catalog offers"):
        build_catalog(("discount_10",), ("email",), targets)


def test_default_truth_is_unchanged_by_the_targets_of_another_catalog():
    """A scenario without targets tables no value and answers as before (value 1)."""
    w = World(get_scenario("dry_cleaning_chain"), 500, 5, 3)
    w.step()
    t = response.tables(w.customers_for_response(np.arange(w.n_present)), w.params.response)
    assert t.value is None and t.effect.shape[1] == len(OFFERS)


def test_targeted_truth_grid_matches_pairs_and_follows_fit():
    """The truth covers targeted offers: grid equals pairs; effects follow fit, distance."""
    w = World(targeted(), 3000, 10, 4)
    c = Campaign(w)
    for _ in range(3):
        w.step()
    rows = np.arange(w.n_present)
    grid = c.incremental_margins(rows)
    # The grid worked out along the catalog's axes equals the pairwise truth, bit for bit.
    pick = np.random.default_rng(0).integers(0, c.actions.n_actions, rows.size)
    pairs = w.truth(rows, pick, c.actions).incremental_margin
    assert np.array_equal(grid[rows, pick], pairs)
    # A visit bonus for a customer's primary store has no effect: it only costs the message.
    customers = w.customers_for_response(rows)
    tau = response.truth(customers, np.arange(c.actions.n_actions), c.actions,
                         w.params.response, grid=True).effect
    station = c.actions.targets.names.index("station")
    cols = np.flatnonzero(c.actions.target == station)
    at_station = w.pop.primary_store[rows] == w.params.stores.index(
        next(s for s in w.params.stores if s.name == "station"))
    assert at_station.any() and (tau[at_station][:, cols] == 0).all()
    # A cross-sell of a category: responsiveness x effect x (base + per_affinity x fit).
    outer = c.actions.targets.names.index("outerwear")
    effect = response.tables(customers, w.params.response).effect[:, len(OFFERS) + outer]
    s, rp = w.params.response.offer_scale, w.params.response
    want = (rp.offer_effect[OFFERS.index("cross_sell")] * customers.alive
            * (s.cross_sell_base + s.cross_sell_per_affinity * customers.category_fit[:, outer])
            * customers.responsiveness)
    np.testing.assert_allclose(effect, want, rtol=1e-12)
    # The fit is affinity x sequence odds after the last category x readiness: shirts then
    # outerwear is seeded at 3x.
    shirts = w.pop.last_category[rows] == 0
    ratio = customers.category_fit[:, outer] / w.pop.category_affinity[rows, 2]
    assert np.median(ratio[shirts]) > 2 * np.median(ratio[~shirts & (w.pop.frequency[rows] > 0)])


@pytest.mark.parametrize("target", ["household", "alterations", "north", "station"])
def test_induced_purchases_land_in_the_targeted_category_or_store(target):
    """Every purchase a targeted offer causes is of its category, or at its store."""
    rp = ResponseParams()  # offers strong enough that many land (tau clipped at 1)
    rp = rp.model_copy(update={"offer_scale": rp.offer_scale.model_copy(
        update={"second_store_scale": 50.0, "cross_sell_per_affinity": 50.0})})
    p = targeted(cross_sell_targets=("household", "alterations"), response=rp)
    w = World(p, 6000, 12, 7)
    c = Campaign(w)
    w.step()
    action = int(np.flatnonzero(np.array(c.actions.table()["target"]) == target)[0])
    rows = np.arange(w.n_present)
    dec = c.act(rows, np.full(rows.size, action))
    inc = dec.realized.incremental
    sent = rows[dec.sent]
    land = w.today + dec.realized.delay
    assert inc.sum() > 15
    found = []
    while w.day < w.days:
        tx = w.step().transactions
        due = inc & (land == w.today)
        bought = np.isin(tx.customer, sent[due])
        found.append((tx.customer[bought], tx.category[bought], tx.store[bought]))
    who, cats, stores = (np.concatenate(col) for col in zip(*found, strict=True))
    assert np.array_equal(np.unique(who), np.unique(sent[inc & (land < w.days)]))
    if target in ("household", "alterations"):
        assert (cats == [x.name for x in p.categories].index(target)).all()
    else:
        assert (stores == [s.name for s in p.stores].index(target)).all()


def test_attributed_margin_values_a_cross_sell_purchase_at_its_category():
    """The reward of a targeted cross-sell values the purchase it causes at its category.

    An opener who converts because of the offer (incremental) buys the targeted category:
    basket x margin rate x value, value = the category's price x margin over the customer's
    average (`Tables.value`); one who would have bought anyway buys the average basket. The
    old reward valued both at the average.
    """
    rp = ResponseParams()  # a strong cross-sell, so that many conversions are caused by it
    rp = rp.model_copy(update={"offer_scale": rp.offer_scale.model_copy(
        update={"cross_sell_per_affinity": 50.0})})
    p = targeted(cross_sell_targets=("household",), response=rp)
    w = World(p, 6000, 12, 7)
    c = Campaign(w)
    w.step()
    action = int(np.flatnonzero(np.array(c.actions.table()["target"]) == "household")[0])
    rows = np.arange(w.n_present)
    customers = w.customers_for_response(rows)  # before the offers land
    dec = c.act(rows, np.full(rows.size, action))
    real = dec.realized
    value = response.offer_effects.values(customers)[c.actions.variant[action]][dec.sent]
    assert real.incremental.sum() > 15 and (real.converted & ~real.incremental).sum() > 15
    assert np.abs(value - 1).min() > 0.01  # household is not the average basket
    avg = dec.truth.basket * dec.truth.margin_rate
    expected = np.where(real.incremental, avg * value, np.where(real.converted, avg, 0.0))
    np.testing.assert_allclose(real.attributed_margin, expected - real.discount_cost,
                               rtol=1e-12, atol=1e-12)
