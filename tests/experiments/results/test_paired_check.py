"""The paired check: a rerun is identical and passes, a planted regression fails by name."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from nbasim.experiments.results import stats
from nbasim.experiments.results.check import trim_baseline
from nbasim.experiments.results.paired_check import has_per_seed, paired_check, report_lines
from nbasim.experiments.results.summary import ResultsError

METRICS = {
    "incremental_margin": {"label": "uplift, adjusted", "better": "higher", "unit": "money"},
    "true_incremental_margin": {"label": "true margin", "better": "higher", "unit": "money"},
    "regret": {"label": "regret", "better": "lower", "unit": "money"},
    "conversion": {"label": "conversion", "better": "higher", "unit": "purchases"},
}
SEEDS = [0, 1, 2, 3, 4]


def make_summary(per_group: dict[str, dict[str, list[float]]], seeds=SEEDS) -> dict:
    """A summary.json dict as the runner writes it."""
    groups = {name: {"policy": name, "scenario": "base", "n_seeds": len(seeds),
                     "metrics": stats.summarize(values)}
              for name, values in per_group.items()}
    return {"experiment": "quickstart", "run_id": "r", "baseline": "blanket",
            "seeds": list(seeds), "metrics": copy.deepcopy(METRICS), "groups": groups}


@pytest.fixture
def summary() -> dict:
    """Two groups over five seeds."""
    return make_summary({
        "blanket": {"incremental_margin": [-2900.0, -2800.0, -3200.0, -2500.0, -3100.0],
                    "true_incremental_margin": [-1313.0, -1324.0, -1277.0, -1300.0, -1290.0],
                    "regret": [7400.0, 7480.0, 7966.0, 7500.0, 7700.0],
                    "conversion": [0.30, 0.31, 0.29, 0.30, 0.32]},
        "linucb": {"incremental_margin": [-600.0, -580.0, 2050.0, -1700.0, 2200.0],
                   "true_incremental_margin": [-1037.0, -718.0, -565.0, -1016.0, -710.0],
                   "regret": [7087.0, 6871.0, 7254.0, 7307.0, 7362.0],
                   "conversion": [0.28, 0.29, 0.27, 0.29, 0.30]},
    })


def with_values(summary: dict, group: str, metric: str, values: list[float]) -> dict:
    """A copy of the summary whose group's metric has these per-seed values."""
    out = copy.deepcopy(summary)
    out["groups"][group]["metrics"][metric] = stats.summarize({metric: values})[metric]
    return out


def test_rerun_is_identical_and_passes(summary):
    """The same numbers: every difference 0, no spread, 'identical', exit 0."""
    baseline = json.loads(json.dumps(trim_baseline(summary)))  # as committed and read back
    result = paired_check(summary, baseline)
    assert result.ok and result.identical
    assert result.seeds == tuple(SEEDS)
    # 2 groups x (incremental_margin, true_incremental_margin, regret); conversion is noisy.
    assert {(r.group, r.metric) for r in result.rows} == {
        (g, m) for g in ("blanket", "linucb")
        for m in ("incremental_margin", "true_incremental_margin", "regret")}
    assert all(r.diff == 0 and r.spread == 0 for r in result.rows)
    assert report_lines(result)[-1].startswith("identical")


def test_planted_regression_in_a_noise_free_metric_fails(summary):
    """A true margin 150 lower on every seed (+-20): one line names it and its interval."""
    base = summary["groups"]["linucb"]["metrics"]["true_incremental_margin"]["per_seed"]
    worse = [v - 150 + d for v, d in zip(base, (-20, 10, 20, -10, 0), strict=True)]
    result = paired_check(with_values(summary, "linucb", "true_incremental_margin", worse),
                          summary)
    assert not result.ok and not result.identical
    (row,) = result.failures
    assert (row.group, row.metric, row.verdict) == ("linucb", "true_incremental_margin",
                                                    "REGRESSION")
    # d = [-170, -140, -130, -160, -150]: mean -150, s = 15.81, t(0.975, 4) = 2.7764,
    # half-width 2.7764 * 15.81 / sqrt(5) = 19.63; floor max(10, 0.02 * 809.2) = 16.18.
    assert row.diff == pytest.approx(-150.0)
    assert row.spread == pytest.approx(19.63, abs=0.01)
    assert row.floor == pytest.approx(16.184)
    line = row.line()
    assert line.startswith("REGRESSION linucb true_incremental_margin: paired difference -150")
    assert "95% CI -169.63 to -130.37" in line and "floor 16.18" in line


def test_small_or_noisy_changes_pass(summary):
    """Within the floor, or a mean drop the seed-to-seed spread cannot tell from 0: ok."""
    base = summary["groups"]["linucb"]["metrics"]["true_incremental_margin"]["per_seed"]
    tiny = paired_check(with_values(summary, "linucb", "true_incremental_margin",
                                    [v - 5.0 for v in base]), summary)
    assert tiny.ok and not tiny.identical
    noisy = [v + d for v, d in zip(base, (-400, 300, -300, 250, -100), strict=True)]
    assert paired_check(with_values(summary, "linucb", "true_incremental_margin", noisy),
                        summary).ok
    better = [v + 500 for v in base]
    assert paired_check(with_values(summary, "linucb", "true_incremental_margin", better),
                        summary).ok


