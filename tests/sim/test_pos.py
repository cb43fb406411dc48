"""Point-of-sale offers (`sim.pos`): on the basket at the till, no message, truth and rules."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import constraints, pos
from nbasim.sim.campaign import Campaign
from nbasim.sim.moment_queue import MomentQueue
from nbasim.sim.params import CHANNELS, OFFERS, ResponseParams
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World

STRONG = tuple([0.0] + [5.0] * (len(OFFERS) - 1))
"""Offer effects so strong that tau clips to 1 (or -1 for sleeping dogs): outcomes are sure."""


def till(w: World, outcome) -> tuple[np.ndarray, int]:
    """The customers of a day's busiest in-store checkout hour, and that hour."""
    tx = outcome.transactions
    store = tx.store < w.city.n_stores
    hours, counts = np.unique(tx.hour[store], return_counts=True)
    hour = int(hours[counts.argmax()])
    return np.sort(tx.customer[store & (tx.hour == hour)]), hour


def tills(w: World, outcome):
    """Each in-store checkout hour of a day: (customers, hour), in hour order."""
    tx = outcome.transactions
    store = tx.store < w.city.n_stores
    for hour in np.unique(tx.hour[store]):
        yield np.sort(tx.customer[store & (tx.hour == hour)]), int(hour)


def first_day(seed: int = 3, **kw):
    """A pos world before day 0, its campaign, and day 0's busiest checkout."""
    effect = kw.pop("effect", STRONG)
    rp = ResponseParams() if effect is None else ResponseParams(offer_effect=effect)
    w = World(get_scenario("retail_chain", {"channels": [*CHANNELS, "pos"], "response": rp,
                                            **kw}), kw.pop("n", 4000), 10, seed)
    c = Campaign(w)
    rows, hour = till(w, w.step())
    return w, c, rows, hour


def pos_action(c: Campaign, offer: str, target: str = "none") -> int:
    """The first pos action of `offer` (naming `target`)."""
    t = c.actions.table()
    return int(np.flatnonzero(c.actions.pos & (np.array(t["offer"]) == offer)
                              & (np.array(t["target"]) == target))[0])


def test_a_pos_offer_changes_the_basket_it_is_shown_on():
    """Same seed, with and without one offer: only the treated customer's basket differs.

    The treated customer (responsive, so tau = 1) takes a line of their basket's category at
    the till: their spend rises by the line's drawn amount and their purchase count does not;
    every other customer's columns are bit for bit the same.
    """
    (wa, ca, rows, hour), (wb, cb, _, _) = first_day(), first_day()
    j = int(np.flatnonzero(wa.pop.responsiveness[rows] > 0.3)[0])
    row = rows[j]
    action = pos_action(ca, "discount_20")
    dec = MomentQueue(ca, rows, checkout=True, hour=hour).decide(j, action)
    assert dec.sent and dec.realized.incremental and dec.truth.effect == 1.0
    queue = MomentQueue(ca, rows, checkout=True, hour=hour)
    queue.decide(j, action)
    took = queue.flush()
    MomentQueue(cb, rows, checkout=True, hour=hour).flush()
    np.testing.assert_array_equal(took, [row])
    (line,) = wa.lines[0]
    assert line.customer.tolist() == [row] and line.hour.tolist() == [hour]
    assert line.category[0] == wa.pop.last_category[row]  # more of the basket's own
    assert line.store[0] == wa.pop.last_store[row]
    assert line.margin[0] == pytest.approx(line.amount[0] * wa.catalog.margin[line.category[0]])
    assert wb.lines == {}
    gained = wa.pop.monetary.astype(np.float64) - wb.pop.monetary
    assert gained[row] == pytest.approx(line.amount[0], rel=1e-6)
    others = np.arange(wa.pop.n_customers) != row
    for col in ("monetary", "frequency", "visits_primary", "visits_other", "last_purchase_day",
                "category_days"):
        np.testing.assert_array_equal(getattr(wa.pop, col)[others], getattr(wb.pop, col)[others])
    assert wa.pop.frequency[row] == wb.pop.frequency[row]  # one visit
    # the discount is on the line only, at its expected spend (`realize` values it so)
    assert dec.realized.discount_cost == pytest.approx(0.2 * dec.truth.basket)
    assert dec.realized.reward == pytest.approx(dec.truth.basket * (dec.truth.margin_rate - 0.2))


