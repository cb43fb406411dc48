"""The paired regression check: a run against a baseline that holds per-seed values.

A rerun of the same config on the same seeds reproduces every number bit for bit (common
random numbers, `experiments.run.cell`), so a run is compared with its baseline seed by seed,
on the metrics whose per-seed values carry no sampling noise of their own and on the
adjusted uplift (`PAIRED_METRICS`). For every group of the baseline and each of those metrics
it holds per seed:

- `d_s = run_s - baseline_s` on the seeds both have, and its mean and 95 % t-interval;
- `tolerance = spread + floor`: `spread` is the interval's half-width (from the seed-to-seed
  spread of `d`; 0 when the run reproduces the baseline), `floor = max(floor_money,
  floor_relative x |baseline mean|)`;
- a higher-is-better metric regresses when `mean(d) < -tolerance`, a lower-is-better one
  when `mean(d) > tolerance`: the whole interval lies beyond the floor on the bad side;
- a group, metric or seed of the baseline that the run lacks fails as "missing".

`identical` says whether every per-seed value of the baseline came back exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nbasim.experiments.results import stats
from nbasim.experiments.results.check import DIRECTIONS, Verdicts, format_value
from nbasim.experiments.results.summary import (
    BETTER,
    ResultsError,
    definition,
    is_number,
    validate_summary,
)
from nbasim.experiments.run.metrics import with_role

PAIRED_METRICS = ("true_incremental_margin", "true_incremental_value", "regret", "regret_ltv",
                  "incremental_margin")
"""Metrics judged seed by seed: the simulator's noise-free truth (true incremental margin and
value, and regret against the oracles, on the same seed), then the CUPED-adjusted uplift."""

FLOOR_MONEY = 10.0
"""Default floor of the tolerance in money: a change smaller than this never fails."""
FLOOR_RELATIVE = 0.02
"""Default floor of the tolerance as a share of the baseline's mean."""


def has_per_seed(baseline: Mapping[str, Any]) -> bool:
    """True when the baseline holds per-seed values of a paired metric and its seeds."""
    if not isinstance(baseline.get("seeds"), list):
        return False
    return any(isinstance(g.get("metrics", {}).get(m, {}).get("per_seed"), list)
               for g in baseline.get("groups", {}).values() for m in PAIRED_METRICS)


@dataclass(frozen=True)
class PairedRow:
    """One (group, metric) of a paired check.

    Attributes:
        group: group name (its policy label, with "@ scenario" when there are several).
        metric: metric name ("*" when the whole group is missing from the run).
        better: "higher" or "lower".
        n_seeds: seeds paired.
        diff: mean of run - baseline over the paired seeds (NaN when missing).
        diff_ci: its 95 % t-interval.
        spread: the interval's half-width.
        floor: max(floor_money, floor_relative x |baseline mean|).
        verdict: "ok", "REGRESSION" or "missing".
        reason: why the verdict is not "ok".
        role: "myopic oracle" or "long-term oracle" for an oracle's group, else "".
    """

    group: str
    metric: str
    better: str
    n_seeds: int
    diff: float
    diff_ci: tuple[float, float]
    spread: float
    floor: float
    verdict: str
    reason: str = ""
    role: str = ""

    @property
    def name(self) -> str:
        """The group, with its role when it is an oracle: "oracle (myopic oracle)"."""
        return with_role(self.group, self.role)

    @property
    def tolerance(self) -> float:
        """The spread plus the floor."""
        return self.spread + self.floor

    def line(self) -> str:
        """The row as one line of text."""
        if self.verdict == "missing":
            return f"missing {self.name} {self.metric}: {self.reason}"
        lo, hi = self.diff_ci
        side = "-" if self.better == "higher" else "+"
        return (f"{self.verdict} {self.name} {self.metric}: paired difference "
                f"{_signed(self.diff)} (95% CI {_signed(lo)} to {_signed(hi)}, "
                f"{self.n_seeds} seeds); regression beyond {side}{format_value(self.tolerance)}"
                f" = spread {format_value(self.spread)} + floor {format_value(self.floor)}")


def _signed(x: float) -> str:
    text = format_value(x)
    return text if text.startswith("-") else "+" + text


@dataclass(frozen=True)
class PairedResult(Verdicts):
    """The outcome of `paired_check`.

    Attributes:
        rows: one per (group, metric), in the baseline's order.
        seeds: the seeds paired.
        floor_money: the money floor used.
        floor_relative: the relative floor used.
        identical: every per-seed value of the baseline came back exactly.
        notes: remarks that do not fail the check.
    """

    rows: tuple[PairedRow, ...]
    seeds: tuple[int, ...]
    floor_money: float
    floor_relative: float
    identical: bool
    notes: tuple[str, ...] = field(default=())


def _per_seed(entry: Any) -> list[float] | None:
    values = entry.get("per_seed") if isinstance(entry, dict) else None
    if not isinstance(values, list) or not all(is_number(v) for v in values):
        return None
    return [float(v) for v in values]


