"""The category sequence effect as a transaction log shows it: P(B next | A) against P(B next).

A marketer reads purchase sequences off the log: of the purchases that follow a purchase of
category A (the same customer's next one), the share in category B, against the share in B
of every purchase that follows another. Their ratio is the lift of the pair (Brin, Motwani,
Ullman and Tsur 1997, "Dynamic itemset counting and implication rules for market basket
data", define lift for association rules the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NextCategory:
    """Next-purchase shares of a log.

    Attributes:
        given: (n_categories, n_categories) P(next is column | this is row); NaN for a row
            with no purchase followed by another.
        overall: (n_categories,) P(next is column) over every purchase followed by another.
        pairs: (n_categories, n_categories) counts of (this, next) purchases.
    """

    given: np.ndarray
    overall: np.ndarray
    pairs: np.ndarray

    def lift(self, a: int, b: int) -> float:
        """P(b next | a) / P(b next)."""
        return float(self.given[a, b] / self.overall[b])

    def otherwise(self, a: int, b: int) -> float:
        """P(b next | this purchase is not of a)."""
        rest = np.delete(self.pairs, a, axis=0)
        return float(rest[:, b].sum() / max(rest.sum(), 1))


def next_category(customer: np.ndarray, day: np.ndarray, category: np.ndarray,
                  n_categories: int) -> NextCategory:
    """Next-purchase shares of a transaction log (one row per purchase, any order).

    Args:
        customer: (n,) customer ids.
        day: (n,) day of each purchase (a customer's purchases of one day in log order).
        category: (n,) category index of each purchase.
        n_categories: number of categories.
    """
    order = np.lexsort((day, customer))
    c, k = np.asarray(customer)[order], np.asarray(category, dtype=np.int64)[order]
    follows = c[1:] == c[:-1]
    pairs = np.bincount(k[:-1][follows] * n_categories + k[1:][follows],
                        minlength=n_categories ** 2).reshape(n_categories, n_categories)
    with np.errstate(invalid="ignore", divide="ignore"):
        given = pairs / pairs.sum(axis=1)[:, None]
    return NextCategory(given, pairs.sum(axis=0) / max(pairs.sum(), 1), pairs)
