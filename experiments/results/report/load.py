"""Reading a run directory into what the report draws.

The summary, the config, the daily series, the migration counts, the action mix, the
breakdowns per start segment and per channel, and the rankings of the policies that score
customers; only the Parquet columns the report needs are read.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nbasim.experiments.results.report import figures as rp
from nbasim.experiments.results.report import offer_targets, ranking_quality
from nbasim.experiments.results.report.breakdowns import Breakdown, pivot
from nbasim.experiments.results.summary import SUMMARY_NAME, ResultsError, load_summary
from nbasim.experiments.run.layout import CHANNEL_FIELDS
from nbasim.sim.params import CHANNELS, OFFERS
from nbasim.sim.rfm import SEGMENTS

RANK_METRICS = ("incremental_margin", "uplift")
"""summary.json metric names of the incremental margin over the holdout, the ranking metric
(the first present; otherwise the first metric where higher is better)."""


DAILY_NEEDED = ("scenario", "policy", "seed", "day", "uplift", "active", "churned", "cost",
                "budget", "budget_left", "eligible", "true_incremental_margin",
                "true_incremental_value")
DECISION_NEEDED = ("scenario", "policy", "segment", "offer", "channel", "action")
MIGRATION_NEEDED = ("scenario", "policy", "seed", "from_segment", "to_segment", "customers")
SEGMENT_NEEDED = ("scenario", "policy", "seed", "segment", "uplift", "treated_customers",
                  "holdout_customers")
CHANNEL_VALUES = CHANNEL_FIELDS
"""channels.parquet values the report shows, in its columns' order."""
SCORE_NEEDED = ("scenario", "policy", "seed", "score", "true_incremental_margin")


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
        daily: column -> group -> (days (n_days,), values (n_seeds, n_days)); `uplift`,
            `churned` and `cost` cumulative, the others per day as in daily.parquet.
        seeds_of: group -> its seeds in daily.parquet, the rows of its `daily` values.
        budget: scenario -> cumulative budget made available (days, (1, n_days)).
        migration: group -> (n_segments, n_segments) customers, over seeds; with
            `migration_segments` naming rows and columns.
        mix: "offer"/"channel" -> group -> {(segment, category): messages sent}.
        mix_segments, mix_categories: the segments and, per kind, categories of `mix`.
        currency: how money is labelled (config.toml's `currency`; "" when it has none).
        segments: group -> its `segments.parquet` per seed and start segment.
        channels: group -> its `channels.parquet` per seed and channel (`CHANNEL_VALUES`).
        ranked: group -> the quality of its ranking (`scores.parquet`), for the groups whose
            policy scores customers.
        targets: group -> messages ("sent") and true incremental margin ("margin") per seed
            and offer kind (`offer_targets.label`), for runs whose scenarios name targets.
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
    seeds_of: dict[str, np.ndarray] = field(default_factory=dict)
    budget: dict[str, rp.Series] = field(default_factory=dict)
    migration: dict[str, np.ndarray] = field(default_factory=dict)
    migration_segments: list[str] = field(default_factory=list)
    mix: dict[str, dict[str, dict[tuple[str, str], int]]] = field(default_factory=dict)
    mix_segments: list[str] = field(default_factory=list)
    mix_categories: dict[str, list[str]] = field(default_factory=dict)
    currency: str = ""
    segments: dict[str, Breakdown] = field(default_factory=dict)
    channels: dict[str, Breakdown] = field(default_factory=dict)
    ranked: dict[str, ranking_quality.Ranked] = field(default_factory=dict)
    slots: dict[str, Breakdown] = field(default_factory=dict)
    moments: dict[str, Breakdown] = field(default_factory=dict)
    targets: dict[str, Breakdown] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> str:
        """The group with the highest ranking metric."""
        return self.order[0]


# Reading --------------------------------------------------------------------------------------

def load_run(run_dir: Path) -> Run:
    """Read what the report needs from a run directory (see `Run`).

    Raises:
        ResultsError: summary.json missing or malformed, or a file that does not parse.
    """
    run_dir = Path(run_dir)
    summary = load_summary(run_dir / SUMMARY_NAME)
    if not summary["groups"]:
        raise ResultsError(f"{run_dir / SUMMARY_NAME}: 'groups' must be a non-empty object of "
                           "groups")
    config = _read_config(run_dir / "config.toml")
    groups = list(summary["groups"])
    rank = _rank_metric(summary)
    order = sorted(groups, key=lambda g: -_mean(summary, g, rank)) if rank else list(groups)
    baseline = summary.get("baseline")
    if baseline not in groups:
        baseline = groups[0]
    run = Run(run_dir.name, summary, config, groups, order, rank, baseline)
    currency = config.get("currency", "")
    run.currency = currency if isinstance(currency, str) else ""
    run.files = ["summary.json"] + (["config.toml"] if config else [])
    for g, info in summary["groups"].items():
        run.scenario_of[g] = str(info.get("scenario", ""))
        run.policy_of[g] = str(info.get("policy", g))
    _read_daily(run, run_dir / "daily.parquet")
    _read_migration(run, run_dir / "migration.parquet")
    _read_decisions(run, run_dir / "decisions.parquet")
    _read_segments(run, run_dir / "segments.parquet")
    _read_channels(run, run_dir / "channels.parquet")
    _read_scores(run, run_dir / "scores.parquet")
    _read_targets(run, run_dir / "decisions.parquet")
    from nbasim.experiments.results.report import moments_page, slots_page

    run.slots = slots_page.read_slots(run, run_dir / "slots.parquet")
    run.moments = moments_page.read_moments(run, run_dir / "moments.parquet")
    return run


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
    described = summary["metrics"]
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
        run.seeds_of[g] = np.unique(seed[rows])
        for c, v in cols.items():
            series = _pivot(seed[rows], day[rows], v[rows])
            if c in ("uplift", "churned", "cost"):
                series = _cumulative(series)
            run.daily.setdefault(c, {})[g] = series
        s = run.scenario_of[g]
        if "budget" in cols and s not in run.budget:
            days, budget = run.daily["budget"][g]
            left = run.daily.get("budget_left", {}).get(g, (None, None))[1]
            made = cumulative_budget(days, budget[0], None if left is None else left[0], period)
            if made is not None:
                run.budget[s] = (days, made[None, :])


def cumulative_budget(days: np.ndarray, budget: np.ndarray, left: np.ndarray | None,
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


def _by_group(run: Run, table: pa.Table, category: str, values: Sequence[str],
              categories: Sequence[str]) -> dict[str, Breakdown]:
    """A table's rows per group, pivoted by seed and `category` (see `breakdowns.pivot`)."""
    code, names = _group_codes(run, _column(table, "scenario"), _column(table, "policy"))
    seed, cat = _column(table, "seed"), _column(table, category).astype(str)
    cols = {v: _column(table, v).astype(float) for v in values}
    out = {}
    for k, g in enumerate(names):
        if g is not None:
            rows = code == k
            out[g] = pivot(seed[rows], cat[rows], {v: c[rows] for v, c in cols.items()},
                           categories)
    return out


def _read_segments(run: Run, path: Path) -> None:
    """Uplift and customers per start segment (segments.parquet)."""
    table = _read_table(run, path, SEGMENT_NEEDED, SEGMENT_NEEDED)
    if table is not None:
        segments = _segment_order(np.unique(_column(table, "segment").astype(str)).tolist())
        run.segments = _by_group(run, table, "segment", SEGMENT_NEEDED[4:], segments)


def _read_channels(run: Run, path: Path) -> None:
    """Messages and their outcomes per channel (channels.parquet)."""
    table = _read_table(run, path, ("scenario", "policy", "seed", "channel", *CHANNEL_VALUES),
                        ("scenario", "policy", "seed", "channel", *CHANNEL_VALUES))
    if table is not None:
        present = np.unique(_column(table, "channel").astype(str)).tolist()
        channels = [c for c in CHANNELS if c in present] + sorted(set(present) - set(CHANNELS))
        run.channels = _by_group(run, table, "channel", CHANNEL_VALUES, channels)


def _read_targets(run: Run, path: Path) -> None:
    """Messages and true margin per offer kind, when offers name targets (decisions.parquet).

    Nothing (and no note) when the log is missing, lacks a column, or no message sent names
    a target: the section is for runs whose scenarios name targets.
    """
    wanted = offer_targets.NEEDED
    if not path.exists() or not set(wanted) <= set(pq.read_schema(path).names):
        return
    table = pq.read_table(path, columns=list(wanted), filters=[("sent", "==", True)])
    table = pa.table({k: _column(table, k) for k in wanted})
    sums = table.group_by(list(wanted[:5])).aggregate([("true_incremental_margin", "sum"),
                                                        ("true_incremental_margin", "count")])
    targets = _column(sums, "target").astype(str)
    if (targets == "none").all():
        return
    labels = np.array([offer_targets.label(o, t) for o, t in
                       zip(_column(sums, "offer").astype(str), targets, strict=True)])
    values = {"sent": sums.column("true_incremental_margin_count").to_numpy().astype(float),
              "margin": sums.column("true_incremental_margin_sum").to_numpy().astype(float)}
    code, names = _group_codes(run, _column(sums, "scenario"), _column(sums, "policy"))
    seed, rows = _column(sums, "seed"), offer_targets.order(set(labels.tolist()))
    for k, g in enumerate(names):
        at = code == k
        if g is not None and at.any():
            run.targets[g] = pivot(seed[at], labels[at], {v: c[at] for v, c in values.items()},
                                   rows)


def _read_scores(run: Run, path: Path) -> None:
    """The rankings of the policies that score customers (scores.parquet; none: no note)."""
    if not path.exists():
        return
    table = _read_table(run, path, SCORE_NEEDED, SCORE_NEEDED)
    if table is None:
        return
    code, names = _group_codes(run, _column(table, "scenario"), _column(table, "policy"))
    seed = _column(table, "seed")
    score = _column(table, "score").astype(float)
    truth = _column(table, "true_incremental_margin").astype(float)
    for k, g in enumerate(names):
        rows = code == k
        if g is not None and rows.any():
            try:
                ranked = ranking_quality.rank_quality(seed[rows], score[rows], truth[rows])
            except ValueError as err:  # NaN or infinite scores
                raise ResultsError(f"{path}: group {g!r}: {err}") from None
            if ranked is not None:
                run.ranked[g] = ranked


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



def group_timing(run: Run) -> dict[str, tuple[float, float]]:
    """Group -> (world seconds, policy seconds) per cell, from summary.json."""
    out = {}
    for g in run.groups:
        t = run.summary["groups"][g].get("timing")
        if isinstance(t, dict):
            out[g] = (float(t.get("world_s", 0.0)), float(t.get("policy_s", 0.0)))
    return out
