"""BG/NBD and Gamma-Gamma fitted to a transaction history by maximum likelihood, as pure functions.

Sources: the BG/NBD likelihood, E[X(t)] and the conditional expectation are equations (6),
(7) and (10) of Fader, Hardie and Lee (2005), "Counting your customers the easy way: an
alternative to the Pareto/NBD model", Marketing Science 24(2); the Gamma-Gamma likelihood of
mean repeat spend is Fader, Hardie and Lee (2005), "RFM and CLV: using iso-value curves for
customer base analysis", Journal of Marketing Research 42(4), with the notation of Fader and
Hardie's note "The Gamma-Gamma model of monetary value" (2013): a basket z ~ Gamma(p, nu),
nu ~ Gamma(q, v).

The calibration summary works on purchase days: purchases of a customer on the same day are
one transaction, as in the simulator, where a customer buys at most once a day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

TIME_UNITS = {"day": 1, "week": 7}
BGNBD_PARAMS = ("r", "alpha", "a", "b")
GG_PARAMS = ("p", "q", "v")


@dataclass(frozen=True)
class Summary:
    """The calibration summary, one row per customer whose first purchase is before the end.

    Attributes:
        x: (n,) repeat transactions (purchase days after the first) up to the end.
        t_x: (n,) time from the first to the last purchase, in the time unit.
        T: (n,) time from the first purchase to the end, in the time unit.
        m_x: (n,) mean spend of the repeat transactions (NaN when x = 0).
        first_day: (n,) int64 day number of the first purchase.
        customer: (n,) int64 index of each row's customer in the caller's numbering.
    """

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    m_x: np.ndarray
    first_day: np.ndarray
    customer: np.ndarray

    @property
    def n_customers(self) -> int:
        """Number of customers in the summary."""
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Fit:
    """A maximum-likelihood fit.

    Attributes:
        params: estimates by name, natural scale.
        se: standard errors by name (NaN when the Hessian is not positive definite).
        loglik: log-likelihood at the estimates (summed over customers).
        converged: whether the optimiser reported success and the Hessian is positive definite.
        message: the optimiser's message.
        iterations: optimiser iterations.
        n: customers that entered the likelihood.
    """

    params: dict[str, float]
    se: dict[str, float]
    loglik: float
    converged: bool
    message: str
    iterations: int
    n: int
    extra: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Plain dict: parameters at top level, then loglik, se and the convergence report."""
        out: dict[str, object] = dict(self.params)
        out.update(loglik=self.loglik,
                   se={k: (None if not np.isfinite(v) else v) for k, v in self.se.items()},
                   converged=self.converged, message=self.message, iterations=self.iterations,
                   n=self.n)
        out.update(self.extra)
        return out


def summarize(customer: np.ndarray, day: np.ndarray, amount: np.ndarray, end: int,
              time_unit: str = "week") -> Summary:
    """Build the calibration summary from purchases, merging a customer's purchases per day.

    Purchases after `end` are ignored; customers whose first purchase falls after `end` are
    left out.

    Args:
        customer: (n,) int64 customer indices (any non-negative integers).
        day: (n,) int64 day numbers.
        amount: (n,) float64 spend.
        end: last day of the calibration period (inclusive).
        time_unit: "day" or "week"; t_x and T are expressed in it.

    Returns:
        The summary, sorted by customer index.

    Raises:
        ValueError: an unknown time unit, or arrays of different lengths.
    """
    unit = _unit(time_unit)
    customer, day = np.asarray(customer, np.int64), np.asarray(day, np.int64)
    amount = np.asarray(amount, np.float64)
    if not customer.shape == day.shape == amount.shape:
        raise ValueError(f"customer, day and amount must have one length, got {customer.shape},"
                         f" {day.shape} and {amount.shape}")
    keep = day <= end
    cust, d, amt = merge_days(customer[keep], day[keep], amount[keep])
    if cust.size == 0:
        empty = np.zeros(0)
        return Summary(empty, empty, empty, empty, np.zeros(0, np.int64), np.zeros(0, np.int64))
    starts = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
    counts = np.diff(np.r_[starts, cust.size])
    first, last = d[starts], d[np.r_[starts[1:], cust.size] - 1]
    total = np.add.reduceat(amt, starts)
    x = counts - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        m_x = np.where(x > 0, (total - amt[starts]) / x, np.nan)
    return Summary(x=x.astype(np.float64), t_x=(last - first) / unit, T=(end - first) / unit,
                   m_x=m_x, first_day=first, customer=cust[starts])


