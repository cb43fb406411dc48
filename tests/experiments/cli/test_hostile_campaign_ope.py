"""Hostile inputs to `nbasim calibrate-campaign` and `nbasim ope`.

A past test's file, columns and values, arm mappings and the world to fit; a decision log's
columns, propensities, rewards and actions, the target policy and the estimator options. Each
case exits 2 naming the problem, prints no traceback and writes nothing (`refused` in
conftest.py). The good inputs are conftest's CAMPAIGN (60 customers per arm) and DECISIONS
(90 rows, 3 actions).
"""

from __future__ import annotations

import pytest
from hostile import CAMPAIGN, DECISIONS, write

CAMPAIGN_COLS = ["--arm-col", "arm", "--control", "control", "--outcome-col", "bought",
                 "--customers", "1000"]


def campaign_row(row: str) -> str:
    """The good test (120 rows) with one more row: row 121, line 122."""
    return CAMPAIGN + row


# (id, file name, content (None: a conftest file), extra options, match)
CAMPAIGN_CASES = [
    ("file-missing", "no_such.csv", None, [], r"no_such\.csv: no such file"),
    ("file-a-directory", "a_folder", None, [], r"a_folder: not a file"),
    ("file-empty", "empty.txt", None, [], r"empty\.txt: the file is empty"),
    ("file-binary", "binary.bin", None, [], r"binary\.bin"),
    ("file-not-utf8", "latin1.txt", None, [], r"latin1\.txt"),
    ("header-only", "head.csv", "arm,bought,spend\n", [], r"head\.csv: no rows"),
    ("parquet-corrupt", "broken.parquet", b"PAR1 not parquet PAR1", [],
     r"broken\.parquet: not a readable Parquet file"),
    ("arm-column-missing", "test.csv", None, ["--arm-col", "group"], r"'group'"),
    ("outcome-column-missing", "test.csv", None, ["--outcome-col", "converted"],
     r"'converted'"),
    ("spend-column-missing", "test.csv", None, ["--spend-col", "revenue"], r"'revenue'"),
    ("control-not-an-arm", "test.csv", None, ["--control", "nobody"], r"nobody"),
    ("outcome-two", "bad.csv", campaign_row("control,2,0\n"), [], r"outcome column 'bought'"),
    ("outcome-negative", "bad.csv", campaign_row("control,-1,0\n"), [],
     r"outcome column 'bought'"),
    ("outcome-nan", "bad.csv", campaign_row("control,nan,0\n"), [], r"outcome column 'bought'"),
    ("outcome-text", "bad.csv", campaign_row("control,yes,0\n"), [],
     r"outcome column 'bought'"),
    ("outcome-empty", "bad.csv", campaign_row("control,,0\n"), [], r"outcome column 'bought'"),
    ("arm-empty", "bad.csv", campaign_row(",1,0\n"), [], r"arm column 'arm' is empty"),
    ("spend-negative", "bad.csv", campaign_row("control,1,-5\n"), ["--spend-col", "spend"],
     r"spend column 'spend'"),
    ("spend-nan", "bad.csv", campaign_row("control,1,nan\n"), ["--spend-col", "spend"],
     r"spend column 'spend'"),
    ("spend-inf", "bad.csv", campaign_row("control,1,inf\n"), ["--spend-col", "spend"],
     r"spend column 'spend'"),
    ("spend-huge", "bad.csv", campaign_row("control,1,1e308\n"), ["--spend-col", "spend"],
     r"spend column 'spend' has 1e\+308; allowed: a number from 0 to 1e\+12"),
    ("spend-text", "bad.csv", campaign_row("control,1,lots\n"), ["--spend-col", "spend"],
     r"spend column 'spend'"),
    ("only-the-control-arm", "control.csv", "arm,bought\n" + "control,1\ncontrol,0\n" * 5, [],
     r"arm"),
    ("arm-map-without-equals", "test.csv", None, ["--arm", "discount_20"], r"--arm"),
    ("arm-map-unknown-offer", "test.csv", None, ["--arm", "discount_20:email=free_car:email"],
     r"free_car"),
    ("arm-map-unknown-channel", "test.csv", None,
     ["--arm", "discount_20:email=discount_20:pigeon"], r"pigeon"),
    ("scenario-unknown", "test.csv", None, ["--scenario", "moon_base"], r"moon_base"),
    ("set-without-equals", "test.csv", None, ["--set", "churn_base"], r"--set 'churn_base'"),
    ("set-unknown-field", "test.csv", None, ["--set", "churn_bass=0.1"], r"churn_bass"),
    ("set-out-of-range", "test.csv", None, ["--set", "churn_base=-1"], r"churn_base"),
    ("set-nan", "test.csv", None, ["--set", "churn_base=NaN"], r"churn_base"),
    ("customers-too-few", "test.csv", None, ["--customers", "50"], r"customers = 50"),
    ("customers-negative", "test.csv", None, ["--customers", "-1000"], r"customers = -1000"),
    ("customers-text", "test.csv", None, ["--customers", "many"], r"--customers"),
    ("customers-huge", "test.csv", None, ["--customers", "1000000000000"],
     r"customers = 1,000,000,000,000: needs about"),
    ("seed-negative", "test.csv", None, ["--seed", "-1"], r"seed = -1: must be an integer"),
    ("window-days-61", "test.csv", None, ["--window-days", "61"], r"--window-days 61"),
    ("separator-two-characters", "test.csv", None, ["--sep", "::"], r"separator"),
    ("out-a-file", "test.csv", None, ["--out", "{home}/a_file"], r"a_file'?: is a file"),
    ("out-under-a-file", "test.csv", None, ["--out", "{home}/a_file/x"],
     r"a_file' is a file, not a directory"),
]


