"""`nbasim calibrate`: BG/NBD and Gamma-Gamma fitted to a transaction log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nbasim.experiments.cli.console import err_console, fail, out_console
from nbasim.sim.params import ParameterError


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
    from nbasim.experiments.data import calibrate as cal
    from nbasim.experiments.data.translog import DataError

    try:
        with err_console.status(f"reading {file} and fitting"):
            result, out_dir = cal.calibrate(file, customer_col, date_col, amount_col,
                                            date_format=date_format, end=end,
                                            time_unit=time_unit, sep=sep, out=out)
    except (DataError, ParameterError) as err:
        raise fail(str(err)) from None
    out_console.print(cal.table(result))
    out_console.print(f"results in {out_dir / 'calibration.json'}")
