"""`nbasim check`: a run's summary against a stored baseline (exit 1 on a regression)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nbasim.experiments.cli.console import err_console, fail, out_console


def check_run(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (or its summary.json).")],
    baseline: Annotated[Path, typer.Option(
        help="Baseline summary to hold the run to, e.g. results/baselines/quickstart.json.")],
    tolerance: Annotated[float, typer.Option(
        help="Relative slack beyond the baseline's 95 % interval, as a share of the baseline's "
             "mean.")] = 0.05,
    metric: Annotated[list[str] | None, typer.Option(
        help="Check only this metric (repeatable; default: every metric with a direction).")]
    = None,
    update: Annotated[bool, typer.Option(
        help="Write the run's summary (trimmed) as the new baseline instead of checking.")]
    = False,
) -> None:
    """Exit 1 when a policy's metric fell below its baseline beyond tolerance, 0 otherwise."""
    from nbasim.experiments.results import check as check_mod
    from nbasim.experiments.results.summary import load_summary
    from nbasim.experiments.store import atomic

    if update:
        if baseline.is_dir():
            raise fail(f"--baseline {baseline}: is a directory; give the baseline's file, e.g. "
                       "results/baselines/quickstart.json")
        try:
            summary = check_mod.trim_baseline(load_summary(run_dir))
            with atomic.writing(baseline):
                baseline.parent.mkdir(parents=True, exist_ok=True)
                atomic.write_text(baseline, json.dumps(summary, indent=2) + "\n")
        except ValueError as err:  # ResultsError, WriteError: named, nothing half-written
            raise fail(str(err)) from None
        out_console.print(f"baseline written: {baseline}")
        return
    try:
        result = check_mod.check(load_summary(run_dir),
                                 load_summary(baseline), tolerance=tolerance,
                                 metrics=metric or None)
    except ValueError as err:
        raise fail(str(err)) from None
    out_console.print(check_mod.render(result))
    if not result.ok:
        err_console.print(f"[bold red]{len(result.failures)} regression(s)[/] against {baseline}")
        raise typer.Exit(code=1)
    out_console.print(f"no regression against {baseline}")
