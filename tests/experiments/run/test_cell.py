"""One cell's learning path: what the policy learns from, under each objective."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.experiments.run import config, sweep
from nbasim.experiments.run.cell import run_cell
from nbasim.policies import Policy, registry

SEEN: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []


class Recorder(Policy):
    """Random actions; records every batch it learns from."""

    def act(self, contexts, eligible):
        """A uniformly random eligible action per row."""
        p = eligible / eligible.sum(axis=1, keepdims=True)
        a = (p.cumsum(axis=1) < self.rng.random((len(p), 1))).sum(axis=1)
        return a.astype(np.int64), p[np.arange(len(p)), a]

    def update(self, contexts, actions, rewards, pscores, costs=None):
        """Keep the batch."""
        SEEN.append((contexts.copy(), actions.copy(), rewards.copy(), costs.copy()))


@pytest.fixture
def recorder():
    """`recorder` registered for the test, and a clean record."""
    saved = {k: list(v) for k, v in registry._REGISTRY.items()}
    registry.register_policy("recorder", Recorder)
    SEEN.clear()
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


@pytest.mark.parametrize("objective", ["margin", "ltv", "window", "uplift"])
def test_every_decision_is_learned_once_with_the_logged_reward(recorder, objective):
    """The policy learns each decision exactly once, with the reward the log shows.

    Under `window` and `uplift` a decision's reward arrives when its window closes, days
    later (or at the horizon), and counts the customer's margin whether contacted or not;
    under `margin` and `ltv` each day's batch comes right after the day.
    """
    cfg = config.parse({"name": "learn", "customers": 300, "days": 12, "seeds": [0],
                        "objective": objective, "policies": [{"label": "recorder"}]})
    result = run_cell(cfg, sweep.cells(cfg)[0])
    log = result.decisions
    x = np.column_stack([log[k] for k in log if k.startswith("x_")])
    learned_x = np.concatenate([b[0] for b in SEEN])
    learned = {k: np.concatenate([b[i] for b in SEEN]) for i, k in ((1, "action"), (2, "reward"))}
    order = np.lexsort(learned_x.T[::-1])          # compare as sets of rows: sort both sides
    mine = np.lexsort(x.T[::-1])
    assert len(learned_x) == len(x) > 0
    np.testing.assert_array_equal(learned_x[order], x[mine].astype(learned_x.dtype))
    np.testing.assert_array_equal(learned["action"][order], log["action"][mine])
    np.testing.assert_array_equal(learned["reward"][order], log["reward"][mine])
    assert np.isfinite(log["reward"]).all()
    if objective in ("window", "uplift"):          # uncontacted decisions earn margin too
        assert (log["reward"][~log["sent"]] != 0).any()
    else:                                          # only what was sent earns or costs
        assert (log["reward"][~log["sent"]] == 0).all()
    assert len(SEEN) == cfg.days - 1               # one batch per decision day


def test_each_policy_learns_its_own_objective():
    """causal_* get the uplift_opened reward, others the config's; all face the same world."""
    cfg = config.parse({"name": "mixed", "customers": 300, "days": 12, "seeds": [0],
                        "policies": [{"label": "random"}, {"label": "causal_lints",
                                                           "params": {"hurdle": 0.0}},
                                     {"label": "random_window", "policy": "random",
                                      "objective": "window"},
                                     {"label": "random_uplift", "policy": "random",
                                      "objective": "uplift"}]})
    logs = {c.policy.label: run_cell(cfg, c).decisions for c in sweep.cells(cfg)}
    unsent = {k: log["reward"][~log["sent"]] for k, log in logs.items()}
    assert (unsent["random"] == 0).all()                   # margin: no message, no reward
    assert (unsent["random_window"] != 0).any()            # window: what the customer made
    assert (unsent["random_uplift"] != 0).any()            # uplift: window minus baseline
    assert (unsent["causal_lints"] == 0).all()             # uplift_opened: exactly 0
    sent = logs["causal_lints"]["reward"][logs["causal_lints"]["sent"]]
    # An unopened message earns exactly minus its price (a few distinct values, one a
    # channel); an opened one its window minus baseline (all different).
    values, counts = np.unique(sent, return_counts=True)
    assert sent.size > 20 and (values[counts > 1] < 0).all() and counts.max() > 5
    first = {k: log["customer"][log["day"] == log["day"].min()] for k, log in logs.items()}
    np.testing.assert_array_equal(first["random"], first["random_window"])   # same world


def test_a_variant_may_set_its_own_base_size():
    """One variant per base size: each cell's world has its variant's customers."""
    cfg = config.parse({"name": "sizes", "customers": 300, "days": 5, "seeds": [0],
                        "scenarios": [{"label": "small"},
                                      {"label": "large", "customers": 600}],
                        "policies": [{"label": "no_action"}]})
    sizes = {}
    for cell in sweep.cells(cfg):
        daily = run_cell(cfg, cell).daily
        sizes[cell.scenario.label] = int(daily["n_treated"][0] + daily["n_holdout"][0])
    assert 0 < sizes["small"] <= 300 < sizes["large"] <= 600


def test_a_size_and_a_calibration_together_are_refused(tmp_path):
    """A calibration sets the base's size, so a variant may not set it too."""
    from nbasim.sim.params import ParameterError

    with pytest.raises(ParameterError, match="customers = 600 and a calibration"):
        config.parse({"name": "x", "policies": [{"label": "no_action"}],
                      "scenarios": [{"customers": 600,
                                     "calibration": str(tmp_path / "c.json")}]})
