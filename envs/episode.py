"""The glue between an environment and a policy: observe, act, step, learn, to the horizon.

`run_episode(env, policy)` plays one episode of either environment and returns its totals;
`steps(env, policy)` yields the same play one env step at a time, for callers that record
more (the experiment runner logs every decision from it). Per step: the contexts and
consent masks of the customers to decide for, `policy.act`, the actions scattered into the
env's action, `env.step`, and `policy.update` with what the step revealed: that step's
rewards, or with objective `window` the decisions whose attribution windows closed.

In NextBestAction-v0, `per_moment=True` asks the policy once per moment for all its customers
(`NextBestActionEnv.batch`), steps each decision in order, and updates the policy with the
moment's rewards when it ends: what an engine that scores a batch does, and far fewer policy
calls than one per decision (the experiment runner plays moments this way).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nbasim.envs.campaign_day import CampaignDayEnv
from nbasim.envs.next_best_action import NextBestActionEnv
from nbasim.envs.setup import truth_grids
from nbasim.errors import NbasimError
from nbasim.sim.slates import SlateError

TRUTH_KEYS = {"margins": "true_margins", "values": "true_values"}
"""A policy's `needs_truth` -> the env info entry that holds that truth."""


@dataclass
class Step:
    """One env step as the policy saw it.

    Attributes:
        obs: the observation the policy acted on.
        rows: (k,) customers decided for (CampaignDay: the eligible ones; NextBestAction: the
            one customer of the decision).
        contexts: (k, dim_context) float32 contexts given to `act`.
        actions: (k,) int64 actions chosen.
        pscores: (k,) their probabilities.
        reward: the env's reward for the step.
        info: the env's `info` after the step.
        learned: (day, rewards) of the decisions the policy learned from at this step, the
            day being the one they were made on.
        policy_seconds: time spent in `act` and `update`.
        slates: (k, slate_size) the slates sent (0: empty slot), with env option
            slate_size > 1; None otherwise. `actions` is their slot 1.
        slate_pscores: (k, slate_size) each slot's pscore given the slots before it.
    """

    obs: Any
    rows: np.ndarray
    contexts: np.ndarray
    actions: np.ndarray
    pscores: np.ndarray
    reward: float
    info: dict[str, Any]
    learned: list[tuple[int, np.ndarray]] = field(default_factory=list)
    policy_seconds: float = 0.0
    slates: np.ndarray | None = None
    slate_pscores: np.ndarray | None = None


@dataclass
class Episode:
    """Totals of one episode.

    Attributes:
        reward: sum of the env's rewards.
        steps: env steps taken.
        decisions: customers decided for (an action or no action).
        sent: messages sent.
        cost: money spent on what was sent.
        true_incremental_margin: the true expected incremental margin of what was sent.
        policy_seconds: time spent in the policy's `act` and `update`.
    """

    reward: float = 0.0
    steps: int = 0
    decisions: int = 0
    sent: int = 0
    cost: float = 0.0
    true_incremental_margin: float = 0.0
    policy_seconds: float = 0.0


def run_episode(env: Any, policy: Any, *, seed: int | None = None, learn: bool = True,
                start: tuple[Any, dict] | None = None, per_moment: bool = False) -> Episode:
    """Play `policy` in `env` from `env.reset(seed=seed)` to the horizon.

    Args:
        env: a `nbasim/CampaignDay-v0` or `nbasim/NextBestAction-v0` env (wrapped or not).
        policy: anything with the policy interface (`act`, `update`, `needs_truth`).
        seed: passed to `env.reset`.
        learn: call `policy.update` with what each step reveals.
        start: the (obs, info) of a reset the caller made already, to go on from instead of
            resetting (`seed` is then ignored).
        per_moment: NextBestAction-v0: ask the policy once per moment (see `steps`); `steps`
            in the totals still counts env steps.

    Returns:
        The episode's totals.

    Raises:
        NbasimError: an env that is not one of ours, or a policy that needs the truth from
            an env built without option `truth=True`.
    """
    total = Episode()
    for step in steps(env, policy, seed=seed, learn=learn, start=start, per_moment=per_moment):
        total.reward += step.reward
        total.decisions += step.rows.size
        total.policy_seconds += step.policy_seconds
        for info in step.info["decisions"] if per_moment else [step.info]:
            total.steps += 1
            total.sent += int(info["sent"])
            total.cost += float(info["cost"])
            total.true_incremental_margin += float(info["true_incremental_margin"])
    return total


