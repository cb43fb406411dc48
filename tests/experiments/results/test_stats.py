"""Intervals over seeds: hand-computed t-intervals, paired differences, summary.json blocks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nbasim.experiments.results import stats


def test_mean_ci_matches_hand_values():
    """[1, 2, 3, 4] gives the t-interval worked out by hand."""
    # mean = 10 / 4 = 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, s^2 = 5 / 3,
    # s = 1.2910, s / sqrt(4) = 0.6455; t(0.975, 3) = 3.1824; half-width 3.1824 * 0.6455
    # = 2.0543, so the interval is [0.4457, 4.5543].
    mean, lo, hi = stats.mean_ci([1, 2, 3, 4])
    assert mean == 2.5
    assert lo == pytest.approx(2.5 - 2.0543, abs=1e-4)
    assert hi == pytest.approx(2.5 + 2.0543, abs=1e-4)


def test_mean_ci_other_level():
    """A 90 % interval uses t(0.95, n - 1)."""
    # t(0.95, 3) = 2.3534; half-width 2.3534 * 0.6455 = 1.5191.
    mean, lo, hi = stats.mean_ci(np.array([1.0, 2.0, 3.0, 4.0]), level=0.9)
    assert (hi - lo) / 2 == pytest.approx(1.5191, abs=1e-4)
    assert mean == 2.5


def test_mean_ci_two_values():
    """Two seeds: the widest t quantile, t(0.975, 1) = 12.706."""
    # mean 1; s = sqrt(((0 - 1)^2 + (2 - 1)^2) / 1) = 1.4142; s / sqrt(2) = 1;
    # half-width 12.7062 * 1 = 12.7062.
    mean, lo, hi = stats.mean_ci([0.0, 2.0])
    assert (mean, lo, hi) == pytest.approx((1.0, 1.0 - 12.7062, 1.0 + 12.7062), abs=1e-4)


def test_mean_ci_one_value_is_a_point():
    """One seed: no spread to estimate, the interval is [mean, mean]."""
    assert stats.mean_ci([3.25]) == (3.25, 3.25, 3.25)


def test_mean_ci_constant_values_zero_width():
    """Identical values give a zero-width interval, not NaN."""
    assert stats.mean_ci([7.0, 7.0, 7.0]) == (7.0, 7.0, 7.0)


@pytest.mark.parametrize(("values", "level", "match"), [
    ([], 0.95, "no values"),
    ([1.0, math.nan], 0.95, r"finite.*nan at seed index 1"),
    ([math.inf, 1.0], 0.95, r"finite.*inf at seed index 0"),
    ([[1.0, 2.0]], 0.95, "1-d"),
    (["a", "b"], 0.95, "sequence of numbers"),
    ([1.0, 2.0], 1.0, "level"),
    ([1.0, 2.0], 0.0, "level"),
])
def test_mean_ci_rejects_bad_input(values, level, match):
    """Empty, non-finite, non-numeric, 2-d input and levels outside (0, 1) are named."""
    with pytest.raises(ValueError, match=match):
        stats.mean_ci(values, level)


def test_paired_matches_hand_values():
    """Differences [2, 3, 1]: mean 2, s = 1, half-width t(0.975, 2) / sqrt(3) = 2.4841."""
    # a - b = [10 - 8, 12 - 9, 11 - 10] = [2, 3, 1]; mean 2; squared deviations 0 + 1 + 1 = 2,
    # s^2 = 2 / 2 = 1; t(0.975, 2) = 4.3027; half-width 4.3027 * 1 / sqrt(3) = 2.4841.
    mean, lo, hi = stats.paired([10, 12, 11], [8, 9, 10])
    assert mean == 2.0
    assert (lo, hi) == pytest.approx((2.0 - 2.4841, 2.0 + 2.4841), abs=1e-4)


def test_paired_is_narrower_than_separate_intervals():
    """Common random numbers: a shared seed effect cancels in the paired interval."""
    seed_effect = np.array([0.0, 10.0, -10.0, 5.0])
    a = 100.0 + seed_effect + np.array([1.0, 1.1, 0.9, 1.0])
    b = 100.0 + seed_effect
    _, lo, hi = stats.paired(a, b)
    _, alo, ahi = stats.mean_ci(a)
    assert 0 < lo < hi < 2
    assert hi - lo < (ahi - alo) / 50


def test_paired_one_seed_and_sign():
    """One seed gives the point difference; swapping the sides flips the sign."""
    assert stats.paired([5.0], [7.0]) == (-2.0, -2.0, -2.0)
    m1, lo1, hi1 = stats.paired([1, 4, 2], [0, 1, 1])
    m2, lo2, hi2 = stats.paired([0, 1, 1], [1, 4, 2])
    assert (m2, lo2, hi2) == pytest.approx((-m1, -hi1, -lo1))


def test_paired_rejects_unequal_lengths():
    """Paired differences need the same seeds on both sides."""
    with pytest.raises(ValueError, match="a has 3 seeds and b has 2"):
        stats.paired([1, 2, 3], [1, 2])


def test_summarize_is_the_summary_json_metrics_block():
    """One entry per metric with mean, ci [lo, hi] and per_seed, all plain floats."""
    out = stats.summarize({"conversion": [1, 2, 3, 4], "spend": [5.0]})
    assert list(out) == ["conversion", "spend"]
    assert set(out["conversion"]) == {"mean", "ci", "per_seed"}
    assert out["conversion"]["mean"] == 2.5
    assert out["conversion"]["ci"] == pytest.approx([0.4457, 4.5543], abs=1e-4)
    assert out["conversion"]["per_seed"] == [1.0, 2.0, 3.0, 4.0]
    assert out["spend"] == {"mean": 5.0, "ci": [5.0, 5.0], "per_seed": [5.0]}
    for entry in out.values():
        assert type(entry["mean"]) is float
        assert all(type(v) is float for v in entry["ci"] + entry["per_seed"])
    json.dumps(out, allow_nan=False)


def test_summarize_names_the_bad_metric():
    """A NaN in one metric's values is reported with that metric's name."""
    with pytest.raises(ValueError, match=r"metric 'roi'.*finite"):
        stats.summarize({"spend": [1.0, 2.0], "roi": [1.0, math.nan]})


def test_vs_baseline_is_the_summary_json_block():
    """Paired differences per metric present on both sides, with mean and ci only."""
    group = {"margin": [10, 12, 11], "regret": [1.0, 2.0, 3.0]}
    base = {"margin": [8, 9, 10]}
    out = stats.vs_baseline(group, base)
    assert list(out) == ["margin"]
    assert set(out["margin"]) == {"mean", "ci"}
    assert out["margin"]["mean"] == 2.0
    assert out["margin"]["ci"] == pytest.approx([-0.4841, 4.4841], abs=1e-4)
    assert stats.vs_baseline(base, base) == {"margin": {"mean": 0.0, "ci": [0.0, 0.0]}}


def test_vs_baseline_rejects_unequal_seeds():
    """Different seed counts on the two sides are named with the metric."""
    with pytest.raises(ValueError, match=r"metric 'margin'.*3 seeds.*baseline 2"):
        stats.vs_baseline({"margin": [1, 2, 3]}, {"margin": [1, 2]})
