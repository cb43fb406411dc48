"""`check`: a run against a stored baseline summary, as `nbasim check` and CI use it."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from rich.console import Console
from rich.table import Table

from nbasim.experiments.results import stats
from nbasim.experiments.results.check import CheckResult, check, render, trim_baseline
from nbasim.experiments.results.summary import ResultsError, load_summary, validate_summary

METRICS = {
    "incremental_margin": {"label": "Incremental margin", "better": "higher", "unit": "EUR"},
    "conversion": {"label": "Conversion", "better": "higher", "unit": "share"},
    "churn_rate": {"label": "Churn rate", "better": "lower", "unit": "share"},
    "spend": {"label": "Spend", "better": "none", "unit": "EUR"},
    "regret": {"label": "Regret", "better": "lower", "unit": "EUR"},
}


def make_summary(per_group: dict[str, dict[str, list[float]]], seeds=(0, 1, 2),
                 baseline: str = "no action") -> dict:
    """A summary.json dict as the runner writes it, from per-seed values per group."""
    groups = {}
    for name, per_seed in per_group.items():
        groups[name] = {
            "policy": name, "scenario": "quickstart", "n_seeds": len(seeds),
            "metrics": stats.summarize(per_seed),
            "vs_baseline": {} if name == baseline else stats.vs_baseline(
                per_seed, per_group[baseline]),
            "timing": {"world_s": 1.5, "policy_s": 0.25}}
    return {"experiment": "quickstart", "run_id": "r1", "baseline": baseline,
            "seeds": list(seeds), "metrics": copy.deepcopy(METRICS), "groups": groups}


@pytest.fixture
def summary() -> dict:
    """Three groups over three seeds; regret only where an oracle would give it."""
    return make_summary({
        "no action": {"incremental_margin": [0.5, -0.25, 0.125], "conversion": [0.02, 0.021,
                                                                               0.019],
                      "churn_rate": [0.05, 0.052, 0.048], "spend": [0.0, 0.0, 0.0]},
        "random": {"incremental_margin": [-120.0, -80.5, -101.25],
                   "conversion": [0.031, 0.03, 0.032], "churn_rate": [0.061, 0.06, 0.062],
                   "spend": [900.0, 910.0, 905.0], "regret": [5000.0, 5100.0, 4900.0]},
        "linucb": {"incremental_margin": [1500.0, 1620.5, 1410.0],
                   "conversion": [0.041, 0.043, 0.04], "churn_rate": [0.045, 0.044, 0.046],
                   "spend": [700.0, 720.0, 690.0], "regret": [2000.0, 2200.0, 2100.0]},
    })


def doctor(o):
    """Replace every float as the acceptance test D1 does: x*1.5+1 (x>=0), x*0.5+1 (x<0)."""
    if isinstance(o, dict):
        return {k: doctor(v) for k, v in o.items()}
    if isinstance(o, list):
        return [doctor(v) for v in o]
    if isinstance(o, float):
        return o * 1.5 + 1.0 if o >= 0 else o * 0.5 + 1.0
    return o


def perturb(o, rng: np.random.Generator, rel: float):
    """Multiply every float by 1 + u * rel, u uniform in [-1, 1] (another machine's noise)."""
    if isinstance(o, dict):
        return {k: perturb(v, rng, rel) for k, v in o.items()}
    if isinstance(o, list):
        return [perturb(v, rng, rel) for v in o]
    if isinstance(o, float):
        return o * (1.0 + rel * rng.uniform(-1.0, 1.0))
    return o


def one_metric(better: str, mean: float, lo: float, hi: float) -> dict:
    """A one-group, one-metric summary with a given interval."""
    return {"metrics": {"m": {"label": "M", "better": better, "unit": ""}},
            "groups": {"g": {"metrics": {"m": {"mean": mean, "ci": [lo, hi]}}}}}


def test_identical_baseline_passes(summary):
    """The run against its own summary: every directed metric checked, all ok."""
    result = check(summary, copy.deepcopy(summary))
    assert isinstance(result, CheckResult) and result.ok
    # 3 groups x (incremental_margin, conversion, churn_rate) + regret in 2 groups; spend
    # ("none") is never checked.
    assert len(result.rows) == 3 * 3 + 2
    assert {r.metric for r in result.rows} == {"incremental_margin", "conversion",
                                               "churn_rate", "regret"}
    assert all(r.verdict == "ok" and r.reason == "" for r in result.rows)
    assert result.notes == ()


def test_json_round_trip_passes(summary, tmp_path):
    """A baseline written to disk and read back (as committed to the repo) passes."""
    path = tmp_path / "quickstart.json"
    path.write_text(json.dumps(summary, indent=2))
    assert check(summary, load_summary(path)).ok


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relative_noise_passes(summary, seed):
    """Float noise of 1e-9 relative on the run (another machine) stays well inside."""
    run = perturb(summary, np.random.default_rng(seed), 1e-9)
    assert run != summary
    assert check(run, summary).ok
    assert check(summary, run).ok


def test_relative_noise_passes_on_point_intervals():
    """One seed: the interval is a point, the tolerance alone absorbs the noise."""
    one = make_summary({"no action": {"incremental_margin": [12.5], "churn_rate": [0.05]}},
                       seeds=(7,))
    run = perturb(one, np.random.default_rng(3), 1e-9)
    assert check(run, one).ok


def test_doctored_baseline_fails(summary, tmp_path):
    """The doctored baseline of acceptance test D1 is a regression, read from a file."""
    path = tmp_path / "doctored.json"
    path.write_text(json.dumps(doctor(summary)))
    result = check(summary, load_summary(path))
    assert not result.ok
    failed = {(r.group, r.metric) for r in result.failures}
    # x -> 1.5x + 1 moves every higher-is-better bound up by more than the run's spread.
    assert {("no action", "conversion"), ("random", "conversion"),
            ("linucb", "conversion"), ("linucb", "incremental_margin"),
            ("random", "incremental_margin")} <= failed
    # Lower-is-better metrics move up too, which only loosens them.
    assert all(r.verdict == "ok" for r in result.rows if r.better == "lower")
    assert all(r.verdict == "REGRESSION" for r in result.failures)


def test_doctored_trimmed_baseline_fails(summary):
    """Doctoring a trimmed baseline is still caught by the unpaired rule."""
    small = trim_baseline(summary, groups=["linucb"], metrics=["incremental_margin"])
    assert check(summary, small).ok
    assert not check(summary, doctor(small)).ok


@pytest.mark.parametrize(("run_mean", "verdict"), [
    (95.01, "ok"),          # limit = lo - 0.05 * |100| = 100 - 5 = 95
    (94.99, "REGRESSION"),
    (1e6, "ok"),            # far better is never a regression
])
def test_higher_is_better_rule(run_mean, verdict):
    """Higher is better: regress below the CI lower bound minus tolerance x |mean|."""
    base = one_metric("higher", 100.0, 100.0, 100.0)
    run = one_metric("higher", run_mean, run_mean, run_mean)
    row = check(run, base).rows[0]
    assert row.limit == pytest.approx(95.0)
    assert row.verdict == verdict


@pytest.mark.parametrize(("run_mean", "verdict"), [
    (0.0609, "ok"),         # limit = hi + 0.05 * |0.05| = 0.0590 + 0.0025 = 0.0615
    (0.0616, "REGRESSION"),
    (0.0, "ok"),            # far better (lower) is never a regression
])
def test_lower_is_better_rule(run_mean, verdict):
    """Lower is better: regress above the CI upper bound plus tolerance x |mean|."""
    # baseline mean 0.05, ci [0.04, 0.0590]; with tolerance 0.1 the limit is
    # 0.0590 + 0.1 * 0.05 = 0.0640, above both run means.
    base = one_metric("lower", 0.05, 0.04, 0.059)
    run = one_metric("lower", run_mean, run_mean, run_mean)
    assert check(run, base, tolerance=0.1).ok
    row = check(run, base).rows[0]
    assert row.limit == pytest.approx(0.0615)
    assert row.verdict == verdict


def test_direction_is_not_mixed_up(summary):
    """A churn rise and a margin drop regress; a churn drop and a margin rise do not."""
    worse = copy.deepcopy(summary)
    worse["groups"]["linucb"]["metrics"]["churn_rate"]["mean"] = 0.2
    worse["groups"]["linucb"]["metrics"]["incremental_margin"]["mean"] = 100.0
    better = copy.deepcopy(summary)
    better["groups"]["linucb"]["metrics"]["churn_rate"]["mean"] = 0.001
    better["groups"]["linucb"]["metrics"]["incremental_margin"]["mean"] = 1e5
    assert {(r.group, r.metric) for r in check(worse, summary).failures} == {
        ("linucb", "churn_rate"), ("linucb", "incremental_margin")}
    assert check(better, summary).ok


def test_negative_mean_uses_its_magnitude():
    """The tolerance scales with |mean|: a mean of -100 allows 5 below its lower bound."""
    base = one_metric("higher", -100.0, -110.0, -90.0)
    assert check(one_metric("higher", -114.9, -120, -110), base).ok
    assert not check(one_metric("higher", -115.1, -120, -110), base).ok


def test_zero_mean_gets_no_tolerance_beyond_its_interval():
    """A baseline mean of 0 uses the 1e-9 floor: only the interval absorbs changes."""
    base = one_metric("lower", 0.0, 0.0, 0.0)
    assert check(one_metric("lower", 0.0, 0.0, 0.0), base).ok
    assert check(one_metric("lower", 1e-12, 1e-12, 1e-12), base).ok
    assert not check(one_metric("lower", 1e-6, 1e-6, 1e-6), base).ok


def test_missing_group_fails(summary):
    """A baseline group that the run lacks fails with its name and the run's groups."""
    run = copy.deepcopy(summary)
    del run["groups"]["linucb"]
    result = check(run, summary)
    assert not result.ok
    (row,) = result.failures
    assert (row.group, row.metric, row.verdict) == ("linucb", "*", "missing")
    assert "group 'linucb' is not in the run" in row.reason and "'random'" in row.reason


def test_missing_metric_fails(summary):
    """A baseline metric that the run's group lacks fails as missing."""
    run = copy.deepcopy(summary)
    del run["groups"]["random"]["metrics"]["regret"]
    (row,) = check(run, summary).failures
    assert (row.group, row.metric, row.verdict) == ("random", "regret", "missing")
    assert "'regret'" in row.reason


def test_extra_groups_and_metrics_in_the_run_are_ignored(summary):
    """The baseline decides what is checked; a richer run passes."""
    small = trim_baseline(summary, groups=["random"], metrics=["conversion"])
    result = check(summary, small)
    assert result.ok
    assert [(r.group, r.metric) for r in result.rows] == [("random", "conversion")]


def test_non_finite_run_mean_is_refused(summary):
    """A NaN in the run is a malformed summary, never a silent pass."""
    run = copy.deepcopy(summary)
    run["groups"]["linucb"]["metrics"]["churn_rate"]["mean"] = float("nan")
    with pytest.raises(ResultsError, match=r"run: groups\['linucb'\]\.metrics\['churn_rate'\]"
                                           r"\.mean: expected a finite number, got nan"):
        check(run, summary)


def test_metrics_argument_restricts_the_check(summary):
    """`metrics` limits the check; a name in no baseline group is an error."""
    run = copy.deepcopy(summary)
    run["groups"]["linucb"]["metrics"]["churn_rate"]["mean"] = 0.9
    assert check(run, summary, metrics=["conversion"]).ok
    assert not check(run, summary, metrics=["churn_rate"]).ok
    with pytest.raises(ResultsError, match="'ctr' is in no group of the baseline"):
        check(run, summary, metrics=["ctr"])


def test_notes_for_other_seeds_or_experiment(summary):
    """Different seeds or experiment are noted, without failing."""
    run = copy.deepcopy(summary)
    run["seeds"] = [0, 1, 3]
    run["experiment"] = "other"
    result = check(run, summary)
    assert result.ok
    assert any("seeds differ" in n for n in result.notes)
    assert any("experiment differs" in n for n in result.notes)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"tolerance": -0.1}, "tolerance: must be a finite number >= 0"),
    ({"tolerance": float("nan")}, "tolerance"),
    ({"min_scale": -1.0}, "min_scale"),
])
def test_bad_tolerance_rejected(summary, kwargs, match):
    """A negative or NaN tolerance is refused by name."""
    with pytest.raises(ValueError, match=match):
        check(summary, summary, **kwargs)


