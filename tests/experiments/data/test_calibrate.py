"""`calibrate`: recovery of known parameters from simulated logs, the calibrated world, bad input.

The source log comes from the simulator itself: a pure BG/NBD world (tests/conftest.py
`PURE_BGNBD`, with newcomers so that ages vary) with the CDNOW parameters and one category of
price level 1, so that every basket is Gamma-Gamma. Its 30,000 customers' complete history
is the log: the day-0 base's first purchase on day -1 and every purchase of the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest

from nbasim.experiments.data.calibrate import (
    calibrate,
    load_calibration,
    scenario_from_calibration,
    simulation_spec,
    table,
)
from nbasim.experiments.data.translog import DataError, read_log
from nbasim.experiments.run.simulate import simulate
from nbasim.sim import calibration as cal
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World
from tests.conftest import PURE_BGNBD

TRUTH = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426,  # per week
         "p": 6.25, "q": 3.74, "v": 15.44}
SOURCE = {**PURE_BGNBD, "acquisition_rate": 0.002,
          "categories": [{"name": "all", "price_level": 1.0}], "sequence_boost": [],
          "spend_scale": 1.0}
START = np.datetime64("2026-01-01")
DAYS, END_DAY = 546, 363  # 18 months; calibration to day 363 (2026-12-30), then 182 days


def simulated_log(n_customers: int, seed: int) -> dict[str, np.ndarray]:
    """The complete purchase history of a pure BG/NBD world, as log columns."""
    world = World(get_scenario("retail_chain", SOURCE), n_customers, DAYS, seed)
    n0 = world.n_present
    cust, day, amount = [np.arange(n0)], [np.full(n0, -1)], [world.pop.monetary[:n0] * 1.0]
    while world.day < world.days:
        out = world.step()
        cust.append(out.transactions.customer)
        day.append(np.full(out.transactions.customer.size, out.day))
        amount.append(out.transactions.amount)
    days = np.concatenate(day)
    return {"cid": np.concatenate(cust).astype(np.int64),
            "date": (START + days).astype("datetime64[D]").astype(str),
            "amount": np.round(np.concatenate(amount), 4)}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A 30,000-customer simulated log as CSV."""
    path = tmp_path_factory.mktemp("log") / "shop.csv"
    pv.write_csv(pa.table(simulated_log(30_000, seed=1)), path)
    return path


@pytest.fixture(scope="module")
def weekly(source, tmp_path_factory) -> tuple[dict, Path]:
    """The source log calibrated in weeks, with a 182-day holdout."""
    return calibrate(source, "cid", "date", "amount", end="2026-12-30", time_unit="week",
                     out=tmp_path_factory.mktemp("out") / "cal")


@pytest.mark.parametrize("model, name", [("bgnbd", n) for n in cal.BGNBD_PARAMS]
                         + [("gamma_gamma", n) for n in cal.GG_PARAMS])
def test_recovers_the_simulators_parameters(weekly, model, name):
    """Each parameter is within 3 standard errors or 15 % of the value the world used.

    Recovered on seed 1 (30,000 customers, 24,868 in the calibration, 12 months): r 0.252
    (truth 0.243), alpha 4.77 (4.414; daily purchases merge, which biases alpha up by a few
    %), a 0.770 (0.793), b 2.34 (2.426), p 6.39 (6.25), q 3.76 (3.74), v 15.1 (15.44).
    """
    fit = weekly[0][model]
    assert fit["converged"], fit["message"]
    error = abs(fit[name] - TRUTH[name])
    assert error < max(3 * fit["se"][name], 0.15 * TRUTH[name]), (name, fit[name], fit["se"])


def test_result_file_holds_counts_period_and_structure(weekly):
    """calibration.json is the returned dict, with the period, counts and age structure."""
    result, out = weekly
    on_disk = json.loads((out / "calibration.json").read_text())
    assert on_disk["bgnbd"]["r"] == pytest.approx(result["bgnbd"]["r"])
    assert on_disk["period"] == {"first_date": "2025-12-31", "last_date": "2027-06-30",
                                 "end": "2026-12-30", "calibration_days": 365,
                                 "holdout_days": 182}
    counts, pop = on_disk["counts"], on_disk["population"]
    assert counts["customers"] == sum(pop["age_counts"]) == pop["customers"]
    assert counts["repeaters"] < counts["customers"] <= counts["customers_in_log"] == 30_000
    assert pop["start_date"] == "2026-12-31" and pop["burn_in_days"] == 365
    # 0.002 newcomers a day per day-0 customer of the source: 0.002 x 14,340 / 24,868 = 0.00115.
    assert pop["acquisition_rate_per_day"] == pytest.approx(0.00115, rel=0.1)
    assert on_disk["source"]["customer_col"] == "cid"
    assert sorted(on_disk["plots"]) == ["plots/conditional_expectation.png",
                                        "plots/tracking_cumulative.png",
                                        "plots/tracking_weekly.png"]
    assert all((out / p).stat().st_size > 10_000 for p in on_disk["plots"])
    assert table(result).row_count > 10


