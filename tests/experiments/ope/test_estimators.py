"""Off-policy estimators: hand-computed values, unbiasedness, coverage, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ope_planted import PI_T, Q_TRUE, V_TRUE, planted_log  # in this folder

from nbasim.experiments import ope
from nbasim.experiments.ope import OPEError

# --- a tiny log, every value by hand -----------------------------------------------------------
#
# 4 rounds, 2 actions.
#   action a   = [0,    1,    1,   0  ]
#   reward r   = [1,    0,    2,   3  ]
#   pscore mu  = [0.5,  0.25, 0.5, 0.8]
#   target pi  = [[.5, .5], [.2, .8], [1, 0], [.6, .4]]  -> pi(a_i|x_i) = [0.5, 0.8, 0, 0.6]
#   weight w   = pi / mu = [1, 3.2, 0, 0.75]              (sum 4.95, sum of squares 11.8025)
#   q_hat      = [[1, 2], [.5, 1], [1, 1.5], [2, 0]]
#   q_target   = sum_a pi q = [1.5, 0.9, 1.0, 1.2]          (mean 1.15)
#   q_logged   = q(x_i, a_i) = [1, 1, 1.5, 2]; residual r - q_logged = [0, -1, 0.5, 1]
#   w x residual = [0, -3.2, 0, 0.75]                       (sum -2.45)

A = np.array([0, 1, 1, 0])
R = np.array([1.0, 0.0, 2.0, 3.0])
P = np.array([0.5, 0.25, 0.5, 0.8])
PI = np.array([[0.5, 0.5], [0.2, 0.8], [1.0, 0.0], [0.6, 0.4]])
Q = np.array([[1.0, 2.0], [0.5, 1.0], [1.0, 1.5], [2.0, 0.0]])
T = PI[np.arange(4), A]


def test_ips_by_hand():
    """IPS = (1x1 + 3.2x0 + 0x2 + 0.75x3) / 4 = 3.25 / 4 = 0.8125."""
    assert ope.ips(R, P, T) == pytest.approx(0.8125, abs=1e-12)


def test_snips_by_hand():
    """SNIPS = 3.25 / 4.95 = 0.65656..."""
    assert ope.snips(R, P, T) == pytest.approx(3.25 / 4.95, abs=1e-12)


def test_dm_by_hand():
    """DM = (1.5 + 0.9 + 1.0 + 1.2) / 4 = 1.15."""
    assert ope.direct_method(Q, PI) == pytest.approx(1.15, abs=1e-12)


def test_dr_by_hand():
    """DR = 1.15 + (-2.45) / 4 = 0.5375."""
    assert ope.doubly_robust(R, A, P, PI, Q) == pytest.approx(0.5375, abs=1e-12)


def test_sndr_by_hand():
    """SNDR = 1.15 + (-2.45) / 4.95 = 0.65505..."""
    assert ope.self_normalized_doubly_robust(R, A, P, PI, Q) == pytest.approx(
        1.15 - 2.45 / 4.95, abs=1e-12)


def test_switch_dr_by_hand():
    """Switch-DR, tau = 2, drops row 1 (w = 3.2): 1.15 + (0 + 0 + 0.75) / 4 = 1.3375.

    tau = inf is plain DR.
    """
    assert ope.switch_doubly_robust(R, A, P, PI, Q, tau=2.0) == pytest.approx(1.3375, abs=1e-12)
    assert ope.switch_doubly_robust(R, A, P, PI, Q, tau=math.inf) == pytest.approx(0.5375)


def test_clipping_by_hand():
    """Clipped at 1, w = [1, 1, 0, 0.75].

    IPS = (1 + 0 + 0 + 2.25) / 4 = 0.8125; DR = 1.15 + (0 - 1 + 0 + 0.75) / 4 = 1.0875;
    SNIPS = 3.25 / 2.75.
    """
    assert ope.ips(R, P, T, clip=1.0) == pytest.approx(0.8125)
    assert ope.doubly_robust(R, A, P, PI, Q, clip=1.0) == pytest.approx(1.0875)
    assert ope.snips(R, P, T, clip=1.0) == pytest.approx(3.25 / 2.75)


def test_diagnostics_by_hand():
    """ESS = 4.95^2 / 11.8025 = 2.07604...; largest weight 3.2; mean weight 4.95 / 4.

    Clipped at 2, w = [1, 2, 0, 0.75]: ESS = 3.75^2 / 5.5625 = 2.52809... With a third action
    holding 0.1 of row 0's mass (never logged): unseen mass 0.1 / 4.
    """
    terms = ope.Terms(R, P, T)
    assert ope.diagnostics(terms)["ess"] == pytest.approx(4.95 ** 2 / 11.8025)
    d = ope.diagnostics(terms, clip=2.0, tau=3.0)
    assert d["ess"] == pytest.approx(3.75 ** 2 / 5.5625)
    assert d["max_weight"] == pytest.approx(3.2)
    assert d["mean_weight"] == pytest.approx(4.95 / 4)
    assert d["zero_weight_share"] == pytest.approx(0.25)
    assert d["clipped_share"] == pytest.approx(0.25) and d["over_tau_share"] == 0.25
    pi3 = np.hstack([PI, np.zeros((4, 1))])
    pi3[0] = [0.5, 0.4, 0.1]
    assert ope.unseen_target_mass(A, pi3).mean() == pytest.approx(0.025)


def test_evaluate_runs_all_estimators_and_matches_the_functions():
    """`evaluate` gives the same values as the single functions, intervals around them."""
    res = ope.evaluate(R, A, P, PI, Q, n_bootstrap=50, seed=1)
    e = res["estimates"]
    assert list(e) == list(ope.ESTIMATORS)
    assert e["dr"]["value"] == pytest.approx(0.5375) and e["ips"]["value"] == pytest.approx(0.8125)
    assert all(v["ci"][0] <= v["ci"][1] for v in e.values())
    assert ope.evaluate(R, A, P, PI, n_bootstrap=0)["estimates"].keys() == {"ips", "snips"}


def test_bootstrap_is_seeded():
    """The same seed gives the same interval; another seed another."""
    t = ope.Terms(R, P, T)
    a = ope.bootstrap_ci(t, ("ips",), n_bootstrap=30, seed=3)
    assert a == ope.bootstrap_ci(t, ("ips",), n_bootstrap=30, seed=3)
    assert a != ope.bootstrap_ci(t, ("ips",), n_bootstrap=30, seed=4)


# --- a synthetic bandit with a known value -------------------------------------------------------


def test_ips_is_unbiased_over_seeds():
    """Mean IPS over 400 seeds of 500 rounds is within 3 standard errors of the true value.

    The standard error is that of the mean over seeds (about 0.0014 here).
    """
    est = []
    for seed in range(400):
        x, a, r, p = planted_log(np.random.default_rng(seed), 500)
        est.append(ope.ips(r, p, PI_T[x, a]))
    est = np.array(est)
    se = est.std(ddof=1) / math.sqrt(est.size)
    assert abs(est.mean() - V_TRUE) < 3 * se


def test_dr_with_a_perfect_model_is_the_truth():
    """DR with a perfect reward model on noise-free rewards is the truth.

    The correction is 0 row by row, so DR, SNDR and switch-DR equal DM, which is the exact
    value on the logged contexts.
    """
    x, a, r, p = planted_log(np.random.default_rng(7), 1000, noisy=False)
    q_hat, pi = Q_TRUE[x], PI_T[x]
    # The target's value in each of the 4 contexts, weighted by how often the log saw each.
    truth = float(np.bincount(x, minlength=4) @ (PI_T * Q_TRUE).sum(axis=1) / x.size)
    t, q_logged, q_target = ope.model_terms(a, pi, q_hat)
    assert np.array_equal(r - q_logged, np.zeros_like(r))
    for f in (ope.doubly_robust, ope.self_normalized_doubly_robust, ope.switch_doubly_robust):
        assert f(r, a, p, pi, q_hat) == pytest.approx(truth, abs=1e-12)
    assert ope.direct_method(q_hat, pi) == pytest.approx(truth, abs=1e-12)


def test_dr_with_a_perfect_model_is_unbiased_under_noise():
    """DR with q_hat = Q_TRUE on Bernoulli rewards is unbiased.

    Its mean over 200 seeds is within 3 standard errors of V.
    """
    est = []
    for seed in range(200):
        x, a, r, p = planted_log(np.random.default_rng(seed), 500)
        est.append(ope.doubly_robust(r, a, p, PI_T[x], Q_TRUE[x]))
    est = np.array(est)
    assert abs(est.mean() - V_TRUE) < 3 * est.std(ddof=1) / math.sqrt(est.size)


def test_bootstrap_coverage_near_95_percent():
    """Bootstrap intervals of IPS and SNIPS cover the truth about 95 % of the time.

    Over 200 seeded logs of 1000 rounds the 95 % percentile interval holds the true value
    in a share within [0.90, 0.99] (binomial sd at 0.95: 0.015).
    """
    hits = np.zeros(2)
    for seed in range(200):
        x, a, r, p = planted_log(np.random.default_rng(10_000 + seed), 1000)
        terms = ope.Terms(r, p, PI_T[x, a])
        ci = ope.bootstrap_ci(terms, ("ips", "snips"), n_bootstrap=200, seed=seed)
        hits += [ci["ips"][0] <= V_TRUE <= ci["ips"][1],
                 ci["snips"][0] <= V_TRUE <= ci["snips"][1]]
    coverage = hits / 200
    assert ((coverage >= 0.90) & (coverage <= 0.99)).all(), coverage


def test_reward_model_recovers_a_linear_truth():
    """The ridge reward model recovers per-action linear rewards without noise.

    With a tiny penalty predictions match; an action never logged is predicted at the mean reward.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    a = rng.integers(0, 2, 2000)
    coef = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    r = (x * coef[a, :2]).sum(axis=1) + coef[a, 2]
    model = ope.fit_reward_model(x, a, r, 3, l2=1e-8)
    q = model.predict(x)
    assert np.allclose(q[np.arange(2000), a], r, atol=1e-5)
    assert np.allclose(q[:, 2], r.mean())
    models, fold = ope.cross_fit(x, a, r, 3, folds=3, seed=0, l2=1e-8)
    assert len(models) == 3 and set(fold.tolist()) == {0, 1, 2}
    q_cf = ope.predict_folds(models, fold, x)
    assert np.allclose(q_cf[np.arange(2000), a], r, atol=1e-4)



@pytest.mark.parametrize(("call", "match"), [
    (lambda: ope.ips(R, P[:3], T), r"pscore shape \(3,\): expected \(4,\)"),
    (lambda: ope.ips(R, P, T * 2), r"target_pscore: row 1 holds 1\.6; allowed: 0 to 1"),
    (lambda: ope.doubly_robust(R, A, P, PI * 2, Q), r"action_dist: row 0 sums to 2"),
    (lambda: ope.doubly_robust(R, A + 1, P, PI, Q), r"action: row 1 holds 2; allowed 0 to 1"),
    (lambda: ope.switch_doubly_robust(R, A, P, PI, Q, tau=0), r"tau = 0"),
    (lambda: ope.estimate(ope.Terms(R, P, T), ("dr",)), r"need a reward model"),
    (lambda: ope.ips([], [], []), r"the log has no rows"),
])
def test_pure_functions_reject_bad_arrays(call, match):
    """The estimator functions name the bad array and what is allowed."""
    with pytest.raises(OPEError, match=match):
        call()
