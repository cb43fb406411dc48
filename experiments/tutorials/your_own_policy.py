"""Tutorial: write a policy, register it, play it in an env and in an experiment."""

# %% [markdown]
# # Add your own policy
#
# A policy is a class with two methods, both batched: `act(contexts, eligible)` returns an
# action and its probability per row, `update(contexts, actions, rewards, pscores)` learns
# from what happened. Subclass `nbasim.policies.Policy` (or `Fixed` for one that does not
# learn); the base checks every input before your code sees it.

# %%
import os
import tempfile
from pathlib import Path

import gymnasium
import numpy as np

import nbasim
from nbasim.experiments.results.summary import load_summary
from nbasim.experiments.run import config, sweep
from nbasim.policies import Policy, make, register_policy

SMALL = os.environ.get("NBASIM_TUTORIAL_SMALL") == "1"

# %% [markdown]
# A greedy learner of the mean reward of each offer, over all customers: it sends the offer
# with the best running mean when that mean is above zero, explores 10 % of the time, and
# reports the exact probability of each choice (what off-policy evaluation needs).

# %%
class OfferMeans(Policy):
    """Epsilon-greedy on each action's running mean reward, contacting only when it pays."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sums = np.zeros(self.n_actions)
        self.counts = np.zeros(self.n_actions)

    def act(self, contexts, eligible):
        """The best eligible action by mean reward with prob. 0.9, else a random one."""
        n = len(contexts)
        allowed = np.ones((n, self.n_actions), bool) if eligible is None else eligible
        means = np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), 0.0)
        means[0] = 0.0                                   # no action earns nothing, for sure
        best = np.where(allowed, means, -np.inf).argmax(axis=1)
        k = allowed.sum(axis=1)
        explore = self.rng.random(n) < 0.1
        pick = (self.rng.random(n) * k).astype(int)       # the pick-th allowed action
        random = (allowed.cumsum(axis=1) <= pick[:, None]).sum(axis=1)
        actions = np.where(explore, random, best)
        pscores = 0.9 * (actions == best) + 0.1 / k
        return actions.astype(np.int64), pscores

    def update(self, contexts, actions, rewards, pscores):
        """Add each reward to its action's running sum."""
        np.add.at(self.sums, actions, rewards)
        np.add.at(self.counts, actions, 1)


register_policy("offer_means", OfferMeans)   # run this cell twice: harmless

# %% [markdown]
# Play it in an environment with `nbasim.run_episode`, which does the glue: contexts and
# consent masks of the customers to decide for, `act`, `step`, and `update`.

# %%
env = gymnasium.make("nbasim/CampaignDay-v0", customers=500 if SMALL else 5_000,
                     days=10 if SMALL else 45)
policy = make("offer_means", action_features=env.unwrapped.action_features,
              dim_context=len(env.unwrapped.feature_names), seed=0)
episode = nbasim.run_episode(env, policy, seed=0)
print(episode)

# %% [markdown]
# Registered, it is a policy like any other: use it by name in an experiment config, next
# to the baselines.

# %%
cfg = config.parse({"name": "own_policy", "customers": 400 if SMALL else 3_000,
                    "days": 10 if SMALL else 45, "seeds": [0, 1],
                    "policies": [{"label": "no_action"}, {"label": "offer_means"},
                                 {"label": "rfm_playbook"}]})
run_dir = sweep.run(cfg, Path(tempfile.mkdtemp()) / "run")
summary = load_summary(run_dir / "summary.json")
for group in summary["groups"].values():
    m = group["metrics"]["true_incremental_margin"]
    print(f"{group['policy']:>14}: true incremental margin {m['mean']:9.1f} "
          f"(95 % interval {m['ci'][0]:.1f} to {m['ci'][1]:.1f})")
