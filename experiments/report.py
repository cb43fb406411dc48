"""The experiment report: `plots/*.png` and one self-contained `report.html` per run directory.

`build_report(run_dir)` reads only the files a run wrote (see `experiments.layout`):
`summary.json` (required), `config.toml`, `daily.parquet`, `decisions.parquet` and
`migration.parquet` (each optional; what is missing is left out of the report with a note).
Only the Parquet columns the figures need are read. The page embeds its plots as base64 PNG
and its CSS inline, so it can be mailed or archived alone; it holds no timestamp, so the same
run directory always gives the same bytes.

Plots (in `plots/`): `ranking.png`, `uplift.png`, `active.png`, `spend.png`,
`migration.png`, `action_mix.png`, `timing.png` (each only when its inputs exist).
"""

from __future__ import annotations

import base64
import html
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nbasim.experiments import atomic
from nbasim.experiments import report_plots as rp
from nbasim.experiments.check import ResultsError
from nbasim.sim.params import CHANNELS, OFFERS
from nbasim.sim.rfm import SEGMENTS

RANK_METRICS = ("incremental_margin", "uplift")
"""summary.json metric names of the incremental margin over the holdout, the ranking metric
(the first present; otherwise the first metric where higher is better)."""

TABLE_ORDER = ("true_incremental_margin", "regret", "roi", "spend", "conversion", "churn_rate",
               "clv", "contacts_per_customer", "unsubscribes_per_customer")
"""Metrics shown first in the table after the ranking metric; the others follow."""

DESCRIPTIONS = {
    "incremental_margin": "profit the campaign added: the treated customers' margin net of "
                          "spend, minus what they would have made at the uncontacted "
                          "holdout's rate",
    "uplift": "profit the campaign added over what the uncontacted holdout's rate predicts",
    "true_incremental_margin": "the simulator's ground truth of the margin the messages sent "
                               "added (expected values, free of sampling noise)",
    "regret": "true margin left on the table against an oracle that knows every customer's "
              "true response, on the same seed",
    "roi": "incremental margin over the holdout per unit of money spent",
    "spend": "money spent: message prices plus discounts redeemed",
    "budget_used": "spend as a share of the budget the run made available",
    "conversion": "purchases per treated customer over the run",
    "revenue": "revenue of the treated customers",
    "average_check": "revenue per purchase",
    "churn_rate": "share of the treated customers alive at the start who were lost",
    "active_end": "treated customers in an active lifecycle stage at the end",
    "clv": "expected value over the next year of a treated customer still alive at the end",
    "contacts_per_customer": "messages sent per treated customer",
    "opens_per_customer": "messages opened per treated customer",
    "clicks_per_customer": "messages clicked per treated customer",
    "unsubscribes_per_customer": "channel unsubscribes per treated customer",
    "days_to_second_purchase": "days from a newcomer's first to second purchase",
}
"""One-line explanations of the usual metrics (others use their label from summary.json)."""

SHORT_LABELS = {
    "incremental_margin": "incremental margin", "true_incremental_margin": "true incr. margin",
    "regret": "regret", "roi": "ROI", "spend": "spend", "budget_used": "budget used",
    "conversion": "conversion", "revenue": "revenue", "average_check": "average check",
    "churn_rate": "churn rate", "active_end": "active at end", "clv": "CLV",
    "contacts_per_customer": "contacts / customer", "opens_per_customer": "opens / customer",
    "clicks_per_customer": "clicks / customer",
    "unsubscribes_per_customer": "unsubscribes / customer",
    "days_to_second_purchase": "days to 2nd purchase",
}
"""Column headers of the usual metrics (others use their label)."""

PERCENT_UNITS = ("share", "fraction")
"""Units shown as percentages."""

DAILY_NEEDED = ("scenario", "policy", "seed", "day", "uplift", "active", "churned", "cost",
                "budget", "budget_left")
DECISION_NEEDED = ("scenario", "policy", "segment", "offer", "channel", "action")
MIGRATION_NEEDED = ("scenario", "policy", "seed", "from_segment", "to_segment", "customers")


@dataclass
class Run:
    """What the report needs from a run directory, read from its files.

    Attributes:
        name: the run directory's name.
        summary: summary.json as parsed.
        config: config.toml as parsed ({} when absent).
        groups: group names in summary order.
        order: groups ranked by the ranking metric, best first.
        rank_metric: the ranking metric's name (None when no group has a metric).
        baseline: the baseline group.
        scenario_of: group -> scenario variant label.
        policy_of: group -> policy label.
        daily: column -> group -> (days (n_days,), values (n_seeds, n_days)).
        budget: scenario -> cumulative budget made available (days, (1, n_days)).
        migration: group -> (n_segments, n_segments) customers, over seeds; with
            `migration_segments` naming rows and columns.
        mix: "offer"/"channel" -> group -> {(segment, category): messages sent}.
        mix_segments, mix_categories: the segments and, per kind, categories of `mix`.
        files: names of the files read.
        notes: what could not be drawn, and why.
    """

    name: str
    summary: dict
    config: dict
    groups: list[str]
    order: list[str]
    rank_metric: str | None
    baseline: str
    scenario_of: dict[str, str] = field(default_factory=dict)
    policy_of: dict[str, str] = field(default_factory=dict)
    daily: dict[str, dict[str, rp.Series]] = field(default_factory=dict)
    budget: dict[str, rp.Series] = field(default_factory=dict)
    migration: dict[str, np.ndarray] = field(default_factory=dict)
    migration_segments: list[str] = field(default_factory=list)
    mix: dict[str, dict[str, dict[tuple[str, str], int]]] = field(default_factory=dict)
    mix_segments: list[str] = field(default_factory=list)
    mix_categories: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> str:
        """The group with the highest ranking metric."""
        return self.order[0]


