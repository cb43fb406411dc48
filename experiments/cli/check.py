"""`nbasim check`: a run's summary against a stored baseline (exit 1 on a regression)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from nbasim.experiments.cli.console import err_console, fail, out_console
from nbasim.experiments.results.paired_check import FLOOR_MONEY


def check_run(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (or its summary.json).")],
    baseline: Annotated[Path, typer.Option(
        help="Baseline summary to hold the run to, e.g. results/baselines/quickstart.json.")],
    tolerance: Annotated[float | None, typer.Option(
        help="Relative slack, as a share of the baseline's mean: with a per-seed baseline, the "
             "relative floor of the paired tolerance (default 0.02); else the widening of the "
             "baseline's 95 % interval (default 0.05).")] = None,
    floor: Annotated[float, typer.Option(
        help="With a per-seed baseline: the floor of the paired tolerance in money.")]
    = FLOOR_MONEY,
    metric: Annotated[list[str] | None, typer.Option(
        help="Check only this metric (repeatable; default: the noise-free metrics and the "
             "adjusted uplift with a per-seed baseline, else every metric with a direction).")]
    = None,
    update: Annotated[bool, typer.Option(
        help="Write the run's summary (trimmed, per-seed values kept) as the new baseline "
             "instead of checking.")]
    = False,
) -> None:
    """Exit 1 when a policy's metric fell below its baseline beyond tolerance, 0 otherwise.

    A baseline with per-seed values (as `--update` writes it) is compared seed by seed: on
    each seed the run and the baseline face the same customers, so the paired difference is
    exact on a rerun ("identical") and its spread over seeds sets the tolerance.
    """
    from nbasim.experiments.results import check as check_mod
    from nbasim.experiments.results import paired_check
    from nbasim.experiments.results.summary import load_summary
    from nbasim.experiments.store import atomic

    for option, value in (("--tolerance", tolerance), ("--floor", floor)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise fail(f"{option} {value}: must be a finite number >= 0")
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
        run, base = load_summary(run_dir), load_summary(baseline)
        if paired_check.has_per_seed(base):
            result = paired_check.paired_check(
                run, base, floor_money=floor,
                floor_relative=paired_check.FLOOR_RELATIVE if tolerance is None else tolerance,
                metrics=metric or None)
            for line in paired_check.report_lines(result):
                style = "bold red" if line.startswith(("REGRESSION", "missing")) else None
                out_console.print(escape(line), style=style, soft_wrap=True, highlight=False)
        else:
            result = check_mod.check(run, base, tolerance=0.05 if tolerance is None
                                     else tolerance, metrics=metric or None)
            out_console.print(check_mod.render(result))
    except ValueError as err:
        raise fail(str(err)) from None
    if not result.ok:
        err_console.print(f"[bold red]{len(result.failures)} regression(s)[/] against {baseline}")
        raise typer.Exit(code=1)
    out_console.print(f"no regression against {baseline}")
