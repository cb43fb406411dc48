"""Budget pacing: never overspends, spends the budget when it pays, valid pscores, validation."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim import policies
from nbasim.policies import PolicyError
from nbasim.policies.pacing import _fit

K, D = 4, 5
COSTS = np.array([0.0, 1.0, 2.0, 0.5])


def inner(name: str = "linucb", seed: int = 0, **params: object) -> policies.Policy:
    """A bandit over K actions with one-hot features (action 0 all zeros)."""
    feats = np.eye(K)[:, 1:]
    return policies.make(name, action_features=feats, dim_context=D, seed=seed, **params)


def run(policy: policies.Policy, seed: int, days: int = 20, n: int = 400,
        profit: float = 3.0) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
    """Act then update once per day; realised costs are uniform in [0.5, 1] x the bound.

    Every action other than 0 earns `profit` plus a context effect; action 0 earns 0.

    Returns:
        the total realised cost and the (actions, pscores) of every day.
    """
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((K, D)) * 0.3
    total, trace = 0.0, []
    for _ in range(days):
        x = rng.standard_normal((n, D))
        a, p = policy.act(x)
        r = np.where(a == 0, 0.0, profit + (x @ theta.T)[np.arange(n), a])
        c = COSTS[a] * rng.uniform(0.5, 1.0, n)
        policy.update(x, a, r, p, costs=c)
        total += c.sum()
        trace.append((a, p))
    return total, trace


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("budget", [0.0, 50.0, 1500.0, 1e6])
@pytest.mark.parametrize("slack", [1.1, float("inf")])
def test_never_overspends(seed: int, budget: float, slack: float) -> None:
    """Realised spend stays within the budget whatever the budget and path slack."""
    policy = policies.paced(inner(seed=seed), budget, action_costs=COSTS, horizon=20,
                            path_slack=slack, seed=seed)
    total, trace = run(policy, seed)
    assert total <= budget * (1 + 1e-12)
    assert policy.spent == pytest.approx(total)
    for a, p in trace:
        assert ((0 < p) & (p <= 1)).all() and ((0 <= a) & (a < K)).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", ["linucb", "lints", "epsilon_greedy"])
def test_spends_budget_when_profitable(seed: int, name: str) -> None:
    """When every action pays more than it costs, at least 90% of the budget is spent.

    Unconstrained, the inner policy would spend about 400 x 20 x 0.9 = 7,200; the budget
    is 1,500, so pacing binds all along.
    """
    policy = policies.paced(inner(name, seed=seed), 1500.0, action_costs=COSTS, horizon=20,
                            seed=seed)
    total, _ = run(policy, seed)
    assert 0.9 * 1500.0 <= total <= 1500.0


def test_follows_the_path() -> None:
    """Cumulative spend stays within path_slack of the even path, day by day."""
    policy = policies.paced(inner(), 1500.0, action_costs=COSTS, horizon=20, path_slack=1.1)
    rng = np.random.default_rng(0)
    for day in range(20):
        x = rng.standard_normal((400, D))
        a, p = policy.act(x)
        policy.update(x, a, np.where(a == 0, 0.0, 3.0), p, costs=COSTS[a])
        assert policy.spent <= 1.1 * 1500.0 * (day + 1) / 20 + 1e-9


def test_multiplier_rises_with_overspend_and_prices_rewards() -> None:
    """Spend above the path raises lam; the inner policy then learns r - lam * cost."""
    seen = []

    class Spy(policies.Policy):
        def act(self, contexts, eligible):
            return np.ones(len(contexts), dtype=np.int64), np.ones(len(contexts))

        def update(self, contexts, actions, rewards, pscores):
            seen.append(rewards.copy())

    spy = Spy(action_features=np.eye(K)[:, 1:], dim_context=D, seed=0)
    policy = policies.paced(spy, 100.0, action_costs=COSTS, horizon=10, lr=0.5,
                            path_slack=float("inf"))
    x = np.zeros((40, D))
    a, p = policy.act(x)                       # 40 x cost 1 = 40 committed, 4x the path (10)
    policy.update(x, a, np.full(40, 2.0), p, costs=np.ones(40))
    # lam = 0 + 0.5 x (40 - 10) / 10 = 1.5
    assert policy.lam == pytest.approx(1.5)
    np.testing.assert_allclose(seen[0], 2.0)   # the first batch was priced at lam0 = 0
    policy.act(x)
    policy.update(x, a, np.full(40, 2.0), p, costs=np.ones(40))
    np.testing.assert_allclose(seen[1], 2.0 - 1.5 * 1.0)


def test_replaced_rows_get_action_zero_with_valid_pscores() -> None:
    """When the drawn actions do not all fit, some rows get action 0 and pscores stay > 0."""

    class Always(policies.Fixed):
        def act(self, contexts, eligible):
            return np.full(len(contexts), 2, dtype=np.int64), np.full(len(contexts), 0.25)

    always = Always(action_features=np.eye(K)[:, 1:], dim_context=D, seed=0)
    policy = policies.paced(always, 10.0, action_costs=COSTS, horizon=1, seed=3)
    a, p = policy.act(np.zeros((20, D)))
    assert (a == 2).sum() == 5 and (a == 0).sum() == 15      # 5 x cost 2 = 10
    assert ((0 < p) & (p <= 1)).all()
    assert COSTS[a].sum() <= 10.0


def test_eligibility_passed_through() -> None:
    """The caller's eligibility mask is respected under pacing."""
    policy = policies.paced(inner(explore=0.5), 1e6, action_costs=COSTS, horizon=5)
    rng = np.random.default_rng(1)
    eligible = rng.random((1000, K)) < 0.4
    eligible[:, 0] = True
    a, _ = policy.act(rng.standard_normal((1000, D)), eligible)
    assert eligible[np.arange(1000), a].all()


@pytest.mark.parametrize("seed", range(5))
def test_fit_matches_a_row_by_row_loop(seed: int) -> None:
    """The vectorised greedy fit keeps exactly the rows a plain loop keeps."""
    rng = np.random.default_rng(seed)
    bound = rng.choice([0.0, 0.5, 1.0, 2.0, 5.0], size=300)
    left = float(rng.uniform(0, bound.sum()))
    expected, room = np.zeros(300, dtype=bool), left
    for i, c in enumerate(bound):
        if c <= room:
            expected[i], room = True, room - c
    np.testing.assert_array_equal(_fit(bound, left), expected)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"budget": -1.0}, r"policy paced\(linucb\): budget = -1\.0: .*greater than or equal to 0"),
    ({"action_costs": np.ones(K + 1)}, "action_costs shape"),
    ({"action_costs": np.array([0.0, 1.0, -1.0, 1.0])}, "action_costs"),
    ({"action_costs": np.array([1.0, 1.0, 1.0, 1.0])}, r"action_costs\[0\]"),
])
def test_invalid_inputs(kwargs: dict, match: str) -> None:
    """A bad PacedParams value and bad cost vectors raise PolicyError naming them.

    One bound stands for PacedParams' (budget, horizon, lr, path_slack): all are pydantic
    bounds reported by the same message. The cost vector checks are pacing's own.
    """
    args = {"budget": 10.0, "action_costs": COSTS, "horizon": 5} | kwargs
    budget = args.pop("budget")
    with pytest.raises(PolicyError, match=match):
        policies.paced(inner(), budget, **args)


def test_not_a_policy_rejected() -> None:
    """Wrapping something without act/update is an error naming what is missing."""
    with pytest.raises(PolicyError, match="act"):
        policies.paced(object(), 10.0, action_costs=COSTS, horizon=5)
