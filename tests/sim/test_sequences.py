"""The category sequence effect, measured on a simulated transaction log."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim.scenarios import get_scenario
from nbasim.sim.sequences import next_category
from nbasim.sim.world import World


def test_next_category_counts_each_customers_consecutive_purchases():
    """Shares worked out by hand on a small log."""
    # Customer 1: a a b (pairs a->a, a->b); customer 2: b a (pair b->a); customer 3: a alone.
    customer = np.array([2, 1, 1, 3, 1, 2])
    day = np.array([0, 0, 1, 0, 2, 5])
    category = np.array([1, 0, 0, 0, 1, 0])
    nc = next_category(customer, day, category, 2)
    assert nc.pairs.tolist() == [[1, 1], [1, 0]]
    np.testing.assert_allclose(nc.given, [[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(nc.overall, [2 / 3, 1 / 3])
    assert nc.lift(0, 1) == pytest.approx(0.5 / (1 / 3))
    assert nc.otherwise(0, 1) == 0.0  # after b, never b


def simulated_log(scenario, seed, n=8000, days=240):
    """Next-purchase shares of a simulated log, and the catalog's category names."""
    w = World(get_scenario(scenario), n, days, seed)
    log = [(tx.customer, np.full(tx.customer.size, d), tx.category)
           for d, tx in ((w.today, w.step().transactions) for _ in range(days))]
    cols = [np.concatenate(c) for c in zip(*log, strict=True)]
    return next_category(*cols, w.catalog.n_categories), w.catalog.names


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_pairs_are_strong_in_the_seeds_world_and_faint_in_the_chain(seed):
    """P(B next | A) against P(B next | not A) for the seeded pairs, on three seeds.

    The seeds preset: at least 2.5x for shirts -> outerwear and outerwear -> household
    (measured 3x and 4x on a year of 20,000 customers); the chain's own odds: under 1.8x
    for shirts -> outerwear (the faint effect the issue measured, 0.095 against 0.078).
    """
    strong, names = simulated_log("dry_cleaning_seeds", seed)
    faint, _ = simulated_log("dry_cleaning_chain", seed)
    i = {n: names.index(n) for n in ("shirts", "outerwear", "household")}
    for a, b in (("shirts", "outerwear"), ("outerwear", "household")):
        ratio = strong.given[i[a], i[b]] / strong.otherwise(i[a], i[b])
        assert ratio > 2.5, (a, b, ratio)
        assert strong.lift(i[a], i[b]) > 1.4
    ratio = faint.given[i["shirts"], i["outerwear"]] / faint.otherwise(i["shirts"],
                                                                       i["outerwear"])
    assert 1.0 < ratio < 1.8
