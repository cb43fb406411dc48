"""`compare`: groups of one run ranked by a metric, and two runs side by side."""

from __future__ import annotations

import copy
import math

import pytest
from rich.console import Console
from rich.table import Table

from nbasim.experiments.results import stats
from nbasim.experiments.results.check import trim_baseline
from nbasim.experiments.results.compare import (
    Estimate,
    diff_runs,
    main_metrics,
    rank,
    render_diff,
    render_ranking,
)
from nbasim.experiments.results.summary import ResultsError

METRICS = {
    "incremental_margin": {"label": "Incremental margin", "better": "higher", "unit": "EUR"},
    "churn_rate": {"label": "Churn rate", "better": "lower", "unit": "share"},
    "spend": {"label": "Spend", "better": "none", "unit": "EUR"},
    "regret": {"label": "Regret", "better": "lower", "unit": "EUR"},
}

PER_SEED = {
    "no action": {"incremental_margin": [0.0, 1.0, -1.0], "churn_rate": [0.05, 0.05, 0.05],
                  "spend": [0.0, 0.0, 0.0]},
    "random": {"incremental_margin": [-10.0, -12.0, -8.0], "churn_rate": [0.07, 0.06, 0.08],
               "spend": [90.0, 91.0, 89.0], "regret": [50.0, 52.0, 48.0]},
    "linucb": {"incremental_margin": [30.0, 33.0, 27.0], "churn_rate": [0.04, 0.04, 0.04],
               "spend": [70.0, 72.0, 68.0], "regret": [10.0, 12.0, 8.0]},
    "playbook": {"incremental_margin": [12.0, 11.0, 13.0], "churn_rate": [0.03, 0.035, 0.025],
                 "spend": [50.0, 55.0, 45.0]},
}


def make_summary(per_group: dict[str, dict[str, list[float]]], run_id: str = "r1",
                 seeds=(0, 1, 2), baseline: str = "no action") -> dict:
    """A summary.json dict as the runner writes it, from per-seed values per group."""
    groups = {name: {
        "policy": name, "scenario": "quickstart", "n_seeds": len(seeds),
        "metrics": stats.summarize(per_seed),
        "vs_baseline": {} if name == baseline else stats.vs_baseline(
            per_seed, per_group[baseline]),
        "timing": {"world_s": 1.0, "policy_s": 0.1}} for name, per_seed in per_group.items()}
    return {"experiment": "quickstart", "run_id": run_id, "baseline": baseline,
            "seeds": list(seeds), "metrics": copy.deepcopy(METRICS), "groups": groups}


@pytest.fixture
def summary() -> dict:
    """Four groups over three seeds."""
    return make_summary(PER_SEED)


def test_rank_by_incremental_margin(summary):
    """Higher is better: the highest mean first (means 30, 12, 0, -10)."""
    ranking = rank(summary)
    assert ranking.by == "incremental_margin" and ranking.better == "higher"
    assert [r.group for r in ranking.rows] == ["linucb", "playbook", "no action", "random"]
    assert [r.rank for r in ranking.rows] == [1, 2, 3, 4]
    assert ranking.baseline == "no action"
    assert [r.is_baseline for r in ranking.rows] == [False, False, True, False]


def test_rank_lower_is_better_ascends(summary):
    """Churn rate (lower is better) ranks the lowest mean first (0.03, 0.04, 0.05, 0.07)."""
    ranking = rank(summary, by="churn_rate")
    assert [r.group for r in ranking.rows] == ["playbook", "linucb", "no action", "random"]


def test_rank_puts_groups_without_the_metric_last(summary):
    """Regret exists for two groups only; the others follow, unranked, in summary order."""
    ranking = rank(summary, by="regret")
    assert [(r.rank, r.group) for r in ranking.rows] == [
        (1, "linucb"), (2, "random"), (None, "no action"), (None, "playbook")]
    assert ranking.rows[2].metrics["regret"] is None


def test_rank_reports_paired_difference_vs_baseline(summary):
    """The paired difference vs the baseline: linucb - no action per seed is [30, 32, 28]."""
    # differences [30 - 0, 33 - 1, 27 + 1] = [30, 32, 28]; s = 2; half-width
    # 4.3027 * 2 / sqrt(3) = 4.9683; interval [25.0317, 34.9683] excludes 0: "better".
    row = rank(summary).rows[0]
    assert row.vs_baseline == pytest.approx((30.0, 25.0317, 34.9683), abs=1e-4)
    assert row.verdict == "better"
    # linucb alone: [30, 33, 27], s = 3, half-width 4.3027 * 3 / sqrt(3) = 7.4525.
    assert row.metrics["incremental_margin"] == pytest.approx((30.0, 22.5475, 37.4525),
                                                              abs=1e-4)
    by_name = {r.group: r for r in rank(summary).rows}
    assert by_name["no action"].vs_baseline is None and by_name["no action"].verdict == ""
    assert by_name["random"].verdict == "worse"


