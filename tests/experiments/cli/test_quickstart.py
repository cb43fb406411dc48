"""The product end to end, as CI runs it: quickstart, its report, and the regression check.

`nbasim run experiments/configs/quickstart.toml` must reproduce the committed baseline
(results/baselines/quickstart.json): a change that makes a policy worse turns this red.
Regenerate the baseline deliberately after an intended change of the world or a policy:

    nbasim run experiments/configs/quickstart.toml --out /tmp/q
    nbasim check /tmp/q --baseline results/baselines/quickstart.json --update
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BASELINE = Path("results/baselines/quickstart.json")


def nbasim(*args: str) -> subprocess.CompletedProcess:
    """Run the command line in a fresh process, as a user would."""
    return subprocess.run([sys.executable, "-m", "nbasim.experiments.cli", *args],
                          capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> Path:
    """One quickstart run on 2 workers, shared by the tests of this file."""
    out = tmp_path_factory.mktemp("quickstart") / "run"
    done = nbasim("run", "experiments/configs/quickstart.toml", "--out", str(out),
                  "--workers", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(out)  # the run directory comes last
    return out


def test_quickstart_writes_every_file(quickstart):
    """summary, tables, plots and a self-contained report."""
    for name in ("config.toml", "summary.json", "daily.parquet", "decisions.parquet",
                 "migration.parquet", "segments.parquet", "channels.parquet", "report.html"):
        assert (quickstart / name).stat().st_size > 0, name
    html = (quickstart / "report.html").read_text()
    assert "data:image/png;base64" in html and "http://" not in html
    assert len(list((quickstart / "plots").glob("*.png"))) >= 5


def test_the_report_says_which_policy_the_control_separates(quickstart):
    """The honest quickstart: the playbook is clear of the control, paired by seed (README).

    Its sections per start segment and per channel are drawn; no policy of the quickstart
    ranks customers, and the page says so.
    """
    html = (quickstart / "report.html").read_text()
    assert ("Against the control no_action, paired by seed, the interval excludes 0 for: "
            "<b>rfm_playbook</b> +899.6 (95 % interval +677.9 to +1,121, better than the "
            "control)") in html
    assert '<table id="segments">' in html and '<table id="channels">' in html
    assert "No policy of this run ranks customers" in html
    assert {"segments", "channels"} <= {p.stem for p in (quickstart / "plots").glob("*.png")}


def test_check_passes_on_the_committed_baseline(quickstart):
    """The run reproduces the committed baseline seed by seed: "identical", exit 0."""
    done = nbasim("check", str(quickstart), "--baseline", str(BASELINE))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "identical" in done.stdout and "over seeds [0, 1, 2, 3, 4, 5, 6, 7]" in done.stdout


def test_check_fails_on_a_doctored_baseline(quickstart, tmp_path):
    """Every number of the baseline moved up (as the acceptance check does): exit 1."""
    def bump(o):
        if isinstance(o, dict):
            return {k: bump(v) for k, v in o.items()}
        if isinstance(o, list):
            return [bump(v) for v in o]
        if isinstance(o, float):
            return o * 1.5 + 1.0 if o >= 0 else o * 0.5 + 1.0
        return o

    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps(bump(json.loads(BASELINE.read_text()))))
    done = nbasim("check", str(quickstart), "--baseline", str(doctored))
    assert done.returncode == 1 and "regression(s) against" in done.stderr


def test_report_rebuilds_from_files_alone(quickstart):
    """Deleting the plots and the report, `nbasim report` rebuilds the same page."""
    before = (quickstart / "report.html").read_text()
    for png in (quickstart / "plots").glob("*.png"):
        png.unlink()
    (quickstart / "report.html").unlink()
    done = nbasim("report", str(quickstart))
    assert done.returncode == 0, done.stderr[-2000:]
    assert (quickstart / "report.html").read_text() == before


def test_compare_ranks_the_policies(quickstart):
    """`nbasim compare RUN` lists every policy of the run."""
    done = nbasim("compare", str(quickstart))
    assert done.returncode == 0, done.stderr[-2000:]
    for label in ("oracle", "blanket", "linucb", "rfm_playbook", "no_action"):
        assert label in done.stdout


def test_bad_config_and_bad_check_input_exit_2_and_write_nothing(tmp_path):
    """A bad config or a missing baseline: exit 2 with a named error, no run directory."""
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncustomers = -3\n[[policies]]\nlabel = "random"\n')
    out = tmp_path / "never"
    done = nbasim("run", str(bad), "--out", str(out))
    assert done.returncode == 2 and "customers" in done.stderr and not out.exists()
    done = nbasim("check", str(tmp_path), "--baseline", str(tmp_path / "none.json"))
    assert done.returncode == 2 and "summary.json" in done.stderr


def test_long_term_oracle_churns_less_and_is_labelled(quickstart):
    """On the quickstart world the long-term oracle churns less than the myopic one.

    Seed by seed it loses fewer customers; it finds more true incremental value than the
    myopic oracle on average and on most seeds (it maximises each message's value, not the
    run's, so on a seed it may fall short by a hair: seed 3 by 0.3 %); both groups wear their
    labels.
    """
    groups = json.loads((quickstart / "summary.json").read_text())["groups"]
    ltv, myopic = groups["oracle_ltv"], groups["oracle"]
    assert (ltv["role"], myopic["role"]) == ("long-term oracle", "myopic oracle")
    a, b = (np.array(g["metrics"]["churn_rate"]["per_seed"]) for g in (ltv, myopic))
    assert (a < b).all(), (a, b)
    a, b = (np.array(g["metrics"]["true_incremental_value"]["per_seed"]) for g in (ltv, myopic))
    assert a.mean() > b.mean() and (a >= b).mean() >= 0.75, (a, b)
    assert (a >= 0.99 * b).all(), (a, b)
    assert ltv["metrics"]["regret_ltv"]["mean"] == 0.0
    html = (quickstart / "report.html").read_text()
    assert "(myopic oracle)" in html and "(long-term oracle)" in html
