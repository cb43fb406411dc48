"""The `nbasim` command line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from nbasim.sim import scenarios, shocks
from nbasim.sim.params import ParameterError, ScenarioParams

app = typer.Typer(
    help="nbasim: a simulator for Next Best Action marketing.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
# Tables keep their columns when the output is a file or a pipe (CI logs), not 80 wide.
out_console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


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
    from nbasim.experiments import simulate as sim_run
    from nbasim.experiments.translog import DataError

    start = time.perf_counter()
    try:
        if calibration is not None:
            from nbasim.experiments.calibrate import simulation_spec

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


@app.command("run")
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
    from nbasim.experiments import config as config_mod
    from nbasim.experiments import sweep

    try:
        cfg = config_mod.load(config)
        run_dir = out or cfg.out / cfg.name / sweep.run_id(cfg)
        todo = sweep.prepare(cfg, run_dir)
    except ParameterError as err:
        raise fail(str(err)) from None
    total = len(sweep.cells(cfg))
    with _progress(f"{cfg.name}") as progress:
        task = progress.add_task("cells", total=total, completed=total - len(todo))

        def done(cell, result) -> None:
            progress.update(task, advance=1)
            err_console.print(
                f"  {cell.policy.label} @ {cell.scenario.label}, seed {cell.seed}: incremental "
                f"margin {result.figures['incremental_margin']:,.0f} "
                f"(world {result.timing['world_s']:.1f} s, policy "
                f"{result.timing['policy_s']:.1f} s)", highlight=False)

        try:
            sweep.run(cfg, run_dir, workers=workers, executor=executor, address=address,
                      on_cell=done)
        except ParameterError as err:
            raise fail(str(err)) from None
    out_console.print(f"report: {run_dir / 'report.html'}")
    out_console.print(str(run_dir))


@app.command("check")
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
    from nbasim.experiments import atomic
    from nbasim.experiments import check as check_mod

    if update:
        try:
            summary = check_mod.trim_baseline(check_mod.load_summary(run_dir))
        except ValueError as err:
            raise fail(str(err)) from None
        baseline.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(baseline, json.dumps(summary, indent=2) + "\n")
        out_console.print(f"baseline written: {baseline}")
        return
    try:
        result = check_mod.check(check_mod.load_summary(run_dir),
                                 check_mod.load_summary(baseline), tolerance=tolerance,
                                 metrics=metric or None)
    except ValueError as err:
        raise fail(str(err)) from None
    out_console.print(check_mod.render(result))
    if not result.ok:
        err_console.print(f"[bold red]{len(result.failures)} regression(s)[/] against {baseline}")
        raise typer.Exit(code=1)
    out_console.print(f"no regression against {baseline}")


@app.command("compare")
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
    from nbasim.experiments import check as check_mod
    from nbasim.experiments import compare

    if len(run_dirs) not in (1, 2):
        raise fail(f"compare takes one or two run directories, got {len(run_dirs)}")
    try:
        runs = [check_mod.load_summary(d) for d in run_dirs]
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


@app.command("report")
def report_run(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `nbasim run`.")],
) -> None:
    """Rebuild a run's plots and report.html from its files alone."""
    from nbasim.experiments.report import build_report

    try:
        path = build_report(run_dir)
    except ValueError as err:
        raise fail(str(err)) from None
    out_console.print(f"report: {path}")


@app.command("calibrate")
def calibrate_cmd(
    file: Annotated[Path, typer.Argument(help="A transaction log (CSV, or Parquet by suffix).")],
    customer_col: Annotated[str, typer.Option(help="Column of the customer id.")],
    date_col: Annotated[str, typer.Option(help="Column of the purchase date.")],
    amount_col: Annotated[str, typer.Option(help="Column of the amount spent.")],
    date_format: Annotated[str | None, typer.Option(
        help="strptime format of the dates, e.g. %d/%m/%Y \\[default: ISO dates].")] = None,
    end: Annotated[str | None, typer.Option(
        help="Last day of the calibration period (ISO); later purchases are the holdout the "
             "checks compare against \\[default: the log's last date].")] = None,
    time_unit: Annotated[str, typer.Option(help="Time unit of the fit: day or week.")] = "week",
    sep: Annotated[str, typer.Option(help="CSV separator.")] = ",",
    out: Annotated[Path | None, typer.Option(
        help="Results directory \\[default: results/calibrate/<file stem>].")] = None,
) -> None:
    """Fit BG/NBD and Gamma-Gamma to a transaction log by maximum likelihood."""
    from nbasim.experiments import calibrate as cal
    from nbasim.experiments.translog import DataError

    try:
        with err_console.status(f"reading {file} and fitting"):
            result, out_dir = cal.calibrate(file, customer_col, date_col, amount_col,
                                            date_format=date_format, end=end,
                                            time_unit=time_unit, sep=sep, out=out)
    except (DataError, ParameterError) as err:
        raise fail(str(err)) from None
    out_console.print(cal.table(result))
    out_console.print(f"results in {out_dir / 'calibration.json'}")