def test_holdout_checks_match_the_model(weekly):
    """Holdout repeat transactions agree with the model's expectation.

    The conditional expectation is within 5 % of the actual total, and within 20 % of the
    actual mean for each calibration frequency with at least 500 customers.
    """
    hold = weekly[0]["holdout"]
    assert hold["holdout_expected_conditional"] == pytest.approx(hold["holdout_actual"],
                                                                 rel=0.05)
    assert hold["holdout_expected"] == pytest.approx(hold["holdout_actual"], rel=0.05)
    c = hold["conditional"]
    for n, act, exp in zip(c["customers"], c["actual_mean"], c["expected_mean"], strict=True):
        if n >= 500:
            assert exp == pytest.approx(act, rel=0.2)
    tr = hold["tracking"]
    assert tr["actual_cumulative"] == sorted(tr["actual_cumulative"])
    assert tr["week_end"][sum(tr["in_calibration"]) - 1] == "2026-12-30"


def test_day_and_week_units_give_one_model(source, weekly, tmp_path):
    """A fit in days is the fit in weeks: same r, a and b; alpha per day is 7 x alpha per week."""
    daily, _ = calibrate(source, "cid", "date", "amount", end="2026-12-30", time_unit="day",
                         out=tmp_path / "day")
    week = weekly[0]["bgnbd"]
    for name in ("r", "a", "b"):
        assert daily["bgnbd"][name] == pytest.approx(week[name], rel=2e-3)
    assert daily["bgnbd"]["alpha"] / 7 == pytest.approx(week["alpha"], rel=2e-3)
    assert daily["bgnbd"]["alpha_per_week"] == pytest.approx(week["alpha"], rel=2e-3)
    # Days scale t_x, T and alpha by 7: each customer's likelihood gains 7^-x (a density of x
    # purchase times), so loglik(day) = loglik(week) - log 7 x (sum of x).
    repeats = daily["counts"]["purchase_days_calibration"] - daily["counts"]["customers"]
    assert daily["bgnbd"]["loglik"] == pytest.approx(week["loglik"] - np.log(7) * repeats,
                                                     rel=1e-6)


def _base_at_day0(world: World) -> dict[str, np.ndarray]:
    pop, n0 = world.pop, world.n_present
    join = pop.join_day[:n0].astype(np.int64)
    last = pop.last_purchase_day[:n0].astype(np.int64)
    return {"x": pop.frequency[:n0].astype(np.float64) - 1, "t_x": (last - join) / 7.0,
            "T": (-1 - join) / 7.0, "recency": -1 - last}


def test_calibrated_world_looks_like_the_log(weekly):
    """The base a calibration rebuilds at day 0 looks like the log at the end of calibration.

    Same size; one-time buyers within 2 points; mean repeat purchases within 5 %; recency
    deciles within 7 days or 5 %; mean age within 2 %.
    """
    result = weekly[0]
    overrides, customers = scenario_from_calibration(result, "retail_chain", days=30)
    world = World(get_scenario("retail_chain", overrides), customers, 30, seed=5)
    base, seen = _base_at_day0(world), result["observed"]
    assert world.n_present == result["counts"]["customers"]
    assert np.mean(base["x"] == 0) == pytest.approx(seen["one_time_share"], abs=0.02)
    assert base["x"].mean() == pytest.approx(seen["mean_repeat_transactions"], rel=0.05)
    for q, value in seen["recency_days_quantiles"].items():
        assert abs(np.quantile(base["recency"], float(q)) - value) <= max(7, 0.05 * value), q
    assert (base["T"].mean() * 7) == pytest.approx(seen["mean_age_days"], rel=0.02)


