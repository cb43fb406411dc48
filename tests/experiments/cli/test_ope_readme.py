"""The README's `nbasim ope` command on a run's own decision log, end to end.

A run writes its config, with a `[versions]` table, into config.toml; `nbasim ope` reads that
config back to find the run's action catalog, and a rerun of the run's own config.toml reads
it as its config. Both used to fail on the `[versions]` table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """\
name = "ope_readme"
customers = 300
days = 5
seeds = [0]

[[policies]]
label = "random"

[[policies]]
label = "linucb"
"""


def nbasim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command line in a fresh process, as a user runs it."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "nbasim.experiments.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny run of random and linucb (300 customers, 5 days, 1 seed)."""
    home = tmp_path_factory.mktemp("ope_readme")
    (home / "tiny.toml").write_text(CONFIG)
    done = nbasim("run", "tiny.toml", "--out", "run", cwd=home)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[versions]" in (home / "run" / "config.toml").read_text()
    return home / "run"


def test_readme_ope_command_reads_the_runs_config(run_dir):
    """The README's `nbasim ope` command on a run's log: exit 0, ope.json on the run's catalog.

    `nbasim ope RUN_DIR/decisions.parquet --logging-policy random --log-seed 0
    --target policy:linucb`, from the directory the run was made in.
    """
    home = run_dir.parent
    done = nbasim("ope", "run/decisions.parquet", "--logging-policy", "random", "--log-seed",
                  "0", "--target", "policy:linucb", cwd=home)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    result = json.loads((home / "results/ope/decisions-policy-linucb/ope.json").read_text())
    # dry_cleaning_chain's catalog: "none" plus 9 offers x 4 channels x 3 slots x 4 wordings
    # = 1 + 432 = 433 actions (the run's catalog, read from its config.toml).
    assert result["n_actions"] == 433
    assert set(result["estimates"]) == {"dm", "ips", "snips", "dr", "sndr", "switch_dr"}


def test_rerunning_the_runs_own_config_resumes_it(run_dir):
    """`nbasim run RUN_DIR/config.toml --out RUN_DIR`: the same config, every cell finished."""
    before = (run_dir / "summary.json").read_text()
    done = nbasim("run", str(run_dir / "config.toml"), "--out", str(run_dir),
                  cwd=run_dir.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "seed 0: incremental margin" not in done.stderr  # no cell ran again
    assert (run_dir / "summary.json").read_text() == before
