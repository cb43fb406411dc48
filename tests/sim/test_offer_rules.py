"""Contact rules per segment and offer: validation, the window arithmetic, and the world's check."""

from __future__ import annotations

import numpy as np
import pytest
from busy import busy_campaign  # in this folder

from nbasim.envs import setup
from nbasim.sim import constraints, offer_rules
from nbasim.sim.constraints import ContactRules, Ledger
from nbasim.sim.offer_rules import OfferCap, OfferHistory
from nbasim.sim.params import OFFERS, ParameterError
from nbasim.sim.rfm import SEGMENTS

CHAMPIONS = {"segment": "champions", "messages": 1, "days": 14}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"segment_caps": [{**CHAMPIONS, "segment": "whales"}]},
     r"field 'segment_caps.0.segment' = 'whales': .*\(allowed: one of champions, loyal"),
    ({"segment_caps": [{**CHAMPIONS, "messages": 0}]},
     r"'segment_caps.0.messages' = 0: .*\(allowed: int, >= 1, <= 32\)"),
    ({"segment_caps": [{**CHAMPIONS, "messages": -1}]}, r"'segment_caps.0.messages' = -1"),
    ({"segment_caps": [{**CHAMPIONS, "days": 0}]},
     r"'segment_caps.0.days' = 0: .*\(allowed: int, >= 1, <= 32\)"),
    ({"segment_caps": [{**CHAMPIONS, "days": 40}]}, r"'segment_caps.0.days' = 40: .*<= 32"),
    ({"segment_caps": [{**CHAMPIONS, "messages": 14}]},
     "messages = 14 in days = 14 never binds.*allowed messages < days"),
    ({"segment_caps": [{"segment": "champions", "days": 14}]},
     "'segment_caps.0.messages': Field required"),
    ({"segment_caps": [{**CHAMPIONS, "weeks": 2}]}, "'segment_caps.0.weeks' = 2: Extra inputs"),
    ({"suppress": [{"segment": "champions", "offers": ["discount_5"]}]},
     r"'suppress.0.offers.0' = 'discount_5': Input should be 'discount_10', 'discount_20'"),
    ({"suppress": [{"segment": "champions", "offers": ["none"]}]},
     r"'suppress.0.offers.0' = 'none'"),
    ({"suppress": [{"segment": "champions", "offers": []}]},
     r"'suppress.0.offers' = \[\]: Tuple should have at least 1 item"),
    ({"suppress": [{"segment": "vip", "offers": ["discount_10"]}]},
     r"'suppress.0.segment' = 'vip': .*one of champions"),
    ({"offer_caps": [{"offer": "discount_99", "messages": 2, "days": 30}]},
     r"'offer_caps.0.offer' = 'discount_99': .*one of discount_10"),
    ({"offer_caps": [{"offer": "discount_20", "messages": 0, "days": 30}]},
     r"'offer_caps.0.messages' = 0: .*\(allowed: int, >= 1, <= 10\)"),
    ({"offer_caps": [{"offer": "discount_20", "messages": 11, "days": 30}]},
     r"'offer_caps.0.messages' = 11: .*<= 10"),
    ({"offer_caps": [{"offer": "discount_20", "messages": 2, "days": 0}]},
     r"'offer_caps.0.days' = 0: .*\(allowed: int, >= 1, <= 3650\)"),
    ({"offer_caps": [{"offer": "discount_20", "messages": 2, "days": -3}]},
     r"'offer_caps.0.days' = -3"),
    ({"offer_caps": {"offer": "discount_20"}}, r"'offer_caps': Input should be a valid tuple"),
])
def test_bad_rules_are_named_with_what_is_allowed(kwargs, match):
    """Unknown segments and offers, counts below 1, windows out of range: field and allowed."""
    with pytest.raises(ParameterError, match=match):
        setup.parse_options(kwargs)


def test_rules_default_to_none_and_lists_of_tables_are_read():
    """No rules by default; a list of tables (TOML's [[segment_caps]]) is read as models."""
    assert not ContactRules().by_offer and ContactRules().segment_caps == ()
    rules = setup.parse_options({"segment_caps": [CHAMPIONS], "offer_caps": [
        {"offer": "discount_20", "messages": 2, "days": 30}]}).contact_rules()
    assert rules.segment_caps[0].days == 14 and rules.by_offer
    assert rules.offer_caps[0] == OfferCap(offer="discount_20", messages=2, days=30)


def test_contacts_in_window_by_hand():
    """Contact history 0b1011 with the last contact 2 days ago: contacts 2, 3 and 5 days ago."""
    days = np.array([0b1011], dtype=np.uint32)
    since = np.array([2], dtype=np.int32)
    # window of w days, today included, covers 0 .. w-1 days ago
    got = [int(offer_rules.contacts_in_window(days, since, w)[0]) for w in (2, 3, 4, 5, 6, 32)]
    assert got == [0, 1, 2, 2, 3, 3]
    # contacted today (since 0): 0, 1 and 3 days ago
    today = [int(offer_rules.contacts_in_window(days, np.array([0], np.int32), w)[0])
             for w in (1, 2, 3, 4)]
    assert today == [1, 2, 2, 3]
    # more than 32 days since: nothing left in any window
    assert offer_rules.contacts_in_window(days, np.array([40], np.int32), 32)[0] == 0


