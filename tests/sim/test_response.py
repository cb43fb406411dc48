"""The analytic response: probabilities, no-action zero, costs, sleeping dogs, a hand case."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import lifecycle, response
from nbasim.sim.actions import OFFERS, build_catalog
from nbasim.sim.catalog import Catalog
from nbasim.sim.params import ResponseParams
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World

CATALOG = build_catalog()


@pytest.fixture(scope="module", params=["dry_cleaning_chain", "retail_chain", "subscription"])
def world(request):
    """A world a few days into its run (carts, fatigue-free), per scenario."""
    w = World(get_scenario(request.param), 8000, 20, 3)
    for _ in range(5):
        w.step()
    return w


def test_default_offer_effects_cover_every_offer():
    """One base effect per offer, and no effect for no action."""
    rp = ResponseParams()
    assert len(rp.offer_effect) == len(OFFERS)
    assert rp.offer_effect[0] == 0.0


def test_probabilities_in_unit_interval(world):
    """Every probability of random (customer, action) pairs lies in [0, 1]; costs >= 0."""
    rng = np.random.default_rng(0)
    rows = np.arange(world.n_present)
    t = world.truth(rows, rng.integers(0, CATALOG.n_actions, rows.size), CATALOG)
    for p in (t.p_organic, t.p_treated, t.p_open, t.p_click, t.p_unsubscribe):
        assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    assert (t.p_click <= t.p_open).all()
    assert (t.cost >= 0).all() and (t.basket > 0).all()
    assert ((t.margin_rate > 0) & (t.margin_rate < 1)).all()


def test_no_action_has_exactly_zero_uplift(world):
    """Action 0: treated equals organic to the bit, no cost, zero incremental margin."""
    rows = np.arange(world.n_present)
    t = world.truth(rows, np.zeros(rows.size, dtype=np.int64), CATALOG)
    np.testing.assert_array_equal(t.p_treated, t.p_organic)
    assert not t.uplift.any() and not t.cost.any() and not t.incremental_margin.any()
    assert not t.p_open.any() and not t.p_unsubscribe.any()


def test_dead_customers_buy_nothing_organically(world):
    """Latent-dead customers have organic conversion 0 and respond only to win-back."""
    rows = np.flatnonzero(~world.pop.alive[: world.n_present])
    t = world.truth(rows, np.full(rows.size, 1), CATALOG)  # discount_10
    assert not t.p_organic.any() and not t.uplift.any()


def test_no_consent_means_nothing_sent():
    """Without consent for the channel the message reaches nobody and costs nothing."""
    w = World(get_scenario("dry_cleaning_chain"), 3000, 5, 1)
    rows = np.arange(w.n_present)
    for ch in range(4):
        no = rows[(w.pop.consent[rows] >> ch) & 1 == 0]
        action = np.flatnonzero((CATALOG.channel == ch) & (CATALOG.offer == 2))[0]
        t = w.truth(no, np.full(no.size, action), CATALOG)
        assert no.size > 0
        assert not t.p_open.any() and not t.cost.any() and not t.uplift.any()


def test_blanket_discount_raises_conversion_but_lowers_margin():
    """Documented case: a 20 % e-mail discount to the whole dry-cleaning base.

    Customers here buy often (organic 7-day conversion about 8 %), so most redeemers would
    have come anyway: conversions rise, but the discount they are given costs more margin than
    the extra visits bring.
    """
    w = World(get_scenario("dry_cleaning_chain"), 20_000, 10, 1)
    rows = np.arange(w.n_present)
    action = np.flatnonzero((CATALOG.offer == OFFERS.index("discount_20"))
                            & (CATALOG.channel == 0))[0]
    t = w.truth(rows, np.full(rows.size, action), CATALOG)
    assert t.p_treated.mean() > t.p_organic.mean() * 1.02
    assert t.incremental_margin.sum() < 0


def test_sleeping_dogs_are_harmed():
    """Customers with negative responsiveness convert less when contacted, and unsubscribe more."""
    w = World(get_scenario("retail_chain"), 20_000, 10, 2)
    rows = np.arange(w.n_present)
    action = np.flatnonzero((CATALOG.offer == OFFERS.index("cross_sell"))
                            & (CATALOG.channel == 0))[0]
    t = w.truth(rows, np.full(rows.size, action), CATALOG)
    reached = (t.p_open > 0) & (t.p_organic > 0)
    dogs = reached & (w.pop.responsiveness[rows] < 0)
    fans = reached & (w.pop.responsiveness[rows] > 0)
    assert dogs.sum() > 100
    assert (t.uplift[dogs] < 0).all() and (t.uplift[fans] > 0).all()
    assert t.p_unsubscribe[dogs].mean() > t.p_unsubscribe[fans].mean()


def one_customer(**changes) -> response.Customers:
    """A single hand-made customer; keyword arguments replace fields."""
    base = dict(
        p_organic=np.array([0.2]), basket=np.array([50.0]), margin_rate=np.array([0.5]),
        alive=np.array([True]), consent=np.array([0b0001], dtype=np.uint8),
        channel_affinity=np.array([[0.5, 0.0, 0.0, 0.0]]), send_hour=np.array([8]),
        wording=np.array([0]), responsiveness=np.array([1.0]),
        price_sensitivity=np.array([0.5]), online_share=np.array([0.0]),
        next_category_affinity=np.array([0.2]), frequency=np.array([3.0]),
        second_store_distance=np.array([2.0]), stage=np.array([lifecycle.ACTIVE]),
        cart_open=np.array([False]), cart_age=np.array([0.0]), cart_ratio=np.array([0.0]),
        fatigue=np.zeros((1, 4)))
    base.update(changes)
    return response.Customers(**base)


def test_hand_computed_discount_by_email():
    """discount_20 by email, morning, rational, to a customer who matches slot and wording.

    p_open = delivery 0.97 x open 0.25 x (0.5 + affinity 0.5) x slot fit 1 = 0.2425.
    p_click|open = 0.12 x wording match 1.3 = 0.156.
    tau = responsiveness 1 x effect 0.09 x (0.4 + 1.2 x 0.5 = 1.0) x 1.3 x damping 1
          x (1 + 2 x 0.156 = 1.312) = 0.153504.
    p1(opened) = 0.2 + 0.8 x 0.153504 = 0.3228032; p1 = 0.2 + 0.2425 x 0.1228032 = 0.22978.
    cost = price 0.003 + discount 0.2 x basket 50 x 0.2425 x 0.3228032 = 0.78586...
    incremental margin = (p1 - p0) x 50 x 0.5 - cost.
    """
    action = np.flatnonzero((CATALOG.offer == OFFERS.index("discount_20")) & (CATALOG.channel == 0)
                            & (CATALOG.slot == 0) & (CATALOG.wording == 0))
    t = response.truth(one_customer(), action, CATALOG, ResponseParams())
    tau = 0.09 * 1.0 * 1.3 * 1.312
    p1_opened = 0.2 + 0.8 * tau
    p1 = 0.2 + 0.2425 * (p1_opened - 0.2)
    cost = 0.003 + 0.2 * 50 * 0.2425 * p1_opened
    np.testing.assert_allclose(t.p_open, [0.2425])
    np.testing.assert_allclose(t.p_click, [0.2425 * 0.156])
    np.testing.assert_allclose(t.p_treated, [p1])
    np.testing.assert_allclose(t.cost, [cost])
    np.testing.assert_allclose(t.incremental_margin, [(p1 - 0.2) * 25 - cost])


def test_fatigue_and_deeper_discounts():
    """Fatigue damps the effect; a deeper discount lifts a price-sensitive customer more."""
    pick = lambda offer: np.flatnonzero((CATALOG.offer == OFFERS.index(offer))  # noqa: E731
                                        & (CATALOG.channel == 0))[:1]
    rp = ResponseParams()
    fresh = response.truth(one_customer(), pick("discount_20"), CATALOG, rp)
    tired = response.truth(one_customer(fatigue=np.array([[2.0, 0, 0, 0]])), pick("discount_20"),
                           CATALOG, rp)
    assert tired.uplift[0] < fresh.uplift[0]
    lifts = [response.truth(one_customer(price_sensitivity=np.array([0.9])), pick(o), CATALOG,
                            rp).uplift[0] for o in ("discount_10", "discount_20", "discount_30")]
    assert lifts[0] < lifts[1] < lifts[2]


def test_cross_sell_suggestion_skips_the_last_category():
    """The cross-sell target skips the last category; with no history the favourite wins."""
    cat = Catalog(get_scenario("dry_cleaning_chain"))
    aff = np.array([[0.5, 0.1, 0.1, 0.1, 0.1, 0.1]] * 2)
    # After shirts (0) the odds are affinity x sequence row: outerwear (2) gets x3 -> 0.3,
    # the rest 0.1 (shirts itself is excluded); with no history shirts (0.5) wins.
    np.testing.assert_allclose(cat.next_affinity(aff, np.array([0, cat.none])), [0.1, 0.5])


def test_cross_sell_suggestion_is_the_first_row_argmax():
    """Bit for bit the first category of highest odds, ties and every last category included."""
    cat = Catalog(get_scenario("dry_cleaning_chain"))
    rng = np.random.default_rng(0)
    aff = rng.dirichlet(np.ones(cat.n_categories), 3000).astype(np.float32).astype(float)
    aff[:500] = np.round(aff[:500], 1)  # many ties
    last = rng.integers(0, cat.n_categories + 1, 3000)
    odds = aff * cat.sequence[last]
    some = np.flatnonzero(last < cat.n_categories)
    odds[some, last[some]] = -1.0
    want = aff[np.arange(3000), odds.argmax(axis=1)]
    np.testing.assert_array_equal(cat.next_affinity(aff, last), want)
    np.testing.assert_array_equal(cat.next_affinity(np.asfortranarray(aff), last), want)


def test_pairs_are_the_grid_bit_for_bit(world):
    """The truth of one action per customer is the grid's entry for it, every field exactly."""
    rows = np.arange(world.n_present)
    c = world.customers_for_response(rows)
    actions = np.random.default_rng(1).integers(0, CATALOG.n_actions, rows.size)
    actions[::11] = 0
    up = world.mods.channel_up[world.today]
    pairs = response.truth(c, actions, CATALOG, world.params.response, up)
    grid = response.truth(c, np.arange(CATALOG.n_actions), CATALOG, world.params.response, up,
                          grid=True)
    for name, field in vars(pairs).items():
        np.testing.assert_array_equal(field, getattr(grid, name)[rows, actions], err_msg=name)


