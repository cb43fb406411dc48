"""Point-of-sale offers in NextBestAction-v0 (`sim.pos`): mask, rules, truth, the checker."""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium.utils.env_checker import check_env

import nbasim  # noqa: F401  (registers the environments)
from nbasim.sim.params import CHANNELS

OPTIONS = {"scenario": "retail_chain", "customers": 2000, "days": 6,
           "overrides": {"channels": [*CHANNELS, "pos"]}}


def test_check_env_passes_with_pos():
    """The checker passes on NextBestAction-v0 and CampaignDay-v0 with pos in the catalog."""
    for env_id in ("nbasim/NextBestAction-v0", "nbasim/CampaignDay-v0"):
        env = gymnasium.make(env_id, **OPTIONS)
        check_env(env.unwrapped, skip_render_check=True)


def test_pos_only_at_checkouts_with_its_truth():
    """A pos action is masked in and sent at checkouts only; elsewhere out and refused."""
    env = gymnasium.make("nbasim/NextBestAction-v0", truth="margins", **OPTIONS)
    u = env.unwrapped
    pos = np.array(u.action_table["channel"]) == "pos"
    obs, info = env.reset(seed=4)
    rng = np.random.default_rng(0)
    seen = {"checkout": 0, "other": 0}
    while info["next"]["moment"] is not None:
        nxt = info["next"]
        at_till = nxt["moment"] == "checkout"
        mask = u.action_mask()
        assert mask[pos].all() == at_till and mask[pos].any() == at_till
        if not at_till:
            assert (nxt["true_margins"][pos] == 0).all()
        if at_till or rng.random() < 0.02:
            a = int(rng.choice(np.flatnonzero(pos)))
            truth = nxt["true_margins"][a]
            obs, reward, _, truncated, info = env.step(a)
            if at_till:
                assert info["sent"] and info["true_incremental_margin"] == truth
                seen["checkout"] += 1
            else:
                assert not info["sent"] and info["rejected"] == "not_at_checkout"
                seen["other"] += 1
        else:
            obs, reward, _, truncated, info = env.step(0)
        if truncated:
            break
    assert seen["checkout"] > 20 and seen["other"] > 20


def test_campaign_day_masks_and_refuses_pos():
    """CampaignDay-v0 has no checkouts: pos is never eligible and a step says why."""
    env = gymnasium.make("nbasim/CampaignDay-v0", **OPTIONS)
    u = env.unwrapped
    pos = np.array(u.action_table["channel"]) == "pos"
    obs, info = env.reset(seed=1)
    assert not u.action_mask(obs)[:, pos].any()
    action = np.zeros(u.options.customers, dtype=np.int64)
    action[obs["eligible"]] = int(np.flatnonzero(pos)[0])
    obs, reward, _, _, info = env.step(action)
    assert info["rejected"].get("not_at_checkout", 0) > 0 and info["sent"] == 0
