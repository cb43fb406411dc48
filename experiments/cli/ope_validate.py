"""`nbasim ope-validate`: off-policy estimates against the simulator's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nbasim.experiments.cli.console import fail, out_console, progress_bar


def ope_validate_cmd(
    config: Annotated[Path, typer.Argument(help="An experiment config with an \\[ope] table, e.g. "
                                                "experiments/configs/ope_validate.toml.")],
    out: Annotated[Path | None, typer.Option(
        help="Run directory \\[default: <config out>/<name>/<run-id>].")] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes.")] = 1,
) -> None:
    """Estimators from a behaviour policy's log, against the targets' on-policy truth."""
    from nbasim.experiments.ope import validate as ope_validate
    from nbasim.experiments.run import config as config_mod
    from nbasim.experiments.run import sweep

    try:
        cfg = config_mod.load(config)
        run_dir = out or cfg.out / cfg.name / sweep.run_id(cfg)
        ope_validate.check(cfg)  # validate checks again, then runs (nothing written before)
        with progress_bar(cfg.name) as progress:
            task = progress.add_task("cells", total=len(sweep.cells(cfg)))
            result = ope_validate.validate(cfg, run_dir, workers,
                                           on_cell=lambda *_: progress.update(task, advance=1))
    except ValueError as err:
        raise fail(str(err)) from None
    table = Table("target", "estimator", "estimate", "on-policy", "bias", "RMSE", "coverage",
                  "long-term", "bias", "coverage", title="Off-policy estimates per decision "
                  f"from {result['behaviour']}'s log ({len(result['seeds'])} seeds)")
    for target, t in result["targets"].items():
        for name, e in t["estimators"].items():
            d, lt = e["per_decision"], e["long_term"]
            table.add_row(target, name, f"{e['mean']:.4f}", f"{t['per_decision']:.4f}",
                          f"{d['bias']:+.4f}", f"{d['rmse']:.4f}", f"{d['coverage']:.0%}",
                          f"{t['long_term']:.4f}", f"{lt['bias']:+.4f}",
                          f"{lt['coverage']:.0%}")
    out_console.print(table)
    out_console.print(f"results in {run_dir / 'ope_validate.json'}")
    out_console.print(str(run_dir))
