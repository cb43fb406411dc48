"""Shared by the hostile-input tables: a folder of good and bad inputs, and the refusal check.

The promise each case checks: a bad input exits 2 with a message that names the problem, no
traceback, and nothing written (every file under the test's folder, the output directory
among them, is byte for byte as it was).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile import CAMPAIGN, DECISIONS, LOG, config, tree
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A working folder (the current directory) of good and bad input files.

    good.toml, log.csv, test.csv and decisions.csv are good inputs; the rest are bad files:
    a_folder/ (empty), empty.txt (0 bytes), latin1.txt (not UTF-8), binary.bin, a_file.
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.toml").write_text(config())
    (tmp_path / "log.csv").write_text(LOG)
    (tmp_path / "test.csv").write_text(CAMPAIGN)
    (tmp_path / "decisions.csv").write_text(DECISIONS)
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "latin1.txt").write_bytes("name = \"caf\xe9\"\nid,date,amount\n".encode("latin-1"))
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "a_file").write_text("not a folder\n")
    return tmp_path


@pytest.fixture
def refused(home) -> Callable[..., None]:
    """`refused(args, match)`: the command exits 2 naming the problem and changes no file.

    `args` may hold "{home}"; `match` is a regex searched in the output with its whitespace
    runs made single spaces (rich wraps long lines).
    """

    def check(args: list[str], match: str) -> None:
        args = [str(a).format(home=home) for a in args]
        before = tree(home)
        result = CliRunner().invoke(app, args, terminal_width=200)
        message = " ".join(result.output.split())
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{type(result.exception).__name__}: {result.exception}")
        assert result.exit_code == 2, message
        assert "Traceback" not in result.output
        assert re.search(match, message), message
        assert tree(home) == before

    return check
