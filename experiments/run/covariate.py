"""The CUPED covariates: what a CRM knows of each customer before the campaign.

Built once per cell from the observable history at the first decision (the day-0 state:
first purchase day, purchases, last purchase day, total spend, last category, lifecycle
stage, visits to the primary store, open cart), never from latent traits. The columns, all
0 for a customer who arrives during the run (newcomers have no history):

- `present`: 1 for a customer present at the first decision (lets newcomers' mean differ);
- `predicted_spend`: the BG/NBD expected repeat purchases over the run, conditional on each
  customer's own (x, t_x, T) (Fader, Hardie and Lee 2005, eq. 10, the model fitted by maximum
  likelihood on these same histories), times their mean spend per purchase so far;
- `predicted_spend_gg`: the same purchases times the Gamma-Gamma conditional mean spend
  (Fader, Hardie and Lee 2005, "RFM and CLV", eq. 5, fitted on the same histories), which
  shrinks the mean of one or two baskets towards the population's;
- `expected_purchases`, `sqrt_expected_purchases`, `p_alive` (BG/NBD P(alive | x, t_x, T)),
  `mean_spend`, `gg_spend`, `p_alive_gg_spend`: the pieces of those products;
- `recency`, `log_recency`, `frequency`, `tenure`, `purchases_per_day`, `spend_per_day` (per
  day of tenure, at least 30), `primary_share` (visits to the primary store over purchases),
  `cart_value`: the RFM history as the CRM reads it;
- `last_category_<c>` and `predicted_spend_gg_last_<c>`: the last purchase's category and the
  prediction split by it (the next basket's category, so its price and margin, follow the
  last one);
- `stage_<s>` and `predicted_spend_gg_stage_<s>`: the lifecycle stage and the prediction
  split by it.

A linear regression on them (`experiments.run.cuped`, theta pooled over both groups) is a
history-based prediction of each customer's margin over the run: the "CUPAC" reading of
CUPED. On the quickstart world it explains about 0.41 of the variance of that margin, where
`present` and `predicted_spend` alone explain 0.37 and the hidden traits 0.53.

A BG/NBD fit that fails, or predicts something not finite, falls back to each customer's
spend per day of tenure times the run's days (and purchases per day for the expected
purchases, P(alive) 1); a Gamma-Gamma fit that fails to the mean spend. Either way the
covariates are fixed before any contact, so they cannot carry the campaign's effect.
"""

from __future__ import annotations

import hashlib

import numpy as np

from nbasim.sim import calibration, lifecycle

MAX_FIT_ROWS = 20_000
"""BG/NBD and Gamma-Gamma are fitted on at most this many customers (every k-th row), the
prediction made for all: the parameters are population-level and settle long before."""
WEEK = 7.0
"""The BG/NBD fit's time unit, in days (the unit of the published BG/NBD parameters)."""
FLOOR_DAYS = 30.0
"""Tenure below which rates per day of tenure are taken over this many days."""
BASE_NAMES = ("present", "predicted_spend", "predicted_spend_gg", "expected_purchases",
              "sqrt_expected_purchases", "p_alive", "mean_spend", "gg_spend",
              "p_alive_gg_spend", "recency", "log_recency", "frequency", "tenure",
              "purchases_per_day", "spend_per_day", "primary_share", "cart_value")
"""The columns that do not depend on the catalog."""
_FITS: dict[bytes, dict[str, float] | None] = {}
"""Fits of this process by the SHA-256 of their inputs: the cells of one seed share their
day-0 histories, so a worker fits each seed once, whatever the policy."""
_MAX_FITS = 64


def names(n_categories: int) -> tuple[str, ...]:
    """The covariate columns for a catalog of `n_categories` categories, in order."""
    cats = tuple(f"last_category_{c}" for c in range(n_categories))
    stages = tuple(f"stage_{s}" for s in lifecycle.STAGES)
    return (BASE_NAMES + cats + tuple(f"predicted_spend_gg_last_{c}" for c in range(n_categories))
            + stages + tuple(f"predicted_spend_gg_stage_{s}" for s in lifecycle.STAGES))