def test_simulate_then_calibrate_round_trips(weekly):
    """Calibration -> world -> BG/NBD refitted on the world's day-0 base gives it back.

    Each parameter within 3 combined standard errors (sqrt 2 x 3 se) or 15 % of the calibration.
    """
    result = weekly[0]
    overrides, customers = scenario_from_calibration(result, "dry_cleaning_chain", days=1)
    world = World(get_scenario("dry_cleaning_chain", overrides), customers, 1, seed=9)
    base = _base_at_day0(world)
    refit = cal.fit_bgnbd(base["x"], base["t_x"], base["T"])
    fit = result["bgnbd"]
    for name in cal.BGNBD_PARAMS:
        tol = max(3 * np.sqrt(2) * fit["se"][name], 0.15 * fit[name])
        assert abs(refit.params[name] - fit[name]) < tol, (name, refit.params, fit[name])


def test_simulation_spec_runs_from_the_calibration_file(weekly):
    """`simulation_spec` reads calibration.json and runs.

    Day 0 is the day after `end`, the base has the log's size, user overrides win.
    """
    spec = simulation_spec(weekly[1] / "calibration.json", "retail_chain", days=7, seed=3,
                           overrides={"churn_base": 0.001})
    result = simulate(spec)
    assert str(result.world.params.start_date) == "2026-12-31"
    assert result.series.segment_start.size == weekly[0]["counts"]["customers"]
    assert result.world.params.churn_base == 0.001
    assert result.world.params.bgnbd_alpha == pytest.approx(weekly[0]["bgnbd"]["alpha"])


def test_scenario_units_convert_a_daily_calibration(weekly):
    """A daily calibration's alpha is divided by 7 for the scenario (per week)."""
    daily = json.loads(json.dumps(weekly[0]))
    daily["time_unit"], daily["bgnbd"]["alpha"] = "day", weekly[0]["bgnbd"]["alpha"] * 7
    overrides, _ = scenario_from_calibration(daily)
    assert overrides["bgnbd_alpha"] == pytest.approx(weekly[0]["bgnbd"]["alpha"])


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("bgnbd"), "no 'bgnbd' entry"),
    (lambda d: d["gamma_gamma"].update(q=0.9), r"Gamma-Gamma q = 0.9: the world needs q > 1"),
    (lambda d: d.update(time_unit="month"), "time_unit 'month': allowed are day, week"),
])
def test_scenario_from_calibration_rejects_bad_files(weekly, edit, match):
    """A dict that is not a usable calibration is named."""
    data = json.loads(json.dumps(weekly[0]))
    edit(data)
    with pytest.raises(DataError, match=match):
        scenario_from_calibration(data)


def test_missing_calibration_file_is_named(tmp_path):
    """A path with no calibration.json."""
    with pytest.raises(DataError, match="no such file"):
        load_calibration(tmp_path / "nope.json")


# ------------------------------------------------------------------------------ bad input
GOOD = "cid,date,amount\nA,2024-01-02,3.5\nB,2024-01-03,4\nA,2024-02-01,2\n"


@pytest.mark.parametrize("text, kwargs, match", [
    (GOOD, {"customer_col": "customer"},
     r"no customer column 'customer'; the columns found are 'cid', 'date', 'amount'"),
    (GOOD, {"amount_col": "spend"}, r"no amount column 'spend'; the columns found are"),
    ("cid,date,amount\nA,2024-01-02,3\nB,2024-02-30,4\n", {},
     r"row 2 \(line 3\): date column 'date' has '2024-02-30', which is not a date"),
    (GOOD, {"date_format": "%d/%m/%Y"},
     r"row 1 \(line 2\): date column 'date' has '2024-01-02'.*format is '%d/%m/%Y'"),
    ("cid,date,amount\nA,2024-01-02,3\nB,2024-01-03,-4\n", {},
     r"row 2 \(line 3\): amount column 'amount' has -4.0; amounts must be finite, >= 0 "
     r"and at most 1e\+12"),
    ("cid,date,amount\nA,2024-01-02,NaN\n", {}, r"row 1 \(line 2\).* is empty or NaN"),
    ("cid,date,amount\nA,2024-01-02,\n", {}, r"row 1 \(line 2\).* is empty or NaN"),
    ("cid,date,amount\nA,2024-01-02,12,5\n", {}, r"not a readable CSV file"),
    ("cid,date,amount\nA,2024-01-02,1\nB,2024-01-03,1x\n", {},
     r"row 2 \(line 3\): amount column 'amount' has '1x', which is not a number"),
    ("cid,date,amount\n,2024-01-02,3\n", {}, r"row 1 \(line 2\): customer column 'cid' is empty"),
    ("cid,date,amount\n", {}, r"no rows \(the file has a header but no transactions\)"),
    ("", {}, r"the file is empty"),
    ("cid;date;amount\nA;2024-01-02;3\n", {},
     r"no customer column 'cid'; the columns found are 'cid;date;amount'"),
    (GOOD, {"sep": ";;"}, r"separator must be one character"),
])
def test_read_log_names_what_is_wrong(tmp_path, text, kwargs, match):
    """Each bad file gets a DataError naming the file, column or row and what is allowed."""
    path = tmp_path / "log.csv"
    path.write_text(text)
    args = {"customer_col": "cid", "date_col": "date", "amount_col": "amount", **kwargs}
    with pytest.raises(DataError, match=match):
        read_log(path, **args)


