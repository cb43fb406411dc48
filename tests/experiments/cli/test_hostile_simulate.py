"""Hostile inputs to `nbasim simulate` and `nbasim scenarios`.

Unknown scenarios and shocks, sizes and days out of range, overrides that are not fields or
not allowed, calibration files that are not one, and output paths that cannot hold the
results. Each case exits 2 naming the problem, prints no traceback and writes nothing
(`refused` in conftest.py); none of them builds a world.
"""

from __future__ import annotations

import json

import pytest
from hostile import write

SMALL = ["--scenario", "retail_chain", "--customers", "300", "--days", "4"]

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
    (home / "other").mkdir()
    write(home, "other/notes.txt", "mine\n")
    out = [] if "--out" in options else ["--out", "{home}/out"]
    refused(["simulate", *SMALL, *options, *out], match)


@pytest.mark.parametrize("name", ["moon_base", "", "../retail_chain"])
def test_scenarios_refuses_an_unknown_name(name, refused):
    """`nbasim scenarios NAME` with a name that is not a scenario."""
    refused(["scenarios", name], r"scenario")
