"""Hostile inputs to the results commands, `nbasim report`, `check` and `compare`.

Run directories that are missing, files, empty, or hold a summary.json or a Parquet file
that is not one; baselines, metrics and tolerances that are not allowed. Each case exits 2
naming the problem, prints no traceback and leaves the run directory and every other file as
they were (`refused` in conftest.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hostile import config
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app


@pytest.fixture(scope="module")
def made_run(tmp_path_factory) -> Path:
    """One tiny run (300 customers, 4 days, one seed, random and no_action), made once."""
    home = tmp_path_factory.mktemp("made")
    (home / "tiny.toml").write_text(config(
        policies='[[policies]]\nlabel = "random"\n[[policies]]\nlabel = "no_action"\n'))
    result = CliRunner().invoke(app, ["run", str(home / "tiny.toml"), "--out",
                                      str(home / "run")])
    assert result.exit_code == 0, result.output
    return home / "run"


def summary_with(change) -> str:
    """A summary.json text: the run's, changed by `change(summary)`."""
    def text(run: Path) -> str:
        summary = json.loads((run / "summary.json").read_text())
        change(summary)
        return json.dumps(summary)
    return text


def _nan_mean(s: dict) -> None:
    group = next(iter(s["groups"].values()))
    group["metrics"]["incremental_margin"]["mean"] = float("nan")


def _no_groups(s: dict) -> None:
    del s["groups"]


def _groups_a_list(s: dict) -> None:
    s["groups"] = []


def _ci_one_number(s: dict) -> None:
    group = next(iter(s["groups"].values()))
    group["metrics"]["incremental_margin"]["ci"] = [0.0]


def _mean_text(s: dict) -> None:
    group = next(iter(s["groups"].values()))
    group["metrics"]["incremental_margin"]["mean"] = "12"


# (id, file inside the copied run, new content: text, bytes, a function of the run or
# None to delete it; match)
DAMAGE = [
    ("summary-missing", "summary.json", None, r"summary\.json"),
    ("summary-empty", "summary.json", b"", r"summary\.json"),
    ("summary-not-json", "summary.json", "{not json", r"summary\.json"),
    ("summary-not-utf8", "summary.json", b"\xff\xfe{}", r"summary\.json"),
    ("summary-a-list", "summary.json", "[1, 2]", r"summary\.json"),
    ("summary-mean-nan", "summary.json", summary_with(_nan_mean), r"mean"),
    ("summary-without-groups", "summary.json", summary_with(_no_groups), r"groups"),
    ("summary-groups-a-list", "summary.json", summary_with(_groups_a_list), r"groups"),
    ("summary-ci-one-number", "summary.json", summary_with(_ci_one_number), r"\.ci: expected"),
    ("summary-mean-text", "summary.json", summary_with(_mean_text), r"\.mean: expected"),
]


def damaged(home: Path, made_run: Path, name: str, content) -> Path:
    """A copy of the made run in `home` with one file replaced (or deleted)."""
    run = home / "run"
    shutil.copytree(made_run, run)
    target = run / name
    if content is None:
        target.unlink()
    elif callable(content):
        target.write_text(content(made_run))
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    return run


REPORT_ONLY = [
    ("migration-parquet-corrupt", "migration.parquet", b"PAR1 not parquet PAR1",
     r"migration\.parquet"),
    ("daily-parquet-not-parquet", "daily.parquet", "a,b\n1,2\n", r"daily\.parquet"),
    ("decisions-parquet-empty", "decisions.parquet", b"", r"decisions\.parquet"),
    ("summary-a-directory", "summary.json", "dir", r"summary\.json"),
]


@pytest.mark.parametrize(("name", "content", "match"), [c[1:] for c in DAMAGE + REPORT_ONLY],
                         ids=[c[0] for c in DAMAGE + REPORT_ONLY])
def test_report_refuses_a_damaged_run(name, content, match, home, made_run, refused):
    """A run directory with summary.json or a Parquet file missing or damaged."""
    if content == "dir":
        run = damaged(home, made_run, name, None)
        (run / name).mkdir()
    else:
        damaged(home, made_run, name, content)
    refused(["report", "{home}/run"], match)


@pytest.mark.parametrize(("path", "match"), [
    pytest.param("{home}/no_such_run", r"no_such_run", id="run-missing"),
    pytest.param("{home}/a_file", r"a_file", id="run-a-file"),
    pytest.param("{home}/a_folder", r"a_folder", id="run-an-empty-folder"),
])
def test_report_refuses_what_is_not_a_run(path, match, refused):
    """A path that is missing, a file or an empty folder."""
    refused(["report", path], match)


@pytest.mark.parametrize(("name", "content", "match"), [c[1:] for c in DAMAGE],
                         ids=[c[0] for c in DAMAGE])
@pytest.mark.parametrize("command", ["check", "compare"])
def test_check_and_compare_refuse_a_damaged_summary(command, name, content, match, home,
                                                    made_run, refused):
    """`check` and `compare` on a run whose summary.json is missing or damaged."""
    damaged(home, made_run, name, content)
    shutil.copy(made_run / "summary.json", home / "baseline.json")
    extra = ["--baseline", "{home}/baseline.json"] if command == "check" else []
    refused([command, "{home}/run", *extra], match)


