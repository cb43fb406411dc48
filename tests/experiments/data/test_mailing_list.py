"""`nbasim rfm --list SEGMENT [--min-monetary X] [--min-frequency N]`: list.csv.

list.csv must be exactly customers.csv filtered: the rows in the segments asked whose monetary
and frequency reach the minimums, in the same order, with the same text (ids such as 00001
stay 00001), and each row's action the one segments.json gives its segment.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.data import rfm_report

SEGMENTS = ["champions", "at_risk", "need_attention"]


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory):
    """300 customers with ids 00000 to 00299, 1 to 6 purchases each in the first half of 2024."""
    rng = np.random.default_rng(7)
    rows = ["id,date,amount"]
    for i in range(300):
        days = rng.choice(180, size=int(rng.integers(1, 7)), replace=False)
        rows += [f"{i:05d},{np.datetime64('2024-01-01') + int(d)},{rng.gamma(2, 30):.2f}"
                 for d in days]
    path = tmp_path_factory.mktemp("log") / "log.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def read_csv(path):
    """Rows of a CSV file as dicts of the text written."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(("min_monetary", "min_frequency"),
                         [(None, None), (100.0, None), (None, 3), (75.5, 2)])
def test_list_is_customers_csv_filtered(log_csv, tmp_path, min_monetary, min_frequency):
    """Same rows, order and text as customers.csv under the filter, plus each segment's action."""
    _, out = rfm_report.rfm_report(log_csv, "id", "date", "amount", "2024-06-30",
                                   out=tmp_path / "out", lists=[*SEGMENTS, "at_risk"],
                                   min_monetary=min_monetary, min_frequency=min_frequency)
    customers = read_csv(out / "customers.csv")
    listed = read_csv(out / "list.csv")
    summary = json.loads((out / "segments.json").read_text())
    action = {r["segment"]: r["action"] for r in summary["segments"]}
    want = [c for c in customers if c["segment"] in SEGMENTS
            and (min_monetary is None or float(c["monetary"]) >= min_monetary)
            and (min_frequency is None or int(c["frequency"]) >= min_frequency)]
    assert 0 < len(listed) == len(want) == summary["list"]["customers"]
    assert list(listed[0]) == ["customer_id", "segment", "recency", "frequency", "monetary",
                               "r_score", "f_score", "m_score", "action"]
    for got, c in zip(listed, want, strict=True):
        assert {k: v for k, v in got.items() if k != "action"} == {k: c[k] for k in got
                                                                    if k != "action"}
        assert got["action"] == action[c["segment"]]
    assert all(len(r["customer_id"]) == 5 for r in listed)  # 00042, not 42
    assert summary["list"]["segments"] == SEGMENTS  # asked twice, listed once
    assert (summary["list"]["min_monetary"], summary["list"]["min_frequency"]) == (
        min_monetary, min_frequency)


def test_a_list_nobody_passes_is_a_header(log_csv, tmp_path):
    """A filter above everyone's spend writes list.csv with its header and no rows."""
    result, out = rfm_report.rfm_report(log_csv, "id", "date", "amount", "2024-06-30",
                                        out=tmp_path / "out", lists=["champions"],
                                        min_monetary=1e9)
    assert (out / "list.csv").read_text().strip().split(",")[0] == '"customer_id"'
    assert read_csv(out / "list.csv") == [] and result.summary["list"]["customers"] == 0


def test_no_list_without_list_option(log_csv, tmp_path):
    """Without --list there is no list.csv and segments.json's list is null."""
    result, out = rfm_report.rfm_report(log_csv, "id", "date", "amount", "2024-06-30",
                                        out=tmp_path / "out")
    assert not (out / "list.csv").exists() and result.summary["list"] is None


def test_list_from_the_command_line(log_csv, tmp_path):
    """--list is repeatable; the output names list.csv and how many customers it holds."""
    result = CliRunner().invoke(app, [
        "rfm", str(log_csv), "--customer-col", "id", "--date-col", "date", "--amount-col",
        "amount", "--as-of", "2024-06-30", "--out", str(tmp_path / "out"), "--list",
        "champions", "--list", "loyal", "--min-frequency", "2"], terminal_width=200)
    assert result.exit_code == 0, result.output
    listed = read_csv(tmp_path / "out" / "list.csv")
    assert {r["segment"] for r in listed} <= {"champions", "loyal"} and listed
    assert all(int(r["frequency"]) >= 2 for r in listed)
    assert f"list.csv: {len(listed):,} customers in champions, loyal with frequency >= 2" in \
        " ".join(result.output.split())
