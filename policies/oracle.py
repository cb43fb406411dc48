"""The oracle: acts on the true incremental margin, which only the simulator knows.

It bounds what any policy can reach on the same customers and gives regret. The env hands
the truth over in `info["true_margins"]` when built with option `truth=True`; the caller
passes it on as `act(contexts, eligible, truth=info["true_margins"])`.
"""

from __future__ import annotations

import numpy as np

from nbasim.policies.base import Fixed, PolicyError


class Oracle(Fixed):
    """Pick, per row, the eligible action with the highest true incremental margin.

    `truth` (n, n_actions) holds the true expected incremental margin of every action for
    every row; column 0 (no action) is taken as 0 whatever it holds. A row gets action 0
    unless some eligible action has a margin > 0; ties go to the lowest index. pscore is 1.
    No params.
    """

    needs_truth = True

    def act(self, contexts: np.ndarray, eligible: np.ndarray | None, *,
            truth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The eligible action of highest true incremental margin, if it is positive."""
        n = contexts.shape[0]
        if truth is None:
            raise PolicyError("policy oracle: act() needs truth=(n, n_actions) true incremental "
                              "margins; envs hand it over in info['true_margins'] when built "
                              "with option truth=True")
        t = np.asarray(truth, dtype=np.float64)
        if t.shape != (n, self.n_actions):
            raise PolicyError(f"policy oracle: truth shape {t.shape}: expected "
                              f"({n}, {self.n_actions}), one true margin per row and action")
        if not np.isfinite(t).all():
            raise PolicyError("policy oracle: truth holds NaN or infinity")
        gain = np.where(eligible, t, -np.inf) if eligible is not None else t.copy()
        gain[:, 0] = 0.0
        return gain.argmax(axis=1).astype(np.int64), np.ones(n)
