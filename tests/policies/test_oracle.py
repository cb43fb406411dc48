"""The oracle: argmax of the true incremental margin among eligible actions, never a loss."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim import policies
from nbasim.policies import PolicyError


def oracle(n_actions: int = 4, dim_context: int = 2):
    """An oracle over `n_actions` actions."""
    return policies.make("oracle", action_features=np.eye(n_actions),
                         dim_context=dim_context, seed=0)


def test_oracle_picks_the_best_positive_margin_by_hand():
    """Rows worked by hand: the argmax if positive, else 0; ties to the lowest index."""
    truth = np.array([[0.0, 1.0, 3.0, 2.0],     # best is action 2 (3.0)
                      [0.0, -1.0, -0.5, -2.0],  # all negative -> 0
                      [0.0, 0.0, 0.0, 0.0],     # nothing positive -> 0
                      [0.0, 2.0, 2.0, 1.0],     # tie 1 and 2 -> 1
                      [5.0, -1.0, 0.5, 0.2]])   # column 0 counts as 0 -> action 2
    a, p = oracle().act(np.zeros((5, 2)), truth=truth)
    np.testing.assert_array_equal(a, [2, 0, 0, 1, 2])
    assert a.dtype == np.int64 and (p == 1).all()


def test_oracle_respects_eligibility():
    """Ineligible actions are skipped; an ineligible row gets 0."""
    truth = np.array([[0.0, 1.0, 3.0, 2.0]] * 3)
    mask = np.ones((3, 4), dtype=bool)
    mask[0, 2] = False      # best left: 3 (2.0)
    mask[1, 1:] = False     # only 0 left
    a, _ = oracle().act(np.zeros((3, 2)), mask, truth=truth)
    np.testing.assert_array_equal(a, [3, 0, 2])
    a, _ = oracle().act(np.zeros((3, 2)), np.array([True, False, True]), truth=truth)
    np.testing.assert_array_equal(a, [2, 0, 2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_is_the_argmax_and_never_loses_on_random_margins(seed):
    """On random margins and masks: never a negative margin, and no eligible action beats it."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(500, 20))
    truth[:, 0] = 0.0
    mask = rng.random((500, 20)) < 0.5
    a, p = oracle(20).act(np.zeros((500, 2)), mask, truth=truth)
    got = truth[np.arange(500), a]
    assert (got >= 0).all() and (p == 1).all()
    assert (mask[np.arange(500), a] | (a == 0)).all()
    best = np.where(mask, truth, -np.inf)[:, 1:].max(axis=1)
    np.testing.assert_array_equal(got, np.maximum(best, 0.0))


@pytest.mark.parametrize(("truth", "match"), [
    (None, r"needs truth=.*info\['next'\]\['true_margins'\] when built with option truth=True"),
    (np.zeros((3, 5)), r"truth shape \(3, 5\): expected \(3, 4\)"),
    (np.zeros(3), r"truth shape \(3,\): expected \(3, 4\)"),
    (np.full((3, 4), np.nan), "truth holds NaN"),
])
def test_oracle_bad_truth_is_a_clear_error(truth, match):
    """Missing, misshapen or non-finite truth is a PolicyError saying what is expected."""
    with pytest.raises(PolicyError, match=match):
        oracle().act(np.zeros((3, 2)), truth=truth)

