"""Help texts and error messages reach the user whole, in the user's terms.

Before, rich read "[ope]" in ope-validate's help as a markup tag and printed "needs an  table",
and `calibrate-campaign --window-days 0` blamed the internal field response.attribution_days.
"""

from __future__ import annotations

import re

import pytest
import typer
from rich.text import Text
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app

COMMAND = typer.main.get_command(app)


def _texts() -> list[tuple[str, str]]:
    """(where, text) for every command's help and every argument's and option's help."""
    found = []
    for name, command in COMMAND.commands.items():
        found.append((name, command.help or ""))
        for param in command.params:
            found.append((f"{name} {param.name}", getattr(param, "help", None) or ""))
    return found


@pytest.mark.parametrize(("where", "text"), _texts(), ids=[w for w, _ in _texts()])
def test_help_loses_nothing_to_rich_markup(where, text):
    r"""Rendered as rich markup, each help text keeps every character ("\[" shows as "[")."""
    assert Text.from_markup(text).plain == text.replace("\\[", "["), where


def test_ope_validate_help_shows_the_ope_table():
    """The help names the [ope] table the config needs."""
    result = CliRunner().invoke(app, ["ope-validate", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "with an [ope] table" in result.output


@pytest.mark.parametrize("days", ["0", "-3", "61"])
def test_calibrate_campaign_names_the_window_option(days, tmp_path):
    """--window-days out of range: exit 2 naming the option and the allowed days; no file."""
    test = tmp_path / "test.csv"
    test.write_text("arm,bought\ncontrol,0\ncontrol,1\ndiscount_20:email,1\n"
                    "discount_20:email,0\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "calibrate-campaign", str(test), "--arm-col", "arm", "--control", "control",
        "--outcome-col", "bought", "--customers", "1000", "--window-days", days,
        "--out", str(out)])
    message = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert re.search(rf"--window-days {days}: must be a whole number of days from 1 to 60",
                     message), message
    assert "attribution_days" not in message
    assert not out.exists()

