"""How well each ranking policy orders customers, seed by seed, from its `scores` rows.

For every group with rows in `scores.parquet` (a policy that ranks customers, see
`experiments.run.scoring`): per seed, the AUUC, the random and perfect rankings' AUUC and
the Qini coefficient (`experiments.results.qini`), and the curves on a common grid of shares
targeted, so that seeds of different sizes make one band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nbasim.experiments.results import learning, qini

GRID = np.linspace(0.0, 1.0, 101)
"""Shares of the ranked customers targeted at which curves are compared across seeds."""


@dataclass(frozen=True)
class Ranked:
    """One group's ranking quality over seeds.

    Attributes:
        seeds: the seeds, (n_seeds,).
        scores: per seed, the `qini.Scores`.
        model, perfect: bands over seeds of the model's and the perfect ranking's curve
            on `GRID` (gain in money, summed over the targeted).
    """

    seeds: np.ndarray
    scores: list[qini.Scores]
    model: learning.Band
    perfect: learning.Band

    def per_seed(self, field: str) -> np.ndarray:
        """One `qini.Scores` field per seed, (n_seeds,)."""
        return np.array([getattr(s, field) for s in self.scores], dtype=np.float64)


def rank_quality(seeds: np.ndarray, score: np.ndarray, uplift: np.ndarray) -> Ranked | None:
    """The ranking quality of one group, from its rows of every seed.

    Args:
        seeds: (n_rows,) each row's seed.
        score: (n_rows,) the policy's score.
        uplift: (n_rows,) the true incremental margin of the action it would send.

    Returns:
        None when no seed has a row.
    """
    found = np.unique(seeds)
    kept, scores, model, perfect = [], [], [], []
    for s in found:
        rows = seeds == s
        kept.append(s)
        scores.append(qini.score_ranking(score[rows], uplift[rows]))
        model.append(qini.on_grid(qini.qini_curve(score[rows], uplift[rows]), GRID))
        perfect.append(qini.on_grid(qini.perfect_curve(uplift[rows]), GRID))
    if not kept:
        return None
    return Ranked(np.array(kept), scores, learning.seed_band(GRID, np.array(model)),
                  learning.seed_band(GRID, np.array(perfect)))


def finite(values: Sequence[float]) -> np.ndarray:
    """The finite values of a per-seed array (a Qini coefficient is NaN where undefined)."""
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]