def build_report(run_dir: Path) -> Path:
    """Read a run directory's files and (re)write its `plots/*.png` and `report.html`.

    Everything is read and drawn in memory first; then `plots/` is replaced as a whole (staged
    and renamed) and `report.html` is written to a temporary name and renamed, so a failure
    leaves the earlier files as they were.

    Args:
        run_dir: a results directory, `results/<experiment>/<run-id>/`.

    Returns:
        The path of `report.html`.

    Raises:
        ResultsError: summary.json is missing or malformed, or a file does not parse; the
            message names the file. Nothing is written then.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    figures = draw(run)
    page = render_html(run, figures)
    with atomic.staged_dir(run_dir / "plots") as stage:
        for name, data in figures.items():
            (stage / f"{name}.png").write_bytes(data)
    target = run_dir / "report.html"
    atomic.write_text(target, page)
    return target


# Reading --------------------------------------------------------------------------------------

def load_run(run_dir: Path) -> Run:
    """Read what the report needs from a run directory (see `Run`).

    Raises:
        ResultsError: summary.json missing or malformed, or a file that does not parse.
    """
    run_dir = Path(run_dir)
    summary = _read_summary(run_dir / "summary.json")
    config = _read_config(run_dir / "config.toml")
    groups = list(summary["groups"])
    rank = _rank_metric(summary)
    order = sorted(groups, key=lambda g: -_mean(summary, g, rank)) if rank else list(groups)
    baseline = summary.get("baseline")
    if baseline not in groups:
        baseline = groups[0]
    run = Run(run_dir.name, summary, config, groups, order, rank, baseline)
    run.files = ["summary.json"] + (["config.toml"] if config else [])
    for g, info in summary["groups"].items():
        run.scenario_of[g] = str(info.get("scenario", ""))
        run.policy_of[g] = str(info.get("policy", g))
    _read_daily(run, run_dir / "daily.parquet")
    _read_migration(run, run_dir / "migration.parquet")
    _read_decisions(run, run_dir / "decisions.parquet")
    return run


def _read_summary(path: Path) -> dict:
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file; is this a run directory of `nbasim run`?"
                          ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: not readable JSON: {err}") from None
    if not isinstance(summary, dict):
        raise ResultsError(f"{path}: expected a JSON object, got {type(summary).__name__}")
    groups = summary.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise ResultsError(f"{path}: 'groups' must be a non-empty object of groups")
    for g, info in groups.items():
        metrics = info.get("metrics") if isinstance(info, dict) else None
        if not isinstance(metrics, dict):
            raise ResultsError(f"{path}: groups[{g!r}] has no 'metrics' object")
        for m, v in metrics.items():
            if not isinstance(v, dict) or not isinstance(v.get("mean"), int | float):
                raise ResultsError(f"{path}: groups[{g!r}].metrics[{m!r}] has no numeric 'mean'")
    if not isinstance(summary.get("metrics", {}), dict):
        raise ResultsError(f"{path}: 'metrics' must be an object of metric descriptions")
    return summary


def _read_config(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ResultsError(f"{path}: not readable TOML: {err}") from None


def _rank_metric(summary: dict) -> str | None:
    present = {m for info in summary["groups"].values() for m in info["metrics"]}
    for m in RANK_METRICS:
        if m in present:
            return m
    described = summary.get("metrics", {})
    for m, d in described.items():
        if m in present and isinstance(d, dict) and d.get("better") == "higher":
            return m
    return next((m for m in described if m in present), min(present) if present else None)


def _mean(summary: dict, group: str, metric: str | None) -> float:
    entry = summary["groups"][group]["metrics"].get(metric) if metric else None
    if entry is None or not math.isfinite(float(entry["mean"])):
        return -math.inf
    return float(entry["mean"])


def _read_table(run: Run, path: Path, wanted: Sequence[str], required: Sequence[str],
                filters=None, read_dictionary: Sequence[str] = ()) -> pa.Table | None:
    """The wanted columns that the file has, or None (with a note) if it cannot serve."""
    if not path.exists():
        run.notes.append(f"{path.name} is not in this run.")
        return None
    try:
        names = set(pq.read_schema(path).names)
        missing = [c for c in required if c not in names]
        if missing:
            run.notes.append(f"{path.name} lacks the column(s) {', '.join(missing)}.")
            return None
        table = pq.read_table(path, columns=[c for c in wanted if c in names], filters=filters,
                              read_dictionary=list(read_dictionary) or None)
    except (OSError, pa.ArrowException) as err:
        raise ResultsError(f"{path}: not readable Parquet: {err}") from None
    run.files.append(path.name)
    return table


def _column(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col.to_numpy(zero_copy_only=False)


def _group_codes(run: Run, scenario: np.ndarray, policy: np.ndarray) -> tuple[np.ndarray, list]:
    """Each row's group: codes into the returned list of group names (None: not in summary)."""
    s_names, s_code = np.unique(scenario.astype(str), return_inverse=True)
    p_names, p_code = np.unique(policy.astype(str), return_inverse=True)
    pairs, code = np.unique(s_code * len(p_names) + p_code, return_inverse=True)
    by_keys = {(run.scenario_of[g], run.policy_of[g]): g for g in run.groups}
    several = len(s_names) > 1
    names = []
    for pair in pairs.tolist():
        s, p = str(s_names[pair // len(p_names)]), str(p_names[pair % len(p_names)])
        candidates = [f"{p} @ {s}", p] if several else [p, f"{p} @ {s}"]
        g = next((c for c in candidates if c in run.summary["groups"]), by_keys.get((s, p)))
        if g is not None:
            run.scenario_of[g], run.policy_of[g] = s, p
        names.append(g)
    return code.reshape(-1), names


def _pivot(seed: np.ndarray, day: np.ndarray, values: np.ndarray) -> rp.Series:
    seeds, si = np.unique(seed, return_inverse=True)
    days, di = np.unique(day, return_inverse=True)
    out = np.full((seeds.size, days.size), np.nan)
    out[si, di] = values
    return days, out


def _cumulative(series: rp.Series) -> rp.Series:
    days, values = series
    cum = np.nancumsum(values, axis=1)
    return days, np.where(np.isnan(values), np.nan, cum)


def _read_daily(run: Run, path: Path) -> None:
    table = _read_table(run, path, DAILY_NEEDED, ("scenario", "policy", "seed", "day"))
    if table is None:
        return
    code, names = _group_codes(run, _column(table, "scenario"), _column(table, "policy"))
    seed, day = _column(table, "seed"), _column(table, "day")
    cols = {c: _column(table, c).astype(float) for c in DAILY_NEEDED[4:] if c in table.column_names}
    absent = [c for c in ("uplift", "active", "churned", "cost") if c not in cols]
    if absent:
        run.notes.append(f"daily.parquet lacks the column(s) {', '.join(absent)}.")
    period = run.config.get("budget_period_days")
    for k, g in enumerate(names):
        if g is None:
            continue
        rows = code == k
        for c, v in cols.items():
            series = _pivot(seed[rows], day[rows], v[rows])
            if c in ("uplift", "churned", "cost"):
                series = _cumulative(series)
            run.daily.setdefault(c, {})[g] = series
        s = run.scenario_of[g]
        if "budget" in cols and s not in run.budget:
            days, budget = run.daily["budget"][g]
            left = run.daily.get("budget_left", {}).get(g, (None, None))[1]
            made = _cumulative_budget(days, budget[0], None if left is None else left[0], period)
            if made is not None:
                run.budget[s] = (days, made[None, :])


def _cumulative_budget(days: np.ndarray, budget: np.ndarray, left: np.ndarray | None,
                       period_days: object) -> np.ndarray | None:
    """Budget made available by each day: the budget of every period begun so far.

    Periods start every `period_days` days from the first day (config `budget_period_days`);
    without it, a period starts where the budget left goes up (a refill) or the budget changes.
    None when the run has no budget (all NaN).
    """
    ok = ~np.isnan(budget)
    if not ok.any():
        return None
    budget = np.where(ok, budget, 0.0)
    start = np.zeros(days.size, dtype=bool)
    start[0] = True
    if isinstance(period_days, int) and period_days > 0:
        start |= (days - days[0]) % period_days == 0
    else:
        start[1:] |= budget[1:] != budget[:-1]
        if left is not None:
            start[1:] |= np.nan_to_num(left[1:]) > np.nan_to_num(left[:-1]) + 1e-9
    return np.cumsum(np.where(start, budget, 0.0))


def _segment_order(names: Sequence[str]) -> list[str]:
    known = [s for s in SEGMENTS if s in names]
    return known + sorted(set(names) - set(known))


def _read_migration(run: Run, path: Path) -> None:
    table = _read_table(run, path, MIGRATION_NEEDED, MIGRATION_NEEDED[:2] + MIGRATION_NEEDED[3:])
    if table is None:
        return
    code, names = _group_codes(run, _column(table, "scenario"), _column(table, "policy"))
    src = _column(table, "from_segment").astype(str)
    dst = _column(table, "to_segment").astype(str)
    n = _column(table, "customers").astype(float)
    segments = _segment_order(np.unique(np.concatenate([src, dst])).tolist())
    index = {s: i for i, s in enumerate(segments)}
    si = np.array([index[s] for s in src], dtype=np.intp)
    di = np.array([index[s] for s in dst], dtype=np.intp)
    k = len(segments)
    run.migration_segments = segments
    for c, g in enumerate(names):
        if g is not None:
            rows = code == c
            m = np.zeros((k, k))
            np.add.at(m, (si[rows], di[rows]), n[rows])
            run.migration[g] = m


def _read_decisions(run: Run, path: Path) -> None:
    """Messages sent per (group, segment, offer) and per (group, segment, channel)."""
    try:
        schema = pq.read_schema(path) if path.exists() else pa.schema([])
    except (OSError, pa.ArrowException) as err:
        raise ResultsError(f"{path}: not readable Parquet: {err}") from None
    filters = [("sent", "==", True)] if "sent" in schema.names else None
    strings = [f.name for f in schema if f.name in DECISION_NEEDED
               and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
    table = _read_table(run, path, [c for c in DECISION_NEEDED if c != "action"
                                    or "offer" not in schema.names],
                        ("scenario", "policy"), filters, read_dictionary=strings)
    if table is None:
        return
    if filters is None:
        run.notes.append("decisions.parquet has no 'sent' column: the action mix counts every "
                         "decision.")
    kinds = [k for k in ("offer", "channel") if k in table.column_names]
    if "offer" not in kinds and "action" in table.column_names:
        kinds.insert(0, "offer")
        table = table.append_column("offer", pc.cast(table.column("action"), pa.string()))
    if not kinds:
        run.notes.append("decisions.parquet has neither 'offer' nor 'channel': no action mix.")
        return
    table = table.unify_dictionaries()
    s_code, s_names = _codes(table, "scenario")
    p_code, p_names = _codes(table, "policy")
    if "segment" in table.column_names:
        seg_code, seg_names = _codes(table, "segment")
    else:
        seg_code, seg_names = np.zeros(table.num_rows, dtype=np.int64), ["all"]
    cell = s_code * len(p_names) + p_code
    group_of = {}
    for k in np.unique(cell).tolist():
        _, names = _group_codes(run, np.array([s_names[k // len(p_names)]]),
                                np.array([p_names[k % len(p_names)]]))
        group_of[k] = names[0]
    for kind in kinds:
        c_code, c_names = _codes(table, kind)
        key = (cell * len(seg_names) + seg_code) * len(c_names) + c_code
        found, counts = np.unique(key, return_counts=True)
        per: dict[str, dict[tuple[str, str], int]] = {}
        for k, n in zip(found.tolist(), counts.tolist(), strict=True):
            c = k % len(c_names)
            rest = k // len(c_names)
            g = group_of[rest // len(seg_names)]
            if g is not None:
                per.setdefault(g, {})[(seg_names[rest % len(seg_names)], c_names[c])] = n
        run.mix[kind] = per
        vocab = OFFERS if kind == "offer" else CHANNELS
        present = {cat for counts_of in per.values() for _, cat in counts_of}
        run.mix_categories[kind] = ([v for v in vocab if v in present]
                                    + sorted(present - set(vocab)))
    run.mix_segments = _segment_order(
        sorted({seg for per in run.mix.values() for counts_of in per.values()
                for seg, _ in counts_of}))


def _codes(table: pa.Table, name: str) -> tuple[np.ndarray, list[str]]:
    """A column as integer codes (n_rows,) into its distinct values as strings ("?": null).

    The table's dictionaries must be unified (`pa.Table.unify_dictionaries`).
    """
    col = table.column(name)
    if not pa.types.is_dictionary(col.type):
        col = pa.chunked_array([pc.dictionary_encode(col.combine_chunks())])
    if col.num_chunks == 0:
        return np.zeros(0, dtype=np.int64), []
    names = [str(v) for v in col.chunk(0).dictionary.to_pylist()]
    codes = np.concatenate([c.indices.fill_null(len(names)).to_numpy(zero_copy_only=False)
                            for c in col.chunks]).astype(np.int64)
    if (codes == len(names)).any():
        names.append("?")
    return codes, names


# Figures --------------------------------------------------------------------------------------

def draw(run: Run) -> dict[str, bytes]:
    """Every figure the run's files allow, as PNG bytes by name (without `.png`)."""
    by_policy = rp.group_colors(list(dict.fromkeys(run.policy_of[g] for g in run.groups)))
    colors = {g: by_policy[run.policy_of[g]] for g in run.groups}  # one per policy
    out: dict[str, bytes] = {}
    if run.rank_metric:
        values, diffs = {}, {}
        for g in run.order:
            entry = run.summary["groups"][g]["metrics"].get(run.rank_metric)
            if entry is not None:
                lo, hi = _ci(entry)
                values[g] = (float(entry["mean"]), lo, hi, list(entry.get("per_seed", [])))
            d = run.summary["groups"][g].get("vs_baseline", {}).get(run.rank_metric)
            if g != _baseline_of(run, g) and d is not None:
                diffs[g] = (float(d["mean"]), *_ci(d))
        baselines = [g for g in run.order if g == _baseline_of(run, g)]
        out["ranking"] = rp.png(rp.ranking_figure(
            run.order, _short_label(run, run.rank_metric), values, diffs, baselines,
            _baseline_name(run), colors))
    daily = run.daily
    if "uplift" in daily:
        out["uplift"] = rp.png(rp.band_figure(
            [("Cumulative incremental margin over the holdout", "cumulative uplift",
              daily["uplift"])], run.order, run.scenario_of, colors,
            "Cumulative uplift per group (mean over seeds, 95 % band)", hline=0.0))
    rows = [(title, ylabel, daily[c]) for c, title, ylabel in (
        ("active", "Active customers (treated, alive at the end of the day)", "customers"),
        ("churned", "Customers churned so far (treated)", "customers")) if c in daily]
    if rows:
        out["active"] = rp.png(rp.band_figure(
            rows, run.order, run.scenario_of, colors,
            "Active customers and churn per group (mean over seeds, 95 % band)"))
    if "cost" in daily:
        out["spend"] = rp.png(rp.spend_figure(
            daily["cost"], run.budget, _pacing(run), run.order, run.scenario_of, colors))
    if run.migration:
        base = _baseline_of(run, run.best)
        pairs = ([("baseline and best", run.best)] if run.best == base else
                 [("baseline", base), ("best", run.best)])
        panels = {f"{role}: {g}": run.migration[g] for role, g in pairs if g in run.migration}
        if panels:
            out["migration"] = rp.png(rp.migration_figure(run.migration_segments, panels))
        else:
            run.notes.append("migration.parquet has no rows for the baseline or the best group.")
    if run.mix:
        groups = [g for g in run.order if any(g in per for per in run.mix.values())]
        silent = [g for g in run.order if g not in groups]
        if groups:
            out["action_mix"] = rp.png(rp.mix_figure(run.mix, groups, run.mix_segments,
                                                     run.mix_categories))
        if silent:
            run.notes.append(f"No messages sent (left out of the action mix): "
                             f"{', '.join(silent)}.")
    timing = _timing(run)
    if timing:
        out["timing"] = rp.png(rp.timing_figure(run.order, timing))
    return out


def _pacing(run: Run) -> dict[str, float]:
    budgets = {}
    for p in run.config.get("policies", []):
        if isinstance(p, dict) and isinstance(p.get("budget"), int | float):
            budgets[str(p.get("label"))] = float(p["budget"])
    return {g: budgets[run.policy_of[g]] for g in run.groups if run.policy_of[g] in budgets}


def _timing(run: Run) -> dict[str, tuple[float, float]]:
    out = {}
    for g in run.groups:
        t = run.summary["groups"][g].get("timing")
        if isinstance(t, dict):
            out[g] = (float(t.get("world_s", 0.0)), float(t.get("policy_s", 0.0)))
    return out


# HTML -----------------------------------------------------------------------------------------

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:0;
background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 8px;
border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin:0 0 16px}
.headline{background:#eef4fb;border-left:4px solid #3a78c2;padding:12px 16px;margin:12px 0}
.headline p{margin:6px 0;font-size:1.05em}
ul.facts{columns:2;margin:8px 0;padding-left:18px}
table{border-collapse:collapse;font-size:0.86em;margin:8px 0}
th,td{padding:5px 8px;border-bottom:1px solid #e3e3e3;text-align:right;vertical-align:top}
th{background:#f0f2f5;text-align:center}td.name,th.name{text-align:left}
tr.best td{background:#f1f9ef}
.ci{color:#777;font-size:0.85em;white-space:nowrap}
.good{color:#1a7f37}.bad{color:#b42318}.even{color:#666}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.note{color:#8a5a00}dl dt{font-weight:600;margin-top:6px}dl dd{margin-left:16px}
footer{color:#888;font-size:0.8em;margin-top:36px}
"""

CAPTIONS = {
    "ranking": "Each dot is a group's mean over seeds with its 95 % interval; faint dots are "
               "single seeds. Right: the difference against the baseline, paired by seed "
               "(both faced the same customers); an interval that does not cross 0 is a "
               "clear difference.",
    "uplift": "Profit added over the holdout, accumulated day by day. A rising line earns "
              "money; a falling one costs more than it brings. The band is the 95 % interval "
              "over seeds.",
    "active": "Treated customers still active each day, and those lost so far. A policy that "
              "over-contacts shows up as faster churn.",
    "spend": "Money spent so far (messages and redeemed discounts) against the budget made "
             "available so far (black steps), and any pacing budget (dashed).",
    "migration": "Where the treated customers' RFM segments at the start ended up at the end "
                 "(each row sums to 1; counts of customers in brackets). The right panel shows "
                 "where the best group moves customers differently from the baseline.",
    "action_mix": "Which offers and channels each group sent to each segment, as shares of "
                  "the messages sent there (messages in brackets).",
    "timing": "Mean seconds per cell (one seed of one group), split into simulating the world "
              "and running the policy.",
}

TITLES = {
    "ranking": "Ranking", "uplift": "Cumulative uplift", "active": "Active customers and churn",
    "spend": "Spend against budget", "migration": "Segment migration",
    "action_mix": "Action mix per segment", "timing": "Time per cell",
}


def render_html(run: Run, figures: Mapping[str, bytes]) -> str:
    """The report page: headline, ranking table, metric notes and the embedded figures."""
    e = html.escape
    title = str(run.summary.get("experiment") or run.name)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}: experiment report</title><style>{CSS}</style></head><body><main>",
        f"<h1>{e(title)}: Next Best Action experiment</h1>",
        f'<p class="sub">run {e(str(run.summary.get("run_id") or run.name))}</p>',
        _headline(run), "<h2>Groups ranked</h2>",
        _metric_table(run, _main_metrics(run), "ranking", with_diff=True),
        _figure("ranking", figures),
    ]
    more = [m for m in _all_metrics(run) if m not in _main_metrics(run)]
    if more:
        parts += ["<h2>More metrics</h2>", _metric_table(run, more, "more", with_diff=False)]
    parts += ["<h2>What the metrics mean</h2>", _metric_notes(run)]
    for name in ("uplift", "active", "spend", "migration", "action_mix"):
        parts.append(f"<h2>{TITLES[name]}</h2>")
        parts.append(_figure(name, figures) if name in figures else
                     '<p class="note">Not available for this run (see the notes below).</p>')
    parts += ["<h2>Time per cell</h2>", _timing_table(run), _figure("timing", figures)]
    if run.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f'<li class="note">{e(n)}</li>'
                                                    for n in run.notes) + "</ul>")
    parts.append(_footer(run))
    parts.append("</main></body></html>")
    return "\n".join(p for p in parts if p) + "\n"


def _headline(run: Run) -> str:
    e = html.escape
    cfg, summary = run.config, run.summary
    seeds = summary.get("seeds") or cfg.get("seeds") or []
    facts = [("Scenario" + ("s" if len(_scenarios(run)) > 1 else ""),
              "; ".join(_scenarios(run)) or "not recorded")]
    if "customers" in cfg:
        facts.append(("Customers", f"{int(cfg['customers']):,}"))
    days = cfg.get("days") or _days(run)
    if days:
        facts.append(("Days", f"{int(days):,}"))
    facts.append(("Seeds", f"{len(seeds)} ({', '.join(str(s) for s in seeds)})" if seeds
                  else "not recorded"))
    facts.append(("Groups", f"{len(run.groups)} (baseline: {run.baseline})"))
    if "holdout" in cfg:
        facts.append(("Holdout", f"{float(cfg['holdout']):.0%} of customers, never contacted"))
    if cfg.get("budget") is not None:
        period = cfg.get("budget_period_days")
        facts.append(("Budget", f"{_num(float(cfg['budget']))} per "
                                f"{period or '?'} days"))
    elif cfg:
        facts.append(("Budget", "none"))
    if "objective" in cfg:
        facts.append(("Policies learn from", str(cfg["objective"])))
    items = "".join(f"<li><b>{e(k)}:</b> {e(v)}</li>" for k, v in facts)
    return (f'<section class="headline">{_verdict(run)}<ul class="facts">{items}</ul>'
            "</section>")


def _verdict(run: Run) -> str:
    e = html.escape
    if run.rank_metric is None:
        return "<p>The summary holds no metrics to rank the groups by.</p>"
    m = run.rank_metric
    best = run.best
    entry = run.summary["groups"][best]["metrics"].get(m)
    if entry is None:
        return f"<p>No group reports {e(_label(run, m))}.</p>"
    lo, hi = _ci(entry)
    unit = _unit(run, m)
    text = (f"<p>Best by {e(_label(run, m))}: <b>{e(best)}</b>, "
            f"{_fmt(float(entry['mean']), unit)} (95 % interval {_fmt(lo, unit)} to "
            f"{_fmt(hi, unit)}).")
    base = _baseline_of(run, best)
    if len(run.groups) > 1:
        d = run.summary["groups"][best].get("vs_baseline", {}).get(m)
        if best == base:
            text += " It is the baseline itself."
        elif d is not None:
            dlo, dhi = _ci(d)
            text += (f" Against the baseline {e(base)}: {_fmt(float(d['mean']), unit, True)}"
                     f" (95 % interval {_fmt(dlo, unit, True)} to {_fmt(dhi, unit, True)}): "
                     f"{_difference_words(run, m, d)}.")
    oracles = _oracle_groups(run)
    if best in oracles:
        text += (" The oracle knows every customer's true response: it bounds what a policy "
                 "can reach rather than being one to deploy.")
        real = [g for g in run.order if g not in oracles
                and m in run.summary["groups"][g]["metrics"]]
        if real:
            r = run.summary["groups"][real[0]]["metrics"][m]
            rlo, rhi = _ci(r)
            text += (f" The best policy that can be deployed is <b>{e(real[0])}</b>, "
                     f"{_fmt(float(r['mean']), unit)} (95 % interval {_fmt(rlo, unit)} to "
                     f"{_fmt(rhi, unit)}).")
    if float(entry["mean"]) <= 0:
        text += " No group earned more than the holdout."
    if _n_seeds(run) < 2:
        text += " With a single seed there is no interval: treat the order as indicative."
    return text + "</p>"


def _metric_table(run: Run, metrics: Sequence[str], table_id: str, with_diff: bool) -> str:
    """Groups in ranking order, a column per metric (mean, interval beneath).

    With `with_diff`, the ranking metric is followed by its paired difference vs the baseline.
    """
    e = html.escape
    rank = run.rank_metric
    diff_col = with_diff and len(run.groups) > 1
    head = ['<th class="name">#</th>', '<th class="name">group</th>']
    for m in metrics:
        unit = _unit(run, m)
        head.append(f'<th title="{e(_label(run, m))}">{e(_short_label(run, m))}'
                    + (f"<br><small>{e(unit)}</small>" if unit else "") + "</th>")
        if m == rank and diff_col:
            head.append(f"<th>vs baseline<br><small>{e(_baseline_name(run))}</small></th>")
    rows = []
    for i, g in enumerate(run.order, start=1):
        info = run.summary["groups"][g]
        base = _baseline_of(run, g)
        cells = [f'<td class="name">{i}</td>', f'<td class="name"><b>{e(g)}</b>'
                 + (" <small>(baseline)</small>" if g == base else "") + "</td>"]
        for m in metrics:
            entry = info["metrics"].get(m)
            unit = _unit(run, m)
            if entry is None:
                cells.append("<td>—</td>")
            else:
                lo, hi = _ci(entry)
                ci = (f'<div class="ci">{_fmt(lo, unit)} to {_fmt(hi, unit)}</div>'
                      if hi > lo else "")
                cells.append(f"<td>{_fmt(float(entry['mean']), unit)}{ci}</td>")
            if m == rank and diff_col:
                d = info.get("vs_baseline", {}).get(m)
                if g == base or d is None:
                    cells.append("<td>—</td>")
                else:
                    dlo, dhi = _ci(d)
                    word = _difference_words(run, m, d)
                    css = {"better": "good", "worse": "bad"}.get(word.split()[0], "even")
                    cells.append(f"<td>{_fmt(float(d['mean']), unit, True)}<div class=\"ci\">"
                                 f"{_fmt(dlo, unit, True)} to {_fmt(dhi, unit, True)}</div>"
                                 f'<div class="{css}">{e(word)}</div></td>')
        css = ' class="best"' if g == run.best and len(run.groups) > 1 else ""
        rows.append(f'<tr{css} data-group="{e(g)}">' + "".join(cells) + "</tr>")
    n = _n_seeds(run)
    note = ""
    if with_diff:
        paired = (" Differences are paired by seed against the baseline policy on the same "
                  "scenario variant." if diff_col else "")
        note = (f"<p><small>Means over {n} seed{'s' if n != 1 else ''}; beneath each, the "
                "95 % interval" + (" (none with one seed)" if n < 2 else "") + ". Ranked by "
                f"{e(_label(run, rank)) if rank else 'summary order'}.{paired}</small></p>")
    return (f'<table id="{table_id}"><thead><tr>{"".join(head)}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>" + note)


def _metric_notes(run: Run) -> str:
    e = html.escape
    items = []
    for m in _all_metrics(run):
        d = run.summary.get("metrics", {}).get(m, {})
        better = d.get("better", "none") if isinstance(d, dict) else "none"
        direction = {"higher": "higher is better", "lower": "lower is better"}.get(better, "")
        unit = _unit(run, m)
        extra = ", ".join(x for x in (unit, direction) if x)
        text = DESCRIPTIONS.get(m) or _label(run, m)
        items.append(f"<dt>{e(_short_label(run, m))}" + (f" <small>({e(extra)})</small>"
                                                          if extra else "")
                     + f"</dt><dd>{e(text)}.</dd>")
    return "<dl>" + "".join(items) + "</dl>"


def _timing_table(run: Run) -> str:
    timing = _timing(run)
    if not timing:
        return '<p class="note">summary.json records no timing.</p>'
    rows = []
    for g in run.order:
        if g in timing:
            w, p = timing[g]
            share = p / (w + p) if w + p > 0 else 0.0
            rows.append(f'<tr><td class="name">{html.escape(g)}</td><td>{w:.2f}</td>'
                        f"<td>{p:.2f}</td><td>{w + p:.2f}</td><td>{share:.0%}</td></tr>")
    return ('<table><thead><tr><th class="name">group</th><th>world s</th><th>policy s</th>'
            "<th>total s</th><th>policy share</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _figure(name: str, figures: Mapping[str, bytes]) -> str:
    if name not in figures:
        return ""
    data = base64.b64encode(figures[name]).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{TITLES[name]}">'
            f"<figcaption><small>{html.escape(CAPTIONS[name])}</small></figcaption></figure>")


def _footer(run: Run) -> str:
    e = html.escape
    versions = run.config.get("versions", {})
    text = (f"Built by <code>nbasim report</code> from {e(', '.join(run.files))} of run "
            f"{e(str(run.summary.get('run_id') or run.name))}.")
    if isinstance(versions, dict) and versions:
        text += " Versions: " + e(", ".join(f"{k} {v}" for k, v in sorted(versions.items()))) + "."
    return f"<footer>{text}</footer>"


# Small helpers --------------------------------------------------------------------------------

def _all_metrics(run: Run) -> list[str]:
    """Metrics some group has: the main ones first, then in summary order."""
    groups = run.summary["groups"].values()
    present = list(run.summary.get("metrics", {}))
    for info in groups:
        present += [m for m in info["metrics"] if m not in present]
    present = [m for m in present if any(m in info["metrics"] for info in groups)]
    first = _main_metrics(run)
    return first + [m for m in present if m not in first]


def _main_metrics(run: Run) -> list[str]:
    """The ranking metric, then those of `TABLE_ORDER` that some group has."""
    groups = run.summary["groups"].values()
    first = [run.rank_metric] if run.rank_metric else []
    return first + [m for m in TABLE_ORDER if m not in first
                    and any(m in info["metrics"] for info in groups)]


def _oracle_groups(run: Run) -> set[str]:
    """Groups whose policy is the oracle (registry name "oracle" in config.toml)."""
    names = {str(p.get("label")): str(p.get("policy") or p.get("label"))
             for p in run.config.get("policies", []) if isinstance(p, dict)}
    return {g for g in run.groups if names.get(run.policy_of[g], run.policy_of[g]) == "oracle"}


def _baseline_name(run: Run) -> str:
    """The baseline as a reader knows it: its policy label when there are several scenarios."""
    several = len(set(run.scenario_of.values())) > 1
    return run.policy_of[run.baseline] if several else run.baseline


def _baseline_of(run: Run, group: str) -> str:
    """The group `group` is compared against: the baseline policy on the same scenario."""
    for g in run.groups:
        if (run.policy_of[g] == run.policy_of[run.baseline]
                and run.scenario_of[g] == run.scenario_of[group]):
            return g
    return run.baseline


def _short_label(run: Run, metric: str) -> str:
    return SHORT_LABELS.get(metric) or _label(run, metric)


def _label(run: Run, metric: str) -> str:
    d = run.summary.get("metrics", {}).get(metric)
    if isinstance(d, dict) and d.get("label"):
        return str(d["label"])
    return metric.replace("_", " ")


def _unit(run: Run, metric: str) -> str:
    d = run.summary.get("metrics", {}).get(metric)
    return str(d.get("unit", "")) if isinstance(d, dict) else ""


def _ci(entry: Mapping) -> tuple[float, float]:
    ci = entry.get("ci")
    mean = float(entry["mean"])
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return float(ci[0]), float(ci[1])
    return mean, mean


def _n_seeds(run: Run) -> int:
    seeds = run.summary.get("seeds")
    if seeds:
        return len(seeds)
    return max(int(info.get("n_seeds", 1)) for info in run.summary["groups"].values())


def _difference_words(run: Run, metric: str, diff: Mapping) -> str:
    lo, hi = _ci(diff)
    if _n_seeds(run) < 2:
        return "one seed: no interval"
    if lo <= 0 <= hi:
        return "no clear difference"
    d = run.summary.get("metrics", {}).get(metric, {})
    better = d.get("better", "none") if isinstance(d, dict) else "none"
    up = lo > 0
    if better == "none":
        return "clearly higher" if up else "clearly lower"
    return "better than the baseline" if up == (better == "higher") else "worse than the baseline"


def _scenarios(run: Run) -> list[str]:
    out = []
    for s in run.config.get("scenarios", []):
        if not isinstance(s, dict):
            continue
        text = f"{s.get('label', 'base')}: {s.get('scenario', '?')}"
        extra = []
        if s.get("shocks"):
            extra.append("shocks " + ", ".join(map(str, s["shocks"])))
        if s.get("overrides"):
            extra.append("overrides " + ", ".join(f"{k}={v}" for k, v in
                                                   sorted(s["overrides"].items())))
        out.append(text + (f" ({'; '.join(extra)})" if extra else ""))
    if not out:
        out = sorted({str(v) for v in run.scenario_of.values() if v})
    return out


def _days(run: Run) -> int:
    for per in run.daily.values():
        for days, _ in per.values():
            return int(days.size)
    return 0


def _num(x: float) -> str:
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


def _fmt(x: float, unit: str = "", signed: bool = False) -> str:
    if unit in PERCENT_UNITS and math.isfinite(x):
        text = f"{x * 100:.2f} %" if abs(x) < 0.1 else f"{x * 100:.1f} %"
    else:
        text = _num(x)
    if signed and math.isfinite(x) and x > 0:
        text = "+" + text
    return "−" + text[1:] if text.startswith("-") else text
