"""The report's figures, drawn from a loaded run: PNG bytes by name."""

from __future__ import annotations

import json

import numpy as np

from nbasim.experiments.results import learning
from nbasim.experiments.results.report import breakdown_figures as bf
from nbasim.experiments.results.report import figures as rp
from nbasim.experiments.results.report import scale_figure as sf
from nbasim.experiments.results.report.breakdowns import Estimate, estimate
from nbasim.experiments.results.report.load import Run, group_timing
from nbasim.experiments.results.report.text import (
    baseline_name,
    baseline_of,
    ci_of,
    display_name,
    metric_unit,
    money,
    oracle_groups,
    short_label,
)
from nbasim.experiments.run.config import ExperimentConfig

REGRETS = (("regret", "myopic oracle", "true_incremental_margin"),
           ("regret_ltv", "long-term oracle", "true_incremental_value"))
"""Regret curve -> the role of the oracle it is measured against and the daily column."""


def draw(run: Run) -> dict[str, bytes]:
    """Every figure the run's files allow, as PNG bytes by name (without `.png`).

    Groups are named as `text.display_name` names them (an oracle with its role) and money
    in the run's currency.
    """
    by_policy = rp.group_colors(list(dict.fromkeys(run.policy_of[g] for g in run.groups)))
    name = {g: display_name(run, g) for g in run.groups}
    colors = {name[g]: by_policy[run.policy_of[g]] for g in run.groups}  # one per policy
    order = [name[g] for g in run.order]
    scenario_of = {name[g]: run.scenario_of[g] for g in run.groups}
    cash = money(run)

    def named(per: dict) -> dict:
        return {name[g]: v for g, v in per.items() if g in name}

    out: dict[str, bytes] = {}
    if run.rank_metric:
        values, diffs = {}, {}
        for g in run.order:
            entry = run.summary["groups"][g]["metrics"].get(run.rank_metric)
            if entry is not None:
                lo, hi = ci_of(entry)
                values[name[g]] = (float(entry["mean"]), lo, hi, list(entry.get("per_seed", [])))
            d = run.summary["groups"][g].get("vs_baseline", {}).get(run.rank_metric)
            if g != baseline_of(run, g) and d is not None:
                diffs[name[g]] = (float(d["mean"]), *ci_of(d))
        baselines = [name[g] for g in run.order if g == baseline_of(run, g)]
        unit = metric_unit(run, run.rank_metric)
        out["ranking"] = rp.png(rp.ranking_figure(
            order, short_label(run, run.rank_metric) + (f" ({unit})" if unit else ""), values,
            diffs, baselines, baseline_name(run), colors))
    daily = run.daily
    if "uplift" in daily:
        out["uplift"] = rp.png(rp.band_figure(
            [("Cumulative incremental margin over the holdout", f"cumulative uplift ({cash})",
              named(daily["uplift"]))], order, scenario_of, colors,
            "Cumulative uplift per group (mean over seeds, 95 % band)", hline=0.0))
    rows = [(title, ylabel, named(daily[c])) for c, title, ylabel in (
        ("active", "Active customers (treated, alive at the end of the day)", "customers"),
        ("churned", "Customers churned so far (treated)", "customers")) if c in daily]
    if rows:
        out["active"] = rp.png(rp.band_figure(
            rows, order, scenario_of, colors,
            "Active customers and churn per group (mean over seeds, 95 % band)"))
    if "cost" in daily:
        out["spend"] = rp.png(rp.spend_figure(
            named(daily["cost"]), run.budget, named(_pacing(run)), order, scenario_of, colors,
            money=cash))
    if run.migration:
        base = baseline_of(run, run.best)
        pairs = ([("baseline and best", run.best)] if run.best == base else
                 [("baseline", base), ("best", run.best)])
        panels = {f"{role}: {name[g]}": run.migration[g] for role, g in pairs
                  if g in run.migration}
        if panels:
            out["migration"] = rp.png(rp.migration_figure(run.migration_segments, panels))
        else:
            run.notes.append("migration.parquet has no rows for the baseline or the best group.")
    if run.mix:
        groups = [g for g in run.order if any(g in per for per in run.mix.values())]
        silent = [g for g in run.order if g not in groups]
        if groups:
            out["action_mix"] = rp.png(rp.mix_figure(
                {k: named(per) for k, per in run.mix.items()}, [name[g] for g in groups],
                run.mix_segments, run.mix_categories))
        if silent:
            run.notes.append(f"No messages sent (left out of the action mix): "
                             f"{', '.join(silent)}.")
    curves = learning_curves(run)
    if curves:
        out["learning"] = rp.png(rp.learning_figure(curves, run.order, run.scenario_of,
                                                    by_group_colors(run, by_policy),
                                                    oracle_groups(run), money=cash))
    elif run.daily:
        run.notes.append("No learning curves: daily.parquet lacks eligible decisions or the "
                         "true incremental margin and value.")
    scale = scale_lines(run)
    if scale:
        roles = {run.policy_of[g]: r for g, r in oracle_groups(run).items()}
        out["scale"] = rp.png(sf.scale_figure(scale, by_policy, roles, money=cash))
    segments = segment_estimates(run)
    if segments:
        out["segments"] = rp.png(bf.segments_figure(
            named(segments), _segments_of(run), colors, cash))
    sent, margin = channel_estimates(run, "sent"), channel_estimates(run, "true_incremental_margin")
    if sent:
        out["channels"] = rp.png(bf.channels_figure(
            named(sent), named(margin), _channels_of(run), colors, cash))
    if run.ranked:
        out["qini"] = rp.png(bf.qini_figure(
            {name[g]: (r.model, r.perfect, float(np.mean(r.per_seed("total"))))
             for g, r in ((g, run.ranked[g]) for g in run.order if g in run.ranked)},
            colors, cash))
    timing = group_timing(run)
    if timing:
        out["timing"] = rp.png(rp.timing_figure(order, named(timing)))
    return out