def _direction(metric: str, baseline: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    for summary in (baseline, run):
        better = definition(summary, metric).get("better")
        if better in BETTER:
            return better
    raise ResultsError(f"baseline: metric {metric!r} has no 'better' (higher, lower or none)")


def _compare(group: str, metric: str, better: str, base: list[float], got: list[float] | None,
             pairs: list[tuple[int, int]], floor_money: float, floor_relative: float,
             ) -> PairedRow:
    """The rule of the module docstring for one (group, metric)."""
    if got is None:
        return PairedRow(group, metric, better, 0, math.nan, (math.nan, math.nan), math.nan,
                         math.nan, "missing", f"the run's group has no per-seed {metric}")
    b = np.array([base[i] for i, _ in pairs])
    r = np.array([got[j] for _, j in pairs])
    mean, lo, hi = stats.paired(r, b)
    spread = (hi - lo) / 2.0
    floor = max(floor_money, floor_relative * abs(float(b.mean())))
    worse = -mean if better == "higher" else mean
    verdict = "REGRESSION" if worse > spread + floor else "ok"
    return PairedRow(group, metric, better, len(pairs), mean, (lo, hi), spread, floor, verdict)


def paired_check(run: Mapping[str, Any], baseline: Mapping[str, Any],
                 floor_money: float = FLOOR_MONEY, floor_relative: float = FLOOR_RELATIVE,
                 metrics: Sequence[str] | None = None) -> PairedResult:
    """Compare a run with a baseline seed by seed; see the module docstring.

    Args:
        run: the run's summary.json dict (with per-seed values and seeds).
        baseline: a baseline summary holding per-seed values and its seeds.
        floor_money: floor of the tolerance in money, >= 0.
        floor_relative: floor of the tolerance as a share of |baseline mean|, >= 0.
        metrics: check only these (default: the `PAIRED_METRICS` the baseline holds).

    Returns:
        The rows, the verdict (`result.ok`) and whether the run is identical.

    Raises:
        ValueError: a floor negative or not finite.
        ResultsError: a summary malformed, the baseline without per-seed values or seeds, a
            metric of `metrics` that the baseline does not hold per seed, or a run without
            seeds.
    """
    for name, value in (("floor_money", floor_money), ("floor_relative", floor_relative)):
        if not is_number(value) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
    validate_summary(run, "run")
    validate_summary(baseline, "baseline")
    if not has_per_seed(baseline):
        raise ResultsError("baseline: holds no per-seed values and seeds to pair with; write "
                           "it again with `nbasim check RUN --baseline FILE --update`")
    wanted = list(metrics) if metrics else list(PAIRED_METRICS)
    held = {m for g in baseline["groups"].values() for m, e in g["metrics"].items()
            if _per_seed(e) is not None}
    unknown = [m for m in metrics or () if m not in held]
    if unknown:
        raise ResultsError(f"metrics: {unknown[0]!r} has no per-seed values in the baseline; "
                           f"it has: {', '.join(map(repr, sorted(held)))}")
    base_seeds, run_seeds = list(baseline["seeds"]), run.get("seeds")
    if not isinstance(run_seeds, list):
        raise ResultsError("run: its summary has no 'seeds' to pair the baseline's with")
    pairs = [(i, run_seeds.index(s)) for i, s in enumerate(base_seeds) if s in run_seeds]
    notes = []
    lost = [s for s in base_seeds if s not in run_seeds]
    if lost:
        notes.append(f"seeds of the baseline that the run lacks: {lost}")
    if baseline.get("experiment") not in (None, run.get("experiment")):
        notes.append(f"experiment differs: baseline {baseline['experiment']!r}, run "
                     f"{run.get('experiment')!r}")

    rows: list[PairedRow] = []
    identical = not lost and len(run_seeds) == len(base_seeds)
    for group, base_group in baseline["groups"].items():
        run_group = run["groups"].get(group)
        if run_group is None:
            rows.append(PairedRow(group, "*", "", 0, math.nan, (math.nan, math.nan), math.nan,
                                  math.nan, "missing", f"group {group!r} is not in the run"))
            identical = False
            continue
        for metric, entry in base_group["metrics"].items():
            base = _per_seed(entry)
            if base is None:
                continue
            got = _per_seed(run_group["metrics"].get(metric))
            same = got is not None and all(base[i] == got[j] for i, j in pairs)
            identical = identical and same
            better = _direction(metric, baseline, run)
            if metric not in wanted or better not in DIRECTIONS:
                continue
            if not pairs:
                rows.append(PairedRow(group, metric, better, 0, math.nan, (math.nan, math.nan),
                                      math.nan, math.nan, "missing",
                                      f"no seed in common (baseline {base_seeds}, run "
                                      f"{run_seeds})"))
                continue
            role = str(run_group.get("role") or base_group.get("role") or "")
            rows.append(dataclasses.replace(_compare(
                group, metric, better, base, got, pairs, float(floor_money),
                float(floor_relative)), role=role))
    if not rows:
        raise ResultsError(f"baseline: none of {', '.join(wanted)} per seed to check")
    return PairedResult(tuple(rows), tuple(base_seeds[i] for i, _ in pairs), float(floor_money),
                        float(floor_relative), identical, tuple(notes))


def report_lines(result: PairedResult) -> list[str]:
    """What `nbasim check` prints of a paired check: the rule, one line per row, the verdict."""
    lines = [f"paired check over seeds {list(result.seeds)}: a metric regresses when the 95 % "
             "interval of its paired difference (run - baseline) lies wholly beyond the floor on "
             f"the bad side; floor = max({format_value(result.floor_money)} in money, "
             f"{result.floor_relative:g} x |baseline mean|)"]
    lines += [r.line() for r in result.rows]
    lines += [f"note: {n}" for n in result.notes]
    if result.identical:
        lines.append("identical: the run reproduces every per-seed value of the baseline exactly")
    return lines
