"""Offer effects from lifts: arm names, the blanket lift, and the root it is solved for."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import effects
from nbasim.sim.actions import SLOTS, WORDINGS, build_catalog
from nbasim.sim.params import CHANNELS, OFFERS
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World


@pytest.fixture(scope="module")
def base():
    """A small dry-cleaning base after day 0, its catalog and response parameters."""
    params = get_scenario("dry_cleaning_chain")
    world = World(params, 4000, 9, seed=2)
    world.step()
    return world.customers_for_response(np.arange(world.n_present)), build_catalog(), \
        params.response


@pytest.mark.parametrize(("text", "want"), [
    ("discount_20:email", effects.Arm(2, 0)),
    ("win_back:phone:evening", effects.Arm(8, 3, 2)),
    ("cross_sell:sms:*:urgency", effects.Arm(5, 1, None, 2)),
    ("none:email", None), ("discount_20", None), ("discount_20:fax", None),
    ("discount_20:email:night", None), ("a:b:c:d:e", None),
])
def test_parse_arm(text, want):
    """Arm names read as offer:channel[:slot[:wording]]; anything else is None."""
    assert effects.parse_arm(text) == want
    if want is not None:
        assert effects.parse_arm(want.label()) == want


def test_arm_actions_cover_slots_and_wordings():
    """An arm without slot and wording stands for all of them; a pinned one for one action."""
    catalog = build_catalog()
    rows = effects.arm_actions(catalog, effects.Arm(2, 1))
    assert rows.size == len(SLOTS) * len(WORDINGS)
    assert set(catalog.offer[rows]) == {2} and set(catalog.channel[rows]) == {1}
    assert effects.arm_actions(catalog, effects.Arm(2, 1, 0, 3)).size == 1
    with pytest.raises(ValueError, match="not in the action catalog"):
        effects.arm_actions(build_catalog(channels=CHANNELS[:1]), effects.Arm(2, 1))


def test_lift_is_zero_without_effect_and_rises_with_it(base):
    """At offer effect 0 the blanket lift is exactly 0; it grows with the effect."""
    customers, catalog, rp = base
    actions = effects.arm_actions(catalog, effects.Arm(OFFERS.index("discount_20"), 1))
    lifts = [effects.blanket_lift(customers, actions, catalog,
                                  effects.with_offer_effect(rp, 2, e)).lift
             for e in (0.0, 0.05, 0.2, 1.0)]
    assert lifts[0] == 0.0
    assert np.all(np.diff(lifts) > 0)


def test_fit_is_the_root(base):
    """The fitted effect reproduces the target lift to solver precision."""
    customers, catalog, rp = base
    actions = effects.arm_actions(catalog, effects.Arm(2, 0))
    fit = effects.fit_offer_effect(customers, catalog, rp, 2,
                                   [effects.Target(actions, 0.01, 0.002)])
    assert fit.method == "brentq"
    assert fit.lifts[0] == pytest.approx(0.01, abs=1e-9)
    again = effects.blanket_lift(customers, actions, catalog,
                                 effects.with_offer_effect(rp, 2, fit.offer_effect))
    assert again.lift == pytest.approx(0.01, abs=1e-9)
    assert rp.offer_effect[2] == 0.09  # the parameters handed in are left alone


def test_negative_lift_is_unreachable(base):
    """Offers help on average in the default world, so a measured harm maps to effect 0."""
    customers, catalog, rp = base
    actions = effects.arm_actions(catalog, effects.Arm(2, 0))
    fit = effects.fit_offer_effect(customers, catalog, rp, 2,
                                   [effects.Target(actions, -0.01, 0.002)])
    assert fit.method == "unreachable" and fit.offer_effect == 0.0
