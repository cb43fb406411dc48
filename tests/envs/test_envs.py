"""Both gymnasium environments: conformance, determinism, pickling, rules and bad input."""

from __future__ import annotations

import pickle
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from nbasim import envs  # noqa: F401  (registers the environments)
from nbasim.sim.params import ParameterError

SMALL = {"nbasim/CampaignDay-v0": {"customers": 3000, "days": 12},
         "nbasim/NextBestAction-v0": {"customers": 1500, "days": 6}}


@pytest.mark.parametrize("env_id", list(SMALL))
def test_check_env_passes_without_warnings(env_id):
    """Gymnasium's checker passes and warns about nothing."""
    env = gymnasium.make(env_id, **SMALL[env_id])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []


def rollout(env_id, seed, steps=15):
    """Observations and rewards of a seeded random rollout."""
    env = gymnasium.make(env_id, **SMALL[env_id])
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out.append((obs, reward))
        if terminated or truncated:
            break
    return pickle.dumps(out)


@pytest.mark.parametrize("env_id", list(SMALL))
def test_same_seed_same_rollout_other_seed_differs(env_id):
    """Two rollouts on one seed are identical; another seed differs."""
    assert rollout(env_id, 3) == rollout(env_id, 3)
    assert rollout(env_id, 3) != rollout(env_id, 4)


@pytest.mark.parametrize("env_id", list(SMALL))
def test_envs_pickle_mid_episode(env_id):
    """An env pickled mid-episode continues exactly like the original."""
    env = gymnasium.make(env_id, **SMALL[env_id]).unwrapped
    env.reset(seed=1)
    env.action_space.seed(1)
    for _ in range(3):
        env.step(env.action_space.sample())
    twin = pickle.loads(pickle.dumps(env))
    actions = [env.action_space.sample() for _ in range(4)]
    a = [env.step(x)[:2] for x in actions]
    b = [twin.step(x)[:2] for x in actions]
    assert pickle.dumps(a) == pickle.dumps(b)


def test_campaign_day_runs_to_the_horizon_and_never_contacts_the_holdout():
    """A random policy: truncated after days-1 steps, holdout untouched, info complete."""
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=3000, days=8, holdout=0.2)
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    rows = np.flatnonzero(obs["eligible"])
    assert env.unwrapped.contexts(obs).shape == (rows.size, len(env.unwrapped.feature_names))
    for step in range(7):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.isfinite(reward) and not terminated
        assert truncated == (step == 6)
        assert {"true_uplift", "cost", "rejected", "holdout_purchases"} <= set(info)
        # Per-customer rewards for the customers decided, summing to the step's reward.
        np.testing.assert_array_equal(info["customers"], rows)
        assert info["customer_rewards"].sum() == pytest.approx(reward)
        # Only eligible customers were decided for, so no contact-policy rejection is left.
        assert "contact_limit" not in info["rejected"] and "min_gap" not in info["rejected"]
        rows = np.flatnonzero(obs["eligible"])
    u = env.unwrapped
    held = np.flatnonzero(u.campaign.holdout[: u.world.n_present])
    assert (u.world.pop.contact_days[held] == 0).all()
    assert not obs["eligible"][held].any()


def test_next_best_action_moves_through_moments_in_time_order():
    """Decisions come in non-decreasing (day, hour) order and the episode ends truncated."""
    env = gymnasium.make("nbasim/NextBestAction-v0", customers=400, days=3)
    env.reset(seed=0)
    times, truncated = [], False
    while not truncated:
        _, _, terminated, truncated, info = env.step(0)
        times.append((info["day"], info["hour"]))
        assert not terminated
    assert times == sorted(times) and len(times) > 400
    assert {d for d, _ in times} == {0, 1, 2}


def test_no_action_has_zero_uplift_and_cost():
    """Action 0 everywhere: true uplift and cost are exactly 0, nothing is rejected."""
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=2000, days=5)
    env.reset(seed=2)
    _, _, _, _, info = env.step(np.zeros(2000, dtype=np.int64))
    assert info["true_uplift"] == 0 and info["cost"] == 0 and info["rejected"] == {}