def test_baseline_without_checkable_metrics_is_an_error(summary):
    """A baseline that checks nothing is refused rather than passed."""
    only_spend = trim_baseline(summary, metrics=["spend"])
    with pytest.raises(ResultsError, match="no metric with 'better' higher or lower"):
        check(summary, only_spend)
    with pytest.raises(ResultsError, match="has no groups"):
        check(summary, {"metrics": {}, "groups": {}})


def test_trim_baseline_is_small_and_still_checks(summary):
    """Trimming drops timing, keeps what check needs (per-seed values for the paired check)."""
    small = trim_baseline(summary, groups=["no action", "linucb"],
                          metrics=["incremental_margin", "churn_rate"])
    assert list(small["groups"]) == ["no action", "linucb"]
    assert list(small["metrics"]) == ["incremental_margin", "churn_rate"]
    text = json.dumps(small)
    assert "timing" not in text
    assert small["groups"]["linucb"]["metrics"]["incremental_margin"]["per_seed"] == \
        summary["groups"]["linucb"]["metrics"]["incremental_margin"]["per_seed"]
    assert small["seeds"] == [0, 1, 2] and small["baseline"] == "no action"
    assert small["groups"]["linucb"]["vs_baseline"]["incremental_margin"] == \
        summary["groups"]["linucb"]["vs_baseline"]["incremental_margin"]
    validate_summary(small)
    result = check(summary, small)
    assert result.ok and len(result.rows) == 4
    full = trim_baseline(summary)
    assert list(full["groups"]) == list(summary["groups"])
    assert check(summary, full).ok


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"groups": ["oracle"]}, "group 'oracle' is not in the summary"),
    ({"metrics": ["ctr"]}, "metric 'ctr' is not in the summary"),
])
def test_trim_baseline_rejects_unknown_names(summary, kwargs, match):
    """Unknown groups or metrics are named, with what the summary has."""
    with pytest.raises(ResultsError, match=match):
        trim_baseline(summary, **kwargs)


def test_render_shows_every_row_and_the_verdict(summary):
    """The table has a line per row; failures show REGRESSION and the reason."""
    run = copy.deepcopy(summary)
    run["groups"]["linucb"]["metrics"]["incremental_margin"]["mean"] = 10.0
    del run["groups"]["random"]
    result = check(run, summary)
    table = render(result)
    assert isinstance(table, Table) and table.row_count == len(result.rows)
    console = Console(width=250, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "REGRESSION" in text and "missing" in text and "linucb" in text
    assert "check: 2 of" in text
    ok_text = Console(width=250, record=True, color_system=None)
    ok_text.print(render(check(summary, summary)))
    assert "check: ok" in ok_text.export_text()
