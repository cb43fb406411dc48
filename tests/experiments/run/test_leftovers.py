"""What a killed run leaves behind is removed on the next run of the same directory.

Before, `.gather-*`, `.seed-N.*`, `.report.html.*` and `.run.*` stayed after a kill, for good.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.store import atomic

# Each as a killed run leaves it: a staging folder with a file in it, or a temporary file.
LEFTOVERS = [".gather-k2j4x1/daily.parquet", "cells/base/random/.seed-0.a8f3kq/cell.json",
             "cells/base/random/.seed-0.probe", ".report.html.x7q2m0", ".config.toml.0m1n2b",
             ".plots.9c7vzz/uplift.png", "plots/.ope_validate.png.tmp.png",
             "cells/base/no_action/.probe-1x2y3z"]


@pytest.fixture
def whole(small_run) -> Path:
    """One finished run of the small config (`conftest.small_run`)."""
    return small_run[1]


def _plant(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"half")


def _entry(name: str) -> Path:
    """The leftover itself: "a/.seed-0.x/cell.json" -> "a/.seed-0.x"."""
    parts = Path(name).parts
    return Path(*parts[:next(i for i, p in enumerate(parts) if p.startswith(".")) + 1])


@pytest.mark.parametrize("state", ["finished", "before config.toml", "mid-sweep"])
def test_the_next_run_removes_what_a_killed_run_left(state, whole, small_toml, tmp_path):
    """Every leftover goes; the run finishes; a file of the user's stays."""
    run_dir = tmp_path / "run"
    if state == "before config.toml":  # killed between taking the lock and its config
        run_dir.mkdir()
        (run_dir / ".nbasim.lock").touch()
        planted = [".config.toml.0m1n2b", ".probe-7aa1b2"]
    else:
        shutil.copytree(whole, run_dir)
        if state == "mid-sweep":
            shutil.rmtree(run_dir / "cells/base/random/seed-0")
        planted = LEFTOVERS
        (run_dir / ".notes").write_text("mine")
    _plant(run_dir, planted)
    (tmp_path / "small.toml").write_text(small_toml)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "small.toml"), "--out",
                                      str(run_dir)])
    assert result.exit_code == 0, result.output
    assert [e for e in map(_entry, planted) if (run_dir / e).exists()] == []
    assert (run_dir / "summary.json").is_file()
    if state != "before config.toml":
        assert (run_dir / ".notes").read_text() == "mine"


def test_a_staged_result_replaces_its_leftovers_but_not_a_live_stage(tmp_path):
    """`.run.*` beside --out run: the killed ones go, the one a live writer holds stays."""
    _plant(tmp_path, [".run.dead01/summary.json", ".run.dead02", ".runner.keep", ".other.x1"])
    with atomic.temporary_dir(tmp_path, ".run.") as live:
        with atomic.staged_dir(tmp_path / "run") as stage:
            (stage / "summary.json").write_text("{}")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [".other.x1", ".runner.keep", live.name, "run"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.x1", ".runner.keep", "run"]


def test_a_replaced_result_leaves_nothing_beside_it(tmp_path):
    """Staging over an earlier result: the new one in place, no old or stage folder left."""
    for text in ("first", "second"):
        with atomic.staged_dir(tmp_path / "run") as stage:
            (stage / "a.txt").write_text(text)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert (tmp_path / "run" / "a.txt").read_text() == "second"


def test_write_text_removes_a_killed_writers_temporary_file(tmp_path):
    """`.report.html.*` beside report.html is removed by the next write of report.html."""
    _plant(tmp_path, [".report.html.dead01"])
    atomic.write_text(tmp_path / "report.html", "<html></html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
