"""Runs with slates: slots.parquet, slot columns in the log, the report, the preflight.

Policies that cannot fill slates are refused before any cell runs.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from nbasim.experiments.results.report.build import build_report
from nbasim.experiments.run import config, sweep
from nbasim.sim.params import ParameterError

CFG = {"name": "slots", "customers": 400, "days": 6, "seeds": [0], "slate_size": 3,
       "decision_log": "actions",
       "policies": [{"label": "no_action"}, {"label": "arbitration"}]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One run of the tiny slate config."""
    cfg = config.parse({**CFG, "out": str(tmp_path_factory.mktemp("slots"))})
    return sweep.run(cfg, cfg.out / cfg.name / "r")


def test_slots_table_adds_up_to_the_decisions(run_dir):
    """Per slot: redemptions match the decision log's redeemed_slot; shares sum to 1."""
    slots = pq.read_table(run_dir / "slots.parquet").to_pydict()
    log = pq.read_table(run_dir / "decisions.parquet").to_pydict()
    arb = [i for i, p in enumerate(slots["policy"]) if p == "arbitration"]
    assert [slots["slot"][i] for i in arb] == [1, 2, 3]
    redeemed = np.array([slots["redemptions"][i] for i in arb])
    logged = np.array([r for r, p in zip(log["redeemed_slot"], log["policy"], strict=True)
                       if p == "arbitration"])
    np.testing.assert_array_equal(redeemed, np.bincount(logged, minlength=4)[1:])
    assert redeemed.sum() > 0
    assert sum(slots["share"][i] for i in arb) == pytest.approx(1.0)
    p2 = np.array(log["pscore_2"])
    a2 = np.array(log["action_2"])
    assert ((p2 > 0) & (p2 <= 1))[a2 > 0].all() and (p2[a2 == 0] == 0).all()


def test_report_shows_redemptions_by_slot(run_dir):
    """The report has the slot table, one row per group and slot."""
    html = build_report(run_dir).read_text()
    assert 'id="slots-section"' in html
    assert 'data-group="arbitration" data-slot="3"' in html


@pytest.mark.parametrize(("policy", "match"), [
    ({"label": "random"}, r"policies\[random\] .*fills slates of 1 offer.*slate_size=3"),
    ({"label": "paced", "policy": "arbitration", "budget": 50.0},
     r"policies\[paced\] .*allowed slate_size = 1 with a policy budget"),
])
def test_policies_that_cannot_fill_slates_stop_the_sweep(policy, match, tmp_path):
    """The preflight names the policy and what is allowed; nothing is written."""
    cfg = config.parse({**CFG, "out": str(tmp_path), "policies": [{"label": "no_action"},
                                                                  policy]})
    with pytest.raises(ParameterError, match=match):
        sweep.prepare(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("top_k", "match"), [
    (2, r"policies\[vw\]\.params\.top_k = 2 with slate_size = 3: allowed 3"),
    (11, r"policies\[vw\]\.params\.top_k = 11: allowed an integer 1 to 10"),
])
def test_a_policys_top_k_is_checked_with_the_config(top_k, match):
    """A top_k that is no slate size, or differs from the config's slate_size, is refused."""
    with pytest.raises(ParameterError, match=match):
        config.parse({**CFG, "policies": [{"label": "vw", "params": {"top_k": top_k}}]})