def history_covariates(join_day: np.ndarray, frequency: np.ndarray, monetary: np.ndarray,
                       last_purchase_day: np.ndarray, present: np.ndarray, day: int,
                       horizon_days: float, *, last_category: np.ndarray, n_categories: int,
                       stage: np.ndarray, visits_primary: np.ndarray,
                       cart_value: np.ndarray) -> np.ndarray:
    """The covariate matrix of every customer, as of the end of day `day - 1`.

    Args:
        join_day: (n,) day of each customer's first purchase (negative before the run).
        frequency: (n,) purchases so far (the first included).
        monetary: (n,) total spend so far.
        last_purchase_day: (n,) day of the last purchase.
        present: (n,) bool, the customers present now; the others get zeros.
        day: the first day not yet simulated; a present customer's age is `day - join_day`.
        horizon_days: days ahead to predict (the run's decision days).
        last_category: (n,) category of the last purchase (values outside
            `[0, n_categories)` get no category column).
        n_categories: categories of the catalog.
        stage: (n,) lifecycle stage (`sim.lifecycle.STAGES`).
        visits_primary: (n,) purchases at the primary store so far.
        cart_value: (n,) value of the open cart (0: none).

    Returns:
        (n, len(names(n_categories))) float64, the columns of `names(n_categories)`.
    """
    n = np.asarray(join_day).size
    out = np.zeros((n, len(names(n_categories))))
    rows = np.flatnonzero(present)
    if rows.size == 0:
        return out
    join = np.asarray(join_day, dtype=np.float64)[rows]
    purchases = np.maximum(np.asarray(frequency, dtype=np.float64)[rows], 1.0)
    spend = np.asarray(monetary, dtype=np.float64)[rows]
    age = np.maximum(day - join, 1.0)
    last_day = np.asarray(last_purchase_day, dtype=np.float64)[rows]
    last = np.clip(last_day - join, 0.0, age)
    mean_spend = spend / purchases
    fit = _bgnbd(purchases - 1.0, last / WEEK, age / WEEK, horizon_days / WEEK)
    if fit is None:
        repeat = purchases / np.maximum(age, FLOOR_DAYS) * horizon_days
        alive = np.ones(rows.size)
        predicted = spend / np.maximum(age, FLOOR_DAYS) * horizon_days
    else:
        repeat, alive = fit
        predicted = repeat * mean_spend
    gg = _gg_spend(purchases, mean_spend)
    recency = np.maximum(day - 1 - last_day, 0.0)
    base = {
        "present": np.ones(rows.size), "predicted_spend": predicted,
        "predicted_spend_gg": repeat * gg, "expected_purchases": repeat,
        "sqrt_expected_purchases": np.sqrt(np.maximum(repeat, 0.0)), "p_alive": alive,
        "mean_spend": mean_spend, "gg_spend": gg, "p_alive_gg_spend": alive * gg,
        "recency": recency, "log_recency": np.log1p(recency), "frequency": purchases,
        "tenure": age, "purchases_per_day": purchases / np.maximum(age, FLOOR_DAYS),
        "spend_per_day": spend / np.maximum(age, FLOOR_DAYS),
        "primary_share": np.asarray(visits_primary, dtype=np.float64)[rows] / purchases,
        "cart_value": np.asarray(cart_value, dtype=np.float64)[rows],
    }
    for j, name in enumerate(BASE_NAMES):
        out[rows, j] = base[name]
    k = len(BASE_NAMES)
    cat = np.asarray(last_category)[rows].astype(np.int64)
    for c in range(n_categories):
        out[rows, k + c] = cat == c
        out[rows, k + n_categories + c] = (cat == c) * base["predicted_spend_gg"]
    k += 2 * n_categories
    st = np.asarray(stage)[rows].astype(np.int64)
    for s in range(len(lifecycle.STAGES)):
        out[rows, k + s] = st == s
        out[rows, k + len(lifecycle.STAGES) + s] = (st == s) * base["predicted_spend_gg"]
    return out


def _bgnbd(x: np.ndarray, t_x: np.ndarray, age: np.ndarray,
           t: float) -> tuple[np.ndarray, np.ndarray] | None:
    """BG/NBD E[purchases in (T, T + t] | x, t_x, T] and P(alive | x, t_x, T), or None.

    The model is fitted on these histories; P(alive) = 1 / (1 + odds) with odds
    `a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)` for x > 0, else 1 (FHL 2005,
    eq. 11).
    """
    step = max(1, -(-x.size // MAX_FIT_ROWS))
    if x.size < 10 or not np.any(x[::step] > 0):
        return None
    rows = np.ascontiguousarray(np.column_stack([x[::step], t_x[::step], age[::step]]))
    p = _cached(b"bgnbd" + rows.tobytes(), lambda: _fit_bgnbd(*rows.T))
    if p is None:
        return None
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    with np.errstate(all="ignore"):
        pred = calibration.bgnbd_conditional(t, x, t_x, age, r, alpha, a, b)
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + age) / (alpha + t_x)) ** (r + x),
                        0.0)
        alive = 1.0 / (1.0 + odds)
    if not (np.isfinite(pred).all() and np.isfinite(alive).all()):
        return None
    return pred, alive


def _gg_spend(purchases: np.ndarray, mean_spend: np.ndarray) -> np.ndarray:
    """Gamma-Gamma E[basket | n baskets of mean m] = p (v + n m) / (p n + q - 1), or m.

    Every purchase, the first included, counts as a basket (the burn-in draws all of them).
    """
    step = max(1, -(-purchases.size // MAX_FIT_ROWS))
    n, m = purchases[::step], mean_spend[::step]
    if purchases.size < 10 or np.count_nonzero(m > 0) < 10:
        return mean_spend
    key = b"gg" + np.ascontiguousarray(np.column_stack([n, m])).tobytes()
    p = _cached(key, lambda: _fit_gg(n, m))
    if p is None:
        return mean_spend
    den = p["p"] * purchases + p["q"] - 1.0
    with np.errstate(all="ignore"):
        out = p["p"] * (p["v"] + purchases * mean_spend) / den
    return np.where((den > 0) & np.isfinite(out), out, mean_spend)


def _cached(key: bytes, fit) -> dict[str, float] | None:
    """`fit()` once per distinct input of this process."""
    digest = hashlib.sha256(key).digest()
    if digest not in _FITS:
        if len(_FITS) >= _MAX_FITS:
            _FITS.clear()
        _FITS[digest] = fit()
    return _FITS[digest]


def _fit_bgnbd(x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> dict[str, float] | None:
    """BG/NBD parameters fitted by maximum likelihood, None when the fit fails."""
    try:
        with np.errstate(all="ignore"):
            params = calibration.fit_bgnbd(x, t_x, age).params
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return None
    return params if all(np.isfinite(v) and v > 0 for v in params.values()) else None


def _fit_gg(n: np.ndarray, m: np.ndarray) -> dict[str, float] | None:
    """Gamma-Gamma parameters fitted by maximum likelihood, None when the fit fails."""
    try:
        with np.errstate(all="ignore"):
            params = calibration.fit_gamma_gamma(n, m).params
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return None
    return params if all(np.isfinite(v) and v > 0 for v in params.values()) else None
