"""The long-term truth: margin net of the future value an action moves, as the world draws it."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import long_term, response
from nbasim.sim.actions import OFFERS
from nbasim.sim.campaign import LTV_HORIZON_DAYS, Campaign
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World


def make(n=2000, days=20, seed=3, **overrides):
    """A world stepped once, with a campaign on it."""
    w = World(get_scenario("dry_cleaning_chain", overrides), n, days, seed)
    c = Campaign(w)
    w.step()
    return w, c


def action(c, offer, channel, slot, wording):
    """The catalog row of one (offer, channel, slot, wording)."""
    cat = c.actions
    return int(np.flatnonzero((cat.offer == OFFERS.index(offer)) & (cat.channel == channel)
                              & (cat.slot == slot) & (cat.wording == wording))[0])


def test_sleeping_dog_value_is_margin_less_churn_times_value():
    """A planted sleeping dog: the value is the margin less P(churn) x the expected value."""
    # Without fatigue's churn weight the fatigue term is 0; a sleeping dog (responsiveness < 0)
    # has no profitable message on any channel, so its consents are worth 0 too: what is left
    # is the churn a message causes.
    w, c = make(churn_fatigue_weight=0.0)
    pop = w.pop
    here = np.arange(w.n_present)
    ok = here[pop.alive[here] & (pop.consent[here] & 1 > 0)]
    r = int(ok[np.argmax(pop.purchase_rate[ok])])
    assert r == 1720
    pop.responsiveness[r] = -1.0
    a = action(c, "discount_20", 0, 2, int(pop.wording[r]))  # e-mail, evening, their wording
    t = w.truth(np.array([r]), np.array([a]), c.actions)
    margins, values = c.incremental_values(np.array([r]))
    # P(open) = 0.160642, tau = -0.0790107, so P(churn) = 0.160642 x 0.05 x 0.0790107
    # = 0.000634615; V = rate 0.194200 x 365 days x basket 5.72295 x margin rate 0.495423
    # = 200.974; the value is the margin -0.156826 less 0.000634615 x 200.974 = 0.127541:
    # -0.284367.
    assert t.p_open[0] == pytest.approx(0.160642, rel=1e-5)
    assert t.effect[0] == pytest.approx(-0.0790107, rel=1e-5)
    assert c.expected_value(np.array([r]))[0] == pytest.approx(200.974, rel=1e-5)
    assert margins[0, a] == pytest.approx(-0.156826, rel=1e-5)
    assert values[0, a] == pytest.approx(-0.156826 - 0.000634615 * 200.974, rel=1e-5)
    assert values[0, a] == pytest.approx(-0.284367, rel=1e-5)
    assert values[0, 0] == 0.0 and margins[0, 0] == 0.0


def test_fatigue_churn_by_hand():
    """The churn one unit of fatigue adds, summed by hand over its decay."""
    # With recency at the cap, no shocks and half-life 1 day (decay 1/2): the factor is the
    # cap 4 every day, and sum 0.5^k = 2, so one unit of fatigue adds churn_base x weight x
    # 4 x 2 = 0.0002 x 0.5 x 8 = 0.0008.
    p = get_scenario("dry_cleaning_chain", {"fatigue_half_life_days": 1.0})
    got = long_term.fatigue_churn(np.array([10_000]), np.ones(5), p)
    assert got[0] == pytest.approx(0.0008, rel=1e-5)
    # At recency 0 the factor starts at 1 + 1/90 on the first day and grows 1/90 a day:
    # sum 0.5^k (1 + (1 + k)/90) = 2 + (2 + 2)/90, since sum k 0.5^k = 2.
    got = long_term.fatigue_churn(np.array([0]), np.ones(5), p)
    assert got[0] == pytest.approx(0.0002 * 0.5 * (2 + 4 / 90), rel=1e-5)


def test_consent_value_is_the_best_fitting_message_times_the_messages():
    """A consent is worth its channel's best-fitting message times the messages it carries."""
    w, c = make()
    rows = np.arange(w.n_present)
    v = c.customer_values(rows)
    margins, _ = c.incremental_values(rows)
    n = long_term.consent_messages(w.params)
    assert n == pytest.approx(LTV_HORIZON_DAYS / 7.0)
    cu = w.customers_for_response(rows)
    gap = np.abs(cu.send_hour[:, None].astype(float) - np.array([8, 12, 19]))
    slot = np.minimum(gap, 24 - gap).argmin(axis=1)
    for i in range(0, rows.size, 97):
        for ch in range(4):
            best = max(margins[i, action(c, o, ch, slot[i], int(cu.wording[i]))]
                       for o in OFFERS[1:])
            assert v.consent_value[i, ch] == pytest.approx(n * max(best, 0.0), abs=1e-9)
    assert (v.consent_value >= 0).all() and v.consent_value.max() > 0