@pytest.mark.parametrize(("name", "text", "options", "match"),
                         [c[1:] for c in CAMPAIGN_CASES], ids=[c[0] for c in CAMPAIGN_CASES])
def test_calibrate_campaign_refuses_a_bad_input(name, text, options, match, home, refused):
    """A bad file, column, value, arm mapping, world or option."""
    if text is not None:
        write(home, name, text)
    out = [] if "--out" in options else ["--out", "{home}/out"]
    refused(["calibrate-campaign", f"{{home}}/{name}", *CAMPAIGN_COLS, *options, *out], match)


OPE_COLS = ["--action-col", "a", "--reward-col", "r", "--pscore-col", "p", "--n-bootstrap",
            "10"]


def decision_row(row: str) -> str:
    """The good log (90 rows) with one more row: row 91."""
    return DECISIONS + row


OPE_CASES = [
    ("log-missing", "no_such.csv", None, [], r"no_such\.csv: no such file"),
    ("log-a-directory", "a_folder", None, [], r"log .*a_folder: is a directory"),
    ("log-empty-csv", "empty.csv", b"", [], r"empty\.csv"),
    ("log-suffix-bin", "binary.bin", None, [], r"suffix '\.bin'"),
    ("log-suffix-txt", "latin1.txt", None, [], r"suffix '\.txt'"),
    ("log-not-utf8-csv", "latin1.csv", b"a,r,p\n0,1,0.5\n\xe9,1,0.5\n", [],
     r"action column 'a' has type binary"),
    ("log-header-only", "head.csv", "a,r,p\n", [], r"the log has no rows"),
    ("parquet-corrupt", "broken.parquet", b"PAR1 not parquet PAR1", [],
     r"broken\.parquet: cannot be read"),
    ("action-column-missing", "decisions.csv", None, ["--action-col", "act"], r"'act'"),
    ("reward-column-missing", "decisions.csv", None, ["--reward-col", "gain"], r"'gain'"),
    ("pscore-column-missing", "decisions.csv", None, ["--pscore-col", "prob"], r"'prob'"),
    ("context-column-missing", "decisions.csv", None, ["--context-cols", "x_9"], r"'x_9'"),
    ("pscore-zero", "bad.csv", decision_row("0,1,0,0.5\n"), [], r"pscore"),
    ("pscore-above-one", "bad.csv", decision_row("0,1,1.5,0.5\n"), [], r"pscore"),
    ("pscore-negative", "bad.csv", decision_row("0,1,-0.2,0.5\n"), [], r"pscore"),
    ("pscore-nan", "bad.csv", decision_row("0,1,nan,0.5\n"), [], r"pscore"),
    ("pscore-empty", "bad.csv", decision_row("0,1,,0.5\n"), [], r"\bp\b|pscore"),
    ("pscore-text", "bad.csv", decision_row("0,1,half,0.5\n"), [], r"'p'"),
    ("reward-nan", "bad.csv", decision_row("0,nan,0.5,0.5\n"), [], r"reward"),
    ("reward-inf", "bad.csv", decision_row("0,inf,0.5,0.5\n"), [], r"reward"),
    ("reward-text", "bad.csv", decision_row("0,lots,0.5,0.5\n"), [], r"'r'"),
    ("action-negative", "bad.csv", decision_row("-1,1,0.5,0.5\n"), [], r"action column 'a'"),
    ("action-fraction", "bad.csv", decision_row("1.5,1,0.5,0.5\n"), [], r"action column 'a'"),
    ("action-huge", "bad.csv", decision_row("1099511627776,1,0.5,0.5\n"), [],
     r"the log holds action 1099511627776: .*allowed K up to 100,000"),
    ("action-text", "bad.csv", decision_row("first,1,0.5,0.5\n"), [], r"action column 'a'"),
    ("action-empty", "bad.csv", decision_row(",1,0.5,0.5\n"), [], r"action column 'a'"),
    ("context-nan", "bad.csv", decision_row("0,1,0.5,nan\n"), [], r"context column 'x_1'"),
    ("target-unknown", "decisions.csv", None, ["--target", "best"], r"target 'best'"),
    ("target-action-not-a-number", "decisions.csv", None, ["--target", "action:x"],
     r"target 'action:x'"),
    ("target-action-out-of-range", "decisions.csv", None, ["--target", "action:99"],
     r"target action:99"),
    ("target-file-missing", "decisions.csv", None, ["--target", "file:no_such.npy"],
     r"target file no_such\.npy: no such file"),
    ("target-file-wrong-suffix", "decisions.csv", None, ["--target", "file:a_file"],
     r"target file a_file"),
    ("target-file-wrong-shape", "decisions.csv", None, ["--target", "file:decisions.csv"],
     r"target file decisions\.csv"),
    ("target-policy-unknown", "decisions.csv", None, ["--target", "policy:magic"],
     r"magic"),
    ("target-policy-parameter-without-equals", "decisions.csv", None,
     ["--target", "policy:linucb:alpha"], r"policy parameter 'alpha'"),
    ("target-policy-parameter-out-of-range", "decisions.csv", None,
     ["--target", "policy:linucb:alpha=-1"], r"alpha"),
    ("estimator-unknown", "decisions.csv", None, ["--estimators", "magic"], r"magic"),
    ("estimator-repeated", "decisions.csv", None, ["--estimators", "dm,dm"], r"estimators"),
    ("clip-zero", "decisions.csv", None, ["--clip", "0"], r"clip = 0"),
    ("clip-negative", "decisions.csv", None, ["--clip", "-1"], r"clip = -1"),
    ("clip-nan", "decisions.csv", None, ["--clip", "nan"], r"clip = nan"),
    ("n-bootstrap-negative", "decisions.csv", None, ["--n-bootstrap", "-1"],
     r"n_bootstrap = -1"),
    ("n-bootstrap-huge", "decisions.csv", None, ["--n-bootstrap", "1000000000"],
     r"n_bootstrap = 1000000000: expected an integer from 0 \(no intervals\) to 10,000"),
    ("seed-negative", "decisions.csv", None, ["--seed", "-1"],
     r"seed = -1: expected an integer >= 0"),
    ("logging-policy-without-a-policy-column", "decisions.csv", None,
     ["--logging-policy", "random"], r"no column 'policy'"),
    ("scenario-without-a-scenario-column", "decisions.csv", None, ["--scenario", "base"],
     r"no column 'scenario'"),
    ("out-a-file", "decisions.csv", None, ["--out", "{home}/a_file"], r"a_file"),
    ("out-under-a-file", "decisions.csv", None, ["--out", "{home}/a_file/x"],
     r"a_file' is a file, not a directory"),
]


@pytest.mark.parametrize(("name", "text", "options", "match"), [c[1:] for c in OPE_CASES],
                         ids=[c[0] for c in OPE_CASES])
def test_ope_refuses_a_bad_input(name, text, options, match, home, refused):
    """A bad log file, column, propensity, reward or action, target, estimator or option."""
    if text is not None:
        write(home, name, text)
    out = [] if "--out" in options else ["--out", "{home}/out"]
    refused(["ope", f"{{home}}/{name}", *OPE_COLS, *options, *out], match)
