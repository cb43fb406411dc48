"""Categories with price level, margin and repurchase cycle, and the sequence matrix.

The sequence matrix multiplies the odds of a category given the previous one: a run of one
service raises the odds of the adjacent one (shirts then outerwear at a dry cleaner).
"""

from __future__ import annotations

import numpy as np

from nbasim.sim.params import ScenarioParams


class Catalog:
    """Category table.

    Attributes:
        names: category names.
        price_level: (n_categories,) basket multiplier.
        margin: (n_categories,) margin as a share of spend.
        cycle_days: (n_categories,) typical repurchase cycle.
        base_affinity: (n_categories,) Dirichlet weights of customer affinities.
        sequence: (n_categories + 1, n_categories) odds multiplier given the previous category;
            the last row (no previous category) is all ones.
        readiness_floor: least readiness of a category in the choice odds.
    """

    def __init__(self, params: ScenarioParams):
        cats = params.categories
        self.names = tuple(c.name for c in cats)
        self.n_categories = len(cats)
        self.price_level = np.array([c.price_level for c in cats])
        self.margin = np.array([c.margin for c in cats])
        self.cycle_days = np.array([c.cycle_days for c in cats])
        self.base_affinity = np.array([c.affinity for c in cats])
        c = self.n_categories
        seq = np.ones((c + 1, c))
        seq[np.arange(c), np.arange(c)] = params.sequence_repeat
        for src, dst, boost in params.sequence_boost:
            seq[self.names.index(src), self.names.index(dst)] = boost
        self.sequence = seq
        self.readiness_floor = params.category_readiness_floor

    def next_affinity(self, affinity: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Affinity for the category a cross-sell would suggest after `last`.

        The suggestion is the category, other than the last one, with the highest
        affinity x sequence odds.

        Args:
            affinity: (n, n_categories) affinities.
            last: (n,) previous category, `self.none` if none.

        Returns:
            (n,) affinity of the suggested category.
        """
        # Worked out categories first, customers last; the first category of highest odds.
        aff = affinity.T
        odds = aff * np.take(self.sequence.T, last, axis=1)
        is_last = last == np.arange(self.n_categories)[:, None]
        odds = odds * ~is_last - is_last  # the last category: -1, below every other
        best = odds.max(axis=0)
        first = np.full(last.shape, self.n_categories - 1)
        for j in range(self.n_categories - 2, -1, -1):
            first += (odds[j] == best) * (j - first)
        return np.take(np.ascontiguousarray(aff), first * last.size + np.arange(last.size))

    def fit(self, affinity: np.ndarray, last: np.ndarray, recency: np.ndarray,
            categories: list[int]) -> np.ndarray:
        """Each customer's fit for categories a cross-sell may name: their choice odds.

        affinity x sequence[last] x readiness, as in `choose` (no day-level weight).

        Args:
            affinity: (n, n_categories) affinities.
            last: (n,) previous category, `self.none` if none.
            recency: (n,) days since the previous purchase.
            categories: the k category indices.

        Returns:
            (n, k) float64.
        """
        cats = np.asarray(categories, dtype=np.intp)
        ready = np.maximum(-np.expm1(-recency[:, None] / self.cycle_days[cats][None, :]),
                           self.readiness_floor)
        return affinity[:, cats] * self.sequence[last][:, cats] * ready

    @property
    def none(self) -> int:
        """Index meaning "no previous category" (a customer who has not bought yet)."""
        return self.n_categories

    def choose(self, affinity: np.ndarray, last: np.ndarray, recency: np.ndarray,
               weight: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Draw a category per purchase.

        Odds are affinity x sequence[last] x readiness x weight, where readiness
        1 - exp(-recency / cycle) (floored at `category_readiness_floor`) grows with the days
        since the customer's last purchase of any category, measured against each category's
        cycle.

        Args:
            affinity: (n, n_categories) the buyers' category affinities.
            last: (n,) previous category, `self.none` if none.
            recency: (n,) days since the previous purchase.
            weight: (n_categories,) day-level multipliers (shocks).
            u: (n,) uniform draws in [0, 1).

        Returns:
            (n,) category index, uint8.
        """
        ready = np.maximum(-np.expm1(-recency[:, None] / self.cycle_days[None, :]),
                           self.readiness_floor)
        odds = affinity * self.sequence[last] * ready * weight[None, :]
        cum = np.cumsum(odds, axis=1)
        idx = (cum <= (u * cum[:, -1])[:, None]).sum(axis=1)
        return np.minimum(idx, self.n_categories - 1).astype(np.uint8)