def steps(env: Any, policy: Any, *, seed: int | None = None, learn: bool = True,
          start: tuple[Any, dict] | None = None, per_moment: bool = False) -> Iterator[Step]:
    """Play `policy` in `env` to the horizon, yielding each step (see `run_episode`).

    With `per_moment` (NextBestAction-v0 only) each yielded `Step` is a whole moment: `obs` is
    its `envs.next_best_action.MomentBatch`, `reward` the sum of its decisions' rewards and
    `info` {"day", "hour", "moment", "decisions": [each step's info]}.
    """
    base = getattr(env, "unwrapped", env)
    key = truth_key(policy)
    if key and truth_option(policy) not in truth_grids(base.options.truth):
        raise NbasimError(f"policy {getattr(policy, 'name', '') or type(policy).__name__} "
                          f"reads info['next']['{key}']: build the env with truth=True (or "
                          f"truth={truth_option(policy)!r})")
    if isinstance(base, CampaignDayEnv):
        if per_moment:
            raise NbasimError("per_moment: NextBestAction-v0 only (a CampaignDay-v0 step is "
                              "already a whole day)")
        play = _campaign_days
    elif isinstance(base, NextBestActionEnv):
        play = _moments if per_moment else _decisions
    else:
        raise NbasimError(f"env {base!r}: expected nbasim/CampaignDay-v0 or "
                          "nbasim/NextBestAction-v0")
    check_slates(base.options.slate_size, policy)
    obs, info = env.reset(seed=seed) if start is None else start
    yield from play(env, base, policy, obs, info, learn, key)


def check_slates(k: int, policy: Any) -> None:
    """Raise a `SlateError` unless the policy fills slates of `k` offers (or `k` is 1).

    Args:
        k: the env's option `slate_size`.
        policy: the policy (`policies.slates` describes the slate protocol).
    """
    if k > 1 and slate_size(policy) != k:
        name = getattr(policy, "name", "") or type(policy).__name__
        raise SlateError(f"policy {name} fills slates of {slate_size(policy)} offer(s), the env "
                         f"sends slate_size={k}: allowed a policy with slate_size {k} (a "
                         f"top_k={k} parameter: vw, arbitration, no_action)")


def slate_size(policy: Any) -> int:
    """Offers per decision a policy fills (`nbasim.policies.slates`): its `slate_size`, or 1."""
    return int(getattr(policy, "slate_size", 1))