@pytest.mark.parametrize(("action", "match"), [
    (np.zeros(10, dtype=np.int64), r"action shape \(10,\): expected \(2000,\)"),
    (np.zeros(2000), "action dtype float64: expected integers"),
    (np.full(2000, 10_000), "action 10000: allowed 0 to 432"),
])
def test_campaign_day_rejects_bad_actions_before_the_world_changes(action, match):
    """A wrong shape, dtype or index is named; the world's day does not move."""
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=2000, days=5).unwrapped
    env.reset(seed=0)
    with pytest.raises(ParameterError, match=match):
        env.step(action)
    assert env.world.day == 1


@pytest.mark.parametrize("action", [-1, 433, 2.5, "1"])
def test_next_best_action_rejects_bad_actions(action):
    """An action outside the Discrete space is named with the allowed range."""
    env = gymnasium.make("nbasim/NextBestAction-v0", customers=300, days=3).unwrapped
    env.reset(seed=0)
    with pytest.raises(ParameterError, match="allowed an integer 0 to 432"):
        env.step(action)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"scenario": "nowhere"}, "unknown scenario 'nowhere'"),
    ({"objective": "profit"}, "objective.*'profit'.*margin.*ltv"),
    ({"budget": -5}, r"environment field 'budget' = -5: .*\(allowed: float, >= 0\)"),
    ({"shocks": ("nope",)}, "unknown shock 'nope'"),
    ({"truth": "uplift"}, "field 'truth' = 'uplift': .*False, True, 'margins' or 'values'"),
    ({"colour": "red"}, "environment field 'colour' = 'red': Extra inputs"),
])
@pytest.mark.parametrize("env_id", list(SMALL))
def test_bad_options_are_named(env_id, kwargs, match):
    """Bad env options raise a named error at construction.

    One bound (budget) stands for EnvOptions' pydantic bounds; the others are the scenario
    and shock look-ups, the objective and truth choices and an unknown option.
    """
    with pytest.raises(ParameterError, match=match):
        gymnasium.make(env_id, **kwargs)


def test_ltv_objective_adds_value_change():
    """With the ltv objective the reward differs from margin only by the value change."""
    rewards = {}
    for objective in ("margin", "ltv"):
        env = gymnasium.make("nbasim/CampaignDay-v0", customers=3000, days=6,
                             objective=objective)
        env.reset(seed=5)
        env.action_space.seed(5)
        rewards[objective] = [env.step(env.action_space.sample())[1] for _ in range(4)]
    assert rewards["margin"] != rewards["ltv"]


def test_spaces_expose_catalog_features_and_names():
    """Both envs expose the action feature matrix and the context feature names."""
    for env_id in SMALL:
        env = gymnasium.make(env_id, **SMALL[env_id]).unwrapped
        assert env.action_features.shape == (433, 18)
        assert len(set(env.feature_names)) == len(env.feature_names)


def test_next_best_action_hands_over_true_margins_with_option_truth():
    """With truth=True, info["next"] carries the next decision's margins; the sent one matches.

    Everything else in a step's info describes the decision it took: the customer and moment
    that info["next"] named before the step.
    """
    env = gymnasium.make("nbasim/NextBestAction-v0", customers=800, days=4, truth=True)
    _, info = env.reset(seed=4)
    assert set(info) == {"next"}
    checked = 0
    for _ in range(3000):
        nxt = info["next"]
        margins = nxt["true_margins"]
        assert margins.shape == (433,) and margins[0] == 0.0
        action = int(np.argmax(margins))
        _, _, _, truncated, info = env.step(action)
        assert {k: info[k] for k in ("day", "hour", "moment", "customer")} == {
            k: nxt[k] for k in ("day", "hour", "moment", "customer")}
        assert "true_margins" not in info
        if info["sent"]:
            assert info["true_incremental_margin"] == pytest.approx(margins[action], rel=1e-9)
            assert info["true_incremental_margin"] > 0
            checked += 1
        if truncated:
            break
    assert checked > 20


