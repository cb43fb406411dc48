"""Regression check of a run's summary.json against a stored baseline (`nbasim check`).

The baseline is a summary.json, usually trimmed by `trim_baseline` to a few groups and metrics
and committed as `results/baselines/<experiment>.json`. A baseline that holds per-seed values
is checked seed by seed (`experiments.results.paired_check`); this module's rule is the one
for a baseline of means and intervals only. For every group of the baseline and every metric
of that group whose `"better"` is `"higher"` or `"lower"`:

- with `allowance = tolerance * max(|baseline mean|, min_scale)`,
- a higher-is-better metric regresses when `run mean < baseline ci[0] - allowance`,
- a lower-is-better metric regresses when `run mean > baseline ci[1] + allowance`,
- a group or metric of the baseline that the run lacks fails too (a NaN mean or interval in
  either summary is refused as malformed, see `summary.validate_summary`).

So a run passes as long as its mean stays inside the baseline's 95 % interval, widened on
the bad side only by a tolerance relative to the baseline's mean (5 % by default). The same
run on the same seeds reproduces the baseline exactly, and float noise from another machine
is far below the tolerance; a real drop in a metric, or a baseline whose values were moved
well away, fails. Metrics with `"better": "none"` are never checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from nbasim.experiments.results.summary import (
    BETTER,
    ResultsError,
    definition,
    is_number,
    validate_summary,
)

DIRECTIONS = ("higher", "lower")
"""Values of a metric's "better" that `check` compares (the other one is "none")."""

MIN_SCALE = 1e-9
"""Floor of the scale the relative tolerance multiplies, for baseline means at zero."""


# ----------------------------------------------------------------------------- baselines


def trim_baseline(summary: Mapping[str, Any], groups: Sequence[str] | None = None,
                  metrics: Sequence[str] | None = None) -> dict[str, Any]:
    """A small copy of a summary to commit as a baseline for `check`.

    Keeps the run's identity (experiment, run id, baseline group, seeds), the definitions of
    the kept metrics and, per kept group, its policy, scenario, seed count and the mean,
    interval and per-seed values of the kept metrics (so that `nbasim check` can pair seeds,
    `experiments.results.paired_check`) and the mean and interval of their paired
    differences. Drops the timings.

    Args:
        summary: a summary.json dict.
        groups: groups to keep (default: all).
        metrics: metrics to keep (default: all).

    Returns:
        The trimmed summary, itself a valid input to `check` and `load_summary`.

    Raises:
        ResultsError: when the summary is malformed, or a named group or metric is not in it.
    """
    validate_summary(summary)
    all_groups = list(summary["groups"])
    all_metrics = list(summary["metrics"])
    for kind, names, known in (("group", groups, all_groups), ("metric", metrics, all_metrics)):
        unknown = [n for n in names or () if n not in known]
        if unknown:
            raise ResultsError(f"trim_baseline: {kind} {unknown[0]!r} is not in the summary; "
                               f"it has: {', '.join(map(repr, known))}")
    keep_groups = list(groups) if groups is not None else all_groups
    keep_metrics = list(metrics) if metrics is not None else all_metrics

    def pick(block: Mapping[str, Any]) -> dict[str, Any]:
        return {m: {"mean": block[m]["mean"], "ci": list(block[m]["ci"]),
                    **({"per_seed": list(block[m]["per_seed"])}
                       if isinstance(block[m].get("per_seed"), list) else {})}
                for m in keep_metrics if m in block}

    out: dict[str, Any] = {k: summary[k] for k in ("experiment", "run_id", "baseline", "seeds")
                           if k in summary}
    out["metrics"] = {m: dict(summary["metrics"][m]) for m in keep_metrics}
    out["groups"] = {}
    for name in keep_groups:
        group = summary["groups"][name]
        kept = {k: group[k] for k in ("policy", "scenario", "n_seeds") if k in group}
        kept["metrics"] = pick(group["metrics"])
        if isinstance(group.get("vs_baseline"), dict):
            kept["vs_baseline"] = pick(group["vs_baseline"])
        out["groups"][name] = kept
    return out


