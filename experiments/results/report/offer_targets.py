"""Where offers that name a target pay: how the decision log's offers are grouped and shared.

For runs whose scenarios name targets (a category for a cross-sell, a store for a visit
bonus), the report counts, per group, the messages of each offer kind and the true
incremental margin they added (`load._read_targets`), and the share of the group's true
incremental margin that came from category cross-sells and store visit bonuses (`shares`).
"""

from __future__ import annotations

import numpy as np

from nbasim.experiments.results.report.breakdowns import Breakdown

TARGETED = ("cross_sell", "second_store_bonus")
"""Offers that may name a target: category cross-sells and store visit bonuses."""
NEEDED = ("scenario", "policy", "seed", "offer", "target", "sent", "true_incremental_margin")
"""decisions.parquet columns the section reads."""
OTHER = "other offers"


def label(offer: str, target: str) -> str:
    """The row an offer's messages count in: "cross_sell for outerwear", "other offers"..."""
    if offer not in TARGETED:
        return OTHER
    return f"{offer} for {target}" if target != "none" else f"{offer} (no target)"


def order(labels: set[str]) -> list[str]:
    """Rows in reading order: cross-sells, then visit bonuses (targeted first), then others."""
    return sorted(labels, key=lambda s: (s == OTHER, s.split()[0], "(" in s, s))


def shares(b: Breakdown) -> tuple[np.ndarray, np.ndarray]:
    """Per seed, the share of a group's true incremental margin from category and store offers.

    Args:
        b: the group's messages ("sent") and true incremental margin ("margin") per seed and
            `label`.

    Returns:
        (all cross-sells and visit bonuses, those naming a target), each (n_seeds,); NaN for
        a seed whose messages added no margin in all.
    """
    margin = b.values["margin"]
    total = margin.sum(axis=1)
    kind = np.array([c != OTHER for c in b.categories])
    aimed = np.array([" for " in c for c in b.categories])
    with np.errstate(invalid="ignore", divide="ignore"):
        return margin[:, kind].sum(axis=1) / total, margin[:, aimed].sum(axis=1) / total
