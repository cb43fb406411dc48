"""`nbasim simulate` and `nbasim scenarios` as a user runs them."""

from __future__ import annotations

import json
import re
import tomllib

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.store import atomic

runner = CliRunner()
SMALL = ["--scenario", "retail_chain", "--customers", "3000", "--days", "20"]


def run(*args: str):
    """Invoke the CLI in-process and return the result."""
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One small simulation with transactions, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("sim") / "run"
    result = run("simulate", *SMALL, "--seed", "5", "--transactions", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_simulate_writes_every_file(small_run):
    """A run writes config, summary, daily series, migration, transactions and two plots."""
    names = sorted(p.relative_to(small_run).as_posix() for p in small_run.rglob("*"))
    assert names == ["config.toml", "daily.parquet", "migration.parquet", "plots",
                     "plots/daily.png", "plots/migration.png", "summary.json",
                     "transactions.parquet"]
    for png in small_run.glob("plots/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_files_agree(small_run):
    """Daily revenue equals the transactions' sum; the summary agrees with the series."""
    daily = pq.read_table(small_run / "daily.parquet").to_pydict()
    tx = pq.read_table(small_run / "transactions.parquet").to_pydict()
    summary = json.loads((small_run / "summary.json").read_text())
    assert len(daily["day"]) == 20
    assert np.isclose(sum(tx["amount"]), sum(daily["revenue"]), rtol=1e-9)
    assert summary["purchases"] == len(tx["amount"]) == sum(daily["purchases"])
    assert summary["customers_at_end"] == 3000
    assert sum(daily["carts_abandoned"]) > 0  # retail_chain has an online shop
    per_day = np.bincount(tx["day"], weights=tx["amount"], minlength=20)
    np.testing.assert_allclose(per_day, daily["revenue"], rtol=1e-9)
    config = tomllib.loads((small_run / "config.toml").read_text())
    assert config["simulate"]["seed"] == 5
    assert config["scenario"]["name"] == "retail_chain"
    assert "numpy" in config["versions"]


def test_migration_rows_sum_to_one(small_run):
    """Each segment's row of the written migration matrix sums to 1 or has no customers."""
    t = pq.read_table(small_run / "migration.parquet").to_pydict()
    share = np.asarray(t["share"]).reshape(10, 10)
    count = np.asarray(t["customers"]).reshape(10, 10)
    members = count.sum(axis=1) > 0
    np.testing.assert_allclose(share[members].sum(axis=1), 1.0)
    assert (share[~members] == 0).all()


def _no_plots(monkeypatch) -> None:
    """Skip drawing the plots (most of a small run's time) in a test that never reads them."""
    monkeypatch.setattr("nbasim.experiments.run.world_plots.plot_world", lambda stage: None)


def test_same_seed_same_files_other_seed_differs(tmp_path, monkeypatch):
    """Two runs on one seed write identical Parquet; another seed writes different data."""
    _no_plots(monkeypatch)
    tables = {}
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert run("simulate", *SMALL, "--seed", seed, "--out", str(tmp_path / name)
                   ).exit_code == 0
        tables[name] = pq.read_table(tmp_path / name / "daily.parquet")
    assert tables["a"].equals(tables["b"])
    assert not tables["a"].equals(tables["c"])


@pytest.mark.parametrize(("args", "match"), [
    (["--customers", "-5"], "customers = -5"),
    (["--customers", "0"], "customers = 0"),
    (["--days", "0"], "days = 0"),
    (["--scenario", "no_such_world"], "no_such_world.*allowed: dry_cleaning_chain"),
    (["--shock", "no_such_shock"], "unknown shock 'no_such_shock'"),
    (["--shock", "recession:spend_drop=2"], "spend_drop.*= 2.*allowed: float, >= 0, < 1"),
    (["--shock", "recession:oops"], "expected key=value"),
    (["--set", "churn_base=abc"], "churn_base.*'abc'.*allowed"),
    (["--set", "no_field=1"], "'no_field' is not a field"),
    (["--set", "at_risk_days=500"], "at_risk_days < lapsed_days"),
    (["--set", "justtext"], "expected KEY=VALUE"),
    (["--seed", "-1"], "seed = -1: must be an integer >= 0"),
    (["--set", "spend_scale=NaN"], "spend_scale.*finite"),
    (["--shock", "competitor_campaign"], "start_day = 60: must fall within the run's 5 days"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, match):
    """Bad input: exit code 2, a message naming the field and value, no output directory."""
    out = tmp_path / "out"
    base = ["simulate", "--customers", "500", "--days", "5"]
    result = runner.invoke(app, [*base, *args, "--out", str(out)])
    assert result.exit_code == 2
    assert re.search(match, " ".join(result.output.split()))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_scenarios_lists_scenarios_and_shocks():
    """`nbasim scenarios` names every scenario and shock; with a name it shows parameters."""
    listing = run("scenarios")
    assert listing.exit_code == 0
    for name in ("dry_cleaning_chain", "retail_chain", "subscription", "recession",
                 "competitor_campaign", "holiday_season", "preference_drift"):
        assert name in listing.output
    one = run("scenarios", "subscription")
    assert one.exit_code == 0 and "renewal_days" in one.output
    assert run("scenarios", "nope").exit_code == 2


def test_staged_dir_leaves_nothing_on_error(tmp_path):
    """An error while writing leaves neither the target nor a staging directory."""
    target = tmp_path / "run"
    with pytest.raises(RuntimeError), atomic.staged_dir(target) as stage:
        (stage / "half.parquet").write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_staged_dir_replaces_an_earlier_result_whole(tmp_path):
    """A rerun replaces the earlier directory only once the new one is complete."""
    target = tmp_path / "run"
    with atomic.staged_dir(target) as stage:
        (stage / "old.txt").write_text("old")
    with atomic.staged_dir(target) as stage:
        assert (target / "old.txt").exists()  # the old result stays until the new is done
        (stage / "new.txt").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [p.name for p in target.iterdir()] == ["new.txt"]


def test_out_never_replaces_foreign_files(tmp_path):
    """--out refuses a file, and a directory holding files that are not an nbasim run."""
    (tmp_path / "thesis.txt").write_text("precious")
    result = run("simulate", "--customers", "500", "--days", "5", "--out", str(tmp_path))
    assert result.exit_code == 2 and "not an earlier `nbasim simulate` run" in " ".join(
        result.output.split())
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.txt"]
    # An experiment run (it has a summary.json too, and its cells) is never replaced.
    exp = tmp_path / "exp"
    (exp / "cells").mkdir(parents=True)
    (exp / "summary.json").write_text("{}")
    result = run("simulate", "--customers", "500", "--days", "5", "--out", str(exp))
    assert result.exit_code == 2 and (exp / "cells").is_dir()
    result = run("simulate", "--customers", "500", "--days", "5", "--out",
                 str(tmp_path / "thesis.txt"))
    assert result.exit_code == 2 and "is a file" in result.output
    assert (tmp_path / "thesis.txt").read_text() == "precious"


def test_rerun_replaces_an_earlier_run(tmp_path, monkeypatch):
    """Running into a directory that holds an earlier run replaces it whole."""
    _no_plots(monkeypatch)
    out = tmp_path / "run"
    assert run("simulate", "--customers", "500", "--days", "5", "--out", str(out)).exit_code == 0
    assert run("simulate", "--customers", "600", "--days", "5", "--out", str(out)).exit_code == 0
    assert json.loads((out / "summary.json").read_text())["customers"] == 600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_run_id_tells_overrides_apart():
    """Runs that differ only in overrides or shock parameters get different directories."""
    from nbasim.experiments.run.simulate import SimulationSpec

    ids = {SimulationSpec("retail_chain", 10, 5, 1, shocks, overrides).run_id()
           for shocks, overrides in (((), {}), ((), {"churn_base": 0.001}),
                                     ((), {"churn_base": 0.01}), (("recession",), {}),
                                     (("recession:spend_drop=0.3",), {}))}
    assert len(ids) == 5
