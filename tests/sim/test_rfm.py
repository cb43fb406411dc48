"""RFM: quantile scores and segments by hand, transaction tables, k-means and migration."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import rfm
from nbasim.sim.daily import DailySeries

# Ten customers, so a score is 1 + floor(5 x below / 10) = 1 + below // 2, where `below`
# counts the customers strictly worse (for R: strictly larger recency).
RECENCY = np.array([2, 2, 5, 9, 14, 30, 30, 30, 90, 365])
FREQUENCY = np.array([12, 1, 6, 2, 1, 4, 1, 8, 3, 1])
MONETARY = np.array([950.75, 20.0, 310.2, 80.99, 15.5, 240.0, 35.0, 610.0, 80.01, 9.99])

# R: larger recencies than 2 -> 8 -> 1 + 4 = 5 (twice); 5 -> 7 -> 4; 9 -> 6 -> 4;
#    14 -> 5 -> 3; 30 -> 2 (90, 365) -> 2 (three times); 90 -> 1 -> 1; 365 -> 0 -> 1.
R_EXPECTED = [5, 5, 4, 4, 3, 2, 2, 2, 1, 1]
# F: sorted 1 1 1 1 2 3 4 6 8 12. 12 -> 9 below -> 5; 1 -> 0 -> 1; 6 -> 7 -> 4;
#    2 -> 4 -> 3; 4 -> 6 -> 4; 8 -> 8 -> 5; 3 -> 5 -> 3.
F_EXPECTED = [5, 1, 4, 3, 1, 4, 1, 5, 3, 1]
# M in whole units: 950 20 310 80 15 240 35 610 80 9 (80.99 and 80.01 tie at 80);
#    sorted 9 15 20 35 80 80 240 310 610 950. 950 -> 9 -> 5; 20 -> 2 -> 2; 310 -> 7 -> 4;
#    80 -> 4 -> 3 (twice); 15 -> 1 -> 1; 240 -> 6 -> 4; 35 -> 3 -> 2; 610 -> 8 -> 5; 9 -> 1.
M_EXPECTED = [5, 2, 4, 3, 1, 4, 2, 5, 3, 1]
# Segments from the R x F map: (5,5) champions, (5,1) new, (4,4) loyal,
# (4,3) potential_loyalists, (3,1) need_attention, (2,4) at_risk, (2,1) hibernating,
# (2,5) cannot_lose, (1,3) at_risk, (1,1) lost.
SEGMENTS_EXPECTED = ["champions", "new", "loyal", "potential_loyalists", "need_attention",
                     "at_risk", "hibernating", "cannot_lose", "at_risk", "lost"]


def test_rfm_scores_and_segments_by_hand():
    """Ten customers scored by hand with min-rank quantiles, then mapped to segments."""
    r, f, m = rfm.rfm_scores(RECENCY, FREQUENCY, MONETARY)
    assert r.tolist() == R_EXPECTED
    assert f.tolist() == F_EXPECTED
    assert m.tolist() == M_EXPECTED
    assert r.dtype == f.dtype == m.dtype == np.uint8
    names = [rfm.SEGMENTS[s] for s in rfm.segments(r, f)]
    assert names == SEGMENTS_EXPECTED


def test_rfm_scores_ignore_row_order():
    """Permuting the customers permutes their scores and nothing else."""
    order = np.random.default_rng(0).permutation(RECENCY.size)
    r, f, m = rfm.rfm_scores(RECENCY[order], FREQUENCY[order], MONETARY[order])
    assert r.tolist() == [R_EXPECTED[i] for i in order]
    assert f.tolist() == [F_EXPECTED[i] for i in order]
    assert m.tolist() == [M_EXPECTED[i] for i in order]


def test_monetary_scores_floor_refunds_to_whole_units():
    """Net spend below 0 (refunds) is floored, not truncated, to whole units before scoring.

    Floors of (-5.5, -0.5, 0.0, 3.9) are (-6, -1, 0, 3): all distinct, so with n = 4 the
    scores are 1 + floor(5 x (0, 1, 2, 3) / 4) = 1, 2, 3, 4. Truncation would tie -0.5
    with 0.0 (both 0) and give 1, 2, 2, 4.
    """
    _, _, m = rfm.rfm_scores(np.zeros(4, dtype=np.int64), np.ones(4, dtype=np.int64),
                             np.array([-5.5, -0.5, 0.0, 3.9]))
    assert m.tolist() == [1, 2, 3, 4]
    _, _, m = rfm.rfm_scores(np.zeros(3, dtype=np.int64), np.ones(3, dtype=np.int64),
                             np.array([0.2, 0.9, 1.0], dtype=np.float32))
    assert m.tolist() == [1, 1, 4]  # units 0, 0, 1: below 0, 0, 2 -> 1, 1, 1 + 10 // 3 = 4


@pytest.mark.parametrize(("values", "expected"), [
    # n = 4: 1 + floor(5 x below / 4); below = 0, 1, 2, 3 -> 1, 2, 3, 4 (never 5 with n = 4)
    ([10, 20, 30, 40], [1, 2, 3, 4]),
    # ties share the lowest score: below = 0, 0, 0, 3 -> 1, 1, 1, 4
    ([7, 7, 7, 9], [1, 1, 1, 4]),
    ([3, 3, 3], [1, 1, 1]),
    ([5], [1]),
    # n = 6: below = 0..5 -> 1 + floor(0, 5/6, 10/6, 15/6, 20/6, 25/6) = 1, 1, 2, 3, 4, 5
    ([0, 1, 2, 3, 4, 5], [1, 1, 2, 3, 4, 5]),
    ([], []),
])
def test_quantile_scores_by_hand(values, expected):
    """Min-rank quantile scores of small integer arrays, worked out by hand."""
    assert rfm.quantile_scores(np.array(values, dtype=np.int64)).tolist() == expected


def test_quantile_scores_integer_and_float_paths_agree():
    """The counting path for small integers and the sorting path for floats give one answer."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        v = rng.integers(0, rng.integers(2, 500), size=rng.integers(1, 3000))
        np.testing.assert_array_equal(rfm.quantile_scores(v),
                                      rfm.quantile_scores(v.astype(np.float64)))
    v = rng.normal(size=1000)  # negative floats go the sorting way
    s = rfm.quantile_scores(v)
    assert s.min() == 1 and s.max() == 5
    assert np.bincount(s)[1:].tolist() == [200] * 5  # distinct values fill 5 equal bins