@app.command("calibrate-campaign")
def calibrate_campaign_cmd(
    file: Annotated[Path, typer.Argument(help="A past randomized test, one row per customer "
                                              "(CSV, or Parquet by suffix).")],
    arm_col: Annotated[str, typer.Option(help="Column of the arm each customer was in.")],
    control: Annotated[str, typer.Option(help="The arm that got nothing.")],
    outcome_col: Annotated[str, typer.Option(help="Column of the 0/1 outcome (bought within "
                                                  "the window).")],
    spend_col: Annotated[str | None, typer.Option(help="Column of spend in the window.")] = None,
    arm: Annotated[list[str] | None, typer.Option(
        help="NAME=offer:channel for an arm whose name is not offer:channel (repeatable).")]
    = None,
    scenario: Annotated[str, typer.Option(help="World whose offer effects are fitted.")] =
    "dry_cleaning_chain",
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Scenario override KEY=VALUE (repeatable).")] = None,
    customers: Annotated[int, typer.Option(help="Size of the simulated base the fit uses.")]
    = 50_000,
    seed: Annotated[int, typer.Option(help="Seed of that base.")] = 0,
    window_days: Annotated[int | None, typer.Option(
        help="Days the test's outcome window lasted (default: the world's attribution "
             "window).")] = None,
    sep: Annotated[str, typer.Option(help="CSV separator.")] = ",",
    out: Annotated[Path | None, typer.Option(
        help="Results directory \\[default: results/calibrate-campaign/<file stem>].")] = None,
) -> None:
    """Lift of each arm of a past test over control, and the world's offer effects fitted to it."""
    from nbasim.experiments import campaign_test as ct
    from nbasim.experiments.translog import DataError

    try:
        with err_console.status("measuring lifts and fitting offer effects"):
            result, out_dir = ct.calibrate_campaign(
                file, arm_col, control, outcome_col, spend_col=spend_col, sep=sep, out=out,
                arms=ct.parse_arm_map(arm or []), scenario=scenario,
                overrides=parse_overrides(set_ or []), customers=customers, seed=seed,
                window_days=window_days)
    except (DataError, ParameterError) as err:
        raise fail(str(err)) from None
    table = Table("arm", "n", "lift", "95 % interval", "spend lift", "action", "offer effect",
                  "world lift", "reproduced", title=f"Campaign test {file.name}")
    for name, a in result["arms"].items():
        table.add_row(name, f"{a['n']:,}", f"{a['lift']:.4f}",
                      f"[{a['ci'][0]:.4f}, {a['ci'][1]:.4f}]",
                      "-" if a.get("spend_lift") is None else f"{a['spend_lift']:.3f}",
                      str(a.get("action", "")), _fmt(a.get("offer_effect")),
                      _fmt(a.get("world_lift")), str(a.get("reproduced", "")))
    out_console.print(table)
    out_console.print(f"results in {out_dir / 'campaign.json'}")


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("-" if value is None else str(value))


