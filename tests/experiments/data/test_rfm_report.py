"""`nbasim rfm` (`experiments.data.rfm_report`): scores, segments, migration, clusters, errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from rich.console import Console
from rich.table import Table

from nbasim.experiments.data import rfm_report
from nbasim.experiments.data.translog import DataError
from nbasim.sim.params import ParameterError

# Five customers; C also buys after the as-of date and A buys twice on 2024-01-30.
LOG = """customer,date,amount
A,2024-01-05,10
A,2024-01-10,10
A,2024-01-20,10
A,2024-01-30,10
A,2024-01-30,5
B,2024-01-01,50
B,2024-01-15,50
B,2024-01-25,50
C,2024-01-28,20
C,2024-02-10,99
D,2024-01-02,5
D,2024-01-03,5
E,2024-01-01,100
"""
COLS = ("customer", "date", "amount")

# Scores are `sim.rfm.balanced_scores`. As of 2024-01-31 there are 5 distinct values or fewer, so
# each value scores at its middle customer's quantile, 1 + floor(5 x (below + (count - 1) / 2) / n),
# kept strictly increasing; untied, that is 1 + the number strictly worse (n = 5):
#   customer  purchase days (A's two rows on 01-30 are one day)  recency  freq  monetary
#   A         01-05 01-10 01-20 01-30                              1        4     45
#   B         01-01 01-15 01-25                                    6        3     150
#   C         01-28 (02-10 is after as_of)                         3        1     20
#   D         01-02 01-03                                          28       2     10
#   E         01-01                                                30       1     100
# R: recency 1 < 3 < 6 < 28 < 30 -> A 5, C 4, B 3, D 2, E 1.
# F: 1, 1, 2, 3, 4 -> C and E 1 + floor(5 x 0.5 / 5) = 1, D 1 + 2 = 3, B 1 + 3 = 4, A 5.
# M: 10 < 20 < 45 < 100 < 150 -> D 1, C 2, A 3, E 4, B 5.
# Segments (R x F map): A (5, 5) champions, B (3, 4) loyal, C (4, 1) promising,
#   D (2, 3) at_risk, E (1, 1) lost.
EXPECTED = {
    "A": (1, 4, 45.0, 5, 5, 3, "champions"),
    "B": (6, 3, 150.0, 3, 4, 5, "loyal"),
    "C": (3, 1, 20.0, 4, 1, 2, "promising"),
    "D": (28, 2, 10.0, 2, 3, 1, "at_risk"),
    "E": (30, 1, 100.0, 1, 1, 4, "lost"),
}
# As of 2024-01-15 (C not yet a customer; n = 4, score = 1 + floor(5 x below / 4)):
#   A: last 01-10, recency 5, freq 2; B: last 01-15, recency 0, freq 2;
#   D: last 01-03, recency 12, freq 2; E: last 01-01, recency 14, freq 1.
# R: recency 0 < 5 < 12 < 14 -> below B 3, A 2, D 1, E 0 -> B 1 + 15 // 4 = 4, A 1 + 10 // 4
#   = 3, D 1 + 5 // 4 = 2, E 1.  F: E 1 (none below); A, B, D: below 1, count 3, middle
#   1 + 1 = 2 -> 1 + floor(5 x 2 / 4) = 3 (min-rank would give them 1 + 5 // 4 = 2).
# Segments: A (3, 3) need_attention, B (4, 3) potential_loyalists, D (2, 3) at_risk,
#   E (1, 1) lost.  Migration to 01-31: need_attention -> champions, potential_loyalists ->
#   loyal, at_risk -> at_risk, lost -> lost; C entered.
EARLY = {"A": "need_attention", "B": "potential_loyalists", "D": "at_risk", "E": "lost"}


@pytest.fixture
def log_csv(tmp_path):
    """The hand-made log as a CSV file in an otherwise empty directory."""
    path = tmp_path / "log.csv"
    path.write_text(LOG)
    return path


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One report with a compare date and k-means, shared by the tests that only read it."""
    tmp = tmp_path_factory.mktemp("rfm")
    (tmp / "log.csv").write_text(LOG)
    return rfm_report.rfm_report(tmp / "log.csv", *COLS, "2024-01-31", compare="2024-01-15", k=2,
                              out=tmp / "out")


def read_csv(path):
    """Rows of a CSV file as dicts keyed by the header."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def segment_sizes(summary):
    """Customers per segment name from a summary's segment table."""
    return {r["segment"]: r["customers"] for r in summary["segments"]}


def test_scores_and_segments_by_hand(full_run):
    """Recency, frequency, monetary, scores and segments match the hand arithmetic above."""
    result, _ = full_run
    c = result.customers
    assert list(c["customer_id"]) == list(EXPECTED)
    for i, (cust, want) in enumerate(EXPECTED.items()):
        got = (c["recency"][i], c["frequency"][i], c["monetary"][i], c["r_score"][i],
               c["f_score"][i], c["m_score"][i], c["segment"][i])
        assert got == want, cust