def test_segment_map_covers_every_score_pair():
    """Every (R, F) in 1-5 maps to a named segment, and every segment is reachable."""
    r, f = np.meshgrid(np.arange(1, 6, dtype=np.uint8), np.arange(1, 6, dtype=np.uint8))
    seg = rfm.segments(r.ravel(), f.ravel())
    assert (seg < len(rfm.SEGMENTS)).all()
    assert set(seg.tolist()) == set(range(len(rfm.SEGMENTS)))
    assert rfm.segment_counts(seg).sum() == 25


def test_rfm_from_transactions_by_hand():
    """A tiny table: same-day rows merge, later rows are ignored, scores by hand.

    As of 2026-01-31:
      a: 01-01 (10 + 5, one day), 01-20 (7.5) -> recency 11, frequency 2, monetary 22.5
      b: 01-10 (100)                          -> recency 21, frequency 1, monetary 100
      c: 01-05, 01-15, 01-31 (3, 4, 1); 02-10 is after as_of -> recency 0, frequency 3, 8
    Three customers: score = 1 + floor(5 x below / 3); below 0, 1, 2 -> 1, 2, 4.
      R (larger recency is worse): a 1 below -> 2, b 0 -> 1, c 2 -> 4
      F: a 1 -> 2, b 0 -> 1, c 2 -> 4;  M (22, 100, 8): a 1 -> 2, b 2 -> 4, c 0 -> 1
      Segments: a (2, 2) hibernating, b (1, 1) lost, c (4, 4) loyal.
    """
    ids = np.array(["c", "a", "b", "a", "c", "a", "c", "c"])
    dates = np.array(["2026-01-05", "2026-01-01", "2026-01-10", "2026-01-20", "2026-01-15",
                      "2026-01-01", "2026-01-31", "2026-02-10"], dtype="datetime64[D]")
    amounts = np.array([3.0, 10.0, 100.0, 7.5, 4.0, 5.0, 1.0, 50.0])
    out = rfm.rfm_from_transactions(ids, dates, amounts, np.datetime64("2026-01-31"))
    assert out["customer_id"].tolist() == ["a", "b", "c"]
    assert out["recency"].tolist() == [11, 21, 0]
    assert out["frequency"].tolist() == [2, 1, 3]
    np.testing.assert_allclose(out["monetary"], [22.5, 100.0, 8.0])
    assert out["r_score"].tolist() == [2, 1, 4]
    assert out["f_score"].tolist() == [2, 1, 4]
    assert out["m_score"].tolist() == [2, 4, 1]
    assert [rfm.SEGMENTS[s] for s in out["segment"]] == ["hibernating", "lost", "loyal"]


