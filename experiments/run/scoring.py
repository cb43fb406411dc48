"""The ranking of a policy that scores customers, taken once, with the truth beside it.

A policy that ranks customers (`response_model` by predicted response, `uplift_two_model` by
predicted uplift, `arbitration` by priority) is asked, on the run's last decision day, for
its score of every customer eligible that day, with what it has learned by then; the world
gives each customer's true incremental margin of the action the policy would send them.
The cell writes that as its `scores` table (`experiments.run.layout`), from which the report
draws Qini curves (`experiments.results.qini`). Asking costs the policy nothing: the scoring
methods are pure, so the run is the same with or without it.

`SCORERS` maps a policy's registry name to how it scores; a policy not in it is not ranked
(the bandits choose among actions through private estimates and expose no score).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

Scorer = Callable[[Any, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(policy, contexts (k, dim_context), allowed (k, n_actions) bool) -> (score (k,), action
(k,)): the policy's score of each row and the action it would send, 0 where it can send none."""


def _one_action(method: str) -> Scorer:
    """A targeting policy's scorer: its `method`'s score, its one action where allowed."""

    def score(policy: Any, contexts: np.ndarray, allowed: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        action = np.where(allowed[:, policy.action], policy.action, 0).astype(np.int64)
        return np.asarray(getattr(policy, method)(contexts), dtype=np.float64), action

    return score


def _best_priority(policy: Any, contexts: np.ndarray, allowed: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Arbitration's scorer: the priority of each row's best allowed action, and that action."""
    pri = np.where(allowed, policy.priorities(contexts), -np.inf)
    pri[:, 0] = -np.inf
    best = np.argmax(pri, axis=1)
    top = pri[np.arange(best.size), best]
    some = np.isfinite(top)
    return np.where(some, top, 0.0), np.where(some, best, 0).astype(np.int64)


SCORERS: dict[str, Scorer] = {
    "response_model": _one_action("propensity"),
    "uplift_two_model": _one_action("uplift"),
    "arbitration": _best_priority,
}
"""Registry name -> how that policy scores customers."""

SCORE_COLUMNS = {
    "day": "the decision day the ranking was taken on (the run's last)",
    "customer": "customer row", "action": "the action the policy would send",
    "score": "the policy's score (higher: targeted first)",
    "true_incremental_margin": "true expected incremental margin of that action, that day",
}
"""Columns of a cell's `scores` table and what each holds (scenario, policy, seed in front
once gathered)."""


class LastObservation(gym.Wrapper):
    """An env that keeps the observation its last `step` returned (`obs`), for `snapshot`."""

    obs: dict | None = None

    def step(self, action):
        """Step the env and keep the observation."""
        out = self.env.step(action)
        self.obs = out[0]
        return out


def snapshot(env: Any, obs: dict, policy: Any, name: str) -> dict[str, np.ndarray]:
    """The policy's ranking of the customers eligible in `obs`, with the truth beside it.

    Call with the env at the morning of `obs` (before the policy acts on it).

    Args:
        env: the CampaignDay env (unwrapped).
        obs: its observation of the day.
        policy: the policy (unwrapped from any pacing).
        name: its registry name, a key of `SCORERS`.

    Returns:
        The `SCORE_COLUMNS` of the rows the policy would send an action to.
    """
    rows = np.flatnonzero(obs["eligible"])
    score, action = SCORERS[name](policy, env.contexts(obs, rows), env.action_mask(obs, rows))
    keep = action > 0
    rows, score, action = rows[keep], score[keep], action[keep]
    margins = env.campaign.truth_grids(rows, ("margins",))["margins"]
    return {"day": np.full(rows.size, int(obs["day"]), dtype=np.int64),
            "customer": rows.astype(np.int64), "action": action, "score": score,
            "true_incremental_margin": margins[np.arange(rows.size), action]}
