"""What every command shares: the consoles, bad-input exits, overrides and progress bars."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from nbasim.sim import scenarios
from nbasim.sim.params import ParameterError

# Tables keep their columns when the output is a file or a pipe (CI logs), not 80 wide.
out_console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def fail(message: str) -> typer.Exit:
    """Print a bad-input message on stderr and return the exit (code 2) to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                      soft_wrap=True)  # escaped: "policies[linucb]" is not rich markup
    return typer.Exit(code=2)


def parse_overrides(items: list[str]) -> dict[str, object]:
    """Turn `KEY=VALUE` items into scenario overrides (values read as JSON when they parse)."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ParameterError(f"--set {item!r}: expected KEY=VALUE, e.g. --set churn_base=0.001")
        out[key.strip()] = scenarios.parse_value(value.strip())
    return out


def progress_bar(label: str) -> Progress:
    """A transient progress bar on stderr, labelled `label`."""
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err_console, transient=True)