def test_rfm_from_transactions_merges_timestamps_of_one_day():
    """Timestamps within one calendar day count as one purchase day."""
    ids = np.array([7, 7, 7, 9])
    stamps = np.array(["2026-03-01T08:00", "2026-03-01T19:30", "2026-03-02T00:10",
                       "2026-03-02T23:59"], dtype="datetime64[m]")
    out = rfm.rfm_from_transactions(ids, stamps, np.ones(4), np.datetime64("2026-03-02"))
    assert out["frequency"].tolist() == [2, 1]
    assert out["recency"].tolist() == [0, 0]
    assert out["monetary"].tolist() == [3.0, 1.0]


def test_rfm_from_transactions_agrees_with_rfm_scores():
    """On a random table the table path equals scoring its own R, F, M directly."""
    rng = np.random.default_rng(8)
    n = 5000
    ids = rng.integers(0, 800, n)
    dates = np.datetime64("2025-01-01") + rng.integers(0, 365, n)
    amounts = rng.gamma(2.0, 20.0, n)
    out = rfm.rfm_from_transactions(ids, dates, amounts, np.datetime64("2025-12-31"))
    r, f, m = rfm.rfm_scores(out["recency"], out["frequency"], out["monetary"])
    np.testing.assert_array_equal(out["r_score"], r)
    np.testing.assert_array_equal(out["f_score"], f)
    np.testing.assert_array_equal(out["m_score"], m)
    assert out["monetary"].sum() == pytest.approx(amounts.sum())
    assert out["frequency"].sum() == np.unique(np.column_stack([ids, dates.view("int64")]),
                                               axis=0).shape[0]


