"""How the report writes a metric: its label, unit, interval, difference and number."""

from __future__ import annotations

import math
from collections.abc import Mapping

from nbasim.experiments.results import stats
from nbasim.experiments.results import summary as summary_reader
from nbasim.experiments.results.report.load import Run
from nbasim.experiments.run.metrics import METRICS, ORACLE_ROLES

PERCENT_UNITS = ("share", "fraction")
"""Units shown as percentages."""
MIN_SEEDS = 5
"""Intervals over fewer seeds than this are flagged: their t quantile is wide and their
spread itself is a rough guess."""
CONTROL = "no_action"
"""Registry name of the control policy: it never contacts anyone, its true effect is 0."""


def baseline_name(run: Run) -> str:
    """The baseline as a reader knows it: its policy label when there are several scenarios."""
    several = len(set(run.scenario_of.values())) > 1
    return run.policy_of[run.baseline] if several else run.baseline


def baseline_of(run: Run, group: str) -> str:
    """The group `group` is compared against: the baseline policy on the same scenario."""
    for g in run.groups:
        if (run.policy_of[g] == run.policy_of[run.baseline]
                and run.scenario_of[g] == run.scenario_of[group]):
            return g
    return run.baseline


def oracle_groups(run: Run) -> dict[str, str]:
    """Groups whose policy is an oracle -> its role ("myopic oracle", "long-term oracle").

    From the registry names in config.toml, else the summary's "role" of the group.
    """
    names = _registry_names(run)
    out = {}
    for g in run.groups:
        role = ORACLE_ROLES.get(names.get(run.policy_of[g], run.policy_of[g]))
        out[g] = role or run.summary["groups"][g].get("role")
    return {g: r for g, r in out.items() if r}


def _registry_names(run: Run) -> dict[str, str]:
    """Policy label -> registry name, from config.toml (the label when it names none)."""
    return {str(p.get("label")): str(p.get("policy") or p.get("label"))
            for p in run.config.get("policies", []) if isinstance(p, dict)}


def control_groups(run: Run) -> list[str]:
    """Groups whose policy is the control (`no_action`), in ranking order."""
    names = _registry_names(run)
    return [g for g in run.order if names.get(run.policy_of[g], run.policy_of[g]) == CONTROL]


def few_seeds(run: Run) -> str:
    """A warning when the intervals come from fewer than `MIN_SEEDS` seeds, else ""."""
    n = seed_count(run)
    if n >= MIN_SEEDS:
        return ""
    return (f"Only {n} seed{'s' if n != 1 else ''}: intervals from fewer than {MIN_SEEDS} "
            "seeds are rough, so read them as indicative.")


def short_label(run: Run, metric: str) -> str:
    """A metric's column header: the table's short label, else its label."""
    return METRICS[metric].short if metric in METRICS else metric_label(run, metric)


def metric_label(run: Run, metric: str) -> str:
    """A metric's label in the summary, else its name in words."""
    return summary_reader.label(run.summary, metric) or metric.replace("_", " ")


def metric_unit(run: Run, metric: str) -> str:
    """A metric's unit in the summary ("" when it has none); money in the run's currency."""
    unit = summary_reader.unit(run.summary, metric)
    return money(run) if unit == "money" else unit


def money(run: Run) -> str:
    """How money is labelled: the run's currency (config `currency`), else "money"."""
    return run.currency or "money"


def display_name(run: Run, group: str) -> str:
    """A group as figures name it: an oracle's with its role, "oracle (myopic oracle)".

    With several scenario variants the role goes before the variant: "oracle (myopic
    oracle) @ base".
    """
    role = oracle_groups(run).get(group)
    if not role:
        return group
    policy = run.policy_of.get(group, group)
    if group.startswith(policy):
        return f"{policy} ({role}){group[len(policy):]}"
    return f"{group} ({role})"


def vs_control(run: Run, group: str, metric: str) -> Mapping | None:
    """The paired difference group - control on `metric`, as a summary entry, or None.

    The control (`no_action`) on the group's scenario variant, paired seed by seed from the
    summary's per-seed values (both faced the same customers and holdout on a seed); None for
    the control itself, without a control, or without per-seed values.
    """
    control = next((c for c in control_groups(run)
                    if run.scenario_of[c] == run.scenario_of[group]), None)
    if control is None or control == group:
        return None
    a = run.summary["groups"][group]["metrics"].get(metric, {}).get("per_seed")
    b = run.summary["groups"][control]["metrics"].get(metric, {}).get("per_seed")
    if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b) or not a:
        return None
    try:
        mean, lo, hi = stats.mean_ci([float(x) - float(y) for x, y in zip(a, b, strict=True)])
    except (TypeError, ValueError):
        return None
    return {"mean": mean, "ci": [lo, hi], "control": control}


def ci_of(entry: Mapping) -> tuple[float, float]:
    """An entry's 95 % interval, (mean, mean) when it has none."""
    ci = entry.get("ci")
    mean = float(entry["mean"])
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return float(ci[0]), float(ci[1])
    return mean, mean


def seed_count(run: Run) -> int:
    """Seeds of the run: the summary's list, else the largest group's n_seeds."""
    seeds = run.summary.get("seeds")
    if seeds:
        return len(seeds)
    return max(int(info.get("n_seeds", 1)) for info in run.summary["groups"].values())


def difference_words(run: Run, metric: str, diff: Mapping, against: str = "the baseline") -> str:
    """A paired difference in words: better, worse or no clear difference.

    "better than" and "worse than" only when the paired 95 % interval excludes 0; a
    difference without an interval is never called either.
    """
    if seed_count(run) < 2:
        return "one seed: no interval"
    ci = diff.get("ci")
    if not (isinstance(ci, list | tuple) and len(ci) == 2):
        return "no interval"
    lo, hi = ci_of(diff)
    if not (lo <= hi) or lo <= 0 <= hi:
        return "no clear difference"
    better = summary_reader.better(run.summary, metric)
    up = lo > 0
    if better == "none":
        return "clearly higher" if up else "clearly lower"
    return f"better than {against}" if up == (better == "higher") else f"worse than {against}"


def fmt_number(x: float) -> str:
    """A number for the page: thousands separators, fewer digits when large."""
    if not math.isfinite(x):
        return "—"
    a = abs(x)
    if a >= 1000 or (a >= 1 and x == round(x)):
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:,.1f}"
    if a >= 1:
        return f"{x:.2f}"
    if a == 0:
        return "0"
    return f"{x:.3g}"


def fmt(x: float, unit: str = "", signed: bool = False) -> str:
    """A value in its unit (shares as percentages), signed if asked, with a real minus."""
    if unit in PERCENT_UNITS and math.isfinite(x):
        text = f"{x * 100:.2f} %" if abs(x) < 0.1 else f"{x * 100:.1f} %"
    else:
        text = fmt_number(x)
    if signed and math.isfinite(x) and x > 0:
        text = "+" + text
    return "−" + text[1:] if text.startswith("-") else text
