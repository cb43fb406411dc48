"""Tied values in `nbasim rfm`'s scores (`sim.rfm.balanced_scores`): no score left empty by a tie.

Before, the min-rank scores of a simulated log (retail_chain, 1,000 customers, as of mid-year)
gave F scores 1, 4 and 5 only: 156 of 254 customers bought once, so two purchases already had
61 % of the base strictly below them and scored F 4, and potential_loyalists (R 4-5, F 2-3)
was empty.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nbasim.experiments.data import rfm_report
from nbasim.sim import rfm
from nbasim.sim.params import ParameterError

# 100 customers' purchase days: 60 bought once, then 15, 10, 6, 4, 3 and 2 customers.
FREQ = np.repeat([1, 2, 3, 4, 5, 6, 9], [60, 15, 10, 6, 4, 3, 2])
# Cumulative counts after each value: 60, 75, 85, 91, 95, 98, 100.
# Min-rank, 1 + floor(5 x below / 100): 1 -> 1; 2 -> 1 + 300 // 100 = 4; 3 -> 1 + 375 // 100
#   = 4; 4, 5, 6, 9 -> 5 (below 85 to 98).  Scores 2 and 3 are empty.
# Average rank would not do: the middle of the 60 is rank 29.5 -> 1 + floor(1.475) = 2, of the
#   15 it is 67 -> 4, of the 10 79.5 -> 4: scores 1 and 3 are empty.
# Balanced cuts, each at the tie boundary nearest an equal share of those left:
#   cut 1: 0 + 100 / 5 = 20; boundaries 0 (not allowed: score 1 needs a value) and 60 -> 60.
#   cut 2: 60 + 40 / 4 = 70; 75 is 5 away (60 is taken) -> 75: score 2 is the 15 twice-buyers.
#   cut 3: 75 + 25 / 3 = 83.3; 85 is 1.7 away (75 is taken) -> 85: score 3 is the 10.
#   cut 4: 85 + 15 / 2 = 92.5; 91 is 1.5 away, 95 2.5 -> 91: score 4 is the 6, score 5 the 9.
BALANCED_SIZES = [60, 15, 10, 6, 9]


def test_a_large_tie_no_longer_empties_scores():
    """The hand-derived example above: min-rank leaves 2 and 3 empty, balanced fills them."""
    assert np.bincount(rfm.quantile_scores(FREQ), minlength=6)[1:].tolist() == [60, 0, 0, 25, 15]
    assert np.bincount(rfm.balanced_scores(FREQ), minlength=6)[1:].tolist() == BALANCED_SIZES


@pytest.mark.parametrize(("values", "expected"), [
    # Fewer than 5 distinct values: each at its middle customer's quantile.
    # [1, 2, 2, 2]: 1 -> 1 + floor(5 x 0 / 4) = 1; 2 -> middle 1 + 1 = 2 -> 1 + 10 // 4 = 3.
    ([1, 2, 2, 2], [1, 3, 3, 3]),
    # [1, 2, 3 x 98]: 1 -> 1, 2 -> 1 + floor(5 x 1 / 100) = 1, raised to 2 (distinct values
    # keep distinct scores), 3 -> middle 2 + 48.5 = 50.5 -> 1 + floor(2.525) = 3.
    ([1, 2, *[3] * 98], [1, 2, *[3] * 98]),
    # One value: the middle of all of them, 1 + floor(5 x 1.5 / 4) = 2.
    ([7, 7, 7, 7], [2, 2, 2, 2]),
    # No ties, n a multiple of 5: the plain quintiles, as min-rank gives.
    (list(range(10)), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
])
def test_scores_by_hand(values, expected):
    """Small cases worked out in the comments."""
    assert rfm.balanced_scores(np.array(values)).tolist() == expected


@pytest.mark.parametrize("seed", range(5))
def test_ties_share_a_score_and_every_score_is_used(seed):
    """Random heavily tied values share a score, in order, and use all five scores.

    About half the values are 1, a quarter 2, and so on up to 12: equal values share a score,
    a larger value never scores lower, and all five scores are used (there are at least 5
    distinct values).
    """
    rng = np.random.default_rng(seed)
    v = np.minimum(rng.geometric(0.5, size=int(rng.integers(50, 2000))), 12)
    s = rfm.balanced_scores(v)
    order = np.argsort(v, kind="stable")
    assert np.all(np.diff(s[order].astype(int)) >= 0)
    for value in np.unique(v):
        assert len(np.unique(s[v == value])) == 1
    sizes = np.bincount(s, minlength=6)[1:]
    assert np.all(sizes > 0)


def test_without_ties_the_scores_are_the_min_rank_ones():
    """Distinct values, n a multiple of 5: the same scores as `quantile_scores`."""
    v = np.random.default_rng(0).permutation(1000)
    np.testing.assert_array_equal(rfm.balanced_scores(v), rfm.quantile_scores(v))


def test_the_world_keeps_min_rank_scores():
    """`rfm_scores` defaults to min-rank (the simulated world's path is unchanged)."""
    rec, freq, mon = np.arange(100), FREQ, np.arange(100) * 3.5
    default = rfm.rfm_scores(rec, freq, mon)
    np.testing.assert_array_equal(default[1], rfm.quantile_scores(FREQ))
    np.testing.assert_array_equal(rfm.rfm_scores(rec, freq, mon, "balanced")[1],
                                  rfm.balanced_scores(FREQ))
    with pytest.raises(ParameterError, match=r"ties = 'dense': allowed 'min' or 'balanced'"):
        rfm.rfm_scores(rec, freq, mon, "dense")


def _tied_log(path):
    """100 customers, all last buying in the week before 2024-06-30, purchase days as FREQ.

    Customer i buys FREQ[i] times, the last on day 29 - i % 30 of June, the earlier ones a
    week apart before that, for 10 + i % 7 each time.
    """
    rows = ["id,date,amount"]
    for i, f in enumerate(FREQ):
        last = np.datetime64("2024-06-29") - i % 30
        rows += [f"c{i:03d},{last - 7 * k},{10 + i % 7}" for k in range(f)]
    path.write_text("\n".join(rows) + "\n")


def test_a_tied_log_keeps_potential_loyalists(tmp_path):
    """A log where 60 % bought once has potential_loyalists in `nbasim rfm`, not in min-rank.

    Min-rank F scores leave potential_loyalists (R 4-5, F 2-3) empty though 15 + 10 customers
    bought twice or three times.
    """
    _tied_log(tmp_path / "log.csv")
    result, out = rfm_report.rfm_report(tmp_path / "log.csv", "id", "date", "amount",
                                        "2024-06-30", out=tmp_path / "out")
    f = result.customers["f_score"]
    assert np.bincount(f, minlength=6)[1:].tolist() == BALANCED_SIZES
    sizes = {r["segment"]: r["customers"] for r in json.loads(
        (out / "segments.json").read_text())["segments"]}
    seg = result.customers["segment"]
    r = result.customers["r_score"]
    expected = int(np.count_nonzero((r >= 4) & (f >= 2) & (f <= 3)))
    assert sizes["potential_loyalists"] == expected > 0
    assert np.count_nonzero(seg == "potential_loyalists") == expected
    # The same log scored the world's way: F 2-3 empty, and potential_loyalists with it.
    ids = np.repeat([f"c{i:03d}" for i in range(100)], FREQ)
    dates = np.array([np.datetime64("2024-06-29") - i % 30 - 7 * k for i, fr in
                      enumerate(FREQ) for k in range(fr)])
    old = rfm.rfm_from_transactions(ids, dates, np.ones(len(ids)), np.datetime64("2024-06-30"))
    assert rfm.segment_counts(old["segment"])[rfm.SEGMENTS.index("potential_loyalists")] == 0