def test_lower_is_better_regresses_upwards(summary):
    """Regret 300 higher on every seed fails; 300 lower passes."""
    base = summary["groups"]["linucb"]["metrics"]["regret"]["per_seed"]
    up = paired_check(with_values(summary, "linucb", "regret", [v + 300 for v in base]),
                      summary)
    assert [(r.group, r.metric) for r in up.failures] == [("linucb", "regret")]
    assert up.failures[0].line().startswith("REGRESSION linucb regret: paired difference +300")
    assert paired_check(with_values(summary, "linucb", "regret", [v - 300 for v in base]),
                        summary).ok


def test_seeds_pair_by_value_not_position(summary):
    """A run on the baseline's seeds in another order, plus one more, pairs by seed."""
    order = [4, 3, 2, 1, 0, 9]
    per_group = {g: {m: [e["per_seed"][SEEDS.index(s)] if s in SEEDS else 0.0 for s in order]
                     for m, e in info["metrics"].items()}
                 for g, info in summary["groups"].items()}
    result = paired_check(make_summary(per_group, seeds=order), summary)
    assert result.ok and result.identical is False  # the run has a seed more
    assert all(r.diff == 0 for r in result.rows)


def test_missing_group_metric_or_seeds_fail(summary):
    """What the baseline holds and the run lacks fails as missing."""
    run = copy.deepcopy(summary)
    del run["groups"]["linucb"]
    assert [(r.group, r.verdict) for r in paired_check(run, summary).failures] == [
        ("linucb", "missing")]
    run = copy.deepcopy(summary)
    del run["groups"]["blanket"]["metrics"]["regret"]["per_seed"]
    assert [(r.metric, r.verdict) for r in paired_check(run, summary).failures] == [
        ("regret", "missing")]
    other = make_summary({g: {m: e["per_seed"] for m, e in info["metrics"].items()}
                          for g, info in summary["groups"].items()}, seeds=[5, 6, 7, 8, 9])
    result = paired_check(other, summary)
    assert not result.ok and all(r.verdict == "missing" for r in result.rows)


def test_metrics_argument_and_bad_inputs(summary):
    """--metric restricts the check; a noisy metric may be named; bad floors are refused."""
    only = paired_check(summary, summary, metrics=["conversion"])
    assert [r.metric for r in only.rows] == ["conversion", "conversion"]
    with pytest.raises(ResultsError, match="'ctr' has no per-seed values"):
        paired_check(summary, summary, metrics=["ctr"])
    with pytest.raises(ValueError, match="floor_money: must be a finite number >= 0"):
        paired_check(summary, summary, floor_money=-1.0)
    old = copy.deepcopy(summary)
    for g in old["groups"].values():
        for e in g["metrics"].values():
            del e["per_seed"]
    assert not has_per_seed(old) and has_per_seed(summary)
    with pytest.raises(ResultsError, match="no per-seed values"):
        paired_check(summary, old)


def nbasim(*args: str) -> subprocess.CompletedProcess:
    """The command line in a fresh process."""
    return subprocess.run([sys.executable, "-m", "nbasim.experiments.cli", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_prints_identical_and_one_line_per_regression(summary, tmp_path):
    """`nbasim check`: 'identical' and exit 0 on a rerun; exit 1 and a named line else."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text(json.dumps(summary))
    base = tmp_path / "baseline.json"
    done = nbasim("check", str(tmp_path / "run"), "--baseline", str(base), "--update")
    assert done.returncode == 0, done.stderr
    done = nbasim("check", str(tmp_path / "run"), "--baseline", str(base))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical" in done.stdout and "floor = max(10.00 in money, 0.02 x" in done.stdout
    worse = with_values(summary, "linucb", "true_incremental_margin",
                        [-1500.0, -1200.0, -1100.0, -1450.0, -1200.0])
    (tmp_path / "run" / "summary.json").write_text(json.dumps(worse))
    done = nbasim("check", str(tmp_path / "run"), "--baseline", str(base), "--floor", "1",
                  "--tolerance", "0")
    assert done.returncode == 1 and "1 regression(s)" in done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("REGRESSION")]
    assert "linucb true_incremental_margin: paired difference -480.80" in line
    assert "floor = max(1.00 in money, 0 x" in done.stdout and "identical" not in done.stdout


def test_an_oracle_is_named_by_its_role(summary):
    """Each line of an oracle's group names its role, as the run's summary gives it."""
    run = copy.deepcopy(summary)
    run["groups"]["linucb"]["role"] = "myopic oracle"
    lines = report_lines(paired_check(run, trim_baseline(summary)))
    named = [line for line in lines if " linucb" in line]
    assert named and all(" linucb (myopic oracle) " in line for line in named)