CHECK = [
    ("run-missing", ["{home}/no_such_run", "--baseline", "{home}/baseline.json"],
     r"no_such_run"),
    ("run-a-folder-without-summary", ["{home}/a_folder", "--baseline", "{home}/baseline.json"],
     r"a_folder"),
    ("baseline-missing", ["{home}/run", "--baseline", "{home}/no_such.json"], r"no_such\.json"),
    ("baseline-a-folder", ["{home}/run", "--baseline", "{home}/a_folder"], r"a_folder"),
    ("baseline-not-json", ["{home}/run", "--baseline", "{home}/a_file"], r"a_file"),
    ("baseline-binary", ["{home}/run", "--baseline", "{home}/binary.bin"], r"binary\.bin"),
    ("metric-unknown", ["{home}/run", "--baseline", "{home}/baseline.json", "--metric",
                        "happiness"], r"happiness"),
    ("tolerance-text", ["{home}/run", "--baseline", "{home}/baseline.json", "--tolerance",
                        "some"], r"--tolerance"),
    ("tolerance-nan", ["{home}/run", "--baseline", "{home}/baseline.json", "--tolerance",
                       "nan"], r"--tolerance nan: must be a finite number >= 0"),
    ("tolerance-negative", ["{home}/run", "--baseline", "{home}/baseline.json", "--tolerance",
                            "-1"], r"--tolerance -1\.0: must be a finite number >= 0"),
    ("tolerance-inf", ["{home}/run", "--baseline", "{home}/baseline.json", "--tolerance",
                       "inf"], r"--tolerance inf"),
    ("floor-nan", ["{home}/run", "--baseline", "{home}/baseline.json", "--floor", "nan"],
     r"--floor nan: must be a finite number >= 0"),
    ("floor-negative", ["{home}/run", "--baseline", "{home}/baseline.json", "--floor", "-5"],
     r"--floor -5\.0: must be a finite number >= 0"),
    ("baseline-option-missing", ["{home}/run"], r"--baseline"),
    ("update-baseline-a-folder", ["{home}/run", "--update", "--baseline", "{home}/a_folder"],
     r"--baseline .*a_folder: is a directory"),
    ("update-baseline-under-a-file", ["{home}/run", "--update", "--baseline",
                                      "{home}/a_file/base.json"], r"a_file"),
    ("update-from-a-missing-run", ["{home}/no_such_run", "--update", "--baseline",
                                   "{home}/new.json"], r"no_such_run"),
]


@pytest.mark.parametrize(("args", "match"), [c[1:] for c in CHECK], ids=[c[0] for c in CHECK])
def test_check_refuses_a_bad_input(args, match, home, made_run, refused):
    """Bad run, baseline, metric or tolerance; --update to a place it cannot write."""
    shutil.copytree(made_run, home / "run")
    shutil.copy(made_run / "summary.json", home / "baseline.json")
    refused(["check", *args], match)


COMPARE = [
    ("three-runs", ["{home}/run", "{home}/run", "{home}/run"], r"one or two run directories"),
    ("run-missing", ["{home}/no_such_run"], r"no_such_run"),
    ("run-a-file", ["{home}/a_file"], r"a_file"),
    ("run-an-empty-folder", ["{home}/a_folder"], r"a_folder"),
    ("second-run-missing", ["{home}/run", "{home}/no_such_run"], r"no_such_run"),
    ("by-unknown", ["{home}/run", "--by", "happiness"], r"happiness"),
    ("metric-unknown", ["{home}/run", "--metric", "happiness"], r"happiness"),
    ("two-runs-metric-unknown", ["{home}/run", "{home}/run", "--metric", "happiness"],
     r"happiness"),
]


@pytest.mark.parametrize(("args", "match"), [c[1:] for c in COMPARE],
                         ids=[c[0] for c in COMPARE])
def test_compare_refuses_a_bad_input(args, match, home, made_run, refused):
    """Too many runs, a run that is not one, an unknown metric."""
    shutil.copytree(made_run, home / "run")
    refused(["compare", *args], match)


RUN_LOG = [
    ("logging-policy-not-in-the-log", ["--logging-policy", "ghost"],
     r"filter policy = 'ghost': no row matches; values found: no_action, random"),
    ("log-seed-not-in-the-log", ["--log-seed", "7"], r"filter seed = 7: no row matches"),
    ("scenario-not-in-the-log", ["--scenario", "nowhere"],
     r"filter scenario = 'nowhere': no row matches"),
    ("target-policy-that-needs-the-truth", ["--target", "policy:oracle"],
     r"target policy:oracle: it acts on the true margins"),
    ("target-policy-parameter-nan", ["--target", "policy:linucb:alpha=nan"],
     r"policy linucb: alpha = 'nan'"),
]


@pytest.mark.parametrize(("options", "match"), [c[1:] for c in RUN_LOG],
                         ids=[c[0] for c in RUN_LOG])
def test_ope_refuses_a_bad_filter_or_target_on_a_runs_log(options, match, home, made_run,
                                                          refused):
    """`nbasim ope` on a run's own decisions.parquet: filters that match nothing, bad targets."""
    shutil.copytree(made_run, home / "run")
    refused(["ope", "{home}/run/decisions.parquet", "--n-bootstrap", "10", *options,
             "--out", "{home}/out"], match)


def test_ope_names_a_runs_damaged_config(home, made_run, refused):
    """A run's log whose config.toml (which holds the action catalog) is not TOML."""
    shutil.copytree(made_run, home / "run")
    (home / "run" / "config.toml").write_text("this is [not toml\n")
    refused(["ope", "{home}/run/decisions.parquet", "--logging-policy", "random",
             "--n-bootstrap", "10", "--out", "{home}/out"], r"config\.toml cannot be read")
