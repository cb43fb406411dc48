"""Small numpy learners that baselines fit batch by batch: ridge and logistic regression.

Both keep a fixed-size state, so learning from a stream of batches costs the same per batch
however long the run. Inputs are design matrices (n, dim) that already hold an intercept column
where one is wanted (`with_intercept`).
"""

from __future__ import annotations

import numpy as np


def with_intercept(x: np.ndarray) -> np.ndarray:
    """(n, dim_context) contexts -> (n, 1 + dim_context) design matrix with a leading 1."""
    return np.hstack([np.ones((x.shape[0], 1)), x])


class Ridge:
    """Ridge regression from sufficient statistics: exact whatever the batching.

    The weights solve (l2 I + X'X) w = X'y over every batch seen so far.

    Args:
        dim: number of columns of the design matrix.
        l2: ridge penalty, > 0.
    """

    def __init__(self, dim: int, l2: float):
        self.gram = l2 * np.eye(dim)
        self.xty = np.zeros(dim)
        self._weights: np.ndarray | None = np.zeros(dim)

    def update(self, design: np.ndarray, y: np.ndarray) -> None:
        """Add a batch: `design` (n, dim), `y` (n,)."""
        if design.shape[0] == 0:
            return
        self.gram += design.T @ design
        self.xty += design.T @ y
        self._weights = None

    @property
    def weights(self) -> np.ndarray:
        """(dim,) current weights."""
        if self._weights is None:
            self._weights = np.linalg.solve(self.gram, self.xty)
        return self._weights

    def predict(self, design: np.ndarray) -> np.ndarray:
        """(n,) predictions for `design` (n, dim)."""
        return design @ self.weights


class Logistic:
    """Online Bayesian logistic regression with a Laplace approximation.

    The posterior after each batch is approximated by a Gaussian (mean `weights`, precision
    `precision`) that becomes the prior of the next batch; the mean is the MAP found by Newton's
    method (Chapelle and Li 2011, "An empirical evaluation of Thompson sampling", Algorithm 3,
    here with a full precision matrix). The first prior is N(0, I / l2).

    Args:
        dim: number of columns of the design matrix.
        l2: precision of the initial prior, > 0.
        max_iter: Newton steps per batch at most.
    """

    def __init__(self, dim: int, l2: float, max_iter: int = 25):
        self.weights = np.zeros(dim)
        self.precision = l2 * np.eye(dim)
        self.max_iter = max_iter

    def update(self, design: np.ndarray, y: np.ndarray) -> None:
        """Add a batch: `design` (n, dim), `y` (n,) in {0, 1}."""
        if design.shape[0] == 0:
            return
        prior_mean, prior_prec = self.weights, self.precision
        w = prior_mean.copy()
        for _ in range(self.max_iter):
            p = sigmoid(design @ w)
            grad = prior_prec @ (w - prior_mean) + design.T @ (p - y)
            hess = prior_prec + (design.T * (p * (1 - p))) @ design
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-6:
                break
        p = sigmoid(design @ w)
        self.weights = w
        self.precision = prior_prec + (design.T * (p * (1 - p))) @ design

    def predict(self, design: np.ndarray) -> np.ndarray:
        """(n,) probabilities for `design` (n, dim), at the posterior mean."""
        return sigmoid(design @ self.weights)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))