# ----------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class CheckRow:
    """One (group, metric) comparison of a check.

    Attributes:
        group: group name.
        metric: metric name ("*" when the whole group is missing from the run).
        better: "higher" or "lower" ("" for a missing group).
        baseline_mean: the baseline's mean (NaN for a missing group).
        baseline_ci: the baseline's (lo, hi).
        run_mean: the run's mean, None when the run lacks it.
        run_ci: the run's (lo, hi), None when the run lacks it.
        limit: the value the run mean must not cross (below it for "higher", above it for
            "lower"); None for a missing group.
        verdict: "ok", "REGRESSION" or "missing".
        reason: why the verdict is not "ok" ("" when it is).
    """

    group: str
    metric: str
    better: str
    baseline_mean: float
    baseline_ci: tuple[float, float]
    run_mean: float | None
    run_ci: tuple[float, float] | None
    limit: float | None
    verdict: str
    reason: str = ""


class Verdicts:
    """`ok` and `failures` of a check's result, from its `rows` (each with a `verdict`)."""

    rows: tuple

    @property
    def ok(self) -> bool:
        """True when every row is "ok"."""
        return all(r.verdict == "ok" for r in self.rows)

    @property
    def failures(self) -> tuple:
        """The rows that are not "ok"."""
        return tuple(r for r in self.rows if r.verdict != "ok")


@dataclass(frozen=True)
class CheckResult(Verdicts):
    """The outcome of `check`.

    Attributes:
        rows: one row per compared (group, metric), in the baseline's order.
        tolerance: the relative tolerance used.
        notes: remarks that do not fail the check (different experiment or seeds).
    """

    rows: tuple[CheckRow, ...]
    tolerance: float
    notes: tuple[str, ...] = field(default=())


