"""The `uplift` objective: window margin minus cost minus a baseline fitted without the truth."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import nbasim
from nbasim.envs.uplift_baseline import FOLDS, UpliftBaseline
from nbasim.policies import Fixed, make, register_policy
from nbasim.sim.params import ParameterError


class HalfMailed(Fixed):
    """A 20 % discount by e-mail to a random half of the eligible customers."""

    action = 0

    def act(self, contexts, eligible):
        """Send the action to each eligible row with probability one half."""
        send = (self.rng.random(len(contexts)) < 0.5) & eligible[:, self.action]
        return np.where(send, self.action, 0), np.where(send, 0.5, 1.0)


def _play(objective: str, customers: int, days: int, seed: int = 0) -> dict:
    """Decisions of one episode: truth, sent, rewards, baselines, in decision order."""
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=customers, days=days,
                         objective=objective)
    u = env.unwrapped
    t = u.action_table
    HalfMailed.action = next(a for a in range(u.n_actions) if t["offer"][a] == "discount_20"
                             and t["channel"][a] == "email")
    register_policy("half_mailed", HalfMailed)
    policy = make("half_mailed", action_features=u.action_features,
                  dim_context=len(u.feature_names), seed=1)
    by_day: dict[int, dict] = {}
    for step in nbasim.steps(env, policy, seed=seed, learn=False):
        dec = step.info["decisions"]
        truth, opened = np.zeros(step.rows.size), np.zeros(step.rows.size, bool)
        truth[dec["sent"]] = dec["truth"]["incremental_margin"]
        opened[dec["sent"]] = dec["realized"]["opened"]
        by_day[step.info["day"]] = {"truth": truth, "sent": dec["sent"], "opened": opened,
                                    "costs": step.info["customer_costs"]}
        for m in step.info.get("matured", []):
            by_day[m["day"]].update(rewards=m["rewards"], baselines=m.get("baselines"))
    return {k: np.concatenate([by_day[d][k] for d in sorted(by_day)])
            for k in ("truth", "sent", "opened", "costs", "rewards",
                      *(["baselines"] if objective != "window" else []))}


@pytest.fixture(scope="module")
def episodes() -> dict[str, dict]:
    """The same world and decisions under each window objective (5,000 customers, 40 days)."""
    return {o: _play(o, 5_000, 40) for o in ("window", "uplift", "uplift_opened")}


@pytest.mark.parametrize("objective", ["uplift", "uplift_opened"])
def test_uplift_rewards_estimate_the_true_incremental_margin(episodes, objective):
    """Mean reward of the mailed equals their mean true incremental margin within 3 SE.

    And the unmailed, whose true incremental margin is 0, average 0 within 3 SE (exactly 0
    under `uplift_opened`). The window reward fails both by far: it pays what customers buy
    anyway (about +1 a decision here).
    """
    e = episodes[objective]
    for group in (e["sent"], ~e["sent"]):
        r, truth = e["rewards"][group], e["truth"][group]
        se = r.std(ddof=1) / np.sqrt(r.size)
        assert r.size > 20_000
        assert abs(r.mean() - truth.mean()) <= 3 * se, (r.mean(), truth.mean(), se)
    w = episodes["window"]
    unmailed = w["rewards"][~w["sent"]]
    assert unmailed.mean() > 10 * unmailed.std(ddof=1) / np.sqrt(unmailed.size)


def test_uplift_is_window_minus_its_baseline_and_less_noisy(episodes):
    """Same world, same decisions: the uplift reward is the window reward minus the baseline.

    The baseline explains part of the organic noise, so the uplift reward varies less.
    """
    w, u = episodes["window"], episodes["uplift"]
    np.testing.assert_array_equal(w["sent"], u["sent"])
    np.testing.assert_allclose(w["rewards"] - u["baselines"], u["rewards"], atol=1e-9)
    assert u["rewards"].std() < 0.97 * w["rewards"].std()


def test_uplift_opened_keeps_only_what_an_opened_message_could_change(episodes):
    """`uplift_opened` is `uplift` for opened messages, the cost alone for unopened ones.

    No action earns 0. E-mail is opened about a quarter of the time, so the mailed rewards'
    standard deviation falls by about half (2.8 against 6.0 when measured).
    """
    u, o = episodes["uplift"], episodes["uplift_opened"]
    np.testing.assert_array_equal(u["opened"], o["opened"])
    opened, sent = o["opened"], o["sent"]
    assert 0.15 < opened[sent].mean() < 0.4
    np.testing.assert_allclose(o["rewards"][opened], u["rewards"][opened], atol=1e-9)
    np.testing.assert_array_equal(o["rewards"][sent & ~opened], -o["costs"][sent & ~opened])
    assert not o["rewards"][~sent].any()
    assert o["rewards"][sent].std() < 0.6 * u["rewards"][sent].std()


def test_a_window_never_enters_its_own_baseline():
    """A fold's baselines do not move when its own outcomes change; the others' do."""
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=(400, 3)), np.ones(400)])
    y = x @ [1.0, -2.0, 0.5, 3.0] + rng.normal(size=400)
    days, fit, fold = np.full(400, 7.0), np.ones(400, bool), np.arange(400) % FOLDS
    first = UpliftBaseline(4).close(x, y, days, fit, fold)
    y2 = np.where(fold == 0, y + 100.0, y)
    second = UpliftBaseline(4).close(x, y2, days, fit, fold)
    np.testing.assert_array_equal(first[fold == 0], second[fold == 0])
    assert not np.allclose(first[fold == 1], second[fold == 1])


def test_baseline_learns_a_linear_truth_from_uncontacted_windows_only():
    """After many windows the baseline is the true margin per day times the days.

    Contacted windows (fit False) carry a planted effect of +50 that must not leak in.
    """
    rng = np.random.default_rng(1)
    model, beta = UpliftBaseline(3), np.array([0.4, -0.1, 1.2])
    for _ in range(30):
        x = np.column_stack([rng.random((500, 2)), np.ones(500)])
        fit = rng.random(500) < 0.7
        y = x @ beta + rng.normal(0, 0.5, 500) + np.where(fit, 0.0, 50.0)
        base = model.close(x, y, np.full(500, 7.0), fit, np.arange(500) % FOLDS)
    np.testing.assert_allclose(base, 7.0 * (x @ beta), atol=0.15)


def test_next_best_action_has_no_window_objectives():
    """Decisions one at a time have no windows to close: a named error."""
    with pytest.raises(ParameterError, match="objective = 'uplift': available in CampaignDay"):
        gymnasium.make("nbasim/NextBestAction-v0", objective="uplift")
