"""BG/NBD and Gamma-Gamma likelihoods, expectations, the calibration summary and the MLE."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from nbasim.sim import calibration as cal
from nbasim.sim.catalog import Catalog
from nbasim.sim.geography import City
from nbasim.sim.params import ParameterError
from nbasim.sim.population import build_population
from nbasim.sim.scenarios import get_scenario

CDNOW = (0.243, 4.414, 0.793, 2.426)  # FHL 2005, per week


def draw_bgnbd(n: int, T: np.ndarray, params: tuple, rng: np.random.Generator) -> tuple:
    """Exact BG/NBD histories in continuous time: (x, t_x) for ages T.

    Repeat purchases arrive as Poisson(lambda) events; the customer drops out right after the
    J-th, J ~ Geometric(p); so x = min(M, J) of the M events in (0, T], the last at the x-th
    of M uniform order statistics.
    """
    r, alpha, a, b = params
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    m = rng.poisson(lam * T)
    j = rng.geometric(p)
    x = np.minimum(m, j)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(m - x, 0) + 1), 0.0)
    return x.astype(np.float64), t_x


def test_loglik_of_a_one_time_buyer_by_hand():
    """X = 0: L = (alpha / (alpha + T))^r; r = 1, alpha = 2, T = 2 gives log 0.5."""
    value = cal.bgnbd_loglik(np.array([1.0, 2.0, 0.8, 2.0]), np.array([0.0]), np.array([0.0]),
                             np.array([2.0]))
    assert value == pytest.approx(np.log(0.5), rel=1e-12)


def test_loglik_of_one_repeat_purchase_by_hand():
    """One repeat purchase, by hand.

    FHL 2005 eq. 6 at x = 1: B(a, b+1)/B(a, b) r alpha^r / (alpha+T)^(r+1)
    + B(a+1, b)/B(a, b) r alpha^r / (alpha+t_x)^(r+1).
    """
    r, alpha, a, b, t_x, T = 0.5, 3.0, 0.7, 2.5, 4.0, 10.0
    beta = special.beta
    by_hand = (beta(a, b + 1) / beta(a, b) * r * alpha**r / (alpha + T) ** (r + 1)
               + beta(a + 1, b) / beta(a, b) * r * alpha**r / (alpha + t_x) ** (r + 1))
    value = cal.bgnbd_loglik(np.array([r, alpha, a, b]), np.array([1.0]), np.array([t_x]),
                             np.array([T]))
    assert value == pytest.approx(np.log(by_hand), rel=1e-12)


def test_loglik_weights_count_identical_rows():
    """Grouping identical customers with weights leaves the log-likelihood unchanged."""
    params = np.array(CDNOW)
    x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 5.0]), np.array([10.0, 12.0])
    grouped = cal.bgnbd_loglik(params, x, t_x, T, weights=np.array([3.0, 2.0]))
    flat = cal.bgnbd_loglik(params, np.repeat(x, [3, 2]), np.repeat(t_x, [3, 2]),
                            np.repeat(T, [3, 2]))
    assert grouped == pytest.approx(flat, rel=1e-12)


def test_expected_repeats_match_a_monte_carlo():
    """E[X(t)] against 200,000 exact histories: within 4 Monte Carlo standard errors."""
    rng = np.random.default_rng(7)
    t = 52.0
    x, _ = draw_bgnbd(200_000, np.full(200_000, t), CDNOW, rng)
    se = x.std() / np.sqrt(x.size)
    assert abs(x.mean() - cal.bgnbd_expected(t, *CDNOW)) < 4 * se


def test_conditional_expectation_without_history_is_the_unconditional_one():
    """A customer just acquired (x = 0, t_x = 0, T = 0) expects E[X(t)]."""
    t = np.array([1.0, 10.0, 39.0])
    cond = cal.bgnbd_conditional(t, np.zeros(3), np.zeros(3), np.zeros(3), *CDNOW)
    np.testing.assert_allclose(cond, cal.bgnbd_expected(t, *CDNOW), rtol=1e-10)


def test_conditional_expectation_matches_a_monte_carlo():
    """Holdout repeats of customers with one history, drawn by continuing exact histories."""
    rng = np.random.default_rng(3)
    n, T, t = 400_000, 30.0, 20.0
    r, alpha, a, b = CDNOW
    lam, p = rng.gamma(r, 1.0 / alpha, n), rng.beta(a, b, n)
    # Condition on x = 0 in (0, T]: no event in (0, T] (dropout only follows a purchase).
    keep = rng.poisson(lam * T) == 0
    lam, p = lam[keep], p[keep]
    m = rng.poisson(lam * t)
    y = np.minimum(m, rng.geometric(p))
    expected = cal.bgnbd_conditional(t, np.array([0.0]), np.array([0.0]), np.array([T]),
                                     *CDNOW)[0]
    assert abs(y.mean() - expected) < 4 * y.std() / np.sqrt(y.size)


def test_gamma_gamma_density_integrates_the_mixture():
    """X = 1: the density of one basket is the Gamma(p, nu) density mixed over Gamma(q, v)."""
    p, q, v, m = 6.25, 3.74, 15.44, 12.0
    mixed = integrate.quad(lambda nu: stats.gamma.pdf(m, p, scale=1 / nu)
                           * stats.gamma.pdf(nu, q, scale=1 / v), 0, np.inf)[0]
    value = cal.gamma_gamma_loglik(np.array([p, q, v]), np.array([1.0]), np.array([m]))
    assert value == pytest.approx(np.log(mixed), rel=1e-8)


def test_summary_merges_same_day_purchases_by_hand():
    """Customer 7 buys on days 0, 0, 3, 7 (amounts 1, 2, 3, 5); end = 10.

    Purchase days 0, 3, 7: x = 2, t_x = 7, T = 10 days (1 and 10/7 weeks);
    m_x = (3 + 5) / 2 = 4. Customer 9 buys once on day 12, after the end: left out.
    """
    s = cal.summarize(np.array([7, 7, 7, 7, 9]), np.array([0, 0, 3, 7, 12]),
                      np.array([1.0, 2.0, 3.0, 5.0, 8.0]), end=10, time_unit="week")
    assert s.customer.tolist() == [7]
    assert (s.x[0], s.t_x[0], s.T[0], s.m_x[0]) == (2.0, 1.0, pytest.approx(10 / 7), 4.0)
    days = cal.summarize(np.array([7, 7]), np.array([0, 0]), np.array([1.0, 2.0]), end=10,
                         time_unit="day")
    assert (days.x[0], days.T[0]) == (0.0, 10.0) and np.isnan(days.m_x[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"time_unit": "month"}, "time unit 'month': allowed are day, week"),
    ({"amount": np.array([1.0])}, "must have one length"),
])
def test_summary_rejects_bad_input(kwargs, match):
    """An unknown time unit or misaligned columns are named."""
    args = {"customer": np.array([0, 1]), "day": np.array([0, 1]),
            "amount": np.array([1.0, 2.0]), "end": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        cal.summarize(**args)


def test_hessian_of_a_quadratic_is_exact():
    """F = x^T A x / 2 has Hessian A."""
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    H = cal.hessian(lambda th: 0.5 * th @ A @ th, np.array([1.0, 2.0]))
    np.testing.assert_allclose(H, A, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bgnbd_fit_recovers_known_parameters(seed):
    """The BG/NBD fit recovers the CDNOW parameters from exact histories.

    20,000 continuous-time histories, ages uniform over 1-78 weeks: each estimate within 3
    standard errors of the truth (a 3-sigma band: about 1 % of seeds fail one of the four).
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(1, 78, 20_000)
    x, t_x = draw_bgnbd(T.size, T, CDNOW, rng)
    fit = cal.fit_bgnbd(x, t_x, T)
    assert fit.converged, fit.message
    for name, truth in zip(cal.BGNBD_PARAMS, CDNOW, strict=True):
        assert abs(fit.params[name] - truth) < 3 * fit.se[name], (name, fit.params, fit.se)