def test_rank_churn_direction_of_verdict(summary):
    """A paired churn difference below 0 is better (lower is better)."""
    # playbook - no action churn per seed: [-0.02, -0.015, -0.025]: interval below 0.
    by_name = {r.group: r for r in rank(summary, by="churn_rate").rows}
    assert by_name["playbook"].verdict == "better"
    # random - no action: [0.02, 0.01, 0.03]; mean 0.02, s = 0.01, half-width
    # 4.3027 * 0.01 / sqrt(3) = 0.0248 > 0.02, so the interval spans 0: no clear change.
    assert by_name["random"].verdict == "~"


def test_rank_falls_back_to_per_seed_pairs(summary):
    """Without a stored vs_baseline block the paired difference comes from per-seed values."""
    for group in summary["groups"].values():
        group.pop("vs_baseline")
    row = rank(summary).rows[0]
    assert row.vs_baseline == pytest.approx((30.0, 25.0317, 34.9683), abs=1e-4)


def test_rank_of_a_trimmed_summary(summary):
    """A trimmed summary keeps its stored paired differences."""
    small = trim_baseline(summary, metrics=["incremental_margin"])
    ranking = rank(small)
    assert ranking.metrics == ("incremental_margin",)
    assert ranking.rows[0].vs_baseline.mean == pytest.approx(30.0)


def test_main_metrics_and_metrics_argument(summary):
    """The ranking metric comes first; `metrics` picks the others."""
    # MAIN_METRICS order (roi and conversion are not in this run), then the rest.
    assert main_metrics(summary) == ("incremental_margin", "spend", "churn_rate", "regret")
    assert main_metrics(summary, "regret", n=2) == ("regret", "incremental_margin")
    assert main_metrics(summary, n=1) == ("incremental_margin",)
    ranking = rank(summary, by="churn_rate", metrics=["spend", "churn_rate"])
    assert ranking.metrics == ("churn_rate", "spend")
    assert ranking.labels == {"churn_rate": "Churn rate", "spend": "Spend"}


def test_rank_with_several_scenarios_pairs_within_each():
    """Each scenario variant has its own baseline group, marked by an empty vs_baseline."""
    # Built as the runner does: groups "<policy> @ <scenario>", vs_baseline against the
    # baseline policy on the same variant, "baseline" naming the first variant's.
    per_seed = {"no action @ calm": {"incremental_margin": [0.0, 0.0]},
                "linucb @ calm": {"incremental_margin": [10.0, 12.0]},
                "no action @ recession": {"incremental_margin": [-5.0, -5.0]},
                "linucb @ recession": {"incremental_margin": [1.0, 3.0]}}
    summary = make_summary(per_seed, seeds=(0, 1), baseline="no action @ calm")
    for name, group in summary["groups"].items():
        policy, scenario = name.split(" @ ")
        group["policy"], group["scenario"] = policy, scenario
        base = f"no action @ {scenario}"
        group["vs_baseline"] = {} if name == base else stats.vs_baseline(
            per_seed[name], per_seed[base])
    ranking = rank(summary)
    assert ranking.baseline == "no action"
    rows = {r.group: r for r in ranking.rows}
    assert rows["no action @ recession"].is_baseline
    assert rows["no action @ recession"].vs_baseline is None
    # linucb @ recession - no action @ recession per seed: [6, 8], mean 7.
    assert rows["linucb @ recession"].vs_baseline.mean == pytest.approx(7.0)
    # The per-seed fallback pairs within the variant too.
    for group in summary["groups"].values():
        group.pop("vs_baseline")
    rows = {r.group: r for r in rank(summary).rows}
    assert rows["linucb @ recession"].vs_baseline.mean == pytest.approx(7.0)
    assert rows["no action @ recession"].vs_baseline is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"by": "ctr"}, "metric 'ctr' is not in the run"),
    ({"metrics": ["spend", "roi"]}, "metric 'roi' is not in the run"),
])
def test_rank_unknown_metric(summary, kwargs, match):
    """An unknown metric is named with the run's metrics."""
    with pytest.raises(ResultsError, match=match):
        rank(summary, **kwargs)


def test_rank_ties_keep_summary_order():
    """Equal means keep the summary's group order."""
    per_seed = {"no action": {"incremental_margin": [1.0]}, "b": {"incremental_margin": [2.0]},
                "a": {"incremental_margin": [2.0]}}
    ranking = rank(make_summary(per_seed, seeds=(0,)))
    assert [r.group for r in ranking.rows] == ["b", "a", "no action"]


