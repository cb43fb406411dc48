"""A resumed sweep reruns every cell whose files are not all there and whole, never drops one.

Before, a cell counted as finished when its cell.json existed: a deleted Parquet file lost
the cell's rows from daily.parquet and decisions.parquet while summary.json still counted it,
and a corrupt one crashed the gather with a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.run import cell_files, config, sweep

CELL = "cells/base/random/seed-0"


@pytest.fixture
def original(small_run) -> tuple[config.ExperimentConfig, Path]:
    """The small config and one whole run of it (`conftest.small_run`)."""
    return small_run


def _tables(run_dir: Path) -> dict:
    """Every table the run has (scores.parquet only when a policy ranks customers)."""
    return {name: pq.read_table(run_dir / f"{name}.parquet") for name in cell_files.TABLES
            if (run_dir / f"{name}.parquet").exists()}


def _garble(path: Path) -> None:
    """Same size, other bytes: only the digest can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _unlisted(folder: Path, file: str) -> None:
    """cell.json as a version that did not write `file` left it: the file unlisted, and gone."""
    info = json.loads((folder / "cell.json").read_text())
    info["files"].pop(file)
    (folder / "cell.json").write_text(json.dumps(info))
    (folder / file).unlink()


DAMAGE = {
    "daily deleted": lambda d: (d / "daily.parquet").unlink(),
    "decisions truncated": lambda d: (d / "decisions.parquet").write_bytes(
        (d / "decisions.parquet").read_bytes()[:100]),
    "segments garbled": lambda d: _garble(d / "segments.parquet"),
    "cell.json of an earlier version, without channels": lambda d: _unlisted(
        d, "channels.parquet"),
    "cell.json not JSON": lambda d: (d / "cell.json").write_text("{"),
    "cell.json without its file record": lambda d: (d / "cell.json").write_text(json.dumps(
        {k: v for k, v in json.loads((d / "cell.json").read_text()).items() if k != "files"})),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cell_runs_again_and_the_tables_come_back_whole(damage, original, tmp_path,
                                                                 monkeypatch):
    """Only the damaged cell runs again; every table is as in the whole run.

    The report is not rebuilt (the CLI test below does that): only the tables are compared.
    """
    monkeypatch.setattr("nbasim.experiments.results.report.build_report", lambda run_dir: run_dir)
    cfg, whole = original
    run_dir = tmp_path / "run"
    shutil.copytree(whole, run_dir)
    DAMAGE[damage](run_dir / CELL)
    assert sweep.prepare(cfg, run_dir) == [c for c in sweep.cells(cfg)
                                           if c.path() == CELL]
    ran = []
    sweep.run(cfg, run_dir, on_cell=lambda cell, result: ran.append(cell.key))
    assert ran == [("base", "random", 0)]
    assert set(_tables(whole)) >= {"daily", "decisions", "migration", "segments", "channels"}
    for name, table in _tables(whole).items():
        assert _tables(run_dir)[name].equals(table), name
    assert _metrics(run_dir) == _metrics(whole)  # the same figures (timing aside)


def _metrics(run_dir: Path) -> dict:
    groups = json.loads((run_dir / "summary.json").read_text())["groups"]
    return {label: (g["n_seeds"], g["metrics"]) for label, g in groups.items()}


def test_cli_resume_of_a_corrupt_cell_exits_0_without_a_traceback(original, small_toml,
                                                                   tmp_path):
    """`nbasim run` on the damaged run reruns the cell and says so."""
    _, whole = original
    run_dir = tmp_path / "run"
    shutil.copytree(whole, run_dir)
    _garble(run_dir / CELL / "daily.parquet")
    (tmp_path / "small.toml").write_text(small_toml)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "small.toml"), "--out",
                                      str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "random @ base, seed 0" in result.output
    assert "no_action @ base" not in result.output
    assert pq.read_table(run_dir / "daily.parquet").equals(pq.read_table(whole / "daily.parquet"))
