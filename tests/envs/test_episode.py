"""`nbasim.run_episode` and `steps`: the glue between our envs and any policy."""

from __future__ import annotations

import dataclasses

import gymnasium
import numpy as np
import pytest

import nbasim
from nbasim import policies
from nbasim.sim.params import CHANNELS

SMALL = {"customers": 400, "days": 8}
# NextBestAction-v0 decides one customer at a time: a smaller world keeps the test quick.
ONE_BY_ONE = {"customers": 150, "days": 4}


def _make(env, name: str, **params):
    u = env.unwrapped
    return policies.make(name, action_features=u.action_features,
                         dim_context=len(u.feature_names), seed=0, **params)


@pytest.mark.parametrize("env_id", ["nbasim/CampaignDay-v0", "nbasim/NextBestAction-v0"])
def test_same_seed_same_episode_and_no_action_sends_nothing(env_id: str) -> None:
    """Same seed, same totals; the control decides for everyone and sends nothing."""
    env = gymnasium.make(env_id, **(SMALL if "CampaignDay" in env_id else ONE_BY_ONE))
    runs = [nbasim.run_episode(env, _make(env, "epsilon_greedy"), seed=3) for _ in range(2)]
    same = [dataclasses.replace(r, policy_seconds=0.0) for r in runs]
    assert same[0] == same[1]
    assert runs[0].sent > 0 and runs[0].steps > 0 and runs[0].decisions >= runs[0].steps
    quiet = nbasim.run_episode(env, _make(env, "no_action"), seed=3)
    assert quiet.sent == 0 and quiet.cost == 0 and quiet.reward == 0
    assert quiet.decisions > 0


def test_campaign_day_steps_follow_the_env_to_the_horizon() -> None:
    """One step per day after day 0, each with aligned rows, actions, pscores and contexts."""
    env = gymnasium.make("nbasim/CampaignDay-v0", **SMALL)
    seen = list(nbasim.steps(env, _make(env, "random"), seed=1))
    assert len(seen) == SMALL["days"] - 1           # reset simulates day 0
    for s in seen:
        assert s.rows.shape == s.actions.shape == s.pscores.shape
        assert s.contexts.shape == (s.rows.size, len(env.unwrapped.feature_names))
        assert [d for d, _ in s.learned] == [s.info["day"]]
    assert seen[-1].info["day"] == SMALL["days"] - 2


def test_window_objective_learns_each_decision_once_when_its_window_closes() -> None:
    """Every day's decisions reach `update` exactly once, with the window's rewards."""
    env = gymnasium.make("nbasim/CampaignDay-v0", objective="window", **SMALL)
    learned: dict[int, np.ndarray] = {}
    decided: dict[int, int] = {}
    for s in nbasim.steps(env, _make(env, "linucb"), seed=2):
        decided[s.info["day"]] = s.rows.size
        for day, rewards in s.learned:
            assert day not in learned
            learned[day] = rewards
    assert {d: r.size for d, r in learned.items()} == decided


def test_oracle_needs_an_env_with_truth() -> None:
    """A policy that reads the truth fails by name without it and finds value with it."""
    env = gymnasium.make("nbasim/CampaignDay-v0", **SMALL)
    with pytest.raises(nbasim.NbasimError, match="truth=True"):
        nbasim.run_episode(env, _make(env, "oracle"))
    env = gymnasium.make("nbasim/CampaignDay-v0", truth=True, **SMALL)
    best = nbasim.run_episode(env, _make(env, "oracle"), seed=0)
    assert best.true_incremental_margin > 0


def test_not_our_env_is_a_named_error() -> None:
    """Another env is refused with the names of ours."""
    env = gymnasium.make("CartPole-v1")
    with pytest.raises(nbasim.NbasimError, match="expected nbasim/CampaignDay-v0"):
        nbasim.run_episode(env, object())


def test_next_best_action_mask_follows_the_customers_consent() -> None:
    """The mask allows exactly the channels the current customer consents to."""
    env = gymnasium.make("nbasim/NextBestAction-v0", **SMALL)
    u = env.unwrapped
    obs, _ = env.reset(seed=0)
    channels = np.asarray(u.action_table["channel"])
    checked = 0
    for _ in range(200):
        mask = u.action_mask()
        assert mask.shape == (u.n_actions,) and mask[0]
        consent = {c: obs[u.feature_names.index(f"consent_{c}")] > 0.5 for c in CHANNELS}
        for a in range(1, u.n_actions):
            assert mask[a] == consent[channels[a]]
        checked += int(not all(consent.values()))
        obs, _, _, truncated, _ = env.step(0)
        if truncated:
            break
    np.testing.assert_array_equal(u.action_mask(obs), u.action_mask())
    assert checked > 0                     # some customer had withdrawn a consent
