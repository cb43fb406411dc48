"""Hostile inputs to `nbasim simulate` and `nbasim scenarios`.

Unknown scenarios and shocks, sizes and days out of range, overrides that are not fields or
not allowed, calibration files that are not one, and output paths that cannot hold the
results. Each case exits 2 naming the problem, prints no traceback and writes nothing
(`refused` in conftest.py); none of them builds a world.
"""

from __future__ import annotations

import json

import pytest
from hostile import calibration, write

SMALL = ["--scenario", "retail_chain", "--customers", "300", "--days", "4"]

CALIBRATIONS = [("cal_a_text.json", ("bgnbd", "a"), "x"),
                ("cal_pop_5.json", ("population",), 5),
                ("cal_gg_empty.json", ("gamma_gamma",), {}),
                ("cal_r_negative.json", ("bgnbd", "r"), -1.0),
                ("cal_r_nan.json", ("bgnbd", "r"), float("nan")),
                ("cal_q_half.json", ("gamma_gamma", "q"), 0.5),
                ("cal_month.json", ("time_unit",), "month")]
"""Calibration files with one entry damaged: (file name, the entry's keys, its value)."""

SIMULATE = [
    ("scenario-unknown", ["--scenario", "moon_base"], r"moon_base"),
    ("scenario-empty", ["--scenario", ""], r"scenario"),
    ("customers-zero", ["--customers", "0"], r"customers"),
    ("customers-negative", ["--customers", "-5"], r"customers"),
    ("customers-huge", ["--customers", "1000000000000"], r"customers"),
    ("customers-text", ["--customers", "many"], r"--customers"),
    ("days-zero", ["--days", "0"], r"days"),
    ("days-negative", ["--days", "-3"], r"days"),
    ("days-text", ["--days", "four"], r"--days"),
    ("seed-negative", ["--seed", "-1"], r"seed"),
    ("seed-text", ["--seed", "lucky"], r"--seed"),
    ("shock-unknown", ["--shock", "meteor"], r"meteor"),
    ("shock-unknown-parameter", ["--shock", "recession:strength=2"], r"strength"),
    ("shock-parameter-text", ["--shock", "recession:start_day=soon"], r"start_day"),
    ("shock-after-the-last-day", ["--shock", "recession:start_day=50"], r"start_day"),
    ("shock-without-value", ["--shock", "recession:start_day"], r"start_day"),
    ("set-without-equals", ["--set", "churn_base"], r"--set 'churn_base'"),
    ("set-empty-key", ["--set", "=1"], r"--set '=1'"),
    ("set-unknown-field", ["--set", "churn_bass=0.1"], r"churn_bass"),
    ("set-negative", ["--set", "churn_base=-1"], r"churn_base"),
    ("set-nan", ["--set", "churn_base=NaN"], r"churn_base"),
    ("set-inf", ["--set", "churn_base=Infinity"], r"churn_base"),
    ("set-wrong-type", ["--set", "churn_base=\"high\""], r"churn_base"),
    ("set-weekly-too-short", ["--set", "weekly=[1,1]"], r"weekly"),
    ("calibration-missing", ["--calibration", "{home}/no_such.json"], r"no_such\.json"),
    ("calibration-a-folder", ["--calibration", "{home}/a_folder"], r"a_folder"),
    ("calibration-not-json", ["--calibration", "{home}/log.csv"], r"log\.csv"),
    ("calibration-not-utf8", ["--calibration", "{home}/latin1.txt"], r"latin1\.txt"),
    ("calibration-empty", ["--calibration", "{home}/empty.txt"], r"empty\.txt"),
    ("calibration-without-bgnbd", ["--calibration", "{home}/partial.json"], r"bgnbd"),
    ("calibration-a-json-list", ["--calibration", "{home}/list.json"], r"list\.json"),
    ("calibration-bgnbd-a-text", ["--calibration", "{home}/cal_a_text.json"],
     r"cal_a_text\.json: a malformed calibration \(could not convert string to float"),
    ("calibration-population-a-number", ["--calibration", "{home}/cal_pop_5.json"],
     r"cal_pop_5\.json: a malformed calibration"),
    ("calibration-gamma-gamma-empty", ["--calibration", "{home}/cal_gg_empty.json"],
     r"cal_gg_empty\.json: a malformed calibration \(no entry 'q'\)"),
    ("calibration-bgnbd-r-negative", ["--calibration", "{home}/cal_r_negative.json"],
     r"'bgnbd_r' = -1\.0"),
    ("calibration-bgnbd-r-nan", ["--calibration", "{home}/cal_r_nan.json"], r"'bgnbd_r' = nan"),
    ("calibration-gamma-gamma-q-below-1", ["--calibration", "{home}/cal_q_half.json"],
     r"Gamma-Gamma q = 0\.5: the world needs q > 1"),
    ("calibration-time-unit-month", ["--calibration", "{home}/cal_month.json"],
     r"calibration time_unit 'month'"),
    ("out-a-file", ["--out", "{home}/a_file"], r"a_file'?: is a file"),
    ("out-under-a-file", ["--out", "{home}/a_file/sim"], r"a_file' is a file, not a directory"),
    ("out-a-folder-of-other-things", ["--out", "{home}/other"], r"holds files that are not"),
]


@pytest.mark.parametrize(("options", "match"), [c[1:] for c in SIMULATE],
                         ids=[c[0] for c in SIMULATE])
def test_simulate_refuses_a_bad_option(options, match, home, refused):
    """A bad scenario, size, day count, seed, shock, override, calibration or --out."""
    write(home, "partial.json", json.dumps({"time_unit": "week"}))
    write(home, "list.json", "[1, 2, 3]")
    for name, keys, value in CALIBRATIONS:
        write(home, name, calibration(*keys, value=value))
    (home / "other").mkdir()
    write(home, "other/notes.txt", "mine\n")
    out = [] if "--out" in options else ["--out", "{home}/out"]
    refused(["simulate", *SMALL, *options, *out], match)


@pytest.mark.parametrize("name", ["moon_base", "", "../retail_chain"])
def test_scenarios_refuses_an_unknown_name(name, refused):
    """`nbasim scenarios NAME` with a name that is not a scenario."""
    refused(["scenarios", name], r"scenario")
