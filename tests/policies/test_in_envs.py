"""Every registered policy in both environments, driven exactly as the runner drives it.

Each policy runs a short CampaignDay-v0 episode and the first decisions of a NextBestAction-v0
episode, learning from what the env reports. The checks: no error, actions of the right shape
and inside each row's eligibility mask, pscores in (0, 1], no action refused for lack of
consent, and, for the policies with a pilot or warm-up, that learning actually started. A paced
LinUCB runs under a budget that binds and must never spend more than its path allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from nbasim import (
    envs,  # noqa: F401  (registers the environments)
    policies,
)

CUSTOMERS, DAYS = 1_500, 6                  # CampaignDay: 5 decision days
NBA_CUSTOMERS, NBA_DAYS, NBA_STEPS = 300, 3, 1_500

# Small pilots and warm-ups, so that the learned phase is reached within the episodes.
SMALL = {"segment_greedy": {"pilot_decisions": 500, "min_count": 5},
         "response_model": {"warmup": 200},
         "uplift_two_model": {"warmup": 200}}
# One decision per step: fewer Thompson samples keep a 433-action LinTS quick.
NBA_SMALL = {"lints": {"n_samples": 2}}
# What shows that the pilot or warm-up ended.
LEARNING: dict[str, Callable[[Any], bool]] = {
    "segment_greedy": lambda p: p.learned is not None,
    "response_model": lambda p: p.seen >= p.params.warmup,
    "uplift_two_model": lambda p: p.seen >= p.params.warmup,
}
# Non-default forms that take another code path, CampaignDay only.
VARIANTS = [("linucb", {"model": "shared"}), ("epsilon_greedy", {"explore": 0.05}),
            ("vw", {"top_k": 2}),
            ("rfm_playbook", {"playbook": {"lost": {"offer": "win_back", "channel": "sms"}}})]
CASES = [(name, {}) for name in policies.available()] + VARIANTS
CASE_IDS = [name + "".join(f"-{k}" if isinstance(v, dict) else f"-{k}={v}" for k, v in p.items())
            for name, p in CASES]


def make_policy(name: str, env: gym.Env, seed: int = 0, **params: Any) -> policies.Policy:
    """`name` for `env`: the env's names go to the policies whose params take them."""
    u = env.unwrapped
    fields = policies.policy_class(name).Params.model_fields
    if "context_names" in fields:
        params.setdefault("context_names", u.feature_names)
    if "action_table" in fields:
        params.setdefault("action_table", u.action_table)
    return policies.make(name, action_features=u.action_features,
                         dim_context=len(u.feature_names), seed=seed, **params)


def check_acts(actions: np.ndarray, pscores: np.ndarray, mask: np.ndarray) -> None:
    """Shapes, dtype, eligibility and pscores of one `act` over rows with `mask` (n, K)."""
    n = mask.shape[0]
    assert actions.shape == (n,) and actions.dtype == np.int64
    assert pscores.shape == (n,) and pscores.dtype == np.float64
    assert mask[np.arange(n), actions].all(), "an action outside the row's mask"
    assert ((pscores > 0) & (pscores <= 1)).all(), f"pscores {pscores.min()}..{pscores.max()}"


def consent_mask(env: gym.Env, x: np.ndarray) -> np.ndarray:
    """(n, K) actions allowed by the consent columns of NextBestAction contexts `x` (n, dim)."""
    u = env.unwrapped
    names = list(u.feature_names)
    channels = np.array(u.action_table["channel"])
    mask = np.ones((x.shape[0], u.n_actions), dtype=bool)
    for c in set(channels.tolist()) - {"none"}:
        mask[:, channels == c] = x[:, [names.index(f"consent_{c}")]] > 0.5
    return mask


