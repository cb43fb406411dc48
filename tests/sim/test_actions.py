"""The action catalog: combinations, codes, costs' discount shares and features."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nbasim.sim.actions import OFFER_FEATURES, OFFERS, SLOTS, build_catalog
from nbasim.sim.params import CHANNELS, WORDINGS, ParameterError


def test_full_catalog_has_every_combination_plus_no_action():
    """9 offers x 4 channels x 3 slots x 4 wordings = 432 actions, plus action 0."""
    cat = build_catalog()
    assert cat.n_actions == 9 * 4 * 3 * 4 + 1 == 433
    combos = set(zip(cat.offer[1:], cat.channel[1:], cat.slot[1:], cat.wording[1:],
                     strict=True))
    assert len(combos) == 432
    assert (cat.offer[0], cat.channel[0], cat.slot[0], cat.wording[0]) == (0, -1, -1, -1)
    assert (cat.offer[1:] > 0).all()


def test_features_are_offer_attributes_and_one_hots():
    """Each sent action has one channel, one slot and one wording; no action has none."""
    cat = build_catalog()
    names = list(cat.feature_names)
    block = lambda prefix: cat.features[:, [names.index(f"{prefix}_{x}") for x in {  # noqa: E731
        "channel": CHANNELS, "slot": SLOTS, "wording": WORDINGS}[prefix]]]
    for prefix in ("channel", "slot", "wording"):
        np.testing.assert_array_equal(block(prefix)[1:].sum(axis=1), 1.0)
        assert block(prefix)[0].sum() == 0
    assert not cat.features[0].any()
    np.testing.assert_allclose(cat.features[:, names.index("discount_depth")], cat.discount)
    for j in range(1, 7):  # one flag per non-discount offer
        assert cat.features[:, j].sum() == 48  # 4 channels x 3 slots x 4 wordings


def test_discount_shares():
    """Discount offers give 10/20/30 %, win-back 15 %, the rest nothing."""
    cat = build_catalog()
    by_offer = {OFFERS[o]: d for o, d in zip(cat.offer, cat.discount, strict=True)}
    assert by_offer == {"none": 0.0, "discount_10": 0.1, "discount_20": 0.2, "discount_30": 0.3,
                        "free_delivery": 0.0, "cross_sell": 0.0, "loyalty_x2": 0.0,
                        "second_store_bonus": 0.0, "win_back": 0.15, "cart_reminder": 0.0}


def test_restricted_catalog_and_descriptions():
    """A scenario may restrict offers and channels; actions read as sentences."""
    cat = build_catalog(offers=("discount_20", "win_back"), channels=("email", "sms"))
    assert cat.n_actions == 2 * 2 * 3 * 4 + 1
    assert cat.describe(0) == "no action"
    assert cat.describe(1) == "discount_20 by email, morning, rational"
    assert cat.describe(cat.n_actions - 1) == "win_back by sms, evening, social_proof"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"offers": ("discount_50",)}, "offers = \\['discount_50'\\]"),
    ({"offers": ("none",)}, "offers"),
    ({"offers": ()}, "offers"),
    ({"channels": ("fax",)}, "channels = \\['fax'\\].*email, sms, push, phone"),
    ({"channels": ("sms", "sms")}, "no repeats"),
])
def test_bad_catalog_is_rejected(kwargs, match):
    """Unknown, empty or repeated offers and channels raise a named error."""
    with pytest.raises(ParameterError, match=match):
        build_catalog(**kwargs)


@pytest.mark.parametrize("action", [-1, 433])
def test_describe_rejects_out_of_range(action):
    """An action index outside the catalog is named with the allowed range."""
    with pytest.raises(ParameterError, match=f"action {action}: allowed 0 to 432"):
        build_catalog().describe(action)


def test_catalog_grid_is_the_product_of_its_axes():
    """Action 1 + ((i x n_channels + j) x n_slots + k) x n_wordings + l has the axes' codes."""
    cat = build_catalog(("win_back", "discount_10", "cross_sell"), ("phone", "email"))
    g = cat.grid()
    assert g.shape == (3, 2, 3, 4)
    np.testing.assert_array_equal(g.offer, [OFFERS.index(o) for o in ("win_back", "discount_10",
                                                                      "cross_sell")])
    np.testing.assert_array_equal(g.channel, [CHANNELS.index("phone"), CHANNELS.index("email")])
    np.testing.assert_array_equal(g.slot, [0, 1, 2])
    np.testing.assert_array_equal(g.wording, [0, 1, 2, 3])
    np.testing.assert_array_equal(g.discount, [0.15, 0.10, 0.0])
    for i, j, k, m in [(0, 0, 0, 0), (1, 1, 2, 3), (2, 0, 1, 2)]:
        a = 1 + ((i * 2 + j) * 3 + k) * 4 + m  # e.g. (1, 1, 2, 3): 1 + 23 x 4 + 3 = 96
        assert (cat.offer[a], cat.channel[a], cat.slot[a], cat.wording[a], cat.discount[a]) == (
            g.offer[i], g.channel[j], g.slot[k], g.wording[m], g.discount[i])
    one = build_catalog(("discount_20",), ("sms",)).grid()  # one offer, one channel: 12 actions
    assert one.shape == (1, 1, 3, 4) and one.discount.tolist() == [0.2]


@pytest.mark.parametrize("change", ["swap_slots", "drop_action", "discount_per_action"])
def test_a_catalog_out_of_product_order_has_no_grid(change):
    """A hand-made catalog that is not the product in build_catalog's order is refused."""
    cat = build_catalog()
    if change == "swap_slots":
        slot = cat.slot.copy()
        slot[[1, 5]] = slot[[5, 1]]
        cat = dataclasses.replace(cat, slot=slot)
    elif change == "drop_action":
        keep = np.arange(cat.n_actions) != 7
        cat = dataclasses.replace(cat, **{k: getattr(cat, k)[keep] for k in (
            "offer", "channel", "slot", "wording", "discount", "features")})
    else:
        discount = cat.discount.copy()
        discount[2] = 0.5
        cat = dataclasses.replace(cat, discount=discount)
    with pytest.raises(ParameterError, match="build_catalog's order"):
        cat.grid()


def test_pos_is_an_opt_in_channel():
    """`pos` adds till actions and a `channel_pos` column; a catalog without it is unchanged."""
    default = build_catalog()
    assert "channel_pos" not in default.feature_names and not default.pos.any()
    cat = build_catalog(offers=("discount_20", "cross_sell"), channels=("email", "pos"))
    # 2 offers x 2 channels x 3 slots x 4 wordings = 48 actions, plus action 0; half at the till.
    assert cat.n_actions == 49 and cat.pos.sum() == 24
    assert cat.feature_names[len(OFFER_FEATURES):len(OFFER_FEATURES) + 5] == (
        "channel_email", "channel_sms", "channel_push", "channel_phone", "channel_pos")
    pos_col = cat.feature_names.index("channel_pos")
    np.testing.assert_array_equal(cat.features[:, pos_col], cat.pos)
    assert set(np.array(cat.table()["channel"])[cat.pos]) == {"pos"}
    assert cat.describe(int(np.flatnonzero(cat.pos)[0])) == "discount_20 at the till, rational"
    np.testing.assert_array_equal(cat.channels_sent, [0])  # the message channels only
    # the message actions keep their features, the pos column aside
    plain = build_catalog(offers=("discount_20", "cross_sell"), channels=("email",))
    keep = [j for j, n in enumerate(cat.feature_names) if n != "channel_pos"]
    np.testing.assert_array_equal(cat.features[~cat.pos][:, keep], plain.features)
