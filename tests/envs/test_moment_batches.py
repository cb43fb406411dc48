"""NextBestAction-v0 a moment at a time (`batch`, `steps(per_moment=True)`) and what steps report.

A policy asked once per moment sees exactly the observations, masks and truth that one step at
a time would show it; a policy that does not learn therefore plays the same episode either
way. Each step also reports the days the world simulated and the lines pos offers added.
"""

from __future__ import annotations

import dataclasses

import gymnasium
import numpy as np
import pytest

import nbasim  # noqa: F401  (registers the environments)
from nbasim import policies
from nbasim.envs.episode import run_episode, steps
from nbasim.errors import NbasimError
from nbasim.sim.params import CHANNELS, OFFERS

OPTIONS = {"scenario": "retail_chain", "customers": 1500, "days": 5,
           "overrides": {"channels": [*CHANNELS, "pos"]}}


def make(**kw):
    """A NextBestAction-v0 env with pos offers."""
    return gymnasium.make("nbasim/NextBestAction-v0", **{**OPTIONS, **kw})


def policy(env, name, **params):
    """A registered policy for the env."""
    u = env.unwrapped
    if name == "blanket":
        params["action_table"] = u.action_table
    return policies.make(name, action_features=u.action_features,
                         dim_context=len(u.feature_names), seed=0, **params)


def test_a_batch_holds_what_each_step_would_show():
    """A batch's contexts, masks and truth are what each step would show, one by one.

    They equal the step's observation, `action_mask` and `info["next"]` truth.
    """
    env = make(truth=True)
    u = env.unwrapped
    obs, info = env.reset(seed=2)
    rng = np.random.default_rng(1)
    checked = kinds = 0
    seen = set()
    while (batch := u.batch()) is not None:
        seen.add(batch.kind)
        for i in range(batch.customers.size):
            nxt = info["next"]
            assert (nxt["day"], nxt["hour"], nxt["moment"]) == (batch.day, batch.hour, batch.kind)
            assert nxt["customer"] == batch.customers[i]
            np.testing.assert_array_equal(obs, batch.contexts[i])
            np.testing.assert_array_equal(u.action_mask(), batch.masks[i])
            for key in ("true_margins", "true_values"):
                np.testing.assert_array_equal(nxt[key], batch.truth[key][i])
            checked += 1
            allowed = np.flatnonzero(batch.masks[i])
            obs, _, _, _, info = env.step(int(rng.choice(allowed)) if i % 3 == 0 else 0)
        kinds += 1
    assert seen == {"at_risk", "campaign", "checkout", "cart_abandoned"}
    assert checked > 5000 and kinds > 20


@pytest.mark.parametrize("name,params", [("oracle", {}), ("no_action", {}),
                                         ("blanket", {"offer": "cross_sell", "channel": "pos"})])
def test_per_moment_play_equals_per_decision_play(name, params):
    """A policy that learns nothing plays the same episode asked per moment or per decision."""
    truth = "margins" if name == "oracle" else False
    totals = []
    for per_moment in (False, True):
        env = make(truth=truth)
        totals.append(run_episode(env, policy(env, name, **params), seed=5,
                                  per_moment=per_moment))
    # (the reward is summed per moment first: the same to rounding)
    a, b = (dataclasses.replace(t, policy_seconds=0.0, reward=round(t.reward, 6)) for t in totals)
    assert a == b
    assert a.steps == a.decisions > 5000
    if name != "no_action":
        assert a.sent > 10 and a.true_incremental_margin != 0


def test_steps_report_the_days_simulated_and_the_lines_taken():
    """Steps report each day simulated once, the lines pos offers took, and what was sent.

    Every day after the first decision's comes once, in order, as CampaignDay-v0's outcome;
    the lines are the world's; the value and outcome come with each decision sent.
    """
    strong = [0.0] + [5.0] * (len(OFFERS) - 1)  # tau clips to 1: responsive customers take
    env = make(overrides={**OPTIONS["overrides"], "response": {"offer_effect": strong}})
    u = env.unwrapped
    pos = np.array(u.action_table["channel"]) == "pos"
    till = int(np.flatnonzero(pos & (np.array(u.action_table["offer"]) == "cross_sell"))[0])
    p = policy(env, "blanket", offer="cross_sell", channel="pos")
    days, lines, values = [], [], []
    for step in steps(env, p, seed=3, per_moment=True):
        for info in step.info["decisions"]:
            days += [o["day"] for o in info["outcomes"]]
            for o in info["outcomes"]:
                assert set(o) == {"day", "transactions", "churned", "n_present"}
            if info["lines"] is not None:
                lines.append(info["lines"])
            if info["sent"]:
                assert info["moment"] == "checkout" and info["realized"]["opened"]
                values.append(info["true_incremental_value"])
            else:
                assert info["realized"] is None and info["true_incremental_value"] == 0.0
    assert step.actions.max() == till
    assert days == list(range(1, OPTIONS["days"]))
    world = [t for v in u.world.lines.values() for t in v]
    assert len(lines) == len(world) > 5 and len(values) > 10
    assert np.mean(np.array(values) != 0) > 0.8  # (0 for a customer who died that day)
    for got, want in zip(lines, world, strict=True):
        np.testing.assert_array_equal(got["margin"], want.margin)


def test_slates_leave_pos_out_of_the_mask():
    """With slates a checkout's mask holds no pos action (a slate is a message)."""
    env = make(slate_size=3)
    u = env.unwrapped
    pos = np.array(u.action_table["channel"]) == "pos"
    env.reset(seed=0)
    while (batch := u.batch()) is not None and batch.kind != "checkout":
        for _ in range(batch.customers.size):
            env.step(np.zeros(3, dtype=np.int64))
    assert batch is not None and not batch.masks[:, pos].any()
    assert not u.action_mask()[pos].any()


def test_per_moment_is_for_next_best_action_only():
    """CampaignDay-v0 refuses per_moment, naming why."""
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=300, days=3)
    with pytest.raises(NbasimError, match="NextBestAction-v0 only"):
        next(steps(env, policy(env, "no_action"), seed=0, per_moment=True))
