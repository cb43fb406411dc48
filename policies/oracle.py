"""Oracles: they act on a truth only the simulator knows, and bound what any policy can reach.

Two of them, each labelled for what it maximises:
- `oracle`, the myopic oracle: the true incremental margin of each message (what it earns in
  its attribution window, net of cost). It contacts whenever that is positive, so fatigue and
  sleeping dogs raise its churn.
- `oracle_ltv`, the long-term oracle: the true incremental value (that margin net of the
  future value the message moves through churn, win-backs, unsubscribes and fatigue;
  `nbasim.sim.long_term`).

The env hands the truth over with option `truth=True`, in `info["next"]["true_margins"]` and
`info["next"]["true_values"]`; `nbasim.envs.episode.steps` passes the one the policy's `needs_truth`
names as `act(contexts, eligible, truth=...)`.
"""

from __future__ import annotations

import numpy as np

from nbasim.policies.base import Fixed, PolicyError


class Oracle(Fixed):
    """Pick, per row, the eligible action with the highest true incremental margin (myopic).

    `truth` (n, n_actions) holds the true expected incremental margin of every action for
    every row; column 0 (no action) is taken as 0 whatever it holds. A row gets action 0
    unless some eligible action has a margin > 0; ties go to the lowest index. pscore is 1.
    No params.
    """

    needs_truth = "margins"
    what = "true incremental margins"

    def act(self, contexts: np.ndarray, eligible: np.ndarray | None, *,
            truth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The eligible action of highest truth, if it is positive."""
        n = contexts.shape[0]
        name = self.name or type(self).__name__
        if truth is None:
            raise PolicyError(f"policy {name}: act() needs truth=(n, n_actions) {self.what}; "
                              f"envs hand it over in info['next']['true_{self.needs_truth}'] when "
                              "built with option truth=True")
        t = np.asarray(truth, dtype=np.float64)
        if t.shape != (n, self.n_actions):
            raise PolicyError(f"policy {name}: truth shape {t.shape}: expected "
                              f"({n}, {self.n_actions}), one value per row and action")
        if not np.isfinite(t).all():
            raise PolicyError(f"policy {name}: truth holds NaN or infinity")
        gain = np.where(eligible, t, -np.inf) if eligible is not None else t.copy()
        gain[:, 0] = 0.0
        return gain.argmax(axis=1).astype(np.int64), np.ones(n)


class OracleLTV(Oracle):
    """Pick, per row, the eligible action with the highest true incremental value (long-term).

    As `Oracle`, on `truth` (n, n_actions) true incremental values: the margin net of the
    future value each action moves (`nbasim.sim.long_term`). A row gets action 0 unless some
    eligible action has a value > 0. No params.
    """

    needs_truth = "values"
    what = "true incremental values"