def test_offer_history_by_hand():
    """discount_20 at most twice in any 5 days: sends on days 1 and 3 block days 3 to 5 only.

    Day 5's window is days 1-5 (both sends): blocked; day 6's is days 2-6 (the day-3 send
    only): allowed. A third send on day 6 replaces the oldest (day 1): days 3 and 6 then block
    up to day 7 (window 3-7) and free day 8 (window 4-8).
    """
    h = OfferHistory((OfferCap(offer="discount_20", messages=2, days=5),), 3)
    d20 = OFFERS.index("discount_20")
    assert h.days.nbytes == 3 * 2 * 2  # 2 bytes per customer per remembered send
    h.record(np.array([0, 1]), np.array([d20, OFFERS.index("discount_10")]), 1)
    h.record(np.array([0]), np.array([d20]), 3)
    blocked = {d: h.blocked(np.arange(3), d)[:, d20].tolist() for d in (3, 4, 5, 6)}
    assert blocked == {3: [True, False, False], 4: [True, False, False],
                       5: [True, False, False], 6: [False, False, False]}
    assert not h.blocked(np.arange(3), 4)[:, np.arange(len(OFFERS)) != d20].any()
    h.record(np.array([0]), np.array([d20]), 6)
    assert sorted(h.days[0].tolist()) == [3, 6]
    assert h.blocked(np.array([0]), 7)[0, d20] and not h.blocked(np.array([0]), 8)[0, d20]
    assert OfferHistory((), 10).days.nbytes == 0  # no offer cap, no memory


RULES = ContactRules(max_per_7_days=7, min_gap_days=0,
                     segment_caps=({"segment": "loyal", "messages": 1, "days": 4},),
                     suppress=({"segment": "champions", "offers": ("discount_10", "discount_20",
                                                                  "discount_30")},),
                     offer_caps=({"offer": "free_delivery", "messages": 1, "days": 5},))


def _busy_campaign(rules=RULES, seed=4):
    """A campaign after a few days of random sends under `rules`."""
    return busy_campaign(rules, seed, 2000, 16, 0.1, 5)


def test_grid_reasons_match_the_batch_check_under_segment_and_offer_rules():
    """The (customers x actions) grid and the batch check agree, new reasons included."""
    world, c = _busy_campaign()
    pop, d = world.pop, world.today
    rows = np.arange(world.n_present)
    ch = c.actions.channel.astype(np.int64)
    offer = c.offer_reasons(rows)
    grid = constraints.customer_reasons(ch[None, :], c.holdout[rows][:, None],
                                        pop.consent[rows][:, None],
                                        c.contact_reasons(rows)[:, None],
                                        offer[:, c.actions.offer])
    for a in range(1, c.actions.n_actions, 5):
        acts = np.full(rows.size, a)
        one = constraints.check(np.full(rows.size, ch[a]), np.zeros(rows.size), c.holdout[rows],
                                pop.consent[rows], pop.contact_days[rows],
                                pop.last_contact_day[rows], d, c.rules, 10**9, None, Ledger(),
                                pop.segment[rows], offer[rows, c.actions.offer[acts]])
        np.testing.assert_array_equal(grid[:, a], one)
    seen = set(np.unique(grid).tolist())
    assert {constraints.SEGMENT_CAP, constraints.SUPPRESSED, constraints.OFFER_CAP} <= seen
    champions = pop.segment[rows] == SEGMENTS.index("champions")
    discount = np.isin(c.actions.offer, [OFFERS.index(o) for o in RULES.suppress[0].offers])
    stopped = grid[np.ix_(champions, discount)]
    assert champions.any() and (stopped != constraints.SENT).all()


def test_the_oracle_keeps_to_segment_and_offer_rules():
    """The oracle never picks what the rules stop: all it picks is sent."""
    world, c = _busy_campaign(seed=5)
    rows = np.arange(world.n_present)
    best = c.oracle(rows)
    assert (best > 0).any()
    dec = c.act(rows, best)
    assert (dec.reason[best > 0] == constraints.SENT).all()


def test_rules_that_never_bind_change_nothing():
    """Rules that stop nothing leave every draw as without them (no stream shifts)."""
    loose = ContactRules(max_per_7_days=7, min_gap_days=0,
                         offer_caps=({"offer": "discount_30", "messages": 10, "days": 1},),
                         segment_caps=({"segment": "lost", "messages": 31, "days": 32},))
    plain = ContactRules(max_per_7_days=7, min_gap_days=0)
    a, b = _busy_campaign(loose)[0], _busy_campaign(plain)[0]
    for field in ("contact_days", "consent", "fatigue", "monetary", "segment", "alive"):
        np.testing.assert_array_equal(getattr(a.pop, field), getattr(b.pop, field))
