"""Actions reaching the world: rules never broken, holdout untouched, uplift as promised."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import campaign, constraints, response
from nbasim.sim.actions import OFFERS
from nbasim.sim.campaign import Campaign
from nbasim.sim.constraints import ContactRules, contacts_last_7_days
from nbasim.sim.params import CHANNELS, ParameterError
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.shocks import parse_shock
from nbasim.sim.world import World


def make(n=6000, days=40, seed=1, scenario="dry_cleaning_chain", rules=None, holdout=0.1,
         shocks=(), **overrides):
    """A world stepped once, with a campaign on it."""
    w = World(get_scenario(scenario, overrides), n, days, seed,
              [parse_shock(s) for s in shocks])
    c = Campaign(w, rules, holdout)
    w.step()
    return w, c


def random_days(w, c, days, seed=0):
    """Send uniformly random actions to everyone present, `days` days in a row."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(days):
        rows = np.arange(w.n_present)
        before = (w.pop.consent[rows].copy(), w.pop.contact_days[rows].copy(),
                  w.pop.last_contact_day[rows].copy())
        dec = c.act(rows, rng.integers(0, c.actions.n_actions, rows.size))
        out.append((w.today, dec, before))
        w.step()
    return out


def test_rules_are_never_broken_by_a_random_policy():
    """Whatever a random policy asks: holdout, consent, 7-day limit, gap, capacity, budget hold."""
    rules = ContactRules(max_per_7_days=2, min_gap_days=2, budget=300.0, budget_period_days=7)
    w, c = make(rules=rules)
    spent_by_period: dict[int, float] = {}
    for day, dec, (consent, mask, last) in random_days(w, c, 20):
        rows, sent = dec.rows[dec.sent], dec.sent
        ch = c.actions.channel[dec.actions[sent]].astype(np.int64)
        assert not c.holdout[rows].any()
        assert (((consent[sent].astype(np.int64) >> ch) & 1) == 1).all()
        assert (contacts_last_7_days(mask[sent], last[sent], day) < 2).all()
        assert (day - last[sent].astype(np.int64) >= 2).all()
        assert (ch == constraints.PHONE).sum() <= c.capacity()
        period = day // 7
        spent = float(dec.realized.price.sum() + dec.realized.discount_cost.sum())
        spent_by_period[period] = spent_by_period.get(period, 0.0) + spent
        assert spent_by_period[period] <= 300.0 + 1e-6
        # Outcomes exist for what was sent only, and every message sent was paid for.
        assert dec.realized.delivered.shape == (int(sent.sum()),)
        assert (dec.realized.price > 0).all()
    assert sum(spent_by_period.values()) > 0
    # every rule actually stopped something
    codes = np.concatenate([dec.reason for _, dec, _ in random_days(w, c, 5, seed=1)])
    assert set(np.unique(codes)) >= {constraints.SENT, constraints.HOLDOUT,
                                     constraints.NO_CONSENT, constraints.MIN_GAP}


def test_holdout_is_never_contacted_and_has_the_asked_share():
    """About the asked share of customers is held out, and none of them is ever contacted."""
    w, c = make(n=20_000, holdout=0.2)
    assert abs(c.holdout.mean() - 0.2) < 0.01
    random_days(w, c, 10)
    held = np.flatnonzero(c.holdout[: w.n_present])
    assert (w.pop.contact_days[held] == 0).all() and (w.pop.fatigue[held] == 0).all()


def test_contacts_last_7_days_by_hand():
    """Contacts on days 5 and 3: on day 6 both count, on day 11 only day 5 does."""
    mask, last = np.array([0b101], dtype=np.uint32), np.array([5], dtype=np.int16)
    assert contacts_last_7_days(mask, last, 6).tolist() == [2]
    assert contacts_last_7_days(mask, last, 11).tolist() == [1]
    assert contacts_last_7_days(mask, last, 13).tolist() == [0]


def test_contacts_in_a_window_count_the_mask_bits_inside_it():
    """Against shifting the mask to today (bits beyond 32 days drop) and masking the window."""
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32)
    last = rng.integers(-40, 61, 5000).astype(np.int16)
    last[:50] = -(2**15)  # never contacted
    for window in (7, 30):
        shift = np.clip(60 - last.astype(np.int64), 0, 32)
        moved = np.where(shift >= 32, 0, mask.astype(np.uint64) << shift.astype(np.uint64))
        want = np.bitwise_count(moved & np.uint64(((1 << window) - 1) << 1))
        np.testing.assert_array_equal(contacts_last_7_days(mask, last, 60, window), want)