def test_segment_table(full_run):
    """Sizes, shares and value per segment add up to the base and its revenue."""
    result, _ = full_run
    s = result.summary
    assert s["customers"] == 5 and s["rows_read"] == 13 and s["rows_used"] == 12
    assert s["revenue"] == pytest.approx(45 + 150 + 20 + 10 + 100)
    rows = {r["segment"]: r for r in s["segments"]}
    assert {k: v for k, v in segment_sizes(s).items() if v} == {
        "champions": 1, "loyal": 1, "promising": 1, "at_risk": 1, "lost": 1}
    assert rows["loyal"]["revenue"] == 150 and rows["loyal"]["share"] == pytest.approx(0.2)
    assert rows["loyal"]["revenue_share"] == pytest.approx(150 / 325)
    assert rows["at_risk"]["mean_recency"] == 28 and rows["at_risk"]["mean_frequency"] == 2
    assert rows["new"]["customers"] == 0 and rows["new"]["mean_monetary"] is None
    assert sum(r["share"] for r in s["segments"]) == pytest.approx(1)


def test_csv_export_one_row_per_customer(full_run):
    """customers.csv has one row per customer with its scores, segment, earlier segment, cluster."""
    _, out = full_run
    rows = read_csv(out / "customers.csv")
    assert list(rows[0]) == ["customer_id", "recency", "frequency", "monetary", "r_score",
                             "f_score", "m_score", "segment", "segment_at_compare", "cluster"]
    assert [r["customer_id"] for r in rows] == list(EXPECTED)
    for r in rows:
        rec, freq, mon, rs, fs, ms, seg = EXPECTED[r["customer_id"]]
        assert (int(r["recency"]), int(r["frequency"]), float(r["monetary"])) == (rec, freq, mon)
        assert (int(r["r_score"]), int(r["f_score"]), int(r["m_score"])) == (rs, fs, ms)
        assert r["segment"] == seg
        assert r["segment_at_compare"] == EARLY.get(r["customer_id"], "")
        assert r["cluster"] in ("0", "1")


def test_migration_earlier_compare(full_run):
    """Counts run from the earlier date; they sum to the customers at both; C entered."""
    result, _ = full_run
    mig = result.summary["migration"]
    names = mig["segments"]
    counts = np.asarray(mig["counts"])
    assert (mig["from_date"], mig["to_date"]) == ("2024-01-15", "2024-01-31")
    assert counts.sum() == mig["customers_both"] == 4 and mig["entered"] == 1
    moves = {(names[i], names[j]): int(counts[i, j]) for i, j in zip(*np.nonzero(counts),
                                                                      strict=True)}
    assert moves == {("need_attention", "champions"): 1, ("potential_loyalists", "loyal"): 1,
                     ("at_risk", "at_risk"): 1, ("lost", "lost"): 1}
    assert mig["kept_segment"] == pytest.approx(0.5)  # at_risk and lost kept: 2 of 4
    shares = np.asarray(mig["shares"])
    np.testing.assert_allclose(shares.sum(axis=1), (counts.sum(axis=1) > 0).astype(float))
    assert sum(mig["from_sizes"]) == 4 and sum(mig["to_sizes"]) == 5


def test_migration_later_compare(tmp_path, log_csv):
    """With a later compare date the as-of base is the earlier one: every customer is in both."""
    result, _ = rfm_report.rfm_report(log_csv, *COLS, "2024-01-15", compare="2024-02-15",
                                   out=tmp_path / "out")
    mig = result.summary["migration"]
    assert (mig["from_date"], mig["to_date"]) == ("2024-01-15", "2024-02-15")
    assert np.sum(mig["counts"]) == mig["customers_both"] == result.summary["customers"] == 4
    assert mig["entered"] == 1  # C
    assert result.summary["kmeans"] is None
    assert sorted(p.name for p in (tmp_path / "out" / "plots").iterdir()) == [
        "migration.png", "segments.png"]


def test_kmeans_sizes_sum_to_customers(full_run):
    """Cluster sizes sum to the base; centres are the members' means; 0 spends the most."""
    result, _ = full_run
    km = result.summary["kmeans"]
    sizes = [c["customers"] for c in km["clusters"]]
    assert km["k"] == 2 and sum(sizes) == 5 and min(sizes) > 0
    labels = result.customers["cluster"]
    np.testing.assert_array_equal(np.bincount(labels, minlength=2), sizes)
    for c in km["clusters"]:
        member = labels == c["cluster"]
        assert c["mean_monetary"] == pytest.approx(result.customers["monetary"][member].mean())
    assert km["clusters"][0]["mean_monetary"] >= km["clusters"][1]["mean_monetary"]


