"""The contact rules, written once: the batch check, the oracle and the grid agree."""

from __future__ import annotations

import numpy as np
from busy import busy_campaign  # in this folder

from nbasim.sim import constraints
from nbasim.sim.constraints import ContactRules, Ledger


def _busy_campaign(seed=2):
    """A campaign after a few days of random sends, so contact histories differ."""
    return busy_campaign(ContactRules(max_per_7_days=2, min_gap_days=3), seed, 3000, 20, 0.2, 6)


def test_grid_reasons_match_the_batch_check_for_every_action():
    """customer_reasons over (customers x actions) gives check's reason for each action."""
    world, c = _busy_campaign()
    pop, d = world.pop, world.today
    rows = np.arange(world.n_present)
    ch = c.actions.channel.astype(np.int64)
    contact = constraints.contact_reasons(pop.contact_days[rows], pop.last_contact_day[rows], d,
                                          c.rules)
    grid = constraints.customer_reasons(ch[None, :], c.holdout[rows][:, None],
                                        pop.consent[rows][:, None], contact[:, None])
    for a in range(0, c.actions.n_actions, 7):
        one = constraints.check(np.full(rows.size, ch[a]), np.zeros(rows.size), c.holdout[rows],
                                pop.consent[rows], pop.contact_days[rows],
                                pop.last_contact_day[rows], d, c.rules, 10**9, None, Ledger())
        np.testing.assert_array_equal(grid[:, a], one)
    assert set(np.unique(grid).tolist()) == {constraints.SENT, constraints.HOLDOUT,
                                             constraints.NO_CONSENT, constraints.CONTACT_LIMIT,
                                             constraints.MIN_GAP}


def test_the_oracle_picks_only_what_the_check_sends():
    """Every action the oracle picks passes check's per-customer rules, capacity and budget."""
    world, c = _busy_campaign(seed=3)
    rows = np.arange(world.n_present)
    best = c.oracle(rows)
    assert (best > 0).any()
    dec = c.act(rows, best)
    assert (dec.reason[best > 0] == constraints.SENT).all()


def test_ledger_views_by_hand():
    """calls_left and money_left: what is left today or this period; all of it when new."""
    ledger = Ledger()
    ledger.roll(12, 10)                    # day 12, period 1 (days 10-19)
    ledger.capacity_used, ledger.spent = 3, 40.0
    assert ledger.calls_left(12, 5) == 2   # 5 - 3
    assert ledger.calls_left(12, 2) == 0   # never negative
    assert ledger.calls_left(13, 5) == 5   # a new day
    assert ledger.money_left(19, 10, 100.0) == 60.0   # 100 - 40, same period
    assert ledger.money_left(20, 10, 100.0) == 100.0  # period 2
    # Granted in order up to the first that does not fit: 30 + 20 = 50 <= 55, + 10 > 55.
    assert constraints.within_budget(np.array([30.0, 20.0, 10.0]), 55.0).tolist() == [
        True, True, False]