def slates_of(policy: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The slates of the policy's last `act` of `n` rows, empty slots as 0, and their pscores.

    Raises:
        SlateError: the policy left no slates of `n` rows.
    """
    slate, pscores = policy.last_slate, policy.last_slate_pscores
    if slate is None or slate.shape != (n, slate_size(policy)):
        raise SlateError(f"policy {getattr(policy, 'name', '')}: last_slate "
                         f"{None if slate is None else slate.shape}: expected ({n}, "
                         f"{slate_size(policy)}) after act")
    return np.maximum(slate, 0), pscores


def truth_key(policy: Any) -> str | None:
    """The env info entry of the truth a policy reads, or None.

    `needs_truth` "values" reads "true_values" (the true incremental values); "margins" or
    True reads "true_margins".
    """
    needs = getattr(policy, "needs_truth", False)
    if not needs:
        return None
    return TRUTH_KEYS.get(needs, "true_margins") if isinstance(needs, str) else "true_margins"


def truth_option(policy: Any) -> bool | str:
    """The env option `truth` that hands over what a policy reads (`truth_key`), and no more.

    False for a policy that reads no truth, else "margins" or "values"; `policy` may be a
    policy class.
    """
    key = truth_key(policy)
    return False if key is None else key.removeprefix("true_")


def _campaign_days(env: Any, base: CampaignDayEnv, policy: Any, obs: dict, info: dict,
                   learn: bool, key: str | None) -> Iterator[Step]:
    n, k = base.options.customers, base.options.slate_size
    waiting: dict[int, tuple] = {}  # objective window: decisions whose reward is not known yet
    done = False
    while not done:
        rows = np.flatnonzero(obs["eligible"])
        x = base.contexts(obs, rows)
        mask = base.action_mask(obs, rows)
        t = time.perf_counter()
        actions, pscores = policy.act(x, mask, truth=info["next"].get(key) if key else None)
        seconds = time.perf_counter() - t
        slates = slate_pscores = None
        if k > 1:
            slates, slate_pscores = slates_of(policy, rows.size)
            action = np.zeros((n, k), dtype=np.int64)
            action[rows] = slates
        else:
            action = np.zeros(n, dtype=np.int64)
            action[rows] = actions
        seen = obs
        obs, reward, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        if "matured" in info:
            waiting[info["day"]] = (x, actions, pscores)
            batches = [(m["day"], *waiting.pop(m["day"]), m["rewards"], m["costs"])
                       for m in info["matured"]]
        else:
            batches = [(info["day"], x, actions, pscores, info["customer_rewards"],
                        info["customer_costs"])]
        t = time.perf_counter()
        if learn:
            for _, x_b, a_b, p_b, r_b, c_b in batches:
                policy.update(x_b, a_b, r_b, p_b, costs=c_b)
        seconds += time.perf_counter() - t
        yield Step(seen, rows, x, actions, pscores, float(reward), info,
                   [(b[0], b[4]) for b in batches], seconds, slates, slate_pscores)


def _decisions(env: Any, base: NextBestActionEnv, policy: Any, obs: np.ndarray, info: dict,
               learn: bool, key: str | None) -> Iterator[Step]:
    nxt = info["next"]  # the decision `obs` asks for; the rest of a step's info, the one taken
    done = nxt["customer"] is None
    while not done:
        rows = np.array([nxt["customer"]], dtype=np.int64)
        x = obs[None, :]
        truth = nxt.get(key) if key else None
        t = time.perf_counter()
        actions, pscores = policy.act(x, base.action_mask(obs)[None, :],
                                      truth=None if truth is None else truth[None, :])
        seconds = time.perf_counter() - t
        seen = obs
        slates = slate_pscores = None
        if base.options.slate_size > 1:
            slates, slate_pscores = slates_of(policy, 1)
        obs, reward, terminated, truncated, info = env.step(
            int(actions[0]) if slates is None else slates[0])
        nxt, done = info["next"], terminated or truncated
        rewards = np.array([reward])
        t = time.perf_counter()
        if learn:
            policy.update(x, actions, rewards, pscores, costs=np.array([info["cost"]]))
        seconds += time.perf_counter() - t
        yield Step(seen, rows, x, actions, pscores, float(reward), info,
                   [(info["day"], rewards)], seconds, slates, slate_pscores)


def _moments(env: Any, base: NextBestActionEnv, policy: Any, obs: np.ndarray, info: dict,
             learn: bool, key: str | None) -> Iterator[Step]:
    k = base.options.slate_size
    while (batch := base.batch()) is not None:
        x, n = batch.contexts, batch.customers.size
        t = time.perf_counter()
        actions, pscores = policy.act(x, batch.masks, truth=batch.truth.get(key) if key else None)
        seconds = time.perf_counter() - t
        slates = slate_pscores = None
        if k > 1:
            slates, slate_pscores = slates_of(policy, n)
        rewards, costs, infos = np.zeros(n), np.zeros(n), []
        for i in range(n):
            _, rewards[i], _, _, step_info = env.step(
                int(actions[i]) if slates is None else slates[i])
            costs[i] = step_info["cost"]
            infos.append(step_info)
        t = time.perf_counter()
        if learn:
            policy.update(x, actions, rewards, pscores, costs=costs)
        seconds += time.perf_counter() - t
        info = {"day": batch.day, "hour": batch.hour, "moment": batch.kind, "decisions": infos}
        yield Step(batch, batch.customers, x, actions, pscores, float(rewards.sum()), info,
                   [(batch.day, rewards)], seconds, slates, slate_pscores)