def merge_days(customer: np.ndarray, day: np.ndarray,
               amount: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per (customer, day) with the day's spend summed, sorted by customer then day.

    Returns:
        customer (m,), day (m,) and amount (m,).
    """
    if customer.size == 0:
        return customer, day, amount
    lo = int(day.min())
    span = int(day.max()) - lo + 1
    key = customer * span + (day - lo)
    order = np.argsort(key, kind="stable")
    key = key[order]
    new = np.r_[True, key[1:] != key[:-1]]
    starts = np.flatnonzero(new)
    k = key[starts]
    return k // span, k % span + lo, np.add.reduceat(amount[order], starts)


def _unit(time_unit: str) -> int:
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time unit {time_unit!r}: allowed are {', '.join(TIME_UNITS)}")
    return TIME_UNITS[time_unit]


# ------------------------------------------------------------------------------ BG/NBD
def bgnbd_loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                 weights: np.ndarray | None = None) -> float:
    """BG/NBD log-likelihood (FHL 2005, eq. 6), summed over customers.

    Args:
        params: (4,) r, alpha, a, b (alpha in the unit of t_x and T).
        x: (n,) repeat transactions.
        t_x: (n,) time of the last repeat transaction.
        T: (n,) age: time from the first purchase to the end of calibration.
        weights: (n,) multiplicity of each row (identical customers grouped), or None.
    """
    return float(np.dot(_bgnbd_terms(params, x, t_x, T),
                        np.ones_like(x) if weights is None else weights))


def _bgnbd_terms(params: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                 T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b)
          - special.gammaln(a + b + x))
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def bgnbd_expected(t: np.ndarray | float, r: float, alpha: float, a: float,
                   b: float) -> np.ndarray:
    """E[X(t)], the expected repeat transactions in (0, t] of a new customer (FHL 2005, eq. 7).

    Args:
        t: time since the first purchase, in the unit of alpha.
        r: shape of the Gamma purchase rate.
        alpha: rate parameter of the Gamma purchase rate.
        a: Beta a of the dropout probability.
        b: Beta b of the dropout probability.
    """
    t = np.asarray(t, dtype=np.float64)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (
        1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))


def bgnbd_conditional(t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                      r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected repeat transactions in (T, T + t] (FHL 2005, eq. 10).

    Args:
        t: length of the forecast period, in the unit of alpha.
        x: (n,) repeat transactions in the calibration period.
        t_x: (n,) time of the last of them.
        T: (n,) age at the end of the calibration period.
        r: shape of the Gamma purchase rate.
        alpha: rate parameter of the Gamma purchase rate.
        a: Beta a of the dropout probability.
        b: Beta b of the dropout probability.

    Returns:
        (n,) expectations.
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1) * (
        1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(r + x, b + x,
                                                                        a + b + x - 1, z))
    return head / (1 + _alive_odds(x, t_x, T, r, alpha, a, b))


def bgnbd_p_alive(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, r: float, alpha: float,
                  a: float, b: float) -> np.ndarray:
    """P(alive | x, t_x, T) under BG/NBD (FHL 2005, eq. 11); 1 for a customer without repeats.

    Args as in `bgnbd_conditional` (times in the unit of alpha).

    Returns:
        (n,) probabilities.
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    return 1 / (1 + _alive_odds(x, t_x, T, r, alpha, a, b))


def _alive_odds(x, t_x, T, r, alpha, a, b) -> np.ndarray:
    """P(dead | x, t_x, T) / P(alive | ...): 0 without repeats (float64 arrays in)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
              start: tuple[float, float, float, float] | None = None) -> Fit:
    """Fit BG/NBD by maximum likelihood.

    Identical (x, t_x, T) rows are grouped first. The optimiser (L-BFGS-B) works on the
    log-parameters; standard errors come from the inverse of a numerical Hessian of the
    negative log-likelihood on the natural parameters.

    Args:
        x: (n,) repeat transactions.
        t_x: (n,) time of the last repeat transaction.
        T: (n,) age at the end of the calibration period.
        start: starting values (r, alpha, a, b); None: r = 1, a = 1, b = 3 and alpha such
            that the mean rate r / alpha is the mean of x / T.

    Returns:
        The fit, with params r, alpha (per time unit of T), a, b.
    """
    rows = np.column_stack([x, t_x, T]).astype(np.float64)
    uniq, weights = np.unique(rows, axis=0, return_counts=True)
    ux, ut, uT = uniq.T
    w = weights.astype(np.float64)

    def nll(theta: np.ndarray) -> float:
        return -float(np.dot(_bgnbd_terms(theta, ux, ut, uT), w))

    if start is None:
        rate = max(float(np.mean(x)) / max(float(np.mean(T)), 1e-9), 1e-6)
        start = (1.0, 1.0 / rate, 1.0, 3.0)
    return _fit(nll, np.asarray(start, dtype=np.float64), BGNBD_PARAMS, int(w.sum()))


# ------------------------------------------------------------------------------ Gamma-Gamma
def gamma_gamma_loglik(params: np.ndarray, x: np.ndarray, m_x: np.ndarray) -> float:
    """Gamma-Gamma log-likelihood of mean repeat spend, summed over customers with x > 0.

    The density of the mean m_x of x baskets, each Gamma(p, nu), with nu ~ Gamma(q, v):
    f(m_x | p, q, v, x) = Gamma(p x + q) / (Gamma(p x) Gamma(q)) v^q m_x^(p x - 1) x^(p x)
    / (v + m_x x)^(p x + q).

    Args:
        params: (3,) p, q, v.
        x: (n,) repeat transactions (>= 1).
        m_x: (n,) their mean spend (> 0).
    """
    return float(np.sum(_gg_terms(params, x, m_x)))


def _gg_terms(params: np.ndarray, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    p, q, v = params
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m_x) + px * np.log(x) - (px + q) * np.log(v + m_x * x))


def fit_gamma_gamma(x: np.ndarray, m_x: np.ndarray,
                    start: tuple[float, float, float] | None = None) -> Fit:
    """Fit Gamma-Gamma on the repeat buyers (x > 0) with a positive mean spend.

    Customers with x = 0 or m_x <= 0 do not enter the likelihood; `extra["excluded_zero_spend"]`
    counts repeat buyers left out for a zero mean spend.

    Returns:
        The fit, with params p, q, v (v in the currency of m_x).

    Raises:
        ValueError: fewer than 3 repeat buyers with positive spend.
    """
    x, m_x = np.asarray(x, np.float64), np.asarray(m_x, np.float64)
    repeat = x > 0
    use = repeat & (np.nan_to_num(m_x) > 0)
    if use.sum() < 3:
        raise ValueError(f"Gamma-Gamma needs at least 3 repeat buyers with spend > 0, got "
                         f"{int(use.sum())}")
    xs, ms = x[use], m_x[use]

    def nll(theta: np.ndarray) -> float:
        return -float(np.sum(_gg_terms(theta, xs, ms)))

    if start is None:
        mean = float(np.mean(ms))
        start = (2.0, 3.0, 2.0 * mean)  # E[m] = p v / (q - 1) = mean at p = 2, q = 3, v = mean
    fit = _fit(nll, np.asarray(start, dtype=np.float64), GG_PARAMS, int(use.sum()))
    fit.extra["excluded_zero_spend"] = int(np.count_nonzero(repeat & ~use))
    return fit


# ------------------------------------------------------------------------------ shared
def _fit(nll: Callable[[np.ndarray], float], start: np.ndarray, names: tuple[str, ...],
         n: int) -> Fit:
    """Minimise `nll` over log-parameters, then standard errors from the natural Hessian."""
    scale = max(n, 1)

    def objective(log_theta: np.ndarray) -> float:
        value = nll(np.exp(log_theta)) / scale
        return value if np.isfinite(value) else 1e300

    bounds = [(-20.0, 20.0)] * len(names)
    res = optimize.minimize(objective, np.log(start), method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9})
    theta = np.exp(res.x)
    hess = hessian(nll, theta)
    se = np.full(len(names), np.nan)
    positive_definite = False
    try:
        np.linalg.cholesky(hess)
        positive_definite = True
        cov = np.linalg.inv(hess)
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        pass
    at_bound = bool(np.any(np.abs(res.x) >= 19.99))
    message = str(res.message)
    if not positive_definite:
        message += "; the Hessian is not positive definite (no standard errors)"
    if at_bound:
        message += "; a parameter is at its bound exp(+-20)"
    return Fit(params=dict(zip(names, map(float, theta), strict=True)),
               se=dict(zip(names, map(float, se), strict=True)), loglik=-nll(theta),
               converged=bool(res.success) and positive_definite and not at_bound,
               message=message, iterations=int(res.nit), n=n)


def hessian(f: Callable[[np.ndarray], float], theta: np.ndarray,
            rel_step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function, steps relative to each parameter.

    Returns:
        (k, k) symmetric matrix.
    """
    theta = np.asarray(theta, dtype=np.float64)
    k = theta.size
    h = rel_step * np.maximum(np.abs(theta), 1e-8)
    H = np.empty((k, k))
    f0 = f(theta)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        H[i, i] = (f(theta + ei) - 2 * f0 + f(theta - ei)) / h[i] ** 2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej)
                                 + f(theta - ei - ej)) / (4 * h[i] * h[j])
    return H
