"""Read a transaction log (customer id, date, amount) from CSV or Parquet, checking every row.

The reader is the one boundary between a user's file and the calibration and RFM code: it
names the file, column or row that is wrong and what is allowed, and hands back aligned numpy
columns that the rest of the code can trust. Parsing runs in pyarrow (about 1 s per million
rows of CSV).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from nbasim.errors import NbasimError

PARQUET_SUFFIXES = (".parquet", ".pq")
ISO_DATE = "%Y-%m-%d"
MAX_AMOUNT = 1e12
"""The largest amount one transaction may have; more is a broken value (1e308 overflows every
sum it enters), refused with the row."""


class DataError(NbasimError):
    """Bad input data: the message names the file, column or row and what is allowed."""


@dataclass(frozen=True)
class TransactionLog:
    """A transaction log as aligned columns, one row per transaction, in file order.

    Attributes:
        customer: (n,) customer ids, str objects exactly as written in the file ("00001"
            stays "00001"; a Parquet integer column in decimal digits).
        day: (n,) datetime64[D] day of the transaction.
        amount: (n,) float64 amount, finite and >= 0.
    """

    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray

    def __len__(self) -> int:
        return int(self.amount.shape[0])


def read_log(
    path: str | Path,
    customer_col: str,
    date_col: str,
    amount_col: str,
    date_format: str | None = None,
    sep: str = ",",
    today: np.datetime64 | None = None,
    future_hint: str = "",
) -> TransactionLog:
    """Read and check a transaction log.

    Args:
        path: a CSV file (any other suffix; `.csv.gz` and the like are decompressed), or a
            Parquet file (suffix `.parquet` or `.pq`).
        customer_col: name of the customer id column.
        date_col: name of the date column.
        amount_col: name of the amount column.
        date_format: a strptime format such as "%d/%m/%Y"; None reads ISO dates
            ("2024-03-31", also with a time after the date, which is dropped).
        sep: the CSV field separator, one character (ignored for Parquet).
        today: when given, a transaction may be dated up to the day after it (a time zone
            ahead), not later; None: no such check (a simulated log runs on its own calendar,
            which may lie ahead of the clock).
        future_hint: what else the user may do about a future row, appended to the message.

    Returns:
        The log, rows in file order.

    Raises:
        DataError: the file is missing, empty or unreadable, has no rows, lacks a column
            (the message lists the columns found), has a date that does not parse or that
            lies after `today` (the message shows the row and the value, and how many rows
            are so), or a missing, negative, NaN, infinite or larger than `MAX_AMOUNT`
            amount (the message shows the row), has every amount 0, or a missing customer id.
    """
    wanted = {"customer": customer_col, "date": date_col, "amount": amount_col}
    table, where = read_columns(path, wanted, sep, text=("date", "customer"),
                                kind="transaction log", rows="transactions")
    customer = _customers(table.column(customer_col), customer_col, where)
    day = _days(table.column(date_col), date_col, date_format, where)
    if today is not None:
        _not_future(day, date_col, where, today, future_hint)
    amount = _amounts(table.column(amount_col), amount_col, where)
    return TransactionLog(customer=customer, day=day, amount=amount)


def today_date() -> np.datetime64:
    """Today, by this machine's clock, as datetime64[D]."""
    return np.datetime64(date.today(), "D")


def _not_future(day: np.ndarray, name: str, where: Where, today: np.datetime64,
                hint: str) -> None:
    """Refuse transactions dated after tomorrow (a log cannot record what has not happened)."""
    today = np.datetime64(today, "D")
    late = day > today + 1
    if late.any():
        i = int(np.flatnonzero(late)[0])
        raise DataError(
            f"{where.row(i)}: date column {name!r} has {day[i]}, which is in the future (today "
            f"is {today}; {int(late.sum())} such rows); fix those dates, or give the date "
            f"format if they were misread{hint}")


