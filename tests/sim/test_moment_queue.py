"""One decision at a time (MomentQueue) gives bit for bit what the batch path (act) gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nbasim.sim import constraints
from nbasim.sim.campaign import Campaign
from nbasim.sim.constraints import ContactRules
from nbasim.sim.moment_queue import BLOCK, MomentQueue
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World


def twin(seed=3, n=1500, rules=None):
    """A world and campaign stepped a few days under random actions, built from `seed`."""
    w = World(get_scenario("dry_cleaning_chain"), n, 20, seed)
    c = Campaign(w, rules, 0.1)
    rng = np.random.default_rng(seed)
    w.step()
    for _ in range(3):
        c.act(np.arange(w.n_present), rng.integers(0, c.actions.n_actions, w.n_present))
        w.step()
    return w, c


def population_state(w):
    """Every population column, copied."""
    return {f.name: getattr(w.pop, f.name).copy() for f in dataclasses.fields(w.pop)
            if isinstance(getattr(w.pop, f.name), np.ndarray)}


@pytest.mark.parametrize("rules", [None, ContactRules(budget=600.0, max_per_7_days=3,
                                                      min_gap_days=1)])
def test_queue_matches_batch_decisions_and_world_updates(rules):
    """Same rows and actions: same reasons, rewards, truth, values and world afterwards.

    The batch path grants the budget to a prefix in row order; one at a time, a decision is
    granted when it fits. The two agree until the first refusal, so the budget case compares
    decisions up to there and checks that nothing sent one at a time overspends.
    """
    (wa, ca), (wb, cb) = twin(rules=rules), twin(rules=rules)
    rows = np.arange(wa.n_present)[~ca.holdout[:wa.n_present]][: 3 * BLOCK + 17]
    actions = np.random.default_rng(9).integers(0, ca.actions.n_actions, rows.size)
    actions[::7] = 0
    batch = ca.act(rows, actions)
    queue = MomentQueue(cb, rows)
    one = [queue.decide(j, int(a)) for j, a in enumerate(actions)]
    queue.flush()
    reasons = np.array([d.reason for d in one])
    stop = rows.size
    if rules is not None and (batch.reason == constraints.BUDGET).any():
        stop = int(np.flatnonzero(batch.reason == constraints.BUDGET)[0])
        assert cb.ledger.spent <= rules.budget + 1e-9
    np.testing.assert_array_equal(reasons[:stop], batch.reason[:stop])
    sent = np.flatnonzero(batch.sent[:stop])
    assert sent.size > 50
    for k, j in enumerate(sent):  # the batch's truth and outcome are aligned with what was sent
        d = one[j]
        assert d.realized.reward == batch.realized.reward[k]
        assert d.truth.incremental_margin == batch.truth.incremental_margin[k]
        assert d.truth.uplift == batch.truth.uplift[k]
        assert d.realized.delay == batch.realized.delay[k]
        assert d.incremental_value == batch.incremental_value[k]
    if stop == rows.size:
        assert cb.ledger.spent == pytest.approx(ca.ledger.spent, rel=1e-12)
        a, b = population_state(wa), population_state(wb)
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        assert {k: np.concatenate(v).tolist() for k, v in wa.pending.items()} == \
            {k: np.concatenate(v).tolist() for k, v in wb.pending.items()}


def test_no_action_is_never_sent_and_changes_nothing():
    """Action 0 passes every rule, costs nothing and leaves the world as it was."""
    w, c = twin()
    before = population_state(w)
    rows = np.arange(200)
    q = MomentQueue(c, rows)
    assert all(not q.decide(j, 0).sent for j in range(rows.size))
    q.flush()
    after = population_state(w)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_a_slate_decided_alone_has_the_batch_paths_value():
    """A slate sent one at a time carries the true incremental value the batch path gives it."""
    (wa, ca), (_, cb) = twin(), twin()
    rows = np.arange(wa.n_present)[~ca.holdout[:wa.n_present]][:300]
    rng = np.random.default_rng(4)
    slates = np.stack([rng.choice(np.arange(1, ca.actions.n_actions), 3, replace=False)
                       for _ in rows])  # (slots 2-3 are sent as slot 1's message)
    batch = ca.act(rows, slates)
    queue = MomentQueue(cb, rows)
    one = [queue.decide_slate(j, s) for j, s in enumerate(slates)]
    sent = np.flatnonzero(batch.sent)
    assert sent.size > 50
    for k, j in enumerate(sent):
        assert one[j].incremental_value == batch.incremental_value[k]
        assert one[j].slot == batch.slot[k]