def test_gamma_gamma_fit_recovers_known_parameters():
    """The Gamma-Gamma fit recovers p=6.25, q=3.74, v=15.44 within 3 standard errors.

    Mean spend of 20,000 repeat buyers with 1-10 baskets each.
    """
    rng = np.random.default_rng(11)
    p, q, v = 6.25, 3.74, 15.44
    x = rng.integers(1, 11, 20_000).astype(np.float64)
    nu = rng.gamma(q, 1.0 / v, x.size)
    m_x = rng.gamma(p * x, 1.0) / nu / x  # the sum of x Gamma(p, nu) baskets, over x
    fit = cal.fit_gamma_gamma(x, m_x)
    assert fit.converged, fit.message
    for name, truth in zip(cal.GG_PARAMS, (p, q, v), strict=True):
        assert abs(fit.params[name] - truth) < 3 * fit.se[name], (name, fit.params, fit.se)


def test_gamma_gamma_needs_repeat_buyers_with_spend():
    """Fewer than 3 repeat buyers with spend > 0 is refused with the count."""
    with pytest.raises(ValueError, match="at least 3 repeat buyers with spend > 0, got 1"):
        cal.fit_gamma_gamma(np.array([0.0, 1.0, 2.0]), np.array([np.nan, 5.0, 0.0]))


def test_burn_in_profile_sets_the_join_ages():
    """Profile (0, 3, 1) over 30 days: bins 1-10, 11-20, 21-30; none in the first, 3:1 after."""
    params = get_scenario("dry_cleaning_chain", {"burn_in_days": 30, "acquisition_rate": 0.0,
                                                 "burn_in_profile": [0, 3, 1]})
    pop = build_population(params, 8000, 10, City(params), Catalog(params),
                           np.random.default_rng(0))
    age = -pop.join_day.astype(np.int64)
    assert age.min() >= 11 and age.max() <= 30
    assert np.mean(age <= 20) == pytest.approx(0.75, abs=0.02)  # 3 / (3 + 1)


@pytest.mark.parametrize("profile, match", [
    ([1.0] * 31, "burn_in_profile must have at most burn_in_days = 30 bins"),
    ([0.0, 0.0], "a positive sum"),
    ([1.0, -1.0], "greater than or equal to 0"),
])
def test_burn_in_profile_is_checked(profile, match):
    """Too many bins, a zero sum or a negative weight is refused with the rule."""
    with pytest.raises(ParameterError, match=match):
        get_scenario("dry_cleaning_chain", {"burn_in_days": 30, "burn_in_profile": profile})
