"""`nbasim calibrate-campaign`: lifts of a past test and the offer effects fitted to them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nbasim.experiments.cli.console import err_console, fail, out_console, parse_overrides
from nbasim.sim.params import ParameterError


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
    from nbasim.experiments.data import campaign_lift as ct
    from nbasim.experiments.data.translog import DataError

    try:
        ct.check_window(window_days, "--window-days")
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
                      _fmt(a.get("action")), _fmt(a.get("offer_effect")),
                      _fmt(a.get("world_lift")), _fmt(a.get("reproduced")))
    out_console.print(table)
    if result["not_fitted"]:
        err_console.print(
            f"not fitted: {', '.join(map(repr, result['not_fitted']))} map to no catalog offer "
            "and channel; their lifts are measured and written. To fit one, map it with --arm "
            "NAME=offer:channel.", markup=False, highlight=False)
    out_console.print(f"results in {out_dir / 'campaign.json'}")


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("-" if value is None else str(value))