def read_columns(path: str | Path, wanted: dict[str, str], sep: str = ",",
                 text: tuple[str, ...] = (), kind: str = "table",
                 rows: str = "rows") -> tuple[pa.Table, Where]:
    """Read the `wanted` columns of a CSV or Parquet file, checked, for any tabular input.

    Args:
        path: a CSV file (any suffix but Parquet's; compressed ones are decompressed) or a
            Parquet file (`.parquet`, `.pq`).
        wanted: role -> column name (roles name the column in messages, e.g. "customer").
        sep: the CSV field separator, one character.
        text: roles whose columns are read as text, never typed by pyarrow.
        kind: what the file is, for messages ("transaction log").
        rows: what its rows are, for messages ("transactions").

    Returns:
        The table (rows in file order) and how to name its rows in messages.

    Raises:
        DataError: the file is missing, empty or unreadable, a column name is empty, a column
            is missing (the message lists the columns found), or there are no rows.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file (a CSV or Parquet {kind} is expected)")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (a header row and {rows} expected)")
    for role, name in wanted.items():
        if not isinstance(name, str) or not name:
            raise DataError(f"the {role} column name must be a non-empty string, got {name!r}")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        table, where = _read_parquet(path, wanted), Where(path, None)
    else:
        table, where = _read_csv(path, wanted, sep, text), Where(path, 2)
    if table.num_rows == 0:
        raise DataError(f"{path}: no rows (the file has a header but no {rows})")
    return table, where


@dataclass(frozen=True)
class Where:
    """How to name a row in messages: the data row number and, for CSV, the file line."""

    path: Path
    first_row_line: int | None

    def row(self, i: int) -> str:
        """"<file>: row N (line L)" for the i-th data row (from 0)."""
        text = f"{self.path}: row {i + 1}"
        if self.first_row_line is not None:
            text += f" (line {i + self.first_row_line})"
        return text


def _read_csv(path: Path, wanted: dict[str, str], sep: str,
              text: tuple[str, ...]) -> pa.Table:
    if not isinstance(sep, str) or len(sep) != 1 or sep in '\r\n"':
        raise DataError(
            f"separator must be one character other than a quote or newline, got {sep!r}"
        )
    columns = list(dict.fromkeys(wanted.values()))
    parse = pv.ParseOptions(delimiter=sep)
    convert = pv.ConvertOptions(
        include_columns=columns,
        column_types={wanted[role]: pa.string() for role in text},
        strings_can_be_null=False,
    )
    try:
        return pv.read_csv(path, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowKeyError) as err:
        text = str(err)
        if "include_columns" in text or "does not exist" in text:
            _missing_column(path, wanted, _csv_header(path, parse))
        if "Empty CSV file" in text:
            raise DataError(f"{path}: the file is empty (a header row expected)") from None
        raise DataError(f"{path}: not a readable CSV file with separator {sep!r}: {text}") from None


def _csv_header(path: Path, parse: pv.ParseOptions) -> list[str]:
    try:
        with pv.open_csv(path, parse_options=parse) as reader:
            return list(reader.schema.names)
    except pa.ArrowInvalid:
        return []


def _read_parquet(path: Path, wanted: dict[str, str]) -> pa.Table:
    try:
        names = list(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{path}: not a readable Parquet file: {err}") from None
    if any(name not in names for name in wanted.values()):
        _missing_column(path, wanted, names)
    return pq.read_table(path, columns=list(dict.fromkeys(wanted.values())))


def _missing_column(path: Path, wanted: dict[str, str], found: list[str]) -> None:
    for role, name in wanted.items():
        if name not in found:
            raise DataError(
                f"{path}: no {role} column {name!r}; the columns found are "
                f"{', '.join(repr(f) for f in found) or '(none)'}"
            )
    raise DataError(f"{path}: could not read columns {sorted(set(wanted.values()))}")


def _first_true(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(np.flatnonzero(np.asarray(mask.to_numpy(zero_copy_only=False)))[0])


def _customers(col: pa.ChunkedArray, name: str, where: Where) -> np.ndarray:
    if col.null_count:
        i = _first_true(pc.is_null(col))
        raise DataError(f"{where.row(i)}: customer column {name!r} is empty (an id is required)")
    if pa.types.is_floating(col.type):  # Parquet ids stored as floats: 7.0 is "7"
        values = col.to_numpy()
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            col = pa.chunked_array([pa.array(values.astype(np.int64))])
    text = pc.cast(col, pa.string()) if not pa.types.is_string(col.type) else col
    empty = pc.equal(pc.utf8_length(text), 0)
    if pc.any(empty).as_py():
        i = _first_true(empty)
        raise DataError(f"{where.row(i)}: customer column {name!r} is empty (an id is required)")
    return text.to_numpy(zero_copy_only=False).astype(object, copy=False)


def _days(col: pa.ChunkedArray, name: str, fmt: str | None, where: Where) -> np.ndarray:
    if pa.types.is_date(col.type) or pa.types.is_timestamp(col.type):
        if col.null_count:
            i = _first_true(pc.is_null(col))
            raise DataError(f"{where.row(i)}: date column {name!r} is empty (a date is required)")
        return _to_days(col)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise DataError(
            f"{where.path}: date column {name!r} holds {col.type}, not dates or text dates"
        )
    text = pc.utf8_trim_whitespace(col)
    if fmt is None:
        text = pc.utf8_slice_codeunits(text, 0, 10)  # ISO "YYYY-MM-DD", time of day dropped
        try:  # the fast, strict path; the slow one below finds the row that is wrong
            return pc.cast(text, pa.date32()).to_numpy().astype("datetime64[D]")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    try:
        stamps = pc.strptime(text, format=fmt or ISO_DATE, unit="s", error_is_null=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise DataError(f"date format {fmt!r} is not a usable strptime format: {err}") from None
    bad = pc.or_kleene(pc.is_null(stamps), _normalised(text, stamps, fmt or ISO_DATE))
    if pc.any(bad).as_py():
        i = _first_true(bad)
        value = col[i].as_py()
        allowed = (
            f"the date format is {fmt!r}"
            if fmt
            else "expected an ISO date such as 2024-03-31; give a date format for other layouts"
        )
        raise DataError(
            f"{where.row(i)}: date column {name!r} has {value!r}, which is not a date; {allowed}"
        )
    return _to_days(stamps)


def _normalised(text: pa.ChunkedArray, stamps: pa.ChunkedArray, fmt: str) -> pa.ChunkedArray:
    """Rows whose date strptime rolled over (e.g. 2024-02-30 read as 2024-03-01).

    The parsed date is written back in `fmt`; where that differs from the text, the numbers
    in both (leading zeros dropped) must agree, else the date did not exist.
    """
    try:
        back = pc.strftime(stamps, format=fmt)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pc.is_null(stamps)
    differs = pc.fill_null(pc.not_equal(back, text), False)
    if not pc.any(differs).as_py():
        return differs
    return pc.fill_null(pc.and_(differs, pc.not_equal(_numbers(text), _numbers(back))), False)


def _numbers(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """The digit runs of each string, without leading zeros, joined by spaces."""
    runs = pc.utf8_trim(pc.replace_substring_regex(text, r"\D+", " "), " ")
    return pc.replace_substring_regex(runs, r"(^| )0+(\d)", r"\1\2")


def _to_days(col: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_date(col.type):
        return pc.cast(col, pa.date32()).to_numpy().astype("datetime64[D]")
    values = col.to_numpy()
    if values.dtype.kind != "M":
        values = values.astype("datetime64[s]")
    return values.astype("datetime64[D]")


def _amounts(col: pa.ChunkedArray, name: str, where: Where) -> np.ndarray:
    if col.null_count:
        i = _first_true(pc.is_null(col))
        raise DataError(
            f"{where.row(i)}: amount column {name!r} is empty or NaN (a number >= 0 is required)"
        )
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        for i, value in enumerate(col.to_numpy(zero_copy_only=False)):
            try:
                float(value)
            except (TypeError, ValueError):
                raise DataError(
                    f"{where.row(i)}: amount column {name!r} has {value!r}, which is not a "
                    "number (a decimal >= 0 such as 12.50 is allowed)"
                ) from None
        col = pc.cast(col, pa.float64())
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(
            f"{where.path}: amount column {name!r} holds {col.type} values; numbers are required"
        )
    amount = col.to_numpy().astype(np.float64, copy=False)
    bad = ~np.isfinite(amount) | (amount < 0) | (amount > MAX_AMOUNT)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where.row(i)}: amount column {name!r} has {float(amount[i])!r}; amounts must be "
            f"finite, >= 0 and at most {MAX_AMOUNT:g} ({int(bad.sum())} such rows)"
        )
    if not (amount > 0).any():
        raise DataError(
            f"{where.path}: amount column {name!r} is 0 in every row; spend is needed (at "
            "least one amount above 0): is it the right column?"
        )
    return amount
