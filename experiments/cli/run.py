"""`nbasim run`: every cell of an experiment config, then its results and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nbasim.errors import NbasimError
from nbasim.experiments.cli import INTERRUPTED
from nbasim.experiments.cli.console import err_console, fail, out_console, progress_bar


def run_experiment(
    config: Annotated[Path, typer.Argument(help="Experiment config (TOML), e.g. "
                                                "experiments/configs/quickstart.toml.")],
    out: Annotated[Path | None, typer.Option(
        help="Run directory \\[default: <config out>/<name>/<run-id>]; rerunning with the same "
             "config resumes it, skipping finished cells.")] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes.")] = 1,
    executor: Annotated[str, typer.Option(help="Where cells run: local or ray.")] = "local",
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (with --executor ray; default: start a local Ray).")] = None,
) -> None:
    """Run every (scenario, policy, seed) cell of an experiment; write results and report."""
    from nbasim.experiments.run import config as config_mod
    from nbasim.experiments.run import sweep
    from nbasim.experiments.run.metrics import ORACLE_ROLES, with_role

    try:
        cfg = config_mod.load(config)
        run_dir = out or cfg.out / cfg.name / sweep.run_id(cfg)
        todo = sweep.prepare(cfg, run_dir, workers=workers, executor=executor)
    except NbasimError as err:
        raise fail(str(err)) from None
    total = len(sweep.cells(cfg))
    finished = [total - len(todo)]
    with progress_bar(f"{cfg.name}") as progress:
        task = progress.add_task("cells", total=total, completed=finished[0])

        def done(cell, result) -> None:
            finished[0] += 1
            progress.update(task, advance=1)
            name = with_role(cell.policy.label, ORACLE_ROLES.get(cell.policy.name))
            err_console.print(
                f"  {name} @ {cell.scenario.label}, seed {cell.seed}: incremental "
                f"margin {result.figures['incremental_margin']:,.0f} "
                f"(world {result.timing['world_s']:.1f} s, policy "
                f"{result.timing['policy_s']:.1f} s)", highlight=False)

        try:
            sweep.execute(cfg, run_dir, todo, workers=workers, executor=executor,
                          address=address, on_cell=done)
        except NbasimError as err:
            raise fail(str(err)) from None
        except KeyboardInterrupt:  # Ctrl-C: what is written is whole (staged, then renamed)
            err_console.print(
                f"interrupted: {finished[0]} of {total} cells are finished in {run_dir}; run "
                "the same command again to run the others", highlight=False, soft_wrap=True)
            raise typer.Exit(code=INTERRUPTED) from None
    out_console.print(f"report: {run_dir / 'report.html'}")
    out_console.print(str(run_dir))