def test_campaign_day_contexts_match_the_world_and_masks_follow_consent():
    """Features derived from the observation equal those derived from the live population."""
    from nbasim.envs import context

    env = gymnasium.make("nbasim/CampaignDay-v0", customers=2000, days=5)
    obs, _ = env.reset(seed=3)
    u = env.unwrapped
    rows = np.flatnonzero(obs["eligible"])
    np.testing.assert_array_equal(u.contexts(obs, rows), context.of_campaign(u.campaign, rows))
    mask = u.action_mask(obs, rows)
    assert mask[:, 0].all()
    phone = np.flatnonzero(np.array(u.action_table["channel"]) == "phone")
    no_phone = (obs["consent"][rows] & 0b1000) == 0
    assert no_phone.any() and not mask[np.ix_(no_phone, phone)].any()


def test_campaign_day_hands_over_true_margins_of_eligible_customers():
    """With truth=True, info["next"] holds the eligible customers' true margins, 0 for no action.

    (n_eligible, n_actions), for the day the observation asks for; the rest of a step's info
    is the day decided.
    """
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=600, days=4, truth=True)
    obs, info = env.reset(seed=1)
    assert info["next"]["day"] == 0
    assert info["next"]["true_margins"].shape == (int(obs["eligible"].sum()), 433)
    assert (info["next"]["true_margins"][:, 0] == 0).all()
    obs, _, _, _, info = env.step(np.zeros(600, dtype=np.int64))
    assert (info["day"], info["next"]["day"]) == (0, 1)
    assert info["next"]["true_margins"].shape == (int(obs["eligible"].sum()), 433)
    assert "true_margins" not in info


def test_window_objective_pays_each_decision_once_when_its_window_closes():
    """Objective window: every day's decisions mature once, 7 days later or at the horizon.

    A decision's reward is the customer's margin in the window minus its cost, so with no
    action it is the margin the customer made anyway: the matured rewards of a no-action day
    add up to the purchases those customers made in the window.
    """
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=1500, days=12, objective="window")
    obs, _ = env.reset(seed=6)
    u = env.unwrapped
    span = u.world.params.response.attribution_days
    decided, matured, bought = {}, [], np.zeros(1500)
    truncated = False
    while not truncated:
        rows = np.flatnonzero(obs["eligible"])
        decided[u.world.today] = rows
        obs, reward, _, truncated, info = env.step(np.zeros(1500, dtype=np.int64))
        tx = info["outcome"]["transactions"]
        np.add.at(bought, tx["customer"], tx["margin"])
        assert "customer_rewards" not in info
        assert reward == pytest.approx(sum(m["rewards"].sum() for m in info["matured"]))
        for m in info["matured"]:
            np.testing.assert_array_equal(m["customers"], decided[m["day"]])
            assert m["days"] == span or truncated
            matured.append(m["day"])
    assert sorted(matured) == sorted(decided)  # each day once
    assert bought.sum() > 0


def test_window_objective_is_refused_by_next_best_action():
    """Per-decision windows are not available one decision at a time: a named error."""
    with pytest.raises(ParameterError, match="objective = 'window': available in CampaignDay"):
        gymnasium.make("nbasim/NextBestAction-v0", objective="window")


TARGETED = {"cross_sell_targets": ["outerwear"], "visit_bonus_targets": ["north", "station"]}


@pytest.mark.parametrize("env_id", list(SMALL))
def test_targeted_offers_reach_the_action_table_and_features(env_id):
    """Targets of a scenario: named in the table, encoded in the features; the checker passes."""
    env = gymnasium.make(env_id, **SMALL[env_id], overrides=TARGETED, truth=True).unwrapped
    table = env.action_table
    assert env.n_actions == 12 * 48 + 1 and table["target"][0] == "none"
    assert {t for t in table["target"] if t != "none"} == {"outerwear", "north", "station"}
    aimed = np.array(table["target"]) != "none"
    assert np.array_equal(env.action_features[:, -3:].sum(axis=1), aimed.astype(np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    assert [str(w.message) for w in caught] == []
