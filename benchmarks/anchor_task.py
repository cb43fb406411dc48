"""The anchor task of the policy benchmarks.

Built exactly as the acceptance reference builds `common.Task`: 10 actions with 6 features
each, 20 standard-normal context features, logistic reward
P(r = 1 | x, a) = sigmoid(x' Theta A[a] + bias[a]), and common random numbers (one uniform
per round, so every learner sees the same noise for the same round and action).
"""

from __future__ import annotations

import numpy as np

K, D, M = 10, 20, 6


class Task:
    """The anchor task, built exactly as the acceptance reference builds it.

    Args:
        seed: seed of the whole construction.
        n_rounds: number of rounds.
    """

    def __init__(self, seed: int = 0, n_rounds: int = 100_000):
        rng = np.random.default_rng(seed)
        self.n, self.K, self.D, self.M = n_rounds, K, D, M
        self.A = rng.standard_normal((K, M))
        self.Theta = rng.standard_normal((D, M)) / np.sqrt(D * M) * 1.5
        self.bias = rng.normal(-2.0, 0.3, size=K)
        self.X = rng.standard_normal((n_rounds, D))
        self.P = 1.0 / (1.0 + np.exp(-(self.X @ self.Theta @ self.A.T + self.bias)))
        self.U = rng.random(n_rounds)
        self.R = (self.U[:, None] < self.P).astype(np.float64)
        self.log_a = rng.integers(0, K, size=n_rounds)
        self.log_r = self.R[np.arange(n_rounds), self.log_a]

    @property
    def oracle_mean(self) -> float:
        """Mean reward of always choosing the most likely action."""
        return float(self.P.max(axis=1).mean())

    @property
    def uniform_mean(self) -> float:
        """Mean reward of uniform random play."""
        return float(self.P.mean())
