"""`nbasim scenarios`: the scenarios and shocks, or one scenario's parameters."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from nbasim.experiments.cli.console import fail, out_console
from nbasim.sim import scenarios, shocks
from nbasim.sim.params import ParameterError, ScenarioParams


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
