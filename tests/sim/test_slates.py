"""Slates: the rules, the cascade's truth against its draws, and one slot redeemed at most."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import response, slates
from nbasim.sim.campaign import Campaign
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World


def make(n=4000, days=10, seed=3, continuation=slates.CONTINUATION,
         scenario="dry_cleaning_chain"):
    """A world stepped once, with a campaign on it."""
    w = World(get_scenario(scenario), n, days, seed)
    c = Campaign(w, None, 0.1, continuation)
    w.step()
    return w, c


def random_slates(c, rows, k, seed=0):
    """Slates of k distinct random actions for rows (slot 1 never no action)."""
    rng = np.random.default_rng(seed)
    keys = rng.random((rows.size, c.actions.n_actions - 1))
    return 1 + np.argsort(keys, axis=1)[:, :k]


@pytest.mark.parametrize(("slate", "match"), [
    ([[3, 3]], "action 3 shown twice"),
    ([[0, 5]], "slot 1 is empty .* allowed offers first"),
    ([[4, 0, 6]], "slot 2 is empty"),
    ([[4, -1]], "action -1: allowed 0 to"),
    ([[4, 10_000]], "action 10000: allowed 0 to"),
    ([[1.0, 2.0]], "dtype float64: must be integers"),
    (np.ones((1, slates.MAX_SLATE + 1), dtype=int), "1 <= K <= 10"),
])
def test_bad_slates_get_a_named_error(slate, match):
    """Each broken slate rule is named, with what is allowed, before the world changes."""
    w, c = make(n=300)
    rows = np.arange(len(slate))
    with pytest.raises(slates.SlateError, match=match):
        c.act(rows, np.asarray(slate))


@pytest.mark.parametrize("scenario", ["dry_cleaning_chain", "dry_cleaning_seeds"])
def test_one_slot_slate_is_the_single_message_bit_for_bit(scenario):
    """A slate of one offer (and empty slots) is that message alone: same truth, same draws.

    `dry_cleaning_seeds` names targets: a targeted cross-sell's purchase is valued at its
    category in the truth and the reward, in a slate as in a message.
    """
    w1, c1 = make(scenario=scenario)
    w2, c2 = make(scenario=scenario)
    rows = np.arange(w1.n_present)
    acts = random_slates(c1, rows, 1)[:, 0]
    single = c1.act(rows, acts)
    padded = np.zeros((rows.size, 3), dtype=np.int64)
    padded[:, 0] = acts
    slate = c2.act(rows, padded)
    for name in ("p_treated", "p_open", "p_unsubscribe", "effect"):
        np.testing.assert_array_equal(getattr(single.truth, name), getattr(slate.truth, name))
    for name in ("cost", "incremental_margin"):  # the same sums, in another order
        np.testing.assert_allclose(getattr(single.truth, name), getattr(slate.truth, name),
                                   rtol=1e-12, atol=1e-12)
    for name in ("opened", "converted", "incremental", "discount_cost", "reward", "churned",
                 "unsubscribed", "blocked"):
        np.testing.assert_array_equal(getattr(single.realized, name),
                                      getattr(slate.realized, name))
    np.testing.assert_allclose(single.incremental_value, slate.incremental_value, rtol=1e-12,
                               atol=1e-12)
    # Every conversion of a one-offer slate redeems slot 1.
    np.testing.assert_array_equal(slate.slot >= 0, slate.realized.converted)
    assert (slate.slot[slate.realized.converted] == 0).all()


def test_at_most_one_slot_redeemed_and_discount_is_its_offer():
    """One redeemed slot per conversion, none otherwise; the discount paid is that slot's."""
    w, c = make()
    rows = np.arange(w.n_present)
    slate = random_slates(c, rows, 5)
    dec = c.act(rows, slate)
    real, shown = dec.realized, slate[dec.sent]
    # `slot` is one index per message: at most one redemption, and exactly one per conversion.
    np.testing.assert_array_equal(dec.slot >= 0, real.converted)
    assert dec.slot.max() < 5
    redeemed = shown[np.arange(shown.shape[0]), np.maximum(dec.slot, 0)]
    basket = dec.truth.basket
    np.testing.assert_allclose(real.discount_cost,
                               real.converted * c.actions.discount[redeemed] * basket)
    assert (np.bincount(dec.slot[dec.slot >= 0], minlength=5)[1:] > 0).any()


def test_cascade_by_hand():
    """Two slots, gamma 0.5: R = (1, (1 - c1) x 0.5); C = c1 + R2 c2, p1_opened by hand."""
    w, c = make(continuation=0.5)
    rows = np.arange(200)
    slate = random_slates(c, rows, 2, seed=4)
    cust = w.customers_for_response(rows)
    ch = np.maximum(c.actions.channel[slate[:, 0]], 0).astype(np.int64)
    t = response.tables(cust, w.params.response, w.mods.channel_up[w.today], ch)
    cas = slates.cascade(cust, t, slate, c.actions, w.params.response, 0.5)
    c1, c2 = cas.catch[:, 0], cas.catch[:, 1]
    b1, b2 = cas.put_off[:, 0], cas.put_off[:, 1]
    np.testing.assert_allclose(cas.read[:, 1], (1 - c1 - b1) * 0.5)
    p0 = cas.truth.p_organic
    big_c, big_b = c1 + cas.read[:, 1] * c2, b1 + cas.read[:, 1] * b2
    opened = p0 + (1 - p0) * big_c - p0 * big_b
    np.testing.assert_allclose(cas.truth.p_treated,
                               p0 + cas.truth.p_open * (opened - p0))
    # Never both a catch and a put-off for one customer (the effect's sign is the customer's).
    assert not ((big_c > 0) & (big_b > 0)).any()


def test_draws_match_the_truth_over_seeds():
    """Conversions and redeemed discount drawn over many customers match the cascade's truth.

    Tolerance: 4 standard errors of the summed Bernoulli draws.
    """
    for seed in (0, 1, 2):
        w, c = make(n=20_000, seed=seed)
        rows = np.arange(w.n_present)
        slate = random_slates(c, rows, 4, seed=seed)
        dec = c.act(rows, slate)
        t, real = dec.truth, dec.realized
        p_conv = t.p_open * (t.p_organic + (t.p_treated - t.p_organic) / np.maximum(
            t.p_open, 1e-12))
        var = (p_conv * (1 - p_conv)).sum()
        assert abs(real.converted.sum() - p_conv.sum()) < 4 * np.sqrt(var)
        cost = real.discount_cost + real.price
        assert abs(cost.sum() - t.cost.sum()) < 4 * np.sqrt((t.basket ** 2).sum() * 0.09)


def test_continuation_out_of_range_is_named():
    """The continuation probability must lie in (0, 1]."""
    w = World(get_scenario("dry_cleaning_chain"), 100, 5, 0)
    with pytest.raises(ValueError, match="slate_continuation = 0.0: allowed 0 < x <= 1"):
        Campaign(w, None, 0.1, 0.0)


def test_slate_draws_leave_other_customers_alone():
    """Common random numbers: changing one customer's slate changes no one else's outcome."""
    w1, c1 = make()
    w2, c2 = make()
    rows = np.arange(w1.n_present)
    slate = random_slates(c1, rows, 3)
    other = slate.copy()
    other[0] = slate[1]
    a, b = c1.act(rows, slate), c2.act(rows, other)
    np.testing.assert_array_equal(a.realized.converted[1:], b.realized.converted[1:])
    np.testing.assert_array_equal(a.slot[1:], b.slot[1:])
