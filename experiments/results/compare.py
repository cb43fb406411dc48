"""Side-by-side views of runs (`nbasim compare`), read from summary.json files only.

- One run: `rank` orders its groups by a metric (best first, following the metric's
  "better") with the mean and 95 % interval of the main metrics and the paired difference
  against the run's baseline group; `render_ranking` draws it.
- Two runs: `diff_runs` gives, per group and metric, both means and the difference
  second - first, paired by seed when both runs used the same seeds; `render_diff` draws it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from rich.table import Table
from rich.text import Text

from nbasim.experiments.results import stats
from nbasim.experiments.results import summary as summary_reader
from nbasim.experiments.results.check import ARROWS, format_ci, format_value
from nbasim.experiments.results.summary import ResultsError, validate_summary
from nbasim.experiments.run.metrics import with_role

DEFAULT_BY = "incremental_margin"
"""Metric that `rank` orders groups by unless told otherwise."""

N_MAIN = 6
"""How many metrics `rank` shows by default (the ranking metric first)."""

MAIN_METRICS = ("incremental_margin", "roi", "spend", "conversion", "churn_rate", "regret")
"""Metrics `rank` shows first by default, those the run has, in this order."""


class Estimate(NamedTuple):
    """A mean and its interval."""

    mean: float
    lo: float
    hi: float

    @classmethod
    def of(cls, entry: Mapping[str, Any] | None) -> Estimate | None:
        """Read `{"mean": m, "ci": [lo, hi]}` (None stays None)."""
        if entry is None:
            return None
        return cls(float(entry["mean"]), float(entry["ci"][0]), float(entry["ci"][1]))


def _verdict(better: str, diff: Estimate | None) -> str:
    """"better" / "worse" when the interval of a difference excludes 0, "~" when it does not.

    Empty when the metric has no direction or there is no difference.
    """
    if diff is None or better not in ("higher", "lower"):
        return ""
    if diff.lo > 0 or diff.hi < 0:
        up = diff.lo > 0
        return "better" if up == (better == "higher") else "worse"
    return "~"


_VERDICT_STYLE = {"better": "green", "worse": "red", "~": "dim", "": ""}


# ----------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RankRow:
    """One group of a ranking.

    Attributes:
        rank: 1 for the best group; None when the group lacks the ranking metric.
        group: group name.
        policy: its policy label ("" if the summary does not say).
        scenario: its scenario label ("" if the summary does not say).
        role: "myopic oracle" or "long-term oracle" for an oracle's group, "" otherwise.
        is_baseline: the group is the run's baseline (or, with several scenario variants,
            the baseline policy on its variant: its "vs_baseline" is `{}`).
        metrics: metric -> estimate (None when the group lacks it), in `Ranking.metrics`
            order.
        vs_baseline: paired difference group - baseline (the baseline policy on the same
            scenario variant) on the ranking metric; None for a baseline or when unknown.
        verdict: "better" / "worse" than the baseline when that interval excludes 0, "~"
            otherwise, "" when there is no difference or no direction.
    """

    rank: int | None
    group: str
    policy: str
    scenario: str
    is_baseline: bool
    metrics: dict[str, Estimate | None]
    vs_baseline: Estimate | None
    verdict: str
    role: str = ""

    @property
    def name(self) -> str:
        """The group, with its role when it is an oracle: "oracle (myopic oracle)"."""
        return with_role(self.group, self.role)


@dataclass(frozen=True)
class Ranking:
    """The groups of one run, best first by one metric.

    Attributes:
        run_id: the run's id ("" if the summary does not say).
        by: the ranking metric.
        better: its direction ("higher", "lower" or "none"; "none" ranks high first).
        metrics: the metrics shown, the ranking metric first.
        labels: metric -> label.
        directions: metric -> "better" ("higher", "lower" or "none").
        baseline: the baseline's policy label (the summary's baseline group's policy, else
            its name), None if the summary names no baseline group.
        rows: the groups, best first; groups without the ranking metric last.
    """

    run_id: str
    by: str
    better: str
    metrics: tuple[str, ...]
    labels: dict[str, str]
    directions: dict[str, str]
    baseline: str | None
    rows: tuple[RankRow, ...]


def main_metrics(summary: Mapping[str, Any], by: str = DEFAULT_BY, n: int = N_MAIN,
                 ) -> tuple[str, ...]:
    """The metrics a ranking shows by default.

    `by` first, then those of `MAIN_METRICS` that the run has, then its other metrics in
    summary order, `n` in all.

    Args:
        summary: a summary.json dict.
        by: the ranking metric.
        n: how many metrics in all (at least 1).

    Returns:
        Up to `n` metric names, `by` first.
    """
    known = list(summary["metrics"])
    order = [by, *(m for m in MAIN_METRICS if m in known), *known]
    return tuple(dict.fromkeys(order))[: max(n, 1)]


def _baseline_of(summary: Mapping[str, Any], group: str) -> str | None:
    """The baseline group a group is paired with: the baseline policy on the same scenario."""
    groups = summary["groups"]
    base = summary.get("baseline")
    if base not in groups:
        return None
    policy, scenario = groups[base].get("policy"), groups[group].get("scenario")
    if policy is None:
        return base
    return next((g for g, e in groups.items()
                 if e.get("policy") == policy and e.get("scenario") == scenario), None)


def _is_baseline(summary: Mapping[str, Any], group: str) -> bool:
    """A group is a baseline when the summary names it or its "vs_baseline" is `{}`."""
    return group == summary.get("baseline") or summary["groups"][group].get("vs_baseline") == {}


def _vs_baseline(summary: Mapping[str, Any], group: str, metric: str) -> Estimate | None:
    """The paired difference group - baseline from the summary, else from per-seed values."""
    entry = summary["groups"][group]
    if "vs_baseline" in entry:
        return Estimate.of(entry["vs_baseline"].get(metric))
    base = _baseline_of(summary, group)
    if base is None or base == group:
        return None
    a = entry["metrics"].get(metric, {}).get("per_seed")
    b = summary["groups"][base]["metrics"].get(metric, {}).get("per_seed")
    if not a or not b or len(a) != len(b):
        return None
    return Estimate(*stats.paired(a, b))


def rank(summary: Mapping[str, Any], by: str = DEFAULT_BY,
         metrics: Sequence[str] | None = None) -> Ranking:
    """Rank the groups of one run by a metric.

    Higher-is-better metrics (and metrics without a direction) rank the highest mean first,
    lower-is-better ones the lowest first; ties keep the summary's group order.

    Args:
        summary: a summary.json dict.
        by: the ranking metric (default "incremental_margin").
        metrics: metrics to show besides `by` (default: `main_metrics`).

    Returns:
        The ranking.

    Raises:
        ResultsError: when the summary is malformed or `by` or a metric of `metrics` is not
            one of its metrics.
    """
    validate_summary(summary)
    known = list(summary["metrics"])
    for name in (by, *(metrics or ())):
        if name not in known:
            raise ResultsError(f"metric {name!r} is not in the run; it has: "
                               f"{', '.join(map(repr, known))}")
    shown = main_metrics(summary, by) if metrics is None else (by, *(m for m in metrics
                                                                     if m != by))
    better = summary_reader.better(summary, by)
    sign = -1.0 if better == "lower" else 1.0
    names = list(summary["groups"])
    with_metric = [g for g in names if by in summary["groups"][g]["metrics"]]
    without = [g for g in names if g not in with_metric]
    with_metric.sort(key=lambda g: -sign * float(summary["groups"][g]["metrics"][by]["mean"]))

    rows = []
    baseline = summary.get("baseline")
    for position, group in enumerate([*with_metric, *without], start=1):
        entry = summary["groups"][group]
        is_baseline = _is_baseline(summary, group)
        diff = None if is_baseline else _vs_baseline(summary, group, by)
        rows.append(RankRow(
            rank=position if group in with_metric else None, group=group,
            policy=str(entry.get("policy", "")), scenario=str(entry.get("scenario", "")),
            is_baseline=is_baseline,
            metrics={m: Estimate.of(entry["metrics"].get(m)) for m in shown},
            vs_baseline=diff, verdict=_verdict(better, diff), role=str(entry.get("role", ""))))
    base_name = None
    if baseline in summary["groups"]:
        base_name = str(summary["groups"][baseline].get("policy") or baseline)
    return Ranking(run_id=str(summary.get("run_id", "")), by=by, better=better,
                   metrics=tuple(shown),
                   labels={m: summary_reader.label(summary, m) or m for m in shown},
                   directions={m: summary_reader.better(summary, m) for m in shown},
                   baseline=base_name,
                   rows=tuple(rows))


def _estimate_text(est: Estimate | None) -> str:
    """`mean ± half-width` for a symmetric interval, `mean [lo, hi]` else, "-" for None."""
    if est is None:
        return "-"
    half = (est.hi - est.lo) / 2
    if math.isclose(est.mean - est.lo, half, rel_tol=1e-6, abs_tol=1e-12 * max(1.0, half)):
        return f"{format_value(est.mean)} ± {format_value(half)}"
    return f"{format_value(est.mean)} {format_ci((est.lo, est.hi))}"


def markdown_ranking(ranking: Ranking) -> str:
    """The ranking as a Markdown table, for a README or a paper.

    Each cell is the mean ± the half-width of its 95 % interval; the last column is the
    paired difference against the baseline.
    """
    def cell(e: Estimate | None) -> str:
        if e is None:
            return "-"
        return f"{format_value(e.mean)} ± {format_value((e.hi - e.lo) / 2)}"

    head = ["policy", *ranking.metrics,
            f"{ranking.by} vs {ranking.baseline or 'baseline'} (paired)"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in ranking.rows:
        diff = "(baseline)" if row.is_baseline else cell(row.vs_baseline)
        lines.append("| " + " | ".join([row.name, *(cell(row.metrics[m])
                                                     for m in ranking.metrics), diff]) + " |")
    return "\n".join(lines)


def render_ranking(ranking: Ranking) -> Table:
    """A table of a ranking: rank, group, each metric's mean ± 95 % CI, difference vs baseline.

    Args:
        ranking: what `rank` returned.

    Returns:
        A rich table.
    """
    title = f"{ranking.run_id or 'run'}: groups by {ranking.by} " \
            f"{ARROWS[ranking.better]} ({ranking.labels[ranking.by]})"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("group")
    for m in ranking.metrics:
        table.add_column(f"{m} {ARROWS.get(ranking.directions[m], '')}".rstrip()
                         + "\nmean ± 95% CI", justify="right")
    base = ranking.baseline or "baseline"
    table.add_column(f"{ranking.by} - {base}\npaired, ± 95% CI", justify="right")
    for r in ranking.rows:
        group = Text(r.name, style="bold" if r.is_baseline else "")
        if r.is_baseline:
            diff = Text("(baseline)", style="dim")
        else:
            diff = Text(_estimate_text(r.vs_baseline), style=_VERDICT_STYLE[r.verdict])
        table.add_row(Text("-" if r.rank is None else str(r.rank)), group,
                      *(Text(_estimate_text(r.metrics[m])) for m in ranking.metrics), diff)
    table.caption = "green / red: the paired 95% interval excludes 0 (better / worse)"
    table.caption_justify = "left"
    return table


# ----------------------------------------------------------------------------- two runs


@dataclass(frozen=True)
class DiffRow:
    """One (group, metric) of two runs.

    Attributes:
        group: group name.
        metric: metric name.
        better: the metric's direction ("higher", "lower" or "none").
        a: estimate in the first run (None when it lacks it).
        b: estimate in the second run (None when it lacks it).
        diff: b - a: the mean difference and, when both runs have the same seeds and
            per-seed values, its paired 95 % interval; else the interval is (nan, nan).
            None when either side lacks the metric.
        verdict: "better" / "worse" when the second run's paired interval excludes 0, "~"
            when it does not; without a paired interval, "better" / "worse" when the two
            runs' intervals do not overlap; "" without a direction; "only in A" / "only in
            B" when one side lacks the metric.
        role: "myopic oracle" or "long-term oracle" for an oracle's group, "" otherwise.
    """

    group: str
    metric: str
    better: str
    a: Estimate | None
    b: Estimate | None
    diff: Estimate | None
    verdict: str
    role: str = ""

    @property
    def name(self) -> str:
        """The group, with its role when it is an oracle: "oracle (myopic oracle)"."""
        return with_role(self.group, self.role)


@dataclass(frozen=True)
class RunDiff:
    """Two runs, group by group and metric by metric.

    Attributes:
        a_name: name of the first run.
        b_name: name of the second run.
        paired: the differences are paired by seed (both runs have the same seeds).
        rows: first run's groups in order then the second's new ones; metrics likewise.
    """

    a_name: str
    b_name: str
    paired: bool
    rows: tuple[DiffRow, ...]


def _union(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """The names of `first`, then those of `second` not in `first`."""
    return [*first, *(n for n in second if n not in first)]


def _diff_row(group: str, metric: str, better: str, ea: Mapping[str, Any] | None,
              eb: Mapping[str, Any] | None, paired: bool) -> DiffRow:
    """Compare one (group, metric) entry of two runs."""
    a, b = Estimate.of(ea), Estimate.of(eb)
    if a is None or b is None:
        return DiffRow(group, metric, better, a, b, None,
                       "only in B" if a is None else "only in A")
    sa, sb = ea.get("per_seed"), eb.get("per_seed")
    if paired and sa and sb and len(sa) == len(sb):
        diff = Estimate(*stats.paired(sb, sa))
        return DiffRow(group, metric, better, a, b, diff, _verdict(better, diff))
    diff = Estimate(b.mean - a.mean, math.nan, math.nan)
    verdict = "" if better not in ("higher", "lower") else "~"
    if verdict and (b.lo > a.hi or b.hi < a.lo):
        verdict = "better" if (b.lo > a.hi) == (better == "higher") else "worse"
    return DiffRow(group, metric, better, a, b, diff, verdict)


def diff_runs(a: Mapping[str, Any], b: Mapping[str, Any], metrics: Sequence[str] | None = None,
              a_name: str | None = None, b_name: str | None = None) -> RunDiff:
    """Compare two runs group by group and metric by metric.

    Args:
        a: the first run's summary.json dict (the reference).
        b: the second run's summary.json dict.
        metrics: metrics to compare (default: all metrics of either run).
        a_name: how to call the first run (default: its run_id, else "A").
        b_name: how to call the second run (default: its run_id, else "B").

    Returns:
        The comparison; `diff` is second - first.

    Raises:
        ResultsError: when a summary is malformed or a metric of `metrics` is in neither.
    """
    validate_summary(a, a_name or "first run")
    validate_summary(b, b_name or "second run")
    known = _union(list(a["metrics"]), list(b["metrics"]))
    for name in metrics or ():
        if name not in known:
            raise ResultsError(f"metric {name!r} is in neither run; they have: "
                               f"{', '.join(map(repr, known))}")
    shown = list(metrics) if metrics is not None else known
    paired = a.get("seeds") is not None and a.get("seeds") == b.get("seeds")
    rows = []
    for group in _union(list(a["groups"]), list(b["groups"])):
        ma = a["groups"].get(group, {}).get("metrics", {})
        mb = b["groups"].get(group, {}).get("metrics", {})
        role = str(b["groups"].get(group, {}).get("role")
                   or a["groups"].get(group, {}).get("role") or "")
        for metric in shown:
            if metric not in ma and metric not in mb:
                continue
            better = summary_reader.better(a if metric in a["metrics"] else b, metric)
            rows.append(dataclasses.replace(_diff_row(
                group, metric, better, ma.get(metric), mb.get(metric), paired), role=role))
    return RunDiff(a_name=a_name or str(a.get("run_id") or "A"),
                   b_name=b_name or str(b.get("run_id") or "B"), paired=paired,
                   rows=tuple(rows))


def render_diff(diff: RunDiff) -> Table:
    """A table of two runs: per group and metric, both means ± 95 % CI and the difference.

    Args:
        diff: what `diff_runs` returned.

    Returns:
        A rich table.
    """
    table = Table(title=f"{diff.b_name} vs {diff.a_name}", title_justify="left")
    for name, justify in (("group", "left"), ("metric", "left"), ("", "center"),
                          (f"{diff.a_name}\nmean ± 95% CI", "right"),
                          (f"{diff.b_name}\nmean ± 95% CI", "right"),
                          ("difference" + (" (paired)" if diff.paired else ""), "right"),
                          ("change", "left")):
        table.add_column(name, justify=justify)
    last = None
    for r in diff.rows:
        if r.diff is None:
            d = "-"
        elif math.isnan(r.diff.lo):
            d = f"{format_value(r.diff.mean)}"
        else:
            d = _estimate_text(r.diff)
        table.add_row(Text("" if r.group == last else r.name), Text(r.metric),
                      ARROWS.get(r.better, ""), Text(_estimate_text(r.a)),
                      Text(_estimate_text(r.b)), Text(d, style=_VERDICT_STYLE.get(r.verdict,
                                                                                 "")),
                      Text(r.verdict, style=_VERDICT_STYLE.get(r.verdict, "yellow")))
        last = r.group
    table.caption = ("difference: second run minus first, "
                     + ("paired by seed" if diff.paired else "different seeds: not paired; "
                        "better / worse only when the two intervals do not overlap"))
    table.caption_justify = "left"
    return table
