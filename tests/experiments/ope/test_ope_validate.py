"""`ope-validate`: estimates from a behaviour log scored against on-policy truth."""

from __future__ import annotations

import json

import pytest

from nbasim.experiments.ope import validate as ope_validate
from nbasim.experiments.run import config
from nbasim.sim.params import ParameterError

SMALL = {"name": "opev", "customers": 500, "days": 8, "seeds": [0, 1], "baseline": "no_action",
         "policies": [{"label": "random"}, {"label": "no_action"},
                      {"label": "blanket", "params": {"offer": "discount_30", "channel": "sms"}}],
         "ope": {"behaviour": "random", "targets": ["blanket"], "n_bootstrap": 20,
                 "estimators": ["ips", "snips", "dr"]}}


def test_validation_scores_each_estimator_against_both_truths(tmp_path):
    """Bias, RMSE and coverage per estimator; the truths are the target's own run's figures."""
    result = ope_validate.validate(config.parse(SMALL), tmp_path / "run")
    t = result["targets"]["blanket"]
    assert set(t["estimators"]) == {"ips", "snips", "dr"}
    runs = result["runs"]["blanket"]
    assert [r["seed"] for r in runs] == [0, 1]
    for e in t["estimators"].values():
        for truth in ("per_decision", "long_term"):
            assert 0.0 <= e[truth]["coverage"] <= 1.0 and e[truth]["rmse"] >= abs(
                e[truth]["bias"]) - 1e-12
    saved = json.loads((tmp_path / "run" / "ope_validate.json").read_text())
    assert saved["behaviour"] == "random"
    assert (tmp_path / "run" / "plots" / "ope_validate.png").stat().st_size > 0


@pytest.mark.parametrize(("changes", "match"), [
    ({"ope": None}, r"needs an \[ope\] table"),
    ({"decision_log": "actions"}, "decision_log must be 'full'"),
    ({"policies": SMALL["policies"][::2], "baseline": None}, "needs a no_action policy"),
    ({"epochs": "moments"}, r"epochs = 'moments': allowed 'daily'"),
    ({"policies": [*SMALL["policies"], {"label": "eg", "policy": "epsilon_greedy"}],
      "ope": {**SMALL["ope"], "targets": ["eg"]}}, r"targets \['eg'\] learn"),
    ({"ope": {"behaviour": "ghost", "targets": ["blanket"]}}, "ope: 'ghost' is not a policy label"),
])
def test_a_config_it_cannot_validate_is_named(tmp_path, changes, match):
    """No [ope] table, no contexts, no control, moments, a behaviour that is no policy label.

    Each is named before any cell runs (the last by the config itself).
    """
    with pytest.raises(ParameterError, match=match):
        ope_validate.validate(config.parse({**SMALL, **changes}), tmp_path / "run")
    assert not (tmp_path / "run").exists()
