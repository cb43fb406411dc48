"""CUPED: hand-computed values, unbiased when the truth is 0, and its covariate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nbasim.experiments.run import covariate, cuped


def test_estimate_matches_hand_values():
    """Four customers, two treated: theta, raw, adjusted and both standard errors by hand."""
    # x = [1, 3, 0, 2], y = [2, 6, 1, 3], treated = the first two.
    # Pooled: mean x 1.5, mean y 3; centred x [-0.5, 1.5, -1.5, 0.5], y [-1, 3, -2, 0];
    # Sxx = 0.25 + 2.25 + 2.25 + 0.25 = 5, Sxy = 0.5 + 4.5 + 3 + 0 = 8, theta = 8 / 5 = 1.6.
    # raw = n_T (mean_T y - mean_H y) = 2 (4 - 2) = 4; mean_T x - mean_H x = 2 - 1 = 1;
    # adjusted = 4 - 2 * 1.6 * 1 = 0.8.
    # Residuals y - 1.6 x = [0.4, 1.2, 1.0, -0.2]: s_T^2 = 0.32, s_H^2 = 0.72,
    # se = 2 sqrt(0.32 / 2 + 0.72 / 2) = 2 sqrt(0.52) = 1.44222.
    # Raw: s_T^2 = 8, s_H^2 = 2, se_raw = 2 sqrt(8 / 2 + 2 / 2) = 2 sqrt(5) = 4.47214.
    x = np.array([1.0, 3.0, 0.0, 2.0])
    y = np.array([2.0, 6.0, 1.0, 3.0])
    treated = np.array([True, True, False, False])
    est = cuped.estimate(y, x, treated)
    assert est.theta == pytest.approx([1.6])
    assert est.raw == pytest.approx(4.0)
    assert est.adjusted == pytest.approx(0.8)
    assert est.se == pytest.approx(1.44222, abs=1e-5)
    assert est.se_raw == pytest.approx(4.47214, abs=1e-5)
    assert cuped.adjustment(y, x, treated) == pytest.approx(4.0 - 0.8)


def test_two_covariates_and_a_constant_one():
    """Multiple regression; a column without variance gets 0 and changes nothing."""
    # y = 1 + 2 x1 - 3 x2 exactly: theta = (2, -3); a constant third column gets 0.
    x1 = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    x2 = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 2.0])
    y = 1 + 2 * x1 - 3 * x2
    coef = cuped.theta(y, np.column_stack([x1, x2, np.ones(6)]))
    assert coef == pytest.approx([2.0, -3.0, 0.0], abs=1e-9)
    # When x explains y exactly, the adjusted uplift is exact: here the truth is 0.
    treated = np.array([True, True, True, False, False, True])
    est = cuped.estimate(y, np.column_stack([x1, x2]), treated)
    assert est.adjusted == pytest.approx(0.0, abs=1e-9)
    assert est.raw != pytest.approx(0.0)


def test_empty_group_gives_no_adjustment():
    """No holdout (or nobody treated): raw and adjusted are 0, and so is the adjustment."""
    y, x = np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 5.0])
    assert cuped.adjustment(y, x, np.ones(3, bool)) == 0.0
    est = cuped.estimate(y, x, np.zeros(3, bool))
    assert (est.raw, est.adjusted) == (0.0, 0.0) and math.isnan(est.se)


@pytest.mark.parametrize(("y", "x", "treated", "match"), [
    (np.ones(3), np.ones(4), np.ones(3, bool), "one row per customer"),
    (np.ones(3), np.ones(3), np.ones(3), "boolean treated"),
    (np.ones((3, 1)), np.ones(3), np.ones(3, bool), r"expected y \(n,\)"),
    (np.array([1.0, np.nan, 1.0]), np.ones(3), np.ones(3, bool), "finite"),
])
def test_bad_inputs(y, x, treated, match):
    """Shapes that do not line up, a non-boolean group or NaN are refused by name."""
    with pytest.raises(ValueError, match=match):
        cuped.estimate(y, x, treated)


def test_unbiased_when_the_truth_is_zero_and_less_noisy():
    """2,000 experiments without an effect: the adjusted mean is 0, its SD as predicted.

    Skewed outcomes that a covariate explains in part (R^2 about 0.5), 10 % holdout as in
    the quickstart. Tolerance: 4 standard errors of the mean over the 2,000 replications.
    """
    rng = np.random.default_rng(20130201)
    raw, adj, se = [], [], []
    for _ in range(2_000):
        n = 1_000
        x = rng.gamma(0.5, 20.0, n)
        y = x * rng.gamma(2.0, 0.5, n) + rng.exponential(10.0, n)
        treated = rng.random(n) >= 0.1
        est = cuped.estimate(y, x, treated)
        raw.append(est.raw)
        adj.append(est.adjusted)
        se.append(est.se)
    raw, adj = np.array(raw), np.array(adj)
    assert abs(adj.mean()) < 4 * adj.std(ddof=1) / math.sqrt(adj.size)
    assert abs(raw.mean()) < 4 * raw.std(ddof=1) / math.sqrt(raw.size)
    assert adj.std() < 0.8 * raw.std()
    # The standard error accounts for the adjustment: it matches the replications' SD.
    assert np.mean(se) == pytest.approx(adj.std(), rel=0.1)


def test_two_covariates_by_hand():
    """A vector theta: coefficients, adjusted uplift and standard error by hand."""
    # x1 = [1, -1, 1, -1, 0, 0], x2 = [1, 1, -1, -1, 0, 0]: both centred, x1 . x2 = 0, so
    # Sxx = diag(4, 4). y = [3, 1, 2, 0, 1, 5], mean 2, centred [1, -1, 0, -2, -1, 3]:
    # Sxy = (1 + 1 + 0 + 2, 1 - 1 - 0 + 2) = (4, 2), theta = (1, 0.5).
    # Treated rows 0, 2, 3, 5: mean_T y = 10 / 4 = 2.5, mean_H y = 2 / 2 = 1, raw = 4 x 1.5 = 6.
    # Gaps: x1 0.25 - (-0.5) = 0.75, x2 -0.25 - 0.5 = -0.75;
    # adjusted = 6 - 4 (1 x 0.75 + 0.5 x -0.75) = 6 - 1.5 = 4.5.
    # Residuals y - x1 - 0.5 x2 = [1.5, 1.5, 1.5, 1.5, 1, 5]: treated [1.5, 1.5, 1.5, 5],
    # s_T^2 = (3 x 0.875^2 + 2.625^2) / 3 = 3.0625; holdout [1.5, 1], s_H^2 = 0.125;
    # se = 4 sqrt(3.0625 / 4 + 0.125 / 2) = 4 sqrt(0.828125) = 3.640055.
    x = np.array([[1, 1], [-1, 1], [1, -1], [-1, -1], [0, 0], [0, 0]], dtype=float)
    y = np.array([3.0, 1.0, 2.0, 0.0, 1.0, 5.0])
    treated = np.array([True, False, True, True, False, True])
    est = cuped.estimate(y, x, treated)
    assert est.theta == pytest.approx([1.0, 0.5])
    assert est.raw == pytest.approx(6.0)
    assert est.adjusted == pytest.approx(4.5)
    assert est.se == pytest.approx(3.640055, abs=1e-6)


def test_collinear_columns_and_precomputed_moments():
    """One-hot columns that add up to another change nothing; `gram` of zero-padded rows too."""
    rng = np.random.default_rng(3)
    n = 400
    x = rng.gamma(2.0, 1.0, n)
    group = rng.integers(0, 3, n)
    y = 2 * x + group + rng.normal(0, 1, n)
    treated = rng.random(n) >= 0.2
    onehot = (group[:, None] == np.arange(3)).astype(float)
    # [x, 1{g=0}, 1{g=1}] is a full-rank design; adding 1{g=2} = 1 - the others and a
    # duplicate of x makes it collinear, and the fitted values, so the adjustment, stay.
    full = np.column_stack([x, onehot[:, :2]])
    redundant = np.column_stack([x, onehot, x, np.ones(n)])
    base = cuped.adjustment(y, full, treated)
    assert cuped.adjustment(y, redundant, treated) == pytest.approx(base, rel=1e-9)
    assert np.isfinite(cuped.theta(y, redundant)).all()
    # Moments of the rows plus 50 rows of zeros (later arrivals) give the same theta.
    padded = np.vstack([redundant, np.zeros((50, redundant.shape[1]))])
    assert cuped.theta(y, redundant, cuped.gram(padded)) == pytest.approx(
        cuped.theta(y, redundant), rel=1e-9, abs=1e-12)


def test_many_covariates_unbiased_when_the_truth_is_zero():
    """Forty covariates, most of them noise: still unbiased, still calibrated, still smaller.

    1,000 experiments of 1,000 customers, 10 % holdout. Tolerance: 4 standard errors of the
    mean; the mean standard error within 10 % of the replications' SD.
    """
    rng = np.random.default_rng(20130202)
    adj, raw, se = [], [], []
    for _ in range(1_000):
        n = 1_000
        x = rng.gamma(0.5, 20.0, (n, 40))
        y = x[:, 0] * rng.gamma(2.0, 0.5, n) + 0.5 * x[:, 1] + rng.exponential(10.0, n)
        treated = rng.random(n) >= 0.1
        est = cuped.estimate(y, x, treated)
        adj.append(est.adjusted)
        raw.append(est.raw)
        se.append(est.se)
    adj, raw = np.array(adj), np.array(raw)
    assert abs(adj.mean()) < 4 * adj.std(ddof=1) / math.sqrt(adj.size)
    assert adj.std() < 0.8 * raw.std()
    assert np.mean(se) == pytest.approx(adj.std(), rel=0.1)


def _history(join, freq, spend, last, present, day, horizon, n_categories=3, **kw):
    n = len(join)
    args = {"last_category": np.zeros(n, np.uint8), "stage": np.ones(n, np.uint8),
            "visits_primary": np.asarray(freq), "cart_value": np.zeros(n)} | kw
    return covariate.history_covariates(join, freq, spend, last, present, day, horizon,
                                        n_categories=n_categories, **args)


def test_covariate_columns():
    """Present customers get 1 and a prediction; newcomers get zeros."""
    # Three present customers who joined 400 days ago with the same 10 purchases and spend:
    # the one who bought yesterday is predicted to buy more than the one silent for a year.
    join = np.array([-400, -400, -400, 5])
    freq = np.array([10, 10, 10, 0])
    spend = np.array([500.0, 500.0, 500.0, 0.0])
    last = np.array([-1, -200, -365, 5])
    present = np.array([True, True, True, False])
    names = covariate.names(3)
    col = {name: j for j, name in enumerate(names)}
    # Too few customers to fit: the fallback, spend per day of tenure times the horizon.
    x = _history(join, freq, spend, last, present, 0, 30,
                 last_category=np.array([2, 0, 1, 0]), cart_value=np.array([0, 7.5, 0, 0]))
    assert x.shape == (4, len(names))
    assert x[:, col["present"]].tolist() == [1, 1, 1, 0]
    assert x[:3, col["predicted_spend"]] == pytest.approx(500.0 / 400 * 30)
    assert (x[3] == 0.0).all()
    # Recency as of the end of day -1: 0, 199 and 364 days; mean spend 50; cart 7.5.
    assert x[:3, col["recency"]].tolist() == [0, 199, 364]
    assert x[:3, col["mean_spend"]] == pytest.approx(50.0)
    assert x[:3, col["cart_value"]].tolist() == [0.0, 7.5, 0.0]
    # The last category as one-hot columns, and the prediction split by it.
    assert x[:3, col["last_category_2"]].tolist() == [1, 0, 0]
    pred = x[:3, col["predicted_spend_gg"]]
    assert x[:3, col["predicted_spend_gg_last_0"]] == pytest.approx([0, pred[1], 0])
    assert x[:3, col["stage_active"]].tolist() == [1, 1, 1]
    # Enough customers (the three, 20 times over, plus one-purchase ones) to fit BG/NBD.
    rng = np.random.default_rng(5)
    k = 200
    join_k = -rng.integers(30, 700, k)
    freq_k = 1 + rng.poisson(-join_k / 60)
    last_k = join_k + (rng.random(k) * -join_k).astype(int) * (freq_k > 1)
    many = _history(
        np.concatenate([np.tile(join, 20), join_k]), np.concatenate([np.tile(freq, 20), freq_k]),
        np.concatenate([np.tile(spend, 20), 50.0 * freq_k * rng.gamma(5.0, 0.2, k)]),
        np.concatenate([np.tile(last, 20), last_k]),
        np.concatenate([np.tile(present, 20), np.ones(k, bool)]), 0, 30)
    recent, stale, silent, newcomer = many[:4, col["predicted_spend"]]
    assert recent > stale > silent > 0
    assert newcomer == 0.0
    alive = many[:3, col["p_alive"]]
    assert 1 >= alive[0] > alive[1] > alive[2] > 0
    # Gamma-Gamma shrinks a one-basket customer's spend towards the population's mean.
    one = np.flatnonzero(many[:, col["frequency"]] == 1)[0]
    m, gg = many[one, col["mean_spend"]], many[one, col["gg_spend"]]
    mean_basket = many[many[:, 0] == 1, col["mean_spend"]].mean()
    assert abs(gg - mean_basket) < abs(m - mean_basket)
