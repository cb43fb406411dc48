"""Every option and field is checked before the first write: exit 2 leaves --out absent.

Each of these used to exit 2 after config.toml had been written (so the corrected command
was then refused for that --out).
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.run import config
from nbasim.sim.params import ParameterError

BASE = 'name = "early"\ncustomers = 300\ndays = 4\nseeds = [0]\n'
POLICIES = ('[[policies]]\nlabel = "random"\n[[policies]]\nlabel = "no_action"\n'
            '[[policies]]\nlabel = "blanket"\n')
OPE = '[ope]\nbehaviour = "random"\ntargets = ["blanket"]\n'
LATE_SHOCK = '[[scenarios]]\nlabel = "late"\nshocks = ["recession:start_day=50"]\n'


@pytest.mark.parametrize(("command", "toml", "options", "match"), [
    ("run", BASE + POLICIES, ["--workers", "0"], r"--workers 0: must be an integer, at least 1"),
    ("run", BASE + POLICIES, ["--workers", "-3"], r"--workers -3: must be an integer, at least 1"),
    ("run", BASE + POLICIES, ["--executor", "foo"], r"--executor 'foo': allowed local, ray"),
    ("run", BASE + LATE_SHOCK + POLICIES, [],
     r"scenarios\[late\]\.shocks: 'recession:start_day=50' starts on day 50, after the run's "
     r"last day; allowed: start_day from 0 to 3 \(days = 4\)"),
    ("ope-validate", BASE + POLICIES, [], r"ope-validate: the config needs an \[ope\] table"),
    ("ope-validate", BASE + POLICIES + OPE, ["--workers", "0"],
     r"--workers 0: must be an integer, at least 1"),
])
def test_exit_2_writes_nothing(command, toml, options, match, tmp_path):
    """Exit 2 with the named error; the run directory is never created."""
    path = tmp_path / "early.toml"
    path.write_text(toml)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [command, str(path), "--out", str(out), *options])
    assert result.exit_code == 2, result.output
    assert re.search(match, " ".join(result.output.split())), result.output
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(("start_day", "ok"), [(3, True), (4, False)])
def test_a_shock_may_start_on_the_last_day_but_not_after(start_day, ok):
    """A run of 4 days simulates days 0 to 3: a shock may start on day 3, not on day 4."""
    raw = {"name": "early", "customers": 300, "days": 4, "policies": [{"label": "random"}],
           "scenarios": [{"shocks": [f"recession:start_day={start_day}"]}]}
    if ok:
        config.parse(raw)
    else:
        with pytest.raises(ParameterError, match="starts on day 4, after the run's last day"):
            config.parse(raw)