def test_day_uniforms_are_the_rows_of_the_days_draw():
    """Made from raw words, they are the rows of the response stream's float32 draw."""
    w, c = make(n=3000)
    rows = np.array([0, 5, 6, 1000, w.n_present - 1])
    want = w.day_rng("response", w.today).random((w.n_present, response.N_UNIFORMS),
                                                 dtype=np.float32)[rows]
    np.testing.assert_array_equal(c.day_uniforms(w.today, rows), want.T)


def test_blocks_of_messages_make_the_same_decisions(monkeypatch):
    """Worked out in blocks of 7 messages or all at once, a day's decisions are identical."""
    days = []
    for block in (7, campaign.BLOCK):
        monkeypatch.setattr(campaign, "BLOCK", block)
        w, c = make(seed=6)
        days.append([dec for _, dec, _ in random_days(w, c, 3, seed=2)])
    for a, b in zip(*days, strict=True):
        np.testing.assert_array_equal(a.incremental_value, b.incremental_value)
        for part in ("truth", "realized"):
            for name, field in vars(getattr(a, part)).items():
                np.testing.assert_array_equal(field, getattr(getattr(b, part), name))


def test_no_action_changes_nothing():
    """Sending action 0 to everyone leaves the world exactly as without a campaign."""
    a, c = make(seed=4)
    b, _ = make(seed=4)
    for _ in range(8):
        c.act(np.arange(a.n_present), np.zeros(a.n_present, dtype=np.int64))
        ta, tb = a.step().transactions, b.step().transactions
        np.testing.assert_array_equal(ta.customer, tb.customer)
        np.testing.assert_array_equal(ta.amount, tb.amount)
    assert (a.pop.contact_days == 0).all()


@pytest.mark.parametrize(("rows", "actions", "match"), [
    ([0, 1], [0], "must be 1-d arrays of one length"),
    ([0, 1], [0, 433], "action 433: allowed 0 to 432"),
    ([0, 1], [-1, 0], "action -1: allowed 0 to 432"),
    ([0, 10**7], [0, 0], "customer row 10000000: allowed 0 to"),
    ([3, 3], [1, 1], "rows repeat a customer"),
    ([0, 1], [0.5, 1.0], "actions dtype float64: must be integers"),
])
def test_bad_requests_are_named_before_the_world_changes(rows, actions, match):
    """Bad rows or actions raise a named error and change nothing."""
    w, c = make(n=2000)
    before = w.pop.contact_days.copy(), c.ledger.spent
    with pytest.raises(ParameterError, match=match):
        c.act(np.array(rows), np.array(actions))
    assert (w.pop.contact_days == before[0]).all() and c.ledger.spent == before[1]


def test_channel_outage_delivers_nothing_but_costs():
    """During an e-mail outage e-mails are sent and paid for, and none arrives."""
    w, c = make(shocks=("channel_outage:channel=email,start_day=0,duration_days=5",), holdout=0)
    email = np.flatnonzero((c.actions.channel == 0) & (c.actions.offer == 2))[0]
    rows = np.arange(w.n_present)
    dec = c.act(rows, np.full(rows.size, email))
    assert dec.sent.sum() > 100
    assert not dec.realized.delivered.any() and dec.realized.price.min() > 0


def test_budget_cut_halves_what_may_be_spent():
    """A budget cut of 50 % lowers the budget the rules enforce."""
    rules = ContactRules(budget=100.0)
    _, c = make(shocks=("budget_cut:share=0.5",), rules=rules)
    assert c.budget() == pytest.approx(50.0)


def test_analytic_uplift_matches_monte_carlo():
    """Purchases in the window, with and without the action, over seeds, match the truth.

    For cross-sell by e-mail to everyone, the mean analytic uplift (p_treated - p_organic over
    the attribution window) is compared with the difference in the share of customers who buy
    in the window, same customers and same organic draws with and without the action, pooled
    over 6 seeds; the gap must lie within 3 standard errors of the paired differences.
    """
    diffs, truths = [], []
    for seed in range(6):
        runs = []
        for treat in (False, True):
            w, c = make(n=15_000, days=20, seed=seed, holdout=0.0)
            rows = np.arange(w.n_present)
            action = np.flatnonzero((c.actions.offer == OFFERS.index("cross_sell"))
                                    & (c.actions.channel == 0))[0]
            acts = np.full(rows.size, action if treat else 0)
            dec = c.act(rows, acts)
            if treat:  # the truth covers what was sent; the rest has no uplift
                truths.append(np.zeros(rows.size))
                truths[-1][dec.sent] = dec.truth.uplift
            bought = np.zeros(w.pop.n_customers, dtype=bool)
            for _ in range(w.params.response.attribution_days):
                bought[w.step().transactions.customer] = True
            runs.append(bought[rows])
        diffs.append(runs[1].astype(float) - runs[0])
    d, t = np.concatenate(diffs), np.concatenate(truths)
    se = d.std() / np.sqrt(d.size)
    assert t.mean() > 5 * se  # the effect is large enough to be seen
    assert abs(d.mean() - t.mean()) < 3 * se


