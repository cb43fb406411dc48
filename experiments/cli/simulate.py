"""`nbasim simulate`: organic behaviour of a world, without marketing actions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nbasim.experiments.cli.console import (
    err_console,
    fail,
    out_console,
    parse_overrides,
    progress_bar,
)
from nbasim.sim.params import ParameterError


def simulate(
    scenario: Annotated[str, typer.Option(help="Scenario name (see `nbasim scenarios`).")] =
    "dry_cleaning_chain",
    customers: Annotated[int | None, typer.Option(
        help="Customers in all: the day-0 base plus newcomers \\[default: 100,000, or with "
             "--calibration the log's base plus its newcomers].", show_default=False)] = None,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 365,
    seed: Annotated[int, typer.Option(help="Root seed; the same seed gives the same run.")] = 0,
    shock: Annotated[list[str] | None, typer.Option(
        help="Shock to layer on, NAME or NAME:key=value,... (repeatable; see `nbasim "
             "scenarios`).")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Scenario override KEY=VALUE (repeatable), e.g. --set churn_base=0.001.")
    ] = None,
    out: Annotated[Path | None, typer.Option(
        help="Results directory \\[default: results/simulate/<run-id>]; an earlier run there "
             "is replaced.")] = None,
    transactions: Annotated[bool, typer.Option(
        help="Also write every purchase to transactions.parquet.")] = False,
    calibration: Annotated[Path | None, typer.Option(
        help="A calibration.json from `nbasim calibrate`: the base's BG/NBD and Gamma-Gamma "
             "parameters, size and age structure, on the --scenario's stores and catalog.")]
    = None,
) -> None:
    """Simulate organic behaviour (no marketing actions) and write daily series and plots."""
    from nbasim.experiments.data.translog import DataError
    from nbasim.experiments.run import simulate as sim_run

    start = time.perf_counter()
    try:
        if calibration is not None:
            from nbasim.experiments.data.calibrate import simulation_spec

            spec = simulation_spec(calibration, scenario, days, seed, customers,
                                   tuple(shock or ()), parse_overrides(set_ or []),
                                   transactions)
        else:
            spec = sim_run.SimulationSpec(scenario, 100_000 if customers is None else customers,
                                          days, seed, tuple(shock or ()),
                                          parse_overrides(set_ or []), transactions)
        target = out or Path("results") / "simulate" / spec.run_id()
        sim_run.check_target(target)
        with err_console.status(f"building {spec.customers:,} customers"):
            world = sim_run.build_world(spec)
    except (ParameterError, DataError) as err:
        raise fail(str(err)) from None
    with progress_bar("simulating") as progress:
        task = progress.add_task("days", total=days)
        result = sim_run.simulate(
            spec, world, progress=lambda done, _: progress.update(task, completed=done))
    figures = sim_run.summary(result)
    sim_run.write(result, target, figures)
    _print_summary(figures, time.perf_counter() - start, target)


def _print_summary(s: dict, seconds: float, target: Path) -> None:
    table = Table("figure", "value", title=f"Simulation {s['run_id']}")
    for key, label in (("customers_at_start", "customers at start"),
                       ("customers_at_end", "customers at end"),
                       ("new_customers", "new customers"),
                       ("alive_at_end", "alive at end (latent)"),
                       ("active_at_end", "active at end (stage)"), ("purchases", "purchases"),
                       ("revenue", "revenue"), ("margin", "margin"),
                       ("average_check", "average check"),
                       ("latent_dropouts", "dropouts (latent, BG/NBD and churn hazard)"),
                       ("carts_abandoned", "carts abandoned")):
        v = s[key]
        table.add_row(label, "-" if v is None else f"{v:,.2f}" if isinstance(v, float)
                      else f"{v:,}")
    table.add_row("seconds (build and run)", f"{seconds:,.1f}")
    for group in ("stages_at_end", "segments_at_end"):
        table.add_row(group.replace("_", " "), ", ".join(f"{k} {v:,}" for k, v in
                                                          s[group].items()))
    out_console.print(table)
    out_console.print(f"results in {target}")
