"""`nbasim compare`: one run's groups ranked, or two runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nbasim.experiments.cli.console import fail, out_console


def compare_runs(
    run_dirs: Annotated[list[Path], typer.Argument(
        help="One run directory (policies ranked, with differences against its baseline) or "
             "two (each metric of each policy side by side, second minus first).")],
    by: Annotated[str, typer.Option(help="Metric to rank by.")] = "incremental_margin",
    metric: Annotated[list[str] | None, typer.Option(
        help="Metric to show (repeatable; default: the main ones).")] = None,
    markdown: Annotated[bool, typer.Option(
        help="Print the ranking of one run as a Markdown table.")] = False,
) -> None:
    """A table of policies with 95 % intervals, and their differences."""
    from nbasim.experiments.results import compare
    from nbasim.experiments.results.summary import load_summary

    if len(run_dirs) not in (1, 2):
        raise fail(f"compare takes one or two run directories, got {len(run_dirs)}")
    try:
        runs = [load_summary(d) for d in run_dirs]
        if len(runs) == 1:
            ranking = compare.rank(runs[0], by=by, metrics=metric or None)
            if markdown:
                print(compare.markdown_ranking(ranking))
            else:
                out_console.print(compare.render_ranking(ranking))
        else:
            out_console.print(compare.render_diff(compare.diff_runs(
                *runs, metrics=metric or None, a_name=str(run_dirs[0]),
                b_name=str(run_dirs[1]))))
    except ValueError as err:
        raise fail(str(err)) from None
