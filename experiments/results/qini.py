"""Qini (cumulative gain) curves and AUUC of a ranking, scored against the true uplift.

Pure functions over arrays. A policy that ranks customers gives each one a score; the
simulator knows each customer's true uplift of the action the policy would send (its true
incremental margin). Targeting the customers by decreasing score, the curve is the true
uplift gained so far against how many were targeted. With the true effect known this is the
curve that causalml's `get_cumgain` draws from a `treatment_effect_col` (the cumulative sum
of the effect down the ranking) and that scikit-uplift's `qini_curve` estimates from a
randomised test; like scikit-uplift (and scikit-learn's ROC curves), customers with tied
scores are taken together, so the curve has one point per distinct score and is linear
across a tie.

- `qini_curve(score, uplift)`: the model's curve, points `(targeted, gain)` from (0, 0).
- `perfect_curve(uplift)`: the best ranking, by the true uplift itself.
- `auuc(targeted, gain)`: the area under a curve on the share of customers targeted
  (trapezoids), in the uplift's unit: the mean gain over every targeting depth; a random
  ranking's is half the total uplift (`random_auuc`).
- `qini_coefficient(score, uplift)`: scikit-uplift's `qini_auc_score`: the model's area
  above the random line over the perfect ranking's, 1 for a perfect ranking, 0 for a
  random one, below 0 for one worse than random.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class Curve(NamedTuple):
    """A cumulative gain curve.

    Attributes:
        targeted: customers targeted at each point, from 0 to n_customers, shape (n_points,).
        gain: true uplift of those targeted, summed, shape (n_points,); 0 at the first point.
    """

    targeted: np.ndarray
    gain: np.ndarray


class Scores(NamedTuple):
    """What a ranking's curve says in numbers.

    Attributes:
        auuc: area under the model's curve (see `auuc`).
        random: a random ranking's area (half the total uplift).
        perfect: the perfect ranking's area.
        qini: the Qini coefficient (see `qini_coefficient`); NaN when every customer has the
            same true uplift (no ranking is better than another).
        total: the true uplift of targeting everyone.
        n_customers: customers ranked.
    """

    auuc: float
    random: float
    perfect: float
    qini: float
    total: float
    n_customers: int


def _check(score: np.ndarray, uplift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(score, dtype=np.float64)
    u = np.asarray(uplift, dtype=np.float64)
    for name, a in (("score", s), ("uplift", u)):
        if a.ndim != 1:
            raise ValueError(f"{name}: expected one value per customer, shape (n_customers,), "
                             f"got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: values must be finite, got "
                             f"{a[~np.isfinite(a)][0]} at index {int(np.argmin(np.isfinite(a)))}")
    if s.size != u.size:
        raise ValueError(f"score and uplift: one value each per customer, got {s.size} scores "
                         f"and {u.size} uplifts")
    if s.size == 0:
        raise ValueError("score: no customers to rank; at least one is needed")
    return s, u


def qini_curve(score: np.ndarray, uplift: np.ndarray) -> Curve:
    """The cumulative true uplift of targeting customers by decreasing score.

    Args:
        score: the ranking's score per customer (higher: targeted first), (n_customers,).
        uplift: each customer's true uplift of being targeted, (n_customers,).

    Returns:
        The curve from (0, 0) to (n_customers, uplift.sum()), a point after each block of
        tied scores.

    Raises:
        ValueError: shapes that differ or are not 1-d, no customers, or values not finite;
            the message names the argument.
    """
    s, u = _check(score, uplift)
    order = np.argsort(-s, kind="stable")
    s, cum = s[order], np.cumsum(u[order])
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # the end of each tie block
    return Curve(np.r_[0, last + 1].astype(np.int64), np.r_[0.0, cum[last]])


def perfect_curve(uplift: np.ndarray) -> Curve:
    """The curve of the best possible ranking: by the true uplift itself."""
    return qini_curve(uplift, uplift)


def auuc(targeted: np.ndarray, gain: np.ndarray) -> float:
    """Area under a curve, over the share of customers targeted (0 to 1), by trapezoids.

    Args:
        targeted: customers targeted at each point, increasing from 0 to n_customers.
        gain: the summed true uplift at each point.

    Returns:
        The area, in the uplift's unit: the mean gain over every share targeted.
    """
    x = np.asarray(targeted, dtype=np.float64)
    y = np.asarray(gain, dtype=np.float64)
    if x.size < 2 or x[-1] <= 0:
        raise ValueError("targeted: a curve needs at least two points, ending above 0")
    share = x / x[-1]
    return float(np.sum(np.diff(share) * (y[1:] + y[:-1]) / 2.0))


def random_auuc(uplift: np.ndarray) -> float:
    """A random ranking's expected area: the straight line to the total, so half the total."""
    return float(np.sum(np.asarray(uplift, dtype=np.float64))) / 2.0


def qini_coefficient(score: np.ndarray, uplift: np.ndarray) -> float:
    """The model's area above the random line over the perfect ranking's (scikit-uplift).

    `(auuc(model) - auuc(random)) / (auuc(perfect) - auuc(random))`: 1 for a perfect ranking,
    0 for one no better than random. NaN when every customer's true uplift is the same.
    """
    return score_ranking(score, uplift).qini


def score_ranking(score: np.ndarray, uplift: np.ndarray) -> Scores:
    """AUUC of the model, of a random and of the perfect ranking, and the Qini coefficient.

    Args:
        score: the ranking's score per customer, (n_customers,).
        uplift: each customer's true uplift of being targeted, (n_customers,).

    Raises:
        ValueError: as `qini_curve`.
    """
    s, u = _check(score, uplift)
    model = auuc(*qini_curve(s, u))
    best = auuc(*perfect_curve(u))
    rand = random_auuc(u)
    span = best - rand
    qini = (model - rand) / span if span > 1e-12 * max(abs(best), abs(rand), 1.0) else math.nan
    return Scores(model, rand, best, qini, float(u.sum()), int(u.size))


def on_grid(curve: Curve, shares: np.ndarray) -> np.ndarray:
    """A curve's gain at the given shares of customers targeted (linear between points).

    Args:
        curve: a curve of `qini_curve`.
        shares: shares targeted, in [0, 1], (n_points,).

    Returns:
        The gain at each share, (n_points,): what a band over seeds of different sizes needs.
    """
    x = curve.targeted / curve.targeted[-1]
    return np.interp(np.asarray(shares, dtype=np.float64), x, curve.gain)
