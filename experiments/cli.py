"""The `nbasim` command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim import scenarios, shocks
from sim.params import ParameterError, ScenarioParams

app = typer.Typer(
    help="nbasim: a simulator for Next Best Action marketing.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
out_console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print a bad-input message on stderr and return the exit (code 2) to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
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


@app.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="Scenario name (see `nbasim scenarios`).")] =
    "dry_cleaning_chain",
    customers: Annotated[int, typer.Option(help="Customers in all: the day-0 base plus "
                                                "newcomers.")] = 100_000,
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
) -> None:
    """Simulate organic behaviour (no marketing actions) and write daily series and plots."""
    from experiments import simulate as sim_run

    start = time.perf_counter()
    try:
        spec = sim_run.SimulationSpec(scenario, customers, days, seed, tuple(shock or ()),
                                      parse_overrides(set_ or []), transactions)
        target = out or Path("results") / "simulate" / spec.run_id()
        sim_run.check_target(target)
        with err_console.status(f"building {customers:,} customers"):
            world = sim_run.build_world(spec)
    except ParameterError as err:
        raise fail(str(err)) from None
    with _progress("simulating") as progress:
        task = progress.add_task("days", total=days)
        result = sim_run.simulate(
            spec, world, progress=lambda done, _: progress.update(task, completed=done))
    figures = sim_run.summary(result)
    sim_run.write(result, target, figures)
    _print_summary(figures, time.perf_counter() - start, target)


@app.command("scenarios")
def list_scenarios(
    name: Annotated[str | None, typer.Argument(help="Show every parameter of this scenario.")]
    = None,
) -> None:
    """List scenarios and shocks, or show one scenario's parameters."""
    if name is None:
        table = Table("scenario", "description", title="Scenarios")
        for key, desc in scenarios.available().items():
            table.add_row(key, desc)
        out_console.print(table)
        table = Table("shock", "description", "parameters", title="Shocks (--shock NAME:k=v,..)")
        for key, desc in shocks.available().items():
            table.add_row(key, desc, ", ".join(f"{k}={v.default}" for k, v in
                                               shocks.SHOCKS[key].model_fields.items()))
        out_console.print(table)
        return
    try:
        params = scenarios.get_scenario(name)
    except ParameterError as err:
        raise fail(str(err)) from None
    table = Table("parameter", "value", "description", title=f"Scenario {name}")
    for key, value in params.model_dump(mode="json").items():
        info = ScenarioParams.model_fields[key]
        table.add_row(key, str(value), info.description or "")
    out_console.print(table)


def _progress(label: str) -> Progress:
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err_console, transient=True)


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


def main() -> None:
    """Entry point of the `nbasim` console script."""
    app()