def by_group_colors(run: Run, by_policy: dict) -> dict:
    """Group -> its policy's colour (figures that name groups themselves)."""
    return {g: by_policy[run.policy_of[g]] for g in run.groups}


def _segments_of(run: Run) -> list[str]:
    return next(iter(run.segments.values())).categories if run.segments else []


def _channels_of(run: Run) -> list[str]:
    return next(iter(run.channels.values())).categories if run.channels else []


def segment_estimates(run: Run) -> dict[str, Estimate]:
    """Group -> its uplift per start segment over seeds (mean and 95 % interval), rank order."""
    return {g: estimate(run.segments[g].values["uplift"]) for g in run.order
            if g in run.segments}


def channel_estimates(run: Run, value: str) -> dict[str, Estimate]:
    """Group -> a channels.parquet value per channel over seeds, for the groups that sent."""
    return {g: estimate(run.channels[g].values[value]) for g in run.order
            if g in run.channels and run.channels[g].values["sent"].any()}


def _pacing(run: Run) -> dict[str, float]:
    budgets = {}
    for p in run.config.get("policies", []):
        if isinstance(p, dict) and isinstance(p.get("budget"), int | float):
            budgets[str(p.get("label"))] = float(p["budget"])
    return {g: budgets[run.policy_of[g]] for g in run.groups if run.policy_of[g] in budgets}


def learning_curves(run: Run) -> dict[str, dict[str, learning.Band]]:
    """The learning curves of `plots/learning.png`, from the daily series of the run.

    Returns:
        `"margin"`, `"value"`: group -> true incremental margin (value) per decision by week;
        `"regret"`, `"regret_ltv"`: group -> cumulative regret by day against the myopic
        (long-term) oracle on the same scenario variant and seeds. A key is absent when the
        run lacks its columns or its oracle.
    """
    daily, out = run.daily, {}
    if "eligible" in daily:
        for key, col in (("margin", "true_incremental_margin"),
                         ("value", "true_incremental_value")):
            for g, (days, values) in daily.get(col, {}).items():
                if g in daily["eligible"]:
                    weeks, rate = learning.weekly_per_decision(days, values,
                                                               daily["eligible"][g][1])
                    if np.isfinite(rate).any():
                        out.setdefault(key, {})[g] = learning.seed_band(weeks, rate)
    roles = oracle_groups(run)
    for key, role, col in REGRETS:
        per = daily.get(col, {})
        for g, (days, values) in per.items():
            oracle = next((o for o, r in roles.items() if r == role and o in per
                           and run.scenario_of[o] == run.scenario_of[g]), None)
            if oracle is None or not np.array_equal(per[oracle][0], days):
                continue
            o, p = learning.common_seeds(run.seeds_of[oracle], per[oracle][1],
                                         run.seeds_of[g], values)
            if len(o):
                out.setdefault(key, {})[g] = learning.seed_band(
                    days, learning.cumulative_regret(o, p))
    return out


def variant_sizes(run: Run) -> dict[str, int]:
    """Scenario variant label -> its base size, from config.toml.

    A variant's own `customers`, else the config's (else the config's default). Variants with
    a calibration are left out: their size is the calibration's, not in the config.
    """
    default = run.config.get("customers", ExperimentConfig.model_fields["customers"].default)
    return {str(v.get("label", "base")): int(v.get("customers", default))
            for v in run.config.get("scenarios", [])
            if isinstance(v, dict) and v.get("calibration") is None}


def scale_lines(run: Run) -> dict[str, list[sf.ScaleLine]]:
    """The points of `plots/scale.png`: per metric, each policy's mean and interval per customer.

    A point is a group's summary entry (mean, 95 % interval) divided by its variant's size.
    Variants that differ in more than their label and size (scenario, overrides, shocks,
    objective) are kept on separate lines, each named by its variants' labels.

    Returns:
        metric of `scale_figure.SCALE_PANELS` -> lines in group order; {} unless the variants have
        at least two distinct sizes.
    """
    sizes = variant_sizes(run)
    if len(set(sizes.values())) < 2:
        return {}
    world = {str(v.get("label", "base")): json.dumps(
        {k: x for k, x in v.items() if k not in ("label", "customers")}, sort_keys=True,
        default=str) for v in run.config.get("scenarios", []) if isinstance(v, dict)}
    members: dict[str, list[str]] = {}
    for s in sizes:
        members.setdefault(world[s], []).append(s)
    family = {s: "/".join(members[world[s]]) if len(members) > 1 else "" for s in sizes}
    out = {}
    for m in sf.SCALE_PANELS:
        points: dict[tuple[str, str], list[tuple[float, ...]]] = {}
        for g in run.groups:
            s, entry = run.scenario_of[g], run.summary["groups"][g]["metrics"].get(m)
            if s in sizes and entry is not None:
                n = sizes[s]
                lo, hi = ci_of(entry)
                points.setdefault((run.policy_of[g], family[s]), []).append(
                    (n, float(entry["mean"]) / n, lo / n, hi / n))
        if points:
            out[m] = [sf.ScaleLine(p, f, *np.array(sorted(pts)).T)
                      for (p, f), pts in points.items()]
    return out