def rfm_sample(seed: int, n: int = 3000):
    """Random recency, frequency and monetary columns for clustering tests."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 400, n), rng.integers(1, 30, n),
            rng.gamma(2.0, 50.0, n) * rng.integers(1, 5, n))


def test_kmeans_segments_reproducible_with_a_seeded_rng():
    """Two runs with generators of one seed give the same labels; other seeds may differ."""
    rec, freq, mon = rfm_sample(0)
    a = rfm.kmeans_segments(rec, freq, mon, 4, np.random.default_rng(1))
    b = rfm.kmeans_segments(rec, freq, mon, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == rec.shape and set(a.tolist()) <= set(range(4))


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_kmeans_labels_are_ordered_by_spend(k):
    """Cluster 0 has the highest mean spend, then 1, and so on."""
    rec, freq, mon = rfm_sample(k)
    labels = rfm.kmeans_segments(rec, freq, mon, k, np.random.default_rng(k))
    counts = np.bincount(labels, minlength=k)
    spend = np.bincount(labels, weights=mon, minlength=k)[counts > 0] / counts[counts > 0]
    assert (np.diff(spend) <= 0).all()
    assert labels.max() < k


def test_kmeans_separates_obvious_groups():
    """Two far-apart groups land in two clusters, the big spenders in cluster 0."""
    rng = np.random.default_rng(0)
    rec = np.concatenate([rng.integers(0, 5, 200), rng.integers(300, 400, 200)])
    freq = np.concatenate([rng.integers(20, 30, 200), rng.integers(1, 2, 200)])
    mon = np.concatenate([rng.uniform(900, 1000, 200), rng.uniform(5, 10, 200)])
    labels = rfm.kmeans_segments(rec, freq, mon, 2, np.random.default_rng(0))
    assert (labels[:200] == 0).all() and (labels[200:] == 1).all()


@pytest.mark.parametrize("k", [0, 11])
def test_kmeans_rejects_bad_k(k):
    """A k outside 1 to the number of customers raises an error naming it."""
    rec, freq, mon = np.arange(10), np.ones(10), np.ones(10)
    with pytest.raises(ValueError, match=f"k = {k}: allowed 1 to the number of customers"):
        rfm.kmeans_segments(rec, freq, mon, k, np.random.default_rng(0))


def test_transition_matrix_by_hand():
    """Five customers over three states: counts and row shares worked out by hand."""
    before = np.array([0, 0, 1, 1, 1])
    after = np.array([0, 1, 1, 1, 2])
    counts, shares = rfm.transition_matrix(before, after, n_states=3)
    # row 0: one stays, one moves to 1 -> 1/2, 1/2; row 1: two stay, one to 2 -> 2/3, 1/3;
    # row 2: no members -> zeros
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 2, 1], [0, 0, 0]])
    np.testing.assert_allclose(shares, [[0.5, 0.5, 0], [0, 2 / 3, 1 / 3], [0, 0, 0]])


def test_transition_matrix_rows_sum_to_one():
    """Random labelings: counts sum to n, rows with members sum to 1, empty rows are 0."""
    rng = np.random.default_rng(5)
    n = 10_000
    before = rng.choice(len(rfm.SEGMENTS), n, p=[0.3, 0.3, 0.2, 0.2, 0, 0, 0, 0, 0, 0])
    after = rng.integers(0, len(rfm.SEGMENTS), n)
    counts, shares = rfm.transition_matrix(before, after)
    assert counts.sum() == n
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(before, minlength=10))
    members = counts.sum(axis=1) > 0
    np.testing.assert_allclose(shares[members].sum(axis=1), 1.0)
    assert (shares[~members] == 0).all()
    assert ((shares >= 0) & (shares <= 1)).all()


def test_segment_migration_of_a_simulated_base(make_world):
    """The day-0 base's migration after 30 days: counts sum to its size, rows to 1."""
    world = make_world("dry_cleaning_chain", 5000, 30, overrides={"acquisition_rate": 0.01})
    series = DailySeries(world)
    n_init = world.n_present
    for _ in range(world.days):
        series.record(world.step())
    counts, shares = series.migration()
    assert counts.sum() == n_init < world.n_present
    members = counts.sum(axis=1) > 0
    np.testing.assert_allclose(shares[members].sum(axis=1), 1.0)
    assert (shares[~members] == 0).all()
    assert np.trace(counts) < n_init  # some customers moved


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_rfm_from_transactions_rejects_non_finite_amounts(bad):
    """A NaN or infinite amount is named with its row instead of being scored silently."""
    dates = np.array(["2026-01-01", "2026-01-02"], dtype="datetime64[D]")
    with pytest.raises(ValueError, match=f"amount at row 1 is {bad!r}: amounts must be finite"):
        rfm.rfm_from_transactions(np.array([1, 2]), dates, np.array([5.0, bad]),
                                  np.datetime64("2026-01-03"))