def test_read_log_reads_csv_and_parquet_alike(tmp_path):
    """Ids are strings (Parquet integers too); a time of day is dropped; Parquet dates too."""
    csv = tmp_path / "log.csv"
    csv.write_text("cid;when;amt\nA;2024-01-02T10:30:00;3.5\nB;2024-01-03;4\n")
    log = read_log(csv, "cid", "when", "amt", sep=";")
    assert log.customer.tolist() == ["A", "B"] and log.customer.dtype == object
    assert log.day.tolist() == np.array(["2024-01-02", "2024-01-03"], "datetime64[D]").tolist()
    assert log.amount.tolist() == [3.5, 4.0]
    parquet = tmp_path / "log.parquet"
    pq.write_table(pa.table({"cid": [7, 8], "when": np.array(["2024-01-02", "2024-01-03"],
                                                              "datetime64[D]"),
                             "amt": [3.5, 4.0]}), parquet)
    plog = read_log(parquet, "cid", "when", "amt")
    assert plog.customer.tolist() == ["7", "8"] and plog.day.tolist() == log.day.tolist()
    eu = tmp_path / "eu.csv"
    eu.write_text("cid,d,a\n1,02/01/2024,3\n")
    assert str(read_log(eu, "cid", "d", "a", date_format="%d/%m/%Y").day[0]) == "2024-01-02"


@pytest.mark.parametrize("kwargs, match", [
    ({"end": "2023-12-31"}, r"end = 2023-12-31: must fall within the log's period 2024-01-02 "
                            r"to 2024-03-05"),
    ({"end": "yesterday"}, r"end = 'yesterday': not a date"),
    ({"time_unit": "month"}, r"time unit 'month': allowed are day, week"),
    ({"customer_col": "id"}, r"no customer column 'id'"),
    ({"path": "missing.csv"}, r"missing.csv: no such file"),
    ({"rows": 2}, r"BG/NBD needs at least 10 customers and 3 repeat buyers"),
])
def test_calibrate_writes_nothing_on_bad_input(tmp_path, kwargs, match):
    """Every refusal is a DataError naming the value, and leaves no results directory."""
    rng = np.random.default_rng(0)
    rows = kwargs.pop("rows", 200)
    ids = rng.integers(0, 40, rows)
    days = np.datetime64("2024-01-02") + np.sort(rng.integers(0, 64, rows))
    days[0], days[-1] = np.datetime64("2024-01-02"), np.datetime64("2024-03-05")
    path = tmp_path / "log.csv"
    pv.write_csv(pa.table({"cid": ids, "date": days.astype(str),
                           "amount": rng.gamma(2, 10, rows)}), path)
    args = {"path": path, "customer_col": "cid", "date_col": "date", "amount_col": "amount",
            "out": tmp_path / "out", **kwargs}
    if args["path"] == "missing.csv":
        args["path"] = tmp_path / "missing.csv"
    with pytest.raises(DataError, match=match):
        calibrate(**args)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]


def test_calibrate_refuses_an_out_that_is_a_file(tmp_path):
    """`out` naming a file is refused before reading anything."""
    (tmp_path / "taken").write_text("x")
    with pytest.raises(DataError, match="is a file; give a directory"):
        calibrate(tmp_path / "log.csv", "cid", "date", "amount", out=tmp_path / "taken")
