"""Qini curves and AUUC against a hand-computed example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nbasim.experiments.results import qini

# Four customers. By decreasing score: A (0.9, uplift 3), then B and C tied at 0.8 (uplift -1
# and 2, taken together), then D (0.1, uplift -2).
SCORE = np.array([0.8, 0.1, 0.9, 0.8])  # B, D, A, C
UPLIFT = np.array([-1.0, -2.0, 3.0, 2.0])


def test_qini_curve_by_hand():
    """Points after A (3), after the tie B+C (3 - 1 + 2 = 4), after D (4 - 2 = 2)."""
    curve = qini.qini_curve(SCORE, UPLIFT)
    np.testing.assert_array_equal(curve.targeted, [0, 1, 3, 4])
    np.testing.assert_allclose(curve.gain, [0.0, 3.0, 4.0, 2.0])


def test_auuc_random_perfect_and_qini_by_hand():
    """Areas by trapezoids over the share targeted (0, 0.25, 0.75, 1).

    model:   0.25 x (0 + 3) / 2 + 0.5 x (3 + 4) / 2 + 0.25 x (4 + 2) / 2
             = 0.375 + 1.75 + 0.75 = 2.875
    random:  total 2, a straight line: 2 / 2 = 1.0
    perfect: by uplift 3, 2, -1, -2: gains 3, 5, 4, 2 at shares 0.25 ... 1:
             0.25 x (0 + 3) / 2 + 0.25 x (3 + 5) / 2 + 0.25 x (5 + 4) / 2 + 0.25 x (4 + 2) / 2
             = 0.375 + 1.0 + 1.125 + 0.75 = 3.25
    Qini coefficient: (2.875 - 1.0) / (3.25 - 1.0) = 1.875 / 2.25 = 0.8333...
    """
    s = qini.score_ranking(SCORE, UPLIFT)
    assert s.auuc == pytest.approx(2.875)
    assert s.random == pytest.approx(1.0)
    assert s.perfect == pytest.approx(3.25)
    assert s.qini == pytest.approx(1.875 / 2.25)
    assert (s.total, s.n_customers) == (2.0, 4)
    assert qini.qini_coefficient(SCORE, UPLIFT) == pytest.approx(1.875 / 2.25)
    np.testing.assert_array_equal(qini.perfect_curve(UPLIFT).gain, [0.0, 3.0, 5.0, 4.0, 2.0])


def test_perfect_and_reversed_rankings():
    """Scoring by the truth gives 1; scoring by its opposite falls below 0."""
    assert qini.qini_coefficient(UPLIFT, UPLIFT) == pytest.approx(1.0)
    assert qini.qini_coefficient(-UPLIFT, UPLIFT) < 0


def test_one_score_for_all_is_the_random_line():
    """All tied: one block, the straight line, the random area and a Qini of 0."""
    s = qini.score_ranking(np.zeros(4), UPLIFT)
    assert s.auuc == pytest.approx(s.random) and s.qini == pytest.approx(0.0)


def test_equal_uplifts_have_no_qini():
    """When every customer gains the same, no ranking beats another: NaN, not a division."""
    assert math.isnan(qini.qini_coefficient(np.arange(3.0), np.ones(3)))


def test_on_grid_interpolates():
    """Half way between shares 0.25 (3) and 0.75 (4) the gain is 3.5."""
    curve = qini.qini_curve(SCORE, UPLIFT)
    np.testing.assert_allclose(qini.on_grid(curve, [0.0, 0.5, 1.0]), [0.0, 3.5, 2.0])


@pytest.mark.parametrize(("score", "uplift", "match"), [
    ([1.0, 2.0], [1.0], "one value each per customer, got 2 scores and 1 uplifts"),
    ([[1.0]], [1.0], r"score: expected one value per customer"),
    ([1.0, np.nan], [1.0, 2.0], "score: values must be finite, got nan at index 1"),
    ([1.0, 2.0], [np.inf, 2.0], "uplift: values must be finite"),
    ([], [], "no customers to rank"),
])
def test_bad_inputs_are_named(score, uplift, match):
    """Mismatched, non-finite or empty inputs fail naming the argument."""
    with pytest.raises(ValueError, match=match):
        qini.qini_curve(score, uplift)