def test_files_and_render(full_run):
    """The directory holds the JSON, the CSV and three PNGs; the JSON is the summary."""
    result, out = full_run
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert names == ["customers.csv", "plots", "plots/clusters.png", "plots/migration.png",
                     "plots/segments.png", "segments.json"]
    for png in out.glob("plots/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "segments.json").read_text()) == result.summary
    table = rfm_report.render(result)
    assert isinstance(table, Table) and table.row_count == len(result.summary["segments"]) + 1
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "champions" in text and "4 customers at both dates" in text and "cluster 1" in text


def test_default_out_and_rerun(tmp_path, log_csv, monkeypatch):
    """Default out is results/rfm/<stem>-<as_of>; a rerun replaces the earlier result."""
    monkeypatch.chdir(tmp_path)
    _, out = rfm_report.rfm_report(log_csv, *COLS, "2024-01-31", k=2)
    assert out.as_posix() == "results/rfm/log-2024-01-31"
    assert (out / "plots" / "clusters.png").is_file()
    _, again = rfm_report.rfm_report(log_csv, *COLS, "2024-01-31")
    assert again == out and not (out / "plots" / "clusters.png").exists()
    assert "cluster" not in read_csv(out / "customers.csv")[0]
    assert sorted(p.name for p in (tmp_path / "results" / "rfm").iterdir()) == [out.name]


def test_dates_in_the_log_format_and_parquet(tmp_path):
    """A Parquet log and --date-format dates (also accepted for as-of) give the same scores."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = [line.split(",") for line in LOG.strip().splitlines()[1:]]
    day = [f"{d[8:10]}/{d[5:7]}/{d[:4]}" for _, d, _ in lines]
    pq.write_table(pa.table({"cid": [c for c, _, _ in lines], "day": day,
                             "spend": [float(a) for _, _, a in lines]}), tmp_path / "log.parquet")
    result, _ = rfm_report.rfm_report(tmp_path / "log.parquet", "cid", "day", "spend", "31/01/2024",
                                   date_format="%d/%m/%Y", out=tmp_path / "out")
    assert list(result.customers["segment"]) == [v[-1] for v in EXPECTED.values()]


BAD = [
    ({"as_of": "31.01.2024"}, ParameterError, r"as_of = '31\.01\.2024': not a date; expected "
                                              r"an ISO date such as 2024-03-31"),
    ({"as_of": "2023-12-31"}, ParameterError, r"as_of = 2023-12-31: before every purchase .* "
                                              r"\(the first is on 2024-01-01\)"),
    ({"compare": "yesterday"}, ParameterError, r"compare = 'yesterday': not a date"),
    ({"compare": "2023-06-01"}, ParameterError, r"compare = 2023-06-01: before every purchase"),
    ({"compare": "2024-01-31"}, ParameterError, r"compare = 2024-01-31: the same day as as_of"),
    ({"k": 1}, ParameterError, r"k = 1: allowed a whole number of clusters from 2"),
    ({"k": 6}, ParameterError, r"k = 6: more clusters than customers; allowed 2 to the number "
                               r"of customers \(5\)"),
    # The log is read by `read_log`, whose refusals (missing column, bad date or amount, empty
    # file, no rows) are tested one by one in test_calibrate.py; one of them stands for all.
    ({"date_col": "when"}, DataError, r"no date column 'when'; the columns found are "
                                      r"'customer', 'date', 'amount'"),
    ({"out_is_file": True}, ParameterError, r"out = '.*': is a file"),
    ({"out_foreign": True}, ParameterError, r"holds files that are not an `nbasim rfm` result"),
]


@pytest.mark.parametrize(("change", "error", "match"), BAD,
                         ids=[m.split(":")[0][:40] for _, _, m in BAD])
def test_bad_input_is_named_and_writes_nothing(tmp_path, change, error, match):
    """Each bad input raises its named error and leaves the directory as it was."""
    path = tmp_path / "log.csv"
    path.write_text(change.get("log", LOG))
    out = tmp_path / "out"
    if change.get("out_is_file"):
        out.write_text("not a directory")
    if change.get("out_foreign"):
        out.mkdir()
        (out / "notes.txt").write_text("keep me")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    args = {"customer_col": "customer", "date_col": "date", "amount_col": "amount",
            "as_of": "2024-01-31", "compare": None, "k": None}
    args.update({k: v for k, v in change.items() if k in args})
    with pytest.raises(error, match=match):
        rfm_report.rfm_report(path, out=out, **args)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_k_above_distinct_points(tmp_path):
    """More clusters than distinct (R, F, M) points is refused, naming how many there are."""
    path = tmp_path / "log.csv"
    path.write_text("customer,date,amount\n1,2024-01-01,10\n2,2024-01-01,10\n3,2024-01-02,5\n")
    with pytest.raises(ParameterError, match=r"k = 3: the 3 customers have only 2 distinct "
                                             r"\(recency, frequency, monetary\) points; allowed "
                                             r"2 to 2"):
        rfm_report.rfm_report(path, "customer", "date", "amount", "2024-01-05", k=3,
                           out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
