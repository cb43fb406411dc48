"""`nbasim rfm`: RFM scores, segments, migration, clusters and mailing lists of a log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nbasim.experiments.cli.console import fail, out_console


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
    segments: Annotated[Path | None, typer.Option(
        help="Segments file (TOML): \\[\\[segment]] tables with a name and R/F/M score or value "
             "ranges, replacing the default map; first match wins, the rest are 'other'.")]
    = None,
    list_: Annotated[list[str] | None, typer.Option(
        "--list", help="Write list.csv: the customers of this segment (repeatable), with "
                       "their recommended action.")] = None,
    min_monetary: Annotated[float | None, typer.Option(
        help="Keep in list.csv only customers who spent at least this much.")] = None,
    min_frequency: Annotated[int | None, typer.Option(
        help="Keep in list.csv only customers with at least this many purchase days.")] = None,
) -> None:
    """RFM scores and segments of a transaction log, migration, clusters, and CSV exports."""
    from nbasim.experiments.data import rfm_report

    try:
        result, out_dir = rfm_report.rfm_report(file, customer_col, date_col, amount_col, as_of,
                                             compare=compare, k=k, date_format=date_format,
                                             sep=sep, out=out, segments=segments,
                                             lists=list_, min_monetary=min_monetary,
                                             min_frequency=min_frequency)
    except ValueError as err:  # DataError and ParameterError
        raise fail(str(err)) from None
    out_console.print(rfm_report.render(result))
    out_console.print(f"results in {out_dir}")
