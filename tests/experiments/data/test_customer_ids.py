"""Customer ids are strings: every output writes them exactly as the input had them.

Before, `nbasim rfm` on ids 00001, 00002, ... wrote 1, 2, ... to customers.csv (a CRM could not
load the list back), `calibrate` took 1 and 001 for one customer, and `nbasim ope` read a CSV
log's policy 007 as 7, so `--logging-policy 007` matched nothing.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.data.calibrate import calibrate
from nbasim.experiments.data.translog import read_log
from nbasim.experiments.ope.command import ope_command

IDS = ["00001", "00002", "0003", "3", "A-7", "1e5", "007.0"]
NUMERIC = ["00001", "00002", "00010", "00100", "01000"]  # what a CRM exports


def _log(path, ids: list[str], rows_each: int = 3) -> None:
    lines = ["id,date,amount"] + [f"{c},2024-0{1 + d}-1{d},{10 + i + d}"
                                  for i, c in enumerate(ids) for d in range(rows_each)]
    path.write_text("\n".join(lines) + "\n")


def test_read_log_keeps_ids_as_written(tmp_path):
    """CSV ids stay text; a Parquet integer id column reads as its decimal digits."""
    _log(tmp_path / "log.csv", IDS, rows_each=1)
    assert read_log(tmp_path / "log.csv", "id", "date", "amount").customer.tolist() == IDS
    pq.write_table(pa.table({"id": [7, 10], "date": ["2024-01-01", "2024-01-02"],
                             "amount": [1.0, 2.0]}), tmp_path / "log.parquet")
    assert read_log(tmp_path / "log.parquet", "id", "date", "amount").customer.tolist() == [
        "7", "10"]


def test_rfm_writes_the_ids_as_read(tmp_path):
    """customers.csv lists 00001, not 1: the same set of strings as the log."""
    _log(tmp_path / "log.csv", NUMERIC)
    out = tmp_path / "rfm"
    result = CliRunner().invoke(app, ["rfm", str(tmp_path / "log.csv"), "--customer-col", "id",
                                      "--date-col", "date", "--amount-col", "amount",
                                      "--as-of", "2024-06-30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = pv.read_csv(out / "customers.csv", convert_options=pv.ConvertOptions(
        column_types={"customer_id": pa.string()})).column("customer_id").to_pylist()
    assert sorted(written) == NUMERIC


def test_calibrate_counts_ids_that_differ_only_in_leading_zeros_apart(tmp_path):
    """"3" and "0003" are two customers."""
    rng = np.random.default_rng(0)
    ids = [f"{i:04d}" for i in range(30)] + [str(i) for i in range(30)]
    lines = ["id,date,amount"] + [f"{c},2024-01-{1 + d:02d},{rng.gamma(2, 10):.2f}"
                                  for c in ids for d in sorted(rng.choice(28, 3, False))]
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    result, _ = calibrate(tmp_path / "log.csv", "id", "date", "amount", out=tmp_path / "cal")
    assert result["counts"]["customers_in_log"] == 60


def test_ope_reads_a_csv_logs_policy_names_as_written(tmp_path):
    """--logging-policy 007 keeps the rows of policy "007" (not 7) of a CSV log."""
    rng = np.random.default_rng(0)
    n = 200
    policy = np.where(np.arange(n) % 2 == 0, "007", "010")
    pv.write_csv(pa.table({"scenario": ["base"] * n, "policy": policy, "seed": [0] * n,
                           "day": np.arange(n) // 20, "customer": [f"{i:05d}" for i in range(n)],
                           "action": rng.integers(0, 3, n), "pscore": np.full(n, 1 / 3),
                           "reward": rng.normal(size=n), "x_a": rng.random(n)}),
                 tmp_path / "log.csv")
    result, out = ope_command(tmp_path / "log.csv", target="uniform", n_bootstrap=0,
                              out=tmp_path / "o", logging_policy="007")
    assert result["diagnostics"]["n_rounds"] == 100
    assert json.loads((out / "ope.json").read_text())["diagnostics"]["n_rounds"] == 100