@app.command("ope")
def ope_cmd(
    log: Annotated[Path, typer.Argument(help="A decision log: a run's decisions.parquet, or a "
                                             "CSV/Parquet with action, reward and propensity.")],
    target: Annotated[str, typer.Option(
        help="Policy to evaluate: uniform, action:K, policy:NAME[:k=v,...] (trained on the "
             "first half of the log, evaluated on the rest) or file:PATH (per-row action "
             "probabilities).")] = "uniform",
    action_col: Annotated[str, typer.Option(help="Column of the logged actions.")] = "action",
    reward_col: Annotated[str, typer.Option(help="Column of the rewards.")] = "reward",
    pscore_col: Annotated[str, typer.Option(help="Column of the logger's propensities.")]
    = "pscore",
    context_cols: Annotated[list[str] | None, typer.Option(
        help="Context column (repeatable; default: every x_* column).")] = None,
    estimators: Annotated[list[str] | None, typer.Option(
        help="Estimator (repeatable: dm, ips, snips, dr, sndr, switch_dr; default: all).")]
    = None,
    clip: Annotated[float | None, typer.Option(help="Largest importance weight.")] = None,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the 95 % "
                                                  "intervals (0: none).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and of a target policy.")]
    = 0,
    logging_policy: Annotated[str | None, typer.Option(
        help="A run's log: keep the rows of this policy label.")] = None,
    log_seed: Annotated[int | None, typer.Option(help="A run's log: keep this seed.")] = None,
    scenario: Annotated[str | None, typer.Option(
        help="A run's log: keep this scenario label.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Results directory \\[default: results/ope/<log stem>-<target>].")] = None,
) -> None:
    """Estimate a policy's value from logged decisions (DM, IPS, SNIPS, DR, SNDR, switch-DR)."""
    from nbasim.experiments import ope_cmd as ope_mod

    names = [e for item in estimators or () for e in item.split(",") if e] or None
    try:
        with err_console.status("estimating"):
            result, out_dir = ope_mod.ope_command(
                log, action_col, reward_col, pscore_col, context_cols=context_cols,
                target=target, estimators=names, out=out, n_bootstrap=n_bootstrap, clip=clip,
                seed=seed, scenario=scenario, logging_policy=logging_policy,
                log_seed=log_seed)
    except ValueError as err:
        raise fail(str(err)) from None
    out_console.print(ope_mod.render(result))
    out_console.print(f"results in {out_dir / 'ope.json'}")


@app.command("ope-validate")
def ope_validate_cmd(
    config: Annotated[Path, typer.Argument(help="An experiment config with an [ope] table, e.g. "
                                                "experiments/configs/ope_validate.toml.")],
    out: Annotated[Path | None, typer.Option(
        help="Run directory \\[default: <config out>/<name>/<run-id>].")] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes.")] = 1,
) -> None:
    """Estimators from a behaviour policy's log, against the targets' on-policy truth."""
    from nbasim.experiments import config as config_mod
    from nbasim.experiments import ope_validate, sweep

    try:
        cfg = config_mod.load(config)
        run_dir = out or cfg.out / cfg.name / sweep.run_id(cfg)
        sweep.prepare(cfg, run_dir)
        with _progress(cfg.name) as progress:
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


@app.command("rfm")
def rfm_command(
    file: Annotated[Path, typer.Argument(help="Transaction log, CSV or Parquet.")],
    customer_col: Annotated[str, typer.Option(help="Customer id column.")],
    date_col: Annotated[str, typer.Option(help="Date column.")],
    amount_col: Annotated[str, typer.Option(help="Amount column (spend, >= 0).")],
    as_of: Annotated[str, typer.Option(help="Date the scores describe, YYYY-MM-DD; later "
                                            "transactions are left out.")],
    compare: Annotated[str | None, typer.Option(
        help="A second date, earlier or later: the segment migration matrix between the two."
    )] = None,
    k: Annotated[int | None, typer.Option(help="Also k-means clusters on R, F, M (k >= 2).")]
    = None,
    date_format: Annotated[str | None, typer.Option(
        help="strptime format of the dates, e.g. %d/%m/%Y (default: ISO).")] = None,
    sep: Annotated[str, typer.Option(help="CSV field separator.")] = ",",
    out: Annotated[Path | None, typer.Option(
        help="Results directory \\[default: results/rfm/<file stem>-<as-of>]; an earlier "
             "result there is replaced.")] = None,
) -> None:
    """RFM scores and segments of a transaction log, migration, clusters, and a CSV export."""
    from nbasim.experiments import rfm_cmd

    try:
        result, out_dir = rfm_cmd.rfm_report(file, customer_col, date_col, amount_col, as_of,
                                             compare=compare, k=k, date_format=date_format,
                                             sep=sep, out=out)
    except ValueError as err:  # DataError and ParameterError
        raise fail(str(err)) from None
    out_console.print(rfm_cmd.render(result))
    out_console.print(f"results in {out_dir}")


@app.command("policies")
def list_policies() -> None:
    """List the policies with a line each (use their names in experiment configs)."""
    from nbasim import policies

    table = Table("policy", "description", title="Policies")
    for key, desc in policies.available().items():
        table.add_row(key, desc)
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


if __name__ == "__main__":
    main()