def test_a_targeted_cross_sell_at_the_till_adds_its_category():
    """A cross-sell of a category shown at the till adds a line of that category."""
    w, c, rows, hour = first_day(cross_sell_targets=("home",))
    action = pos_action(c, "cross_sell", "home")
    home = [k.name for k in w.params.categories].index("home")
    queue = MomentQueue(c, rows, checkout=True, hour=hour)
    for j in range(rows.size):
        queue.decide(j, action)
    took = queue.flush()
    (line,) = w.lines[0]
    assert took.size > 0 and (line.category == home).all()
    assert (w.pop.category_days[took, home] == 0).all()


def test_pos_needs_no_consent_and_is_no_contact():
    """A pos offer reaches a customer who consents to nothing, and leaves no message trace."""
    w, c, rows, hour = first_day()
    w.pop.consent[rows] = 0
    cols = ("consent", "fatigue", "contact_days", "last_contact_day", "sends", "opens", "clicks")
    before = {k: getattr(w.pop, k)[rows].copy() for k in cols}
    action = pos_action(c, "discount_10")
    queue = MomentQueue(c, rows, checkout=True, hour=hour)
    sent = [queue.decide(j, action).sent for j in range(rows.size)]
    queue.flush()
    assert all(sent)
    for k in cols:
        np.testing.assert_array_equal(getattr(w.pop, k)[rows], before[k], err_msg=k)
    assert w.max_fatigue == 0.0
    # a message to them is refused (no consent), as ever
    email = int(np.flatnonzero(c.actions.channel == 0)[0])
    assert MomentQueue(c, rows).decide(0, email).reason == constraints.NO_CONSENT


def test_pos_is_never_shown_outside_a_checkout():
    """Elsewhere (another moment, a CampaignDay batch) pos stops as `not_at_checkout`."""
    w, c, rows, hour = first_day()
    action = pos_action(c, "discount_10")
    queue = MomentQueue(c, rows, checkout=False, hour=hour)
    assert {queue.decide(j, action).reason for j in range(rows.size)} == {
        constraints.NOT_AT_CHECKOUT}
    assert queue.flush().size == 0 and w.lines == {}
    dec = c.act(rows, np.full(rows.size, action))
    assert not dec.sent.any() and (dec.reason == constraints.NOT_AT_CHECKOUT).all()
    # the batch oracle never picks one; the truth grid holds 0 for them outside a checkout
    assert not c.actions.pos[c.oracle(rows)].any()
    grid = c.truth_grids(rows)
    assert (grid["margins"][:, c.actions.pos] == 0).all()
    assert (grid["values"][:, c.actions.pos] == 0).all()
    with pytest.raises(Exception, match="pos action"):
        c.act(rows[:2], np.array([[action, 0], [0, 0]]))


def test_holdout_never_sees_a_pos_offer():
    """The holdout comes first, at the till too."""
    w = World(get_scenario("retail_chain", {"channels": [*CHANNELS, "pos"]}), 4000, 10, 3)
    c = Campaign(w, holdout_fraction=0.5)
    rows, hour = till(w, w.step())
    queue = MomentQueue(c, rows, checkout=True, hour=hour)
    action = pos_action(c, "discount_10")
    reasons = np.array([queue.decide(j, action).reason for j in range(rows.size)])
    np.testing.assert_array_equal(reasons == constraints.HOLDOUT, c.holdout[rows])


def test_truth_grid_at_a_checkout_matches_the_decisions():
    """At a checkout, the grid's pos columns are the truth each decision reports."""
    w, c, rows, hour = first_day(effect=None)
    grid = c.truth_grids(rows, checkout=True)
    cols = np.flatnonzero(c.actions.pos)
    queue = MomentQueue(c, rows, checkout=True, hour=hour)
    for j in range(min(rows.size, 20)):
        a = int(cols[j % cols.size])
        dec = queue.decide(j, a)
        assert dec.truth.incremental_margin == pytest.approx(grid["margins"][j, a], rel=1e-12)
    # the truth's pieces: a B_l (m_l - d) - h p0 B m, by hand for one entry
    lines = pos.Lines.of(w, rows, c.actions)
    a = int(cols[0])  # discount_10, rational wording
    v, d = c.actions.variant[a], c.actions.discount[a]
    tau = np.clip(lines.effect[:, v] * lines.word[:, 0] - w.params.response.pos_annoyance, -1, 1)
    want = (np.maximum(tau, 0) * lines.basket[:, v] * (lines.margin_rate[:, v] - d)
            - np.maximum(-tau, 0) * lines.p_organic * lines.avg_basket * lines.avg_margin)
    np.testing.assert_allclose(grid["margins"][:, a], want, rtol=1e-10, atol=1e-12)