def test_sleeping_dogs_contacted_buy_less():
    """Sleeping dogs who were contacted buy less in the window than without contact."""
    w0, c0 = make(n=30_000, days=20, seed=2, holdout=0.0, responsiveness_mean=-0.5)
    w1, c1 = make(n=30_000, days=20, seed=2, holdout=0.0, responsiveness_mean=-0.5)
    rows = np.arange(w1.n_present)
    action = np.flatnonzero((c1.actions.offer == OFFERS.index("discount_30"))
                            & (c1.actions.channel == 1))[0]
    dec = c1.act(rows, np.full(rows.size, action))
    assert dec.truth.uplift.mean() < 0 and dec.realized.blocked.sum() > 0
    n0 = sum(w0.step().transactions.customer.size for _ in range(7))
    n1 = sum(w1.step().transactions.customer.size for _ in range(7))
    assert n1 < n0


def test_oracle_picks_the_best_allowed_action():
    """Without shared limits, the oracle's action has the highest true margin the rules allow."""
    w, c = make(n=4000, holdout=0.2, response={"phone_capacity_per_1000": 1000.0})
    rows = np.arange(300)
    best = c.oracle(rows)
    gain = c.incremental_margins(rows)
    assert gain.shape == (300, c.actions.n_actions) and not gain[:, 0].any()
    assert (best[c.holdout[rows]] == 0).all()
    ch = c.actions.channel.astype(np.int64)
    consent = ((w.pop.consent[rows].astype(np.int64)[:, None] >> np.maximum(ch, 0)) & 1) == 1
    allowed = (consent | (ch < 0)) & ~c.holdout[rows, None]
    allowed[:, 0] = True
    chosen = gain[np.arange(300), best]
    assert (chosen >= np.where(allowed, gain, -np.inf).max(axis=1) - 1e-12).all()
    assert (chosen >= 0).all() and (best > 0).any()
    dec = c.act(rows, best)
    assert (dec.reason == constraints.SENT).all()


def test_oracle_respects_capacity_and_budget():
    """With few phone calls and a small budget the oracle stays within both."""
    rules = ContactRules(budget=40.0)
    w, c = make(n=6000, holdout=0.0, rules=rules, response={"phone_capacity_per_1000": 0.5})
    rows = np.arange(w.n_present)
    best = c.oracle(rows)
    assert (c.actions.channel[best] == constraints.PHONE).sum() <= c.capacity()
    worst = c._price[best] + c.actions.discount[best] * w.customers_for_response(rows).basket
    assert worst.sum() <= 40.0 + 1e-9
    dec = c.act(rows, best)
    assert (dec.reason == constraints.SENT).all()


def test_oracle_beats_random_and_blanket_in_expectation():
    """The oracle's expected incremental margin exceeds a random policy's and a blanket offer's."""
    w, c = make(n=5000, holdout=0.0)
    rows = np.arange(1000)
    gain = c.incremental_margins(rows)
    pick = lambda a: gain[np.arange(rows.size), a].sum()  # noqa: E731
    rng = np.random.default_rng(0)
    blanket = np.flatnonzero((c.actions.offer == OFFERS.index("discount_20"))
                             & (c.actions.channel == 0))[0]
    oracle = pick(c.oracle(rows))
    assert oracle > pick(rng.integers(0, c.actions.n_actions, rows.size))
    assert oracle > pick(np.full(rows.size, blanket)) and oracle > 0


