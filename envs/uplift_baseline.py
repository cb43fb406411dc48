"""What a customer would have made uncontacted: the baseline of the `uplift` objective.

The `uplift` reward of a decision is the customer's margin over the attribution window after
it, minus its cost, minus this baseline: an estimate of the margin the customer would have
made in that window had nobody contacted them. It uses only what a CRM has, never the truth:

- features: the customer's context (`envs.context`) at the decision, plus their spend per day
  over their tenure, in total and where the last purchase is under 30, 90 and 180 days old
  (a customer who stopped buying spends less than their history says);
- outcomes: the windows of customers nobody contacted, that is the holdout (those who
  consent to some channel, as the decided customers do) and the decided customers who got
  no message, each day;
- the model: ridge regression of margin per day of window on the features, weighted by the
  window's length, updated from sufficient statistics as windows close.

A decision's own outcome never enters its baseline: the windows closing at a step are
predicted before they are added, by a model fitted on all earlier windows plus the other
half of the step's own uncontacted customers (two folds by customer id: cross-fitting,
which gives a baseline from the first windows on).

Without contact, E[window margin | x] = baseline(x) when the model is right, so the mean
reward of an action over the customers it went to estimates its true incremental margin:
the reward keeps the action's effect and loses the part of the organic noise the features
explain (the tests measure both).
"""

from __future__ import annotations

import numpy as np

SPEND_FLOOR_DAYS = 30.0
"""Tenure below which spend per day is taken over this many days (a newcomer's one basket
is not a rate)."""
RECENT_DAYS = (30.0, 90.0, 180.0)
"""Recency cut-offs of the spend-rate features."""
FOLDS = 2
"""Folds of the cross-fit within a step."""


def baseline_features(context: np.ndarray, monetary: np.ndarray, tenure_days: np.ndarray,
                      recency_days: np.ndarray) -> np.ndarray:
    """Features of the baseline model: the context, spend rates and a constant.

    Args:
        context: (k, dim_context) the customers' contexts.
        monetary: (k,) total spend so far.
        tenure_days: (k,) days since joining.
        recency_days: (k,) days since the last purchase.

    Returns:
        (k, dim_context + 2 + len(RECENT_DAYS)) float64.
    """
    rate = np.asarray(monetary, np.float64) / np.maximum(tenure_days, SPEND_FLOOR_DAYS)
    recent = [rate * (recency_days < cut) for cut in RECENT_DAYS]
    return np.column_stack([context, rate, *recent, np.ones(len(rate))])


class UpliftBaseline:
    """Ridge regression of margin per day on baseline features, from sufficient statistics.

    Args:
        dim: number of features (`baseline_features` columns).
        l2: ridge penalty.
    """

    def __init__(self, dim: int, l2: float = 1.0):
        self.gram = l2 * np.eye(dim)
        self.moment = np.zeros(dim)

    def close(self, x: np.ndarray, margin_per_day: np.ndarray, days: np.ndarray,
              fit: np.ndarray, fold: np.ndarray) -> np.ndarray:
        """Baselines of the windows closing now, then learn from the uncontacted ones.

        Args:
            x: (k, dim) features of the closing windows' customers at their decision.
            margin_per_day: (k,) their margin over the window divided by its length.
            days: (k,) the windows' lengths.
            fit: (k,) bool, windows of uncontacted customers (the ones the model learns from).
            fold: (k,) int in [0, FOLDS), each window's fold.

        Returns:
            (k,) each window's baseline margin (per day times its length), predicted by the
            earlier windows and the other folds of these.
        """
        w = np.where(fit, days, 0.0).astype(np.float64)
        masks = [fold == k for k in range(FOLDS)]
        grams = [(x[m].T * w[m]) @ x[m] for m in masks]
        moments = [(x[m].T * w[m]) @ margin_per_day[m] for m in masks]
        out = np.empty(len(x))
        for k, m in enumerate(masks):
            others = [j for j in range(FOLDS) if j != k]
            theta = np.linalg.solve(self.gram + sum(grams[j] for j in others),
                                    self.moment + sum(moments[j] for j in others))
            out[m] = x[m] @ theta * days[m]
        self.gram += sum(grams)
        self.moment += sum(moments)
        return out
