"""A Ctrl-C anywhere in a command ends it with exit code 130 and one line, no traceback."""

from __future__ import annotations

import pytest

from nbasim.experiments import cli


def test_ctrl_c_while_a_command_loads_or_works_exits_130_with_a_line(monkeypatch, capsys):
    """`nbasim`'s entry point turns a KeyboardInterrupt from the app into exit 130."""
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("nbasim.experiments.cli.app.main", interrupted)
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == cli.INTERRUPTED == 130
    err = capsys.readouterr().err
    assert err == "interrupted: nothing half-written is left; run the command again\n"

