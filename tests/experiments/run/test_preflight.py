"""Every policy is built and checked before any cell runs and before anything is written."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.run import config, sweep
from nbasim.sim.params import ParameterError

GOOD = {"label": "no_action"}  # a policy that is fine: it comes first, and runs no cell
BASE = {"name": "preflight", "customers": 300, "days": 4, "seeds": [0]}
FEW_OFFERS = {"label": "few_offers", "overrides": {"offers": ["discount_20", "free_delivery"]}}


@pytest.mark.parametrize(("policy", "scenario", "match"), [
    ({"label": "linucb", "params": {"alpha": -1}}, None,
     r"policies\[linucb\] on scenario 'base' .*alpha = -1: .*greater than or equal to 0"),
    ({"label": "eg", "policy": "epsilon_greedy", "params": {"explore": 2}}, None,
     r"policies\[eg\] .*explore = 2: .*less than or equal to 1"),
    ({"label": "vw", "params": {"epsilon": 1.5}}, None, r"policies\[vw\] .*epsilon"),
    ({"label": "vw", "params": {"bits": 99}}, None,
     r"policies\[vw\] .*bits = 99: .*less than or equal to 30"),
    ({"label": "random", "params": {"colour": "red"}}, None,
     r"policies\[random\] .*colour = 'red': Extra inputs are not permitted"),
    ({"label": "blanket", "params": {"offer": "moon_trip"}}, None,
     r"policies\[blanket\] .*moon_trip .*not in the action catalog"),
    # The RFM playbook's default rows name loyalty_x2, win_back, ...: not in this catalog.
    ({"label": "rfm_playbook"}, FEW_OFFERS,
     r"policies\[rfm_playbook\] on scenario 'few_offers' .*not in the action catalog; it "
     r"holds offers: discount_20, free_delivery"),
    ({"label": "paced", "policy": "random", "params": {"explore": 0.5}, "budget": 10.0}, None,
     r"policies\[paced\] .*explore"),
])
def test_a_bad_policy_stops_the_sweep_before_anything_is_written(policy, scenario, match,
                                                                 tmp_path):
    """`prepare` builds every policy on every variant first; the run directory stays absent."""
    cfg = config.parse({**BASE, "policies": [GOOD, policy],
                        **({"scenarios": [{"label": "base"}, scenario]} if scenario else {})})
    run_dir = tmp_path / "run"
    with pytest.raises(ParameterError, match=match):
        sweep.prepare(cfg, run_dir)
    assert not run_dir.exists()


def test_cli_exits_2_writes_nothing_and_the_corrected_config_then_runs(tmp_path):
    """Exit 2 naming the parameter, --out untouched; the fixed config runs in that --out."""
    bad = tmp_path / "bad.toml"
    text = ('name = "preflight"\ncustomers = 300\ndays = 4\nseeds = [0]\n'
            '[[policies]]\nlabel = "no_action"\n[[policies]]\nlabel = "linucb"\n')
    bad.write_text(text + "params = {alpha = -1}\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(bad), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "policies[linucb] on scenario" in result.output  # not swallowed as rich markup
    assert "alpha = -1" in result.output and "Traceback" not in result.output
    assert not out.exists()
    good = tmp_path / "good.toml"
    good.write_text(text + "params = {alpha = 0.5}\n")
    result = CliRunner().invoke(app, ["run", str(good), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file()
