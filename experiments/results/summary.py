"""The one reader of a run's summary.json, used by `check`, `compare` and the report.

A summary (see `experiments.run.layout`) is a JSON object with a `"metrics"` object of metric
definitions and a `"groups"` object; each group has a `"metrics"` object of
`{"mean": float, "ci": [lo, hi], "per_seed": [...]}` entries. A baseline trimmed by
`check.trim_baseline` has the same shape. `load_summary` reads one from a file or a run
directory and `validate_summary` checks an object already parsed; both raise `ResultsError`
naming the file and the first bad field. `better`, `label` and `unit` read a metric's
definition from a summary (what the run wrote, not this version's `run.metrics` table).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from nbasim.errors import NbasimError

SUMMARY_NAME = "summary.json"
"""File name of a run's summary inside its results directory."""

Better = Literal["higher", "lower", "none"]
BETTER = ("higher", "lower", "none")
"""Allowed values of a metric's "better"."""


class ResultsError(NbasimError):
    """A results file is missing, unreadable or does not follow `experiments.run.layout`."""


class MetricDefinition(TypedDict):
    """How summary.json describes a metric."""

    label: str
    better: Better
    unit: str


class Estimate(TypedDict):
    """A metric of a group: the mean over seeds, its 95 % interval, the per-seed values."""

    mean: float
    ci: list[float]
    per_seed: NotRequired[list[float]]


class Group(TypedDict):
    """One policy on one scenario variant, over seeds."""

    metrics: dict[str, Estimate]
    policy: NotRequired[str]
    scenario: NotRequired[str]
    n_seeds: NotRequired[int]
    vs_baseline: NotRequired[dict[str, Estimate]]
    timing: NotRequired[dict[str, float]]


class Summary(TypedDict):
    """summary.json, or a baseline trimmed from one."""

    metrics: dict[str, MetricDefinition]
    groups: dict[str, Group]
    experiment: NotRequired[str]
    run_id: NotRequired[str]
    baseline: NotRequired[str]
    seeds: NotRequired[list[int]]


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_summary(summary: Any, source: str = "summary") -> Summary:
    """Check that an object has the shape of a summary.json (possibly trimmed).

    Checked: a JSON object with a `"metrics"` object and a `"groups"` object; every group an
    object with a `"metrics"` object; every group metric with a finite `"mean"` and a
    `"ci"` of two finite numbers.

    Args:
        summary: the parsed JSON.
        source: the file or name to cite in errors.

    Returns:
        The same summary.

    Raises:
        ResultsError: naming the source and the first bad field.
    """
    if not isinstance(summary, dict):
        raise ResultsError(f"{source}: not a summary.json: expected a JSON object, got "
                           f"{type(summary).__name__}")
    missing = [k for k in ("groups", "metrics") if k not in summary]
    if missing:
        raise ResultsError(f"{source}: not a summary.json: no {' or '.join(map(repr, missing))} "
                           f"key (keys found: {', '.join(map(repr, summary)) or 'none'})")
    if not isinstance(summary["metrics"], dict):
        raise ResultsError(f"{source}: 'metrics' must be an object of metric definitions")
    if not isinstance(summary["groups"], dict):
        raise ResultsError(f"{source}: 'groups' must be an object of groups")
    for name, group in summary["groups"].items():
        where = f"{source}: groups[{name!r}]"
        if not isinstance(group, dict) or not isinstance(group.get("metrics"), dict):
            raise ResultsError(f"{where}: expected an object with a 'metrics' object")
        for metric, entry in group["metrics"].items():
            at = f"{where}.metrics[{metric!r}]"
            if not isinstance(entry, dict):
                raise ResultsError(f"{at}: expected an object with 'mean' and 'ci'")
            mean = entry.get("mean")
            if not is_number(mean) or not math.isfinite(mean):
                raise ResultsError(f"{at}.mean: expected a finite number, got {mean!r}")
            ci = entry.get("ci")
            if (not isinstance(ci, list) or len(ci) != 2
                    or not all(is_number(v) and math.isfinite(v) for v in ci)):
                raise ResultsError(f"{at}.ci: expected [lo, hi], two finite numbers, got "
                                   f"{ci!r}")
    return summary


def load_summary(path: str | Path) -> Summary:
    """Read a summary.json, from its own path or from the run directory that holds it.

    Args:
        path: a summary.json file (or a trimmed baseline), or a run directory.

    Returns:
        The parsed summary.

    Raises:
        ResultsError: naming the file when it is missing, is not JSON, or is not a
            summary.json (see `validate_summary`).
    """
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY_NAME
    if not path.is_file():
        raise ResultsError(f"{path}: no such file; expected a run directory holding "
                           f"{SUMMARY_NAME} or the path of a summary.json")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: cannot read it as JSON ({err})") from err
    return validate_summary(summary, str(path))


def definition(summary: Summary, metric: str) -> dict[str, Any]:
    """A metric's definition in the summary's `"metrics"` ({} when it has none)."""
    spec = summary["metrics"].get(metric)
    return spec if isinstance(spec, dict) else {}


def better(summary: Summary, metric: str) -> str:
    """A metric's direction: "higher", "lower" or "none" ("none" when the summary does not say)."""
    value = definition(summary, metric).get("better")
    return value if value in BETTER else "none"


def label(summary: Summary, metric: str) -> str | None:
    """A metric's label in the summary, None when it has none."""
    value = definition(summary, metric).get("label")
    return str(value) if value else None


def unit(summary: Summary, metric: str) -> str:
    """A metric's unit in the summary ("" when it has none)."""
    return str(definition(summary, metric).get("unit", ""))