@pytest.mark.parametrize("scenario", ["dry_cleaning_chain", "subscription"])
def test_consent_values_are_exactly_the_best_message_of_every_offer(scenario):
    """A consent is worth exactly its channel's best message over every offer, for both tables.

    The value of one channel per customer is the every-channel value, itself the best margin
    over every offer in the best-fitting slot and wording (not only over the candidates that
    `consent_values` works out), bit for bit.
    """
    w = World(get_scenario(scenario), 3000, 20, 5)
    c = Campaign(w)
    w.step()
    pop, cat = w.pop, c.actions
    rows = np.arange(w.n_present)
    pop.fatigue[rows[::3]] = 1.5
    pop.responsiveness[rows[::7]] *= -1
    every = c.customer_values(rows).consent_value
    channel = np.random.default_rng(0).integers(0, 4, rows.size)
    np.testing.assert_array_equal(c.customer_values(rows, channel=channel).consent_value,
                                  every[rows, channel])
    margins, _ = c.incremental_values(rows)
    cu = w.customers_for_response(rows)
    gap = np.abs(cu.send_hour[:, None].astype(float) - np.array([8, 12, 19]))
    slot = np.minimum(gap, 24 - gap).argmin(axis=1)
    n = long_term.consent_messages(w.params)
    for ch in range(4):
        fits = ((cat.channel[None, :] == ch) & (cat.slot[None, :] == slot[:, None])
                & (cat.wording[None, :] == cu.wording[:, None]))
        best = np.where(fits, margins, -np.inf).max(axis=1)
        np.testing.assert_array_equal(every[:, ch], n * np.maximum(best, 0.0))


def realized_value(t, real, v, consent, u):
    """What one draw of the world makes of a message: margin and value moved.

    The customer converts in the window without the message when u[U_ORGANIC] < p0 (the draw
    `realize` uses for openers who are not moved), and with it as `realize` says for openers.
    """
    without = u[response.U_ORGANIC] < t.p_organic
    with_ = np.where(real.opened, real.converted, without)
    margin = (with_.astype(float) - without) * t.basket * t.margin_rate
    return (margin - real.discount_cost - real.price - real.churned * v.alive_value
            + real.incremental * v.dead_value - real.unsubscribed * consent
            - real.delivered * v.fatigue_cost)


@pytest.mark.parametrize("seed", [0, 1])
def test_realized_value_averages_to_the_truth(seed):
    """Margin plus value moved, as `realize` draws them, average to the analytic value."""
    # Planted: sleeping dogs, latent-dead customers sent a win-back, and the rest at random.
    w, c = make(n=3000, seed=seed)
    rng = np.random.default_rng(seed)
    pop, cat = w.pop, c.actions
    rows = np.arange(w.n_present)
    rows = rows[pop.consent[rows] > 0][:600]
    pop.responsiveness[rows[:150]] = -1.5
    pop.fatigue[rows[150:300]] = 2.0
    # A random action on a channel the customer consents to (the rules send no other); a
    # win-back for the latent-dead.
    ch = np.maximum(cat.channel, 0)
    ok = ((pop.consent[rows][:, None].astype(np.int64) >> ch) & 1).astype(bool)
    ok[:, 0] = False
    dead = ~pop.alive[rows]
    ok[dead] &= cat.offer == OFFERS.index("win_back")
    acts = np.where(ok, rng.random(ok.shape), -1.0).argmax(axis=1)
    cu = w.customers_for_response(rows)
    t = response.truth(cu, acts, cat, w.params.response)
    channel = np.maximum(cat.channel[acts], 0)
    v = c.customer_values(rows, cu, channel)
    want = long_term.incremental_value(t, v.consent_value, v.alive_value, v.dead_value,
                                       v.fatigue_cost, w.params.response)
    price = np.asarray(w.params.response.channel_price)[channel]
    # Per draw, the realized total of each planted group (sleeping dogs, fatigued customers,
    # latent-dead sent a win-back, the rest): a group sums enough pairs that its rare events
    # (churn, unsubscribes) happen in many draws, so the sample variance is a fair one.
    group = np.select([np.arange(rows.size) < 150, np.arange(rows.size) < 300, dead], [0, 1, 2],
                      3)
    draws = 3000
    sums = np.empty((draws, 4))
    for s in range(draws):
        u = np.random.default_rng([seed, s]).random((response.N_UNIFORMS, rows.size))
        real = response.realize(t, u, np.ones(rows.size, bool), cat.discount[acts], price,
                                w.params.response)
        sums[s] = np.bincount(group, realized_value(t, real, v, v.consent_value, u),
                              minlength=4)
    mean, se = sums.mean(axis=0), sums.std(axis=0, ddof=1) / np.sqrt(draws)
    want_group = np.bincount(group, want, minlength=4)
    assert (np.abs(mean - want_group) < 3 * se).all(), (mean, want_group, se)
    total = sums.sum(axis=1)
    assert abs(total.mean() - want.sum()) < 3 * total.std(ddof=1) / np.sqrt(draws)
    # The planted terms all moved something.
    dog = np.arange(rows.size) < 150
    assert (want[dog] <= t.incremental_margin[dog]).all()
    assert (want[dog & ~dead & (t.p_open > 0)] < t.incremental_margin[dog & ~dead
                                                                      & (t.p_open > 0)]).all()
    back = dead & (t.effect > 0) & (t.p_open > 0)
    assert back.any() and want[back].sum() > t.incremental_margin[back].sum()
