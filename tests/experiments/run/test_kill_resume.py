"""A real `nbasim run` stopped by a signal mid-sweep resumes to the uninterrupted results.

The neighbours plant the state a stop leaves (test_sweep: cells written by hand;
test_resume_damaged: a damaged cell; test_leftovers: crash leftovers) or check other processes
(test_orphans: the workers; store/test_lock: a second run). Here the run itself is stopped
while it works: by SIGKILL, after which the same command finishes the run bit for bit as if
nothing happened, and by SIGINT (Ctrl-C), which must end it with a non-zero exit code and a
short message, no traceback and no half-written file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.run import cell_files, config, sweep

TOML = """\
name = "stopped"
customers = 1000
days = 15
seeds = [0, 1, 2]
baseline = "no_action"

[[policies]]
label = "no_action"

[[policies]]
label = "random"
"""
N_CELLS = 6


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """The run nobody stopped (without its report, which nothing here compares)."""
    home = tmp_path_factory.mktemp("whole")
    (home / "stopped.toml").write_text(TOML)
    with pytest.MonkeyPatch.context() as m:
        m.setattr("nbasim.experiments.results.report.build_report", lambda run_dir: run_dir)
        return sweep.run(config.load(home / "stopped.toml"), home / "run")


def _finished(run_dir: Path) -> list[str]:
    """Cells whose folder is in place (a cell's folder appears whole, by a rename)."""
    return sorted(str(p.parent.relative_to(run_dir))
                  for p in run_dir.glob("cells/*/*/seed-*/cell.json"))


def _stopped(tmp_path: Path, signum: int) -> tuple[Path, subprocess.CompletedProcess, list[str]]:
    """Start `nbasim run`, send `signum` once its first cell is written, wait for it to end.

    Returns:
        The run directory, the ended process (output as text) and the cells finished when
        the signal was sent.
    """
    (tmp_path / "stopped.toml").write_text(TOML)
    run_dir = tmp_path / "run"
    # As from a terminal: Ctrl-C's default action. A test run in the background (`make test &`,
    # CI scripts) has SIGINT ignored, the child would inherit that, and Python keeps it ignored.
    proc = subprocess.Popen(
        [sys.executable, "-c", "from nbasim.experiments.cli import main; main()", "run",
         str(tmp_path / "stopped.toml"), "--out", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "200"},
        preexec_fn=_terminal_signals)
    try:
        end = time.monotonic() + 60
        while not _finished(run_dir) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.01)
        # Frozen while the finished cells are counted, so that a loaded machine cannot let
        # the run end between the count and the signal; a stopped process gets it on SIGCONT.
        proc.send_signal(signal.SIGSTOP)
        done = _finished(run_dir)
        proc.send_signal(signum)
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert 1 <= len(done) < N_CELLS, f"stopped with {len(done)} of {N_CELLS} cells finished"
    assert not (run_dir / "summary.json").exists()
    return run_dir, subprocess.CompletedProcess(proc.args, proc.returncode, out, err), done


def _terminal_signals() -> None:
    """In the child before it starts Python: SIGINT back to its default (Python's Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _resume(tmp_path: Path, monkeypatch) -> str:
    """The same command again, in this process (report stubbed); returns its output."""
    monkeypatch.setattr("nbasim.experiments.results.report.build_report", lambda run_dir: run_dir)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "stopped.toml"), "--out",
                                      str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    return result.output


def _same_results(run_dir: Path, whole: Path) -> None:
    """Every table equal, and the summary's figures (timing and run id aside)."""
    tables = [name for name in cell_files.TABLES if (whole / f"{name}.parquet").exists()]
    assert "daily" in tables
    assert [n for n in cell_files.TABLES if (run_dir / f"{n}.parquet").exists()] == tables
    for name in tables:
        assert pq.read_table(run_dir / f"{name}.parquet").equals(
            pq.read_table(whole / f"{name}.parquet")), name

    def figures(d: Path) -> dict:
        s = json.loads((d / "summary.json").read_text())
        return {label: (g["n_seeds"], g["metrics"], g["vs_baseline"])
                for label, g in s["groups"].items()}

    assert figures(run_dir) == figures(whole)


def _cell_line(cell: str) -> str:
    """How `nbasim run` reports a cell: "cells/base/random/seed-1" -> "random @ base, seed 1"."""
    _, scenario, policy, seed = cell.split("/")
    return f"{policy} @ {scenario}, seed {seed.removeprefix('seed-')}"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX signals")
def test_a_run_killed_mid_sweep_resumes_to_the_uninterrupted_results(whole, tmp_path,
                                                                      monkeypatch):
    """SIGKILL after the first cell: the rerun skips the finished cells and ends bit for bit."""
    run_dir, proc, done = _stopped(tmp_path, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    output = _resume(tmp_path, monkeypatch)
    for cell in done:
        assert _cell_line(cell) not in output
    assert sum(line.strip().startswith(("no_action @", "random @"))
               for line in output.splitlines()) == N_CELLS - len(done)
    _same_results(run_dir, whole)
    assert sorted(p.name for p in run_dir.rglob(".*")) == [".nbasim.lock"]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX signals")
def test_ctrl_c_ends_the_run_with_a_message_and_leaves_only_whole_files(whole, tmp_path,
                                                                        monkeypatch):
    """SIGINT: exit 130 saying what is kept, no traceback; what is left is whole and resumes."""
    run_dir, proc, done = _stopped(tmp_path, signal.SIGINT)
    assert proc.returncode == 130, proc.stderr
    message = " ".join(proc.stderr.split())
    assert re.search(rf"interrupted: \d of {N_CELLS} cells are finished in "
                     rf"{re.escape(str(run_dir))}; run the same command again", message), message
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    left = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))
    cells = [c for c in left if c.count("/") == 3]
    assert cells == sorted(set(cells) & {str(c.path()) for c in sweep.cells(
        config.load(tmp_path / "stopped.toml"))})
    assert all(cell_files.finished(run_dir, c) for c in sweep.cells(config.load(
        tmp_path / "stopped.toml")) if str(c.path()) in cells)
    assert [p for p in left if Path(p).name.startswith(".") and p != ".nbasim.lock"] == []
    assert len(cells) >= len(done)
    _resume(tmp_path, monkeypatch)
    _same_results(run_dir, whole)