def _better(metric: str, baseline: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """A metric's direction, from the baseline's definitions, else the run's."""
    for summary in (baseline, run):
        better = definition(summary, metric).get("better")
        if better in BETTER:
            return better
    raise ResultsError(f"baseline: metric {metric!r} has no 'better' (higher, lower or none) "
                       "in the baseline's or the run's 'metrics'")


def _compare(group: str, metric: str, better: str, base: Mapping[str, Any],
             got: Mapping[str, Any] | None, tolerance: float, min_scale: float) -> CheckRow:
    """Apply the rule of the module docstring to one (group, metric)."""
    b_mean = float(base["mean"])
    b_lo, b_hi = sorted(float(v) for v in base["ci"])
    allowance = tolerance * max(abs(b_mean), min_scale)
    limit = b_lo - allowance if better == "higher" else b_hi + allowance
    if got is None:
        return CheckRow(group, metric, better, b_mean, (b_lo, b_hi), None, None, limit,
                        "missing", f"metric {metric!r} is not in the run's group {group!r}")
    r_mean = float(got["mean"])
    r_ci = (float(got["ci"][0]), float(got["ci"][1]))
    if better == "higher" and r_mean < limit:
        verdict, reason = "REGRESSION", f"run mean {r_mean:.6g} < {limit:.6g} (lower bound " \
                                        f"{b_lo:.6g} - tolerance {allowance:.3g})"
    elif better == "lower" and r_mean > limit:
        verdict, reason = "REGRESSION", f"run mean {r_mean:.6g} > {limit:.6g} (upper bound " \
                                        f"{b_hi:.6g} + tolerance {allowance:.3g})"
    else:
        verdict, reason = "ok", ""
    return CheckRow(group, metric, better, b_mean, (b_lo, b_hi), r_mean, r_ci, limit,
                    verdict, reason)


def check(run: Mapping[str, Any], baseline: Mapping[str, Any], tolerance: float = 0.05,
          metrics: Sequence[str] | None = None, min_scale: float = MIN_SCALE) -> CheckResult:
    """Compare a run's summary against a baseline summary; see the module docstring.

    Args:
        run: the run's summary.json dict.
        baseline: the baseline summary.json dict (possibly trimmed).
        tolerance: relative tolerance, a finite number >= 0: the baseline interval is
            widened on the bad side by `tolerance * max(|baseline mean|, min_scale)`.
        metrics: check only these metrics (default: every directed metric of the baseline).
        min_scale: floor of the scale the tolerance multiplies, for means at zero.

    Returns:
        The rows and the verdict (`result.ok`).

    Raises:
        ValueError: when the tolerance or min_scale is negative or not finite.
        ResultsError: when either summary is malformed, the baseline has no groups, a metric
            of `metrics` is in no baseline group, or a metric's direction is unknown.
    """
    for name, value in (("tolerance", tolerance), ("min_scale", min_scale)):
        if not is_number(value) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
    validate_summary(run, "run")
    validate_summary(baseline, "baseline")
    if not baseline["groups"]:
        raise ResultsError("baseline: has no groups, so it checks nothing")
    if metrics is not None:
        present = {m for g in baseline["groups"].values() for m in g["metrics"]}
        unknown = [m for m in metrics if m not in present]
        if unknown:
            raise ResultsError(f"metrics: {unknown[0]!r} is in no group of the baseline; it has: "
                               f"{', '.join(map(repr, sorted(present)))}")

    rows: list[CheckRow] = []
    for group, base_group in baseline["groups"].items():
        run_group = run["groups"].get(group)
        if run_group is None:
            have = ", ".join(map(repr, run["groups"])) or "none"
            rows.append(CheckRow(group, "*", "", math.nan, (math.nan, math.nan), None, None, None,
                                 "missing", f"group {group!r} is not in the run (it has: "
                                            f"{have})"))
            continue
        for metric, base in base_group["metrics"].items():
            if metrics is not None and metric not in metrics:
                continue
            better = _better(metric, baseline, run)
            if better not in DIRECTIONS:
                continue
            rows.append(_compare(group, metric, better, base, run_group["metrics"].get(metric),
                                 float(tolerance), float(min_scale)))
    if not rows:
        raise ResultsError("baseline: no metric with 'better' higher or lower to check")

    notes = []
    if baseline.get("experiment") not in (None, run.get("experiment")):
        notes.append(f"experiment differs: baseline {baseline['experiment']!r}, run "
                     f"{run.get('experiment')!r}")
    if baseline.get("seeds") not in (None, run.get("seeds")):
        notes.append(f"seeds differ: baseline {baseline['seeds']}, run {run.get('seeds')}")
    return CheckResult(tuple(rows), float(tolerance), tuple(notes))


# ----------------------------------------------------------------------------- rendering


def format_value(value: float | None) -> str:
    """A number for a table: thousands separators for large values, 4 significant digits else.

    Args:
        value: the number, or None for a missing value.

    Returns:
        The text ("-" for None, "nan" for NaN).
    """
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def format_ci(ci: Sequence[float] | None) -> str:
    """An interval for a table, `[lo, hi]` ("-" for None)."""
    if ci is None:
        return "-"
    return f"[{format_value(ci[0])}, {format_value(ci[1])}]"


ARROWS = {"higher": "↑", "lower": "↓", "none": "", "": ""}
"""How a metric's direction shows in tables."""

_STYLES = {"ok": "green", "REGRESSION": "bold red", "missing": "bold yellow"}


def render(result: CheckResult) -> Table:
    """A table of a check, one line per (group, metric), failures in red.

    Args:
        result: what `check` returned.

    Returns:
        A rich table; its caption gives the verdict, the rule and any notes.
    """
    failed = len(result.failures)
    title = "check: ok" if result.ok else f"check: {failed} of {len(result.rows)} failed"
    table = Table(title=title, title_justify="left")
    for name, justify in (("group", "left"), ("metric", "left"), ("", "center"),
                          ("baseline mean", "right"), ("baseline 95% CI", "right"),
                          ("limit", "right"), ("run mean", "right"), ("run 95% CI", "right"),
                          ("verdict", "left")):
        table.add_column(name, justify=justify)
    for r in result.rows:
        verdict = Text(r.verdict, style=_STYLES[r.verdict])
        if r.verdict == "missing":  # a regression's reason is in the limit column already
            verdict.append(f" {r.reason}")
        whole_group = r.metric == "*"
        cells = (r.group, r.metric, ARROWS[r.better],
                 "-" if whole_group else format_value(r.baseline_mean),
                 "-" if whole_group else format_ci(r.baseline_ci),
                 format_value(r.limit), format_value(r.run_mean), format_ci(r.run_ci))
        table.add_row(*(Text(c) for c in cells), verdict)
    caption = [f"a run regresses when its mean falls below the baseline's CI lower bound (↑) "
               f"or above its upper bound (↓) by more than {result.tolerance:g} x "
               f"|baseline mean|"]
    caption += [f"note: {n}" for n in result.notes]
    table.caption = "\n".join(caption)
    table.caption_justify = "left"
    return table
