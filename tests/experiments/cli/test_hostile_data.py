"""Hostile inputs to the data commands `nbasim calibrate` and `nbasim rfm`.

The transaction log's file, columns, values and dates, and the options.

Each case exits 2 naming the file, column, row or option, prints no traceback and writes
nothing (`refused` in conftest.py). The good log (conftest.LOG) has 40 customers in 2024.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile import LOG, write

COLS = ["--customer-col", "id", "--date-col", "date", "--amount-col", "amount"]
ROW = "c999,2024-03-01,12.00\n"


def with_row(row: str) -> str:
    """The good log (79 rows) with one more row at the end: row 80, line 81."""
    return LOG + row


def parquet(home, name: str, columns: dict) -> None:
    """Write `columns` as a Parquet file in `home`."""
    pq.write_table(pa.table(columns), home / name)


# (id, file name, file content (None: a fixture file), extra options, match)
LOG_CASES = [
    ("file-missing", "no_such.csv", None, [], r"no_such\.csv: no such file"),
    ("file-a-directory", "a_folder", None, [], r"a_folder: not a file"),
    ("file-empty", "empty.txt", None, [], r"empty\.txt: the file is empty"),
    ("file-binary", "binary.bin", None, [], r"binary\.bin"),
    ("file-not-utf8", "latin1.txt", None, [], r"latin1\.txt"),
    ("header-only", "head.csv", "id,date,amount\n", [], r"head\.csv: no rows"),
    ("customer-column-missing", "log.csv", None, ["--customer-col", "who"], r"'who'"),
    ("date-column-missing", "log.csv", None, ["--date-col", "when"], r"'when'"),
    ("amount-column-missing", "log.csv", None, ["--amount-col", "spend"], r"'spend'"),
    ("column-name-empty", "log.csv", None, ["--amount-col", ""], r"amount column name"),
    ("wrong-separator", "log.csv", None, ["--sep", ";"], r"no customer column 'id'"),
    ("separator-two-characters", "log.csv", None, ["--sep", ";;"], r"separator"),
    ("separator-a-quote", "log.csv", None, ["--sep", '"'], r"separator"),
    ("amount-text", "bad.csv", with_row("c999,2024-03-01,twelve\n"), [],
     r"row 80 \(line 81\): amount column 'amount' has 'twelve'"),
    ("amount-negative", "bad.csv", with_row("c999,2024-03-01,-12\n"), [],
     r"row 80 \(line 81\): amount column 'amount' has -12"),
    ("amount-nan", "bad.csv", with_row("c999,2024-03-01,nan\n"), [],
     r"row 80 \(line 81\): amount column 'amount'"),
    ("amount-inf", "bad.csv", with_row("c999,2024-03-01,inf\n"), [],
     r"row 80 \(line 81\): amount column 'amount' has inf"),
    ("amount-huge", "bad.csv", with_row("c999,2024-03-01,1e308\n"), [],
     r"row 80 \(line 81\): amount column 'amount' has 1e\+308"),
    ("amount-empty", "bad.csv", with_row("c999,2024-03-01,\n"), [],
     r"row 80 \(line 81\): amount column 'amount' is empty"),
    ("amounts-all-zero", "zero.csv", "id,date,amount\na,2024-01-02,0\nb,2024-02-03,0\n", [],
     r"amount column 'amount' is 0 in every row"),
    ("customer-empty", "bad.csv", with_row(",2024-03-01,12\n"), [],
     r"row 80 \(line 81\): customer column 'id' is empty"),
    ("date-not-a-date", "bad.csv", with_row("c999,yesterday,12\n"), [],
     r"row 80 \(line 81\): date column 'date' has 'yesterday'"),
    ("date-that-does-not-exist", "bad.csv", with_row("c999,2024-02-30,12\n"), [],
     r"row 80 \(line 81\): date column 'date' has '2024-02-30'"),
    ("date-empty", "bad.csv", with_row("c999,,12\n"), [],
     r"row 80 \(line 81\): date column 'date'"),
    ("date-in-the-future", "bad.csv", with_row("c999,2999-01-01,12\n"), [],
     r"row 80 \(line 81\): date column 'date' has 2999-01-01, which is in the future"),
    ("date-format-mismatch", "log.csv", None, ["--date-format", "%d/%m/%Y"],
     r"date column 'date' has '2024-0\d-1\d', which is not a date; the date format"),
    ("too-few-columns-in-a-row", "bad.csv", with_row("c999,2024-03-01\n"), [], r"bad\.csv"),
    ("parquet-corrupt", "broken.parquet", b"PAR1 this is not parquet PAR1", [],
     r"broken\.parquet: not a readable Parquet file"),
    ("parquet-that-is-csv", "text.parquet", LOG, [], r"text\.parquet: not a readable Parquet"),
]


def _cases(command: str, extra: list[str], skip: tuple[str, ...] = ()) -> list:
    return [pytest.param(name, text, opts + extra, match, id=f"{command}-{case}")
            for case, name, text, opts, match in LOG_CASES if case not in skip]


@pytest.mark.parametrize(("name", "text", "options", "match"), _cases("calibrate", []))
def test_calibrate_refuses_a_bad_log(name, text, options, match, home, refused):
    """A bad file, column, value or date in the log to calibrate on."""
    if text is not None:
        write(home, name, text)
    refused(["calibrate", f"{{home}}/{name}", *COLS, *options, "--out", "{home}/out"], match)


@pytest.mark.parametrize(("name", "text", "options", "match"),
                         _cases("rfm", ["--as-of", "2024-06-30"],
                                skip=("date-in-the-future",)))
def test_rfm_refuses_a_bad_log(name, text, options, match, home, refused):
    """The same bad logs, to score with RFM.

    A row dated in the future is not refused: rfm reads simulated logs, whose calendar may lie
    ahead of the clock, and leaves every row after --as-of out (as-of in the future is refused).
    """
    if text is not None:
        write(home, name, text)
    refused(["rfm", f"{{home}}/{name}", *COLS, *options, "--out", "{home}/out"], match)


PARQUET = [
    ("parquet-amount-text", {"id": ["a", "b"], "date": ["2024-01-02", "2024-01-03"],
                             "amount": ["12", "many"]}, r"row 2: amount column 'amount' has "
                                                        r"'many'"),
    ("parquet-amount-nan", {"id": ["a", "b"], "date": ["2024-01-02", "2024-01-03"],
                            "amount": [12.0, float("nan")]}, r"row 2: amount column 'amount'"),
    ("parquet-amount-inf", {"id": ["a", "b"], "date": ["2024-01-02", "2024-01-03"],
                            "amount": [12.0, float("-inf")]}, r"row 2: amount column 'amount'"),
    ("parquet-amount-a-date", {"id": ["a"], "date": ["2024-01-02"],
                               "amount": pa.array([0], pa.date32())},
     r"amount column 'amount' holds date32"),
    ("parquet-date-a-number", {"id": ["a"], "date": [20240102], "amount": [12.0]},
     r"date column 'date' holds int64"),
    ("parquet-date-null", {"id": ["a", "b"], "date": pa.array([0, None], pa.date32()),
                           "amount": [12.0, 3.0]}, r"row 2: date column 'date' is empty"),
    ("parquet-customer-null", {"id": ["a", None], "date": ["2024-01-02", "2024-01-03"],
                               "amount": [12.0, 3.0]}, r"row 2: customer column 'id' is empty"),
    ("parquet-column-missing", {"id": ["a"], "day": ["2024-01-02"], "amount": [12.0]},
     r"no date column 'date'; the columns found are 'id', 'day', 'amount'"),
]


@pytest.mark.parametrize("command", ["calibrate", "rfm"])
@pytest.mark.parametrize(("columns", "match"), [c[1:] for c in PARQUET],
                         ids=[c[0] for c in PARQUET])
def test_a_bad_parquet_log_is_named(command, columns, match, home, refused):
    """A Parquet log with a column of the wrong type, a NaN, an inf, a null or missing."""
    parquet(home, "log.parquet", columns)
    extra = ["--as-of", "2024-06-30"] if command == "rfm" else []
    refused([command, "{home}/log.parquet", *COLS, *extra, "--out", "{home}/out"], match)


CALIBRATE_OPTIONS = [
    ("end-not-a-date", ["--end", "June"], r"end = 'June': not a date"),
    ("end-impossible-date", ["--end", "2024-13-45"], r"end = '2024-13-45': not a date"),
    ("end-before-every-purchase", ["--end", "1990-01-01"], r"end = 1990-01-01"),
    ("end-after-every-purchase", ["--end", "2031-01-01"], r"end = 2031-01-01"),
    ("time-unit-month", ["--time-unit", "month"], r"time unit 'month'"),
    ("out-a-file", ["--out", "{home}/a_file"], r"a_file'?: is a file"),
    ("out-under-a-file", ["--out", "{home}/a_file/cal"], r"a_file' is a file, not a directory"),
]


@pytest.mark.parametrize(("options", "match"), [c[1:] for c in CALIBRATE_OPTIONS],
                         ids=[c[0] for c in CALIBRATE_OPTIONS])
def test_calibrate_refuses_a_bad_option(options, match, refused):
    """A bad --end, --time-unit or --out on a good log."""
    out = [] if "--out" in options else ["--out", "{home}/out"]
    refused(["calibrate", "{home}/log.csv", *COLS, *options, *out], match)


RFM_OPTIONS = [
    ("as-of-not-a-date", ["--as-of", "today"], r"today"),
    ("as-of-impossible", ["--as-of", "2024-02-30"], r"2024-02-30"),
    ("as-of-before-every-purchase", ["--as-of", "1990-01-01"], r"1990-01-01"),
    ("as-of-in-the-future", ["--as-of", "2999-01-01"], r"2999-01-01"),
    ("compare-not-a-date", ["--as-of", "2024-06-30", "--compare", "soon"], r"soon"),
    ("compare-same-day", ["--as-of", "2024-06-30", "--compare", "2024-06-30"],
     r"compare"),
    ("k-one", ["--as-of", "2024-06-30", "--k", "1"], r"\bk\b"),
    ("k-zero", ["--as-of", "2024-06-30", "--k", "0"], r"\bk\b"),
    ("k-negative", ["--as-of", "2024-06-30", "--k", "-2"], r"\bk\b"),
    ("k-more-than-customers", ["--as-of", "2024-06-30", "--k", "500"], r"\bk\b"),
    ("k-text", ["--as-of", "2024-06-30", "--k", "three"], r"--k"),
    ("out-a-file", ["--as-of", "2024-06-30", "--out", "{home}/a_file"], r"a_file'?: is a file"),
    ("out-under-a-file", ["--as-of", "2024-06-30", "--out", "{home}/a_file/rfm"],
     r"a_file' is a file, not a directory"),
]


@pytest.mark.parametrize(("options", "match"), [c[1:] for c in RFM_OPTIONS],
                         ids=[c[0] for c in RFM_OPTIONS])
def test_rfm_refuses_a_bad_option(options, match, refused):
    """A bad --as-of, --compare, --k or --out on a good log."""
    out = [] if "--out" in options else ["--out", "{home}/out"]
    refused(["rfm", "{home}/log.csv", *COLS, *options, *out], match)


GOOD_SEGMENT = '[[segment]]\nname = "best"\nr_score = [4, 5]\n'
# (id, segments file content (None: a fixture file named in the options), options, match)
RFM_SEGMENTS = [
    ("segments-missing", None, ["--segments", "{home}/no_such.toml"],
     r"segments file .*no_such\.toml: no such file"),
    ("segments-a-directory", None, ["--segments", "{home}/a_folder"], r"a_folder: is a directory"),
    ("segments-not-utf8", None, ["--segments", "{home}/latin1.txt"], r"latin1\.txt: not UTF-8"),
    ("segments-binary", None, ["--segments", "{home}/binary.bin"], r"binary\.bin: not UTF-8"),
    ("segments-empty", "", [], r"seg\.toml: no \[\[segment\]\] table"),
    ("segments-not-toml", "[[segment]\nname = best\n", [], r"seg\.toml: not valid TOML"),
    ("segments-unknown-top-key", 'title = "mine"\n' + GOOD_SEGMENT, [],
     r"seg\.toml: unknown key 'title'; the file holds \[\[segment\]\] tables only"),
    ("segment-a-string", 'segment = ["best"]\n', [], r"segment 1 is 'best', not a table"),
    ("segment-without-name", "[[segment]]\nr_score = 5\n", [],
     r"segment 1 field 'name': Field required"),
    ("segment-name-other", '[[segment]]\nname = "other"\nr_score = 5\n', [],
     r"segment 1 \('other'\) field 'name' = 'other': 'other' is reserved"),
    ("segment-name-with-space", '[[segment]]\nname = "big spender"\nr_score = 5\n', [],
     r"segment 1 \('big spender'\) field 'name'.*letters, digits, _ or -"),
    ("segment-name-twice", GOOD_SEGMENT * 2, [],
     r"segment 2 \('best'\): name 'best' given twice"),
    ("segment-no-range", '[[segment]]\nname = "all"\n', [],
     r"segment 1 \('all'\): no range; give at least one of r_score"),
    ("segment-unknown-field", GOOD_SEGMENT + "r_scor = 5\n", [],
     r"segment 1 \('best'\): unknown field 'r_scor'; allowed: name, r_score, f_score"),
    ("score-six", '[[segment]]\nname = "x"\nf_score = [4, 6]\n', [],
     r"segment 1 \('x'\) field 'f_score' = \[4, 6\]: scores are whole numbers from 1 to 5"),
    ("score-zero", '[[segment]]\nname = "x"\nm_score = 0\n', [],
     r"'x'\) field 'm_score' = 0: scores are whole numbers from 1 to 5"),
    ("score-fraction", '[[segment]]\nname = "x"\nr_score = 4.5\n', [],
     r"'x'\) field 'r_score' = 4\.5: scores are whole numbers"),
    ("range-reversed", '[[segment]]\nname = "x"\nrecency = [90, 30]\n', [],
     r"'x'\) field 'recency' = \[90, 30\]: low 90 is above high 30"),
    ("range-three-numbers", '[[segment]]\nname = "x"\nfrequency = [1, 2, 3]\n', [],
     r"'x'\) field 'frequency' = \[1, 2, 3\]: expected a number or a \[low, high\] list"),
    ("range-text", '[[segment]]\nname = "x"\nmonetary = "lots"\n', [],
     r"'x'\) field 'monetary' = 'lots': expected a number"),
    ("range-boolean", '[[segment]]\nname = "x"\nfrequency = true\n', [],
     r"'x'\) field 'frequency' = True: expected a number"),
    ("range-nan", '[[segment]]\nname = "x"\nmonetary = [nan, 5]\n', [],
     r"'x'\) field 'monetary'.*finite bounds"),
    ("range-low-inf", '[[segment]]\nname = "x"\nmonetary = [inf, inf]\n', [],
     r"'x'\) field 'monetary'.*inf allowed as high only"),
    ("value-negative", '[[segment]]\nname = "x"\nrecency = [-5, 10]\n', [],
     r"'x'\) field 'recency' = \[-5, 10\]: values are >= 0"),
    ("action-unknown-offer", GOOD_SEGMENT + 'action = { offer = "free_lunch" }\n', [],
     r"'best'\) field 'action'.*offer 'free_lunch' is unknown; allowed: discount_10"),
    ("action-unknown-channel", GOOD_SEGMENT + 'action = { offer = "win_back", '
                                              'channel = "fax" }\n', [],
     r"'best'\) field 'action'.*channel 'fax' is unknown; allowed: email"),
    ("action-a-word", GOOD_SEGMENT + 'action = "mail them"\n', [],
     r"'best'\) field 'action' = 'mail them': expected \"none\" or a table"),
    ("action-unknown-key", GOOD_SEGMENT + 'action = { offer = "win_back", when = "now" }\n',
     [], r"'best'\) field 'action'.*unknown key 'when'; allowed keys: offer, channel"),
    ("action-without-offer", GOOD_SEGMENT + 'action = { channel = "sms" }\n', [],
     r"'best'\) field 'action'.*no offer"),
    ("segments-too-many", "".join(f'[[segment]]\nname = "s{i}"\nr_score = 5\n'
                                  for i in range(51)), [],
     r"seg\.toml: 51 segments; allowed 1 to 50"),
]


@pytest.mark.parametrize(("text", "options", "match"), [c[1:] for c in RFM_SEGMENTS],
                         ids=[c[0] for c in RFM_SEGMENTS])
def test_rfm_refuses_a_bad_segments_file(text, options, match, home, refused):
    """A segments file that is missing, unreadable, not TOML, or names a bad segment or field.

    The message names the file, the segment (its number and name) and the field.
    """
    if text is not None:
        write(home, "seg.toml", text)
        options = ["--segments", "{home}/seg.toml"]
    refused(["rfm", "{home}/log.csv", *COLS, "--as-of", "2024-06-30", *options,
             "--out", "{home}/out"], match)


RFM_LISTS = [
    ("list-unknown-segment", ["--list", "champs"],
     r"list = 'champs': unknown segment; known: champions, loyal, potential_loyalists"),
    ("list-other-without-file", ["--list", "other"], r"list = 'other': unknown segment"),
    ("list-not-in-the-file", ["--segments", "{home}/seg.toml", "--list", "champions"],
     r"list = 'champions': unknown segment; known: best, other"),
    ("min-monetary-without-list", ["--min-monetary", "100"],
     r"min_monetary = 100\.0: filters a mailing list; give the segments to list with --list"),
    ("min-frequency-without-list", ["--min-frequency", "2"],
     r"min_frequency = 2: filters a mailing list"),
    ("min-monetary-negative", ["--list", "lost", "--min-monetary", "-5"],
     r"min_monetary = -5\.0: allowed a finite number >= 0"),
    ("min-monetary-nan", ["--list", "lost", "--min-monetary", "nan"],
     r"min_monetary = nan: allowed a finite number >= 0"),
    ("min-monetary-inf", ["--list", "lost", "--min-monetary", "inf"],
     r"min_monetary = inf: allowed a finite number >= 0"),
    ("min-monetary-text", ["--list", "lost", "--min-monetary", "lots"], r"--min-monetary"),
    ("min-frequency-zero", ["--list", "lost", "--min-frequency", "0"],
     r"min_frequency = 0: allowed a whole number >= 1"),
    ("min-frequency-fraction", ["--list", "lost", "--min-frequency", "1.5"],
     r"--min-frequency"),
]


@pytest.mark.parametrize(("options", "match"), [c[1:] for c in RFM_LISTS],
                         ids=[c[0] for c in RFM_LISTS])
def test_rfm_refuses_a_bad_list(options, match, home, refused):
    """An unknown --list segment (the known ones named), or a bad or orphan minimum."""
    write(home, "seg.toml", GOOD_SEGMENT)
    refused(["rfm", "{home}/log.csv", *COLS, "--as-of", "2024-06-30", *options,
             "--out", "{home}/out"], match)