def test_lines_spend_what_the_truth_expects():
    """Monte Carlo: the lines the world draws average the expected line spend of the truth.

    With tau = 1 every responsive customer at the checkouts of 8 days takes a line;
    a line's spend is Gamma-Gamma (coefficient of variation 1 / sqrt(6.25) = 0.4 given the
    customer), so over about 500 lines the relative error of the sum is about 2 %; the
    tolerance is 8 %.
    """
    w = World(get_scenario("retail_chain", {"channels": [*CHANNELS, "pos"],
                                            "response": ResponseParams(offer_effect=STRONG)}),
              20_000, 9, 5)
    c = Campaign(w)
    action = pos_action(c, "discount_10")
    want, got = 0.0, 0.0
    while w.day < 8:
        for rows, hour in tills(w, w.step()):
            queue = MomentQueue(c, rows, checkout=True, hour=hour)
            for j in range(rows.size):
                dec = queue.decide(j, action)
                if dec.realized.incremental:
                    want += dec.truth.basket * dec.truth.margin_rate
            queue.flush()
        got += sum(t.margin.sum() for t in w.lines.get(w.today, []))
    assert want > 0 and sum(t.amount.size for v in w.lines.values() for t in v) > 300
    assert got == pytest.approx(want, rel=0.08)


def test_money_is_conserved_with_lines():
    """Spend rises by the day's purchases plus the lines added at the till, per customer."""
    w = World(get_scenario("retail_chain", {"channels": [*CHANNELS, "pos"],
                                            "response": ResponseParams(offer_effect=STRONG)}),
              4000, 8, 2)
    c = Campaign(w)
    start = w.pop.monetary.astype(np.float64).copy(), w.pop.frequency.astype(np.int64).copy()
    action = pos_action(c, "discount_20")
    rows_all, amounts, bought = [], [], []
    while w.day < w.days:
        out = w.step()
        rows_all.append(out.transactions.customer)
        amounts.append(out.transactions.amount)
        bought.append(out.transactions.customer)
        for rows, hour in tills(w, out):
            queue = MomentQueue(c, rows, checkout=True, hour=hour)
            for j in range(rows.size):
                queue.decide(j, action)
            queue.flush()
    for lines in w.lines.values():
        rows_all += [t.customer for t in lines]
        amounts += [t.amount for t in lines]
    n = w.pop.n_customers
    spent = np.bincount(np.concatenate(rows_all), np.concatenate(amounts), minlength=n)
    gained = w.pop.monetary.astype(np.float64) - start[0]
    assert len(w.lines) > 3
    np.testing.assert_allclose(gained, spent, rtol=1e-5, atol=1e-2)
    np.testing.assert_array_equal(w.pop.frequency - start[1],
                                  np.bincount(np.concatenate(bought), minlength=n))


def test_a_pos_decision_carries_the_value_its_truth_grid_holds():
    """A pos offer decided at the till carries its true incremental value.

    The value is the truth grid's (what the long-term oracle reads), customer by customer, as
    worked out at the moment's start.
    """
    w, c, rows, hour = first_day(effect=None)
    actions = np.flatnonzero(c.actions.pos)[:: 7]
    grid = c.truth_grids(rows, ("values",), checkout=True)["values"]
    queue = MomentQueue(c, rows, checkout=True, hour=hour)
    for j in range(rows.size):
        a = int(actions[j % actions.size])
        dec = queue.decide(j, a)
        assert dec.sent
        assert dec.incremental_value == pytest.approx(grid[j, a], rel=1e-12, abs=1e-12)
    assert np.ptp(grid[:, actions]) > 0  # the values differ between customers and offers