def test_customers_no_action_reached_buy_exactly_the_same():
    """Common random numbers: actions for some customers leave everyone else's draws alone.

    Two worlds on one seed; in one, half the base gets a discount every day. Customers never
    sent anything (the holdout, and the other half) make the same purchases, with the same
    hour, store, category and amount, on every day, whatever the treated half did.
    """
    (w0, _), (w1, c1) = make(n=4000, days=12, seed=5), make(n=4000, days=12, seed=5)
    action = np.flatnonzero((c1.actions.offer == OFFERS.index("discount_30"))
                            & (c1.actions.channel == 0))[0]
    touched = np.zeros(w1.pop.n_customers, dtype=bool)
    changed = 0
    for _ in range(10):
        rows = np.arange(0, w1.n_present, 2)
        dec = c1.act(rows, np.full(rows.size, action))
        touched[dec.rows[dec.sent]] = True
        a, b = w0.step().transactions, w1.step().transactions
        keep_a, keep_b = ~touched[a.customer], ~touched[b.customer]
        for field in ("customer", "amount", "store", "category", "hour"):
            np.testing.assert_array_equal(getattr(a, field)[keep_a], getattr(b, field)[keep_b])
        changed += int((keep_b.size - keep_b.sum()) != (keep_a.size - keep_a.sum()))
    assert touched.sum() > 1000 and changed > 0  # the treated half did buy differently


@pytest.mark.parametrize("shocks", [(), ("channel_outage:duration_days=9,channel=sms",)])
def test_truth_grids_are_the_truth_of_each_message_bit_for_bit(shocks):
    """Every entry of the grids is the truth the world gives the message when it is sent.

    After random days (fatigue, unsubscribes, sleeping dogs put off): column 0 is +0; any
    block size and either grid alone give the same numbers; the margin of one random action
    per customer is `response.truth` of the pair, and the margin and value that `act`
    reports for those it sends are the grids' entries, exactly.
    """
    w, c = make(n=3000, shocks=shocks)
    random_days(w, c, 3)
    rows = np.arange(w.n_present)
    grids = c.truth_grids(rows)
    for grid in grids.values():
        assert grid.flags.c_contiguous and grid.shape == (rows.size, c.actions.n_actions)
        assert (grid[:, 0] == 0).all() and not np.signbit(grid[:, 0]).any()
    for which, block in ((("margins",), 1000), (("values",), 37), (("values", "margins"), 1)):
        got = c.truth_grids(rows[::3], which, block=block)
        assert set(got) == set(which)
        for name in which:
            np.testing.assert_array_equal(got[name], grids[name][::3], err_msg=name)
    np.testing.assert_array_equal(c.incremental_margins(rows), grids["margins"])
    for got, name in zip(c.incremental_values(rows), ("margins", "values"), strict=True):
        np.testing.assert_array_equal(got, grids[name])
    actions = np.random.default_rng(2).integers(1, c.actions.n_actions, rows.size)
    pairs = response.truth(w.customers_for_response(rows), actions, c.actions,
                           w.params.response, w.mods.channel_up[w.today])
    np.testing.assert_array_equal(grids["margins"][rows, actions], pairs.incremental_margin)
    dec = c.act(rows, actions)
    sent = np.flatnonzero(dec.sent)
    assert sent.size > 100
    np.testing.assert_array_equal(grids["margins"][sent, actions[sent]],
                                  dec.truth.incremental_margin)
    np.testing.assert_array_equal(grids["values"][sent, actions[sent]], dec.incremental_value)


def test_truth_grids_refuse_an_unknown_grid():
    """Only margins and values are worked out."""
    w, c = make(n=500)
    with pytest.raises(ParameterError, match=r"truth grids \['uplift'\]: allowed margins, values"):
        c.truth_grids(np.arange(10), ("margins", "uplift"))
    assert c.truth_grids(np.zeros(0, dtype=np.int64))["values"].shape == (0, c.actions.n_actions)


def test_conversions_count_only_when_their_attribution_window_closes():
    """A message's attributed conversion reaches the CRM's counts when its window closes.

    One send to everyone on day 0, then nothing: the counts stay 0 through the window (a
    policy reading them would otherwise see a conversion before its purchase), then hold
    exactly the conversions drawn at the send, per customer and channel.
    """
    w, c = make(days=20)
    window = w.params.response.attribution_days
    rows = np.arange(w.n_present)
    dec = c.act(rows, np.full(rows.size, _an_email_offer(c)))
    conv = dec.realized.converted
    assert conv.sum() > 20  # enough conversions to see them arrive
    for day in range(1, window + 1):
        assert w.today == day - 1
        assert w.pop.conversions.sum() == 0, f"counted on day {w.today}, window closes later"
        w.step()
    assert w.today == window
    expected = np.zeros_like(w.pop.conversions)
    sent_rows = dec.rows[dec.sent]
    expected[sent_rows[conv], c.actions.channel[dec.actions[dec.sent]][conv]] = 1
    np.testing.assert_array_equal(w.pop.conversions, expected)


def _an_email_offer(c):
    """The first action that sends an offer by email."""
    a = c.actions
    return int(np.flatnonzero((a.offer > 0) & (a.channel == CHANNELS.index("email")))[0])
