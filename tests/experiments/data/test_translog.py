"""Bad transaction data is refused by name, with the row and how many rows are so.

Before, a row dated in the future (one row in 2031 moved r from 0.313 to 0.091), an amount of
1e308 and a log whose amounts are all 0 were read without a word, and so was an `rfm --as-of`
in the future. What each case gets:

- `calibrate` without `--end`: a row dated after tomorrow (a time zone ahead is allowed) is
  refused, exit 2, with the row and the count, since the log's last date would end the fit;
- `calibrate --end`: rows after the end are the holdout by design (not fitted, checked
  against the fit), so a later row is not refused: how many there are is written
  (`counts.transactions_after_end`) and printed; a simulated log, whose calendar may run
  ahead of the clock, is calibrated this way;
- `rfm --as-of` or `--compare` after both tomorrow and the log's last purchase: refused;
- an amount above `MAX_AMOUNT` (1e12), infinite or NaN: refused, with the row and count;
- every amount 0: refused (the amount column is likely the wrong one).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.data.calibrate import fit_log
from nbasim.experiments.data.rfm_report import rfm_report
from nbasim.experiments.data.translog import MAX_AMOUNT, DataError, read_log, today_date
from nbasim.sim.params import ParameterError

TODAY = np.datetime64("2026-11-30")
HEAD = "cid,date,amount\n"


@pytest.mark.parametrize(("rows", "match"), [
    ("A,2026-11-29,3\nB,2031-01-05,4\nC,2031-02-01,5\n",
     r"row 2 \(line 3\): date column 'date' has 2031-01-05, which is in the future \(today is "
     r"2026-11-30; 2 such rows\)"),
    ("A,2026-11-29,3\nB,2026-12-02,4\n", r"row 2 \(line 3\): .* 2026-12-02, which is in the "
                                         r"future"),
    ("A,2024-01-02,3\nB,2024-01-03,1e308\n",
     r"row 2 \(line 3\): amount column 'amount' has 1e\+308; amounts must be finite, >= 0 and "
     r"at most 1e\+12 \(1 such rows\)"),
    ("A,2024-01-02,inf\nB,2024-01-03,3\n", r"row 1 \(line 2\): amount column 'amount' has inf"),
    ("A,2024-01-02,-inf\n", r"row 1 \(line 2\): amount column 'amount' has -inf"),
    (f"A,2024-01-02,{MAX_AMOUNT * 10:.0f}\n", r"has 10000000000000\.0; amounts must be finite"),
    ("A,2024-01-02,0\nB,2024-01-03,0.0\nA,2024-02-01,0\n",
     r"amount column 'amount' is 0 in every row; spend is needed \(at least one amount above "
     r"0\)"),
])
def test_bad_data_is_refused_with_the_row(tmp_path, rows, match):
    """Each case raises a DataError naming the row (or column) and what is allowed."""
    path = tmp_path / "log.csv"
    path.write_text(HEAD + rows)
    with pytest.raises(DataError, match=match):
        read_log(path, "cid", "date", "amount", today=TODAY)


def test_today_tomorrow_and_the_largest_amount_are_allowed(tmp_path):
    """The edges pass: a date tomorrow (a time zone ahead), 1e12 and some zero amounts."""
    path = tmp_path / "log.csv"
    path.write_text(HEAD + f"A,2026-11-30,0\nB,2026-12-01,{MAX_AMOUNT:.0f}\nC,2026-01-01,0\n")
    log = read_log(path, "cid", "date", "amount", today=TODAY)
    assert log.amount.tolist() == [0.0, 1e12, 0.0]


def _log_text(dates: np.ndarray) -> str:
    rng = np.random.default_rng(0)
    return HEAD + "".join(f"c{rng.integers(0, 40)},{d},{rng.gamma(2, 10):.2f}\n"
                          for d in dates)


def test_calibrate_holds_out_the_rows_after_end_and_says_how_many(tmp_path):
    """Rows after --end are not fitted; the result counts them."""
    days = np.datetime64("2024-01-02") + np.sort(np.random.default_rng(1).integers(0, 90, 300))
    path = tmp_path / "log.csv"
    path.write_text(_log_text(days))
    log = read_log(path, "cid", "date", "amount", today=TODAY)
    result = fit_log(log, end=np.datetime64("2024-03-01"))
    assert result["counts"]["transactions_after_end"] == int(np.sum(days > np.datetime64(
        "2024-03-01")))
    assert result["counts"]["transactions_after_end"] > 0


def test_rfm_refuses_an_as_of_or_compare_in_the_future(tmp_path):
    """as_of or compare after tomorrow and the last purchase: a ParameterError; no file."""
    path = tmp_path / "log.csv"
    path.write_text(HEAD + "A,2026-01-02,3\nB,2026-02-03,4\n")
    for options in ({"as_of": "2026-12-02"}, {"as_of": "2026-06-01", "compare": "2027-01-01"}):
        name = "compare" if "compare" in options else "as_of"
        with pytest.raises(ParameterError, match=rf"{name} = {options[name]}: in the future "
                                                 r"\(today is 2026-11-30, the log's last "
                                                 r"purchase is on 2026-02-03\); give a date up "
                                                 r"to 2026-12-01"):
            rfm_report(path, "cid", "date", "amount", out=tmp_path / "out", today=TODAY,
                       **options)
    assert not (tmp_path / "out").exists()


def test_rfm_takes_an_as_of_up_to_a_simulated_logs_last_day(tmp_path):
    """A log on a calendar ahead of the clock is scored up to its last purchase."""
    path = tmp_path / "log.csv"
    path.write_text(HEAD + "A,2027-01-02,3\nB,2027-02-03,4\nA,2027-02-01,5\n")
    result, _ = rfm_report(path, "cid", "date", "amount", "2027-02-03", out=tmp_path / "out",
                           today=TODAY)
    assert result.summary["rows_used"] == 3


def _future_log(tmp_path) -> tuple[str, np.datetime64]:
    ahead = today_date() + 365
    days = np.datetime64("2024-01-02") + np.sort(np.random.default_rng(1).integers(0, 90, 300))
    path = tmp_path / "log.csv"
    path.write_text(_log_text(days) + f"c1,{ahead},5\n")
    return str(path), ahead


COLUMNS = ["--customer-col", "cid", "--date-col", "date", "--amount-col", "amount"]


def test_calibrate_without_end_exits_2_on_a_future_row_and_writes_nothing(tmp_path):
    """A row a year ahead and no --end: exit 2 naming the row and --end; no file."""
    path, ahead = _future_log(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["calibrate", path, *COLUMNS, "--out", str(out)])
    message = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"row 301 (line 302): date column 'date' has {ahead}, which is in the future" \
        in message, message
    assert "or give --end, the last day to fit" in message
    assert not out.exists()


def test_calibrate_with_end_holds_a_later_row_out_and_says_so(tmp_path):
    """The same log with --end: the fit runs; the table counts the rows after the end."""
    path, _ = _future_log(tmp_path)
    result = CliRunner().invoke(app, ["calibrate", path, *COLUMNS, "--end", "2024-03-01",
                                      "--out", str(tmp_path / "out")], terminal_width=200)
    assert result.exit_code == 0, result.output
    after = json.loads((tmp_path / "out" / "calibration.json").read_text())["counts"][
        "transactions_after_end"]
    assert after > 1
    assert re.search(rf"after end\s*│\s*{after}\s*│\s*the holdout: not fitted", result.output)


def test_rfm_command_refuses_an_as_of_in_the_future(tmp_path):
    """`nbasim rfm --as-of` a year ahead: exit 2 naming the option; no file."""
    path = tmp_path / "log.csv"
    path.write_text(HEAD + "A,2024-01-02,3\nB,2024-02-03,4\n")
    ahead = today_date() + 365
    result = CliRunner().invoke(app, ["rfm", str(path), *COLUMNS, "--as-of", str(ahead),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"as_of = {ahead}: in the future" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()