def offer_grid_fields(t, grid, rp, part, m, **kwargs):
    """`response.offer_grids` as (m, n_actions - 1) arrays per field (None if not worked out)."""
    per_offer = int(np.prod(grid.shape[1:]))
    truths = list(response.offer_grids(t, grid, rp, part, **kwargs))
    assert len(truths) == grid.shape[0]

    def field(name):
        if getattr(truths[0], name) is None:
            return None
        return np.concatenate([np.broadcast_to(getattr(tr, name), (*grid.shape[1:], m))
                               .reshape(per_offer, m) for tr in truths]).T
    return {name: field(name) for name in vars(truths[0])}


@pytest.mark.parametrize(("offers", "channels"), [
    (None, None), (("win_back", "discount_30", "cart_reminder"), ("push", "email")),
    (("discount_20",), ("sms",))])
def test_offer_grids_are_the_grid_bit_for_bit(world, offers, channels):
    """Worked out along the catalog's axes, one offer at a time, every field is the grid's.

    For a block of customers, with fatigue, sleeping dogs and an outage of one channel, for
    the whole catalog, a restricted one in an order of its own and one of a single offer and
    channel; without the unsubscribes the rest is the same.
    """
    catalog = CATALOG if offers is None else build_catalog(offers, channels)
    rows = np.arange(world.n_present)
    c = world.customers_for_response(rows)
    c.fatigue = c.fatigue + np.float32(0.7) * (rows % 3 == 0)[:, None]
    c.responsiveness = np.where(rows % 5 == 0, -c.responsiveness, c.responsiveness)
    rp = world.params.response
    up = np.array([1.0, 0.0, 1.0, 1.0])
    grid = response.truth(c, np.arange(catalog.n_actions), catalog, rp, up, grid=True)
    part, m = slice(7, 1007), 1000
    got = offer_grid_fields(response.tables(c, rp, up), catalog.grid(), rp, part, m)
    for name, field in got.items():
        np.testing.assert_array_equal(field, getattr(grid, name)[part, 1:], err_msg=name)
    fewer = offer_grid_fields(response.tables(c, rp, up), catalog.grid(), rp, part, m,
                              unsubscribe=False)
    assert fewer.pop("p_unsubscribe") is None
    for name, field in fewer.items():
        np.testing.assert_array_equal(field, got[name], err_msg=name)