def run_campaign_day(policy: policies.Policy, truth: bool, seed: int = 0,
                     ) -> tuple[dict[str, int], list[float]]:
    """One CampaignDay episode; returns the rejections by reason and each day's spend.

    Every day's actions and pscores are checked with `check_acts`.
    """
    env = gym.make("nbasim/CampaignDay-v0", customers=CUSTOMERS, days=DAYS, truth=truth)
    u = env.unwrapped
    obs, info = env.reset(seed=seed)
    rejected: dict[str, int] = {}
    spend: list[float] = []
    done = False
    while not done:
        rows = np.flatnonzero(obs["eligible"])
        x, mask = u.contexts(obs, rows), u.action_mask(obs, rows)
        a, ps = policy.act(x, mask, truth=info["next"].get("true_margins"))
        check_acts(a, ps, mask)
        action = np.zeros(CUSTOMERS, dtype=np.int64)
        action[rows] = a
        obs, _, terminated, truncated, info = env.step(action)
        np.testing.assert_array_equal(info["customers"], rows)
        for reason, count in info["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + count
        spend.append(float(info["customer_costs"].sum()))
        policy.update(x, a, info["customer_rewards"], ps, costs=info["customer_costs"])
        done = terminated or truncated
    assert len(spend) == DAYS - 1
    return rejected, spend


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_policy_runs_in_campaign_day(name, params):
    """A CampaignDay episode: actions inside the consent mask, valid pscores, learning starts."""
    env = gym.make("nbasim/CampaignDay-v0", customers=CUSTOMERS, days=DAYS)
    policy = make_policy(name, env, **{**SMALL.get(name, {}), **params})
    rejected, spend = run_campaign_day(policy, bool(policies.policy_class(name).needs_truth))
    assert "no_consent" not in rejected
    assert all(s >= 0 for s in spend)
    if name in LEARNING:
        assert LEARNING[name](policy), f"{name} never left its pilot or warm-up"


@pytest.mark.parametrize("name", list(policies.available()))
def test_policy_runs_in_next_best_action(name):
    """The first decisions of a NextBestAction episode, one at a time, each learned from."""
    truth = bool(policies.policy_class(name).needs_truth)
    env = gym.make("nbasim/NextBestAction-v0", customers=NBA_CUSTOMERS, days=NBA_DAYS,
                   truth=truth)
    policy = make_policy(name, env, **{**SMALL.get(name, {}), **NBA_SMALL.get(name, {})})
    obs, info = env.reset(seed=1)
    steps, consent_refused, done = 0, 0, False
    while not done and steps < NBA_STEPS:
        x = obs[None].astype(np.float64)
        mask = consent_mask(env, x)
        a, ps = policy.act(x, mask, truth=info["next"]["true_margins"][None] if truth else None)
        check_acts(a, ps, mask)
        obs, reward, terminated, truncated, info = env.step(int(a[0]))
        consent_refused += info["rejected"] == "no_consent"
        policy.update(x, a, np.array([reward]), ps, costs=np.array([info["cost"]]))
        steps += 1
        done = terminated or truncated
    assert steps > SMALL["segment_greedy"]["pilot_decisions"]
    assert consent_refused == 0
    if name in LEARNING:
        assert LEARNING[name](policy), f"{name} never left its pilot or warm-up"


def action_cost_bounds(env: gym.Env) -> np.ndarray:
    """(K,) an upper bound of each action's cost over the episode, from the world's truth.

    Cost = message price + discount x the customer's expected basket (`sim.response.realize`);
    the basket is bounded by the largest one in the whole base (newcomers included), scaled to
    the episode's highest spend multiplier.
    """
    u = env.unwrapped
    world, catalog = u.world, u.campaign.actions
    spend = world.mods.spend
    top = float(world.basket(np.arange(world.pop.n_customers)).max()
                * spend.max() / spend[world.today])
    price = np.asarray(world.params.response.channel_price)[np.maximum(catalog.channel, 0)]
    return np.where(catalog.channel >= 0, price, 0.0) + catalog.discount * top


@pytest.mark.parametrize(("name", "params"), [("linucb", {}), ("causal_lints", {"hurdle": 0.0}),
                                              ("causal_vw", {"screen": {"hurdle": 0.0}})])
def test_paced_learners_never_overspend_in_campaign_day(name, params):
    """Paced LinUCB and the causal learners: spend stays on the budget path and under it.

    Unpaced, the first day alone spends over 100 (random-like choices over 1,264 rows), so a
    budget of 40 for the five days binds.
    """
    budget, horizon, slack = 40.0, DAYS - 1, 1.1
    env = gym.make("nbasim/CampaignDay-v0", customers=CUSTOMERS, days=DAYS)
    env.reset(seed=0)
    bounds = action_cost_bounds(env)
    inner = make_policy(name, env, seed=3, **params)
    policy = policies.paced(inner, budget, action_costs=bounds, horizon=horizon,
                            path_slack=slack, seed=3)
    rejected, spend = run_campaign_day(policy, truth=False)
    assert "no_consent" not in rejected and "budget" not in rejected
    cumulative = np.cumsum(spend)
    path = budget * np.minimum(1.0, slack * np.arange(1, horizon + 1) / horizon)
    assert (cumulative <= path + 1e-9).all(), f"spend {cumulative} over the path {path}"
    assert cumulative[-1] <= budget + 1e-9
    assert cumulative[-1] > 0.3 * budget, f"spent {cumulative[-1]} of {budget}: pacing idle"
    assert policy.spent == pytest.approx(cumulative[-1])
    assert policy.committed == pytest.approx(0.0, abs=1e-9)
