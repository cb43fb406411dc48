"""`nbasim report`: rebuild a run's plots and report.html from its files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nbasim.experiments.cli.console import fail, out_console


def report_run(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `nbasim run`.")],
) -> None:
    """Rebuild a run's plots and report.html from its files alone."""
    from nbasim.experiments.results.report import build_report

    try:
        path = build_report(run_dir)
    except ValueError as err:
        raise fail(str(err)) from None
    out_console.print(f"report: {path}")