def test_render_ranking(summary):
    """One table line per group, with the baseline marked."""
    table = render_ranking(rank(summary))
    assert isinstance(table, Table) and table.row_count == 4
    console = Console(width=250, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "(baseline)" in text and "linucb" in text and "Incremental margin" in text


def test_diff_runs_paired_by_seed(summary):
    """Same seeds: per group and metric the two means and the paired difference b - a."""
    per_seed = copy.deepcopy(PER_SEED)
    per_seed["linucb"]["incremental_margin"] = [40.0, 42.0, 41.0]
    other = make_summary(per_seed, run_id="r2")
    diff = diff_runs(summary, other)
    assert (diff.a_name, diff.b_name, diff.paired) == ("r1", "r2", True)
    rows = {(r.group, r.metric): r for r in diff.rows}
    # 4 groups x 3 metrics + regret in 2 groups.
    assert len(rows) == 14
    row = rows["linucb", "incremental_margin"]
    # b - a per seed: [10, 9, 14]; mean 11; s^2 = (1 + 4 + 9) / 2 = 7, s = 2.6458;
    # half-width 4.3027 * 2.6458 / sqrt(3) = 6.5725.
    assert row.a.mean == 30.0 and row.b.mean == 41.0
    assert row.diff == pytest.approx((11.0, 4.4275, 17.5725), abs=1e-4)
    assert row.verdict == "better"
    same = rows["random", "churn_rate"]
    assert same.diff == (0.0, 0.0, 0.0) and same.verdict == "~"
    assert rows["linucb", "spend"].verdict == ""


def test_diff_runs_unpaired_uses_interval_overlap(summary):
    """Different seeds: no paired interval; better/worse only when the intervals are apart."""
    per_seed = copy.deepcopy(PER_SEED)
    per_seed["random"]["churn_rate"] = [0.2, 0.21, 0.19]
    per_seed["linucb"]["incremental_margin"] = [31.0, 34.0, 28.0]
    other = make_summary(per_seed, run_id="r2", seeds=(10, 11, 12))
    diff = diff_runs(summary, other, metrics=["incremental_margin", "churn_rate"])
    assert diff.paired is False
    rows = {(r.group, r.metric): r for r in diff.rows}
    worse = rows["random", "churn_rate"]
    assert worse.diff.mean == pytest.approx(0.13) and math.isnan(worse.diff.lo)
    assert worse.verdict == "worse"
    assert rows["linucb", "incremental_margin"].verdict == "~"
    assert {m for _, m in rows} == {"incremental_margin", "churn_rate"}


def test_diff_runs_groups_only_in_one_run(summary):
    """Groups or metrics present on one side only are kept and marked."""
    per_seed = copy.deepcopy(PER_SEED)
    del per_seed["playbook"]
    per_seed["oracle"] = {"incremental_margin": [50.0, 51.0, 52.0]}
    other = make_summary(per_seed, run_id="r2")
    diff = diff_runs(summary, other, metrics=["incremental_margin"])
    assert [r.group for r in diff.rows] == ["no action", "random", "linucb", "playbook",
                                            "oracle"]
    rows = {r.group: r for r in diff.rows}
    assert rows["playbook"].verdict == "only in A" and rows["playbook"].b is None
    assert rows["oracle"].verdict == "only in B" and rows["oracle"].a is None
    # [50, 51, 52]: mean 51, s = 1; half-width t(0.975, 2) / sqrt(3) = 4.3027 / 1.7321 = 2.4841.
    assert rows["oracle"].b == pytest.approx(Estimate(51.0, 48.5159, 53.4841), abs=1e-4)
    assert rows["oracle"].diff is None


def test_diff_runs_unknown_metric(summary):
    """A metric in neither run is named."""
    with pytest.raises(ResultsError, match="metric 'ctr' is in neither run"):
        diff_runs(summary, summary, metrics=["ctr"])


def test_render_diff(summary):
    """One table line per (group, metric), with both run names in the header."""
    diff = diff_runs(summary, summary, a_name="before", b_name="after")
    table = render_diff(diff)
    assert isinstance(table, Table) and table.row_count == len(diff.rows)
    console = Console(width=250, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "after vs before" in text and "paired by seed" in text


def test_an_oracle_is_named_by_its_role_in_both_views(summary):
    """The oracle's group reads "linucb (myopic oracle)" in the ranking and in a two-run diff.

    The role comes from either run's summary (an older run may lack it).
    """
    summary["groups"]["linucb"]["role"] = "myopic oracle"
    assert rank(summary).rows[0].name == "linucb (myopic oracle)"
    older = copy.deepcopy(summary)
    del older["groups"]["linucb"]["role"]
    diff = diff_runs(older, summary)
    assert {r.name for r in diff.rows if r.group == "linucb"} == {"linucb (myopic oracle)"}
    console = Console(width=250, record=True, color_system=None)
    console.print(render_diff(diff))
    assert "linucb (myopic oracle)" in console.export_text()
