"""The figures of the experiment report, drawn from arrays read off a run directory's files.

Each function takes plain arrays and dicts that `experiments.results.report` read from disk (never
live objects) and returns a matplotlib figure; `png` turns one into PNG bytes. Groups keep
one colour across every figure (`group_colors`).

Shapes: a daily series of one group is `(days, values)` with `days: (n_days,)` and
`values: (n_seeds, n_days)` (NaN where a seed lacks a day).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats  # noqa: E402

from nbasim.experiments.results.learning import Band  # noqa: E402

Series = tuple[np.ndarray, np.ndarray]
"""One group's daily series: days (n_days,), values (n_seeds, n_days)."""

DPI = 90
LABEL_SHARE = 0.05
"""Migration cells are labelled with their share from this share on (fewer labels, faster)."""


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (no software or date metadata: the same figure, the same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def group_colors(groups: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """A stable colour per name (group or policy), in the order given."""
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    return {g: cmap(i % cmap.N) for i, g in enumerate(groups)}


def mean_band(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, ...]:
    """Mean over seeds and its t-interval, per day.

    Args:
        values: (n_seeds, n_days), NaN where a seed has no value.
        level: coverage of the interval.

    Returns:
        mean, lo, hi: (n_days,) each; lo = hi = mean where fewer than two seeds have a value.
    """
    ok = ~np.isnan(values)
    n = ok.sum(axis=0)
    safe = np.where(ok, values, 0.0)
    mean = np.divide(safe.sum(axis=0), n, out=np.full(n.shape, np.nan), where=n > 0)
    dev = np.where(ok, values - mean, 0.0)
    var = np.divide((dev**2).sum(axis=0), n - 1, out=np.zeros(n.shape), where=n > 1)
    t = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
    half = np.where(n > 1, t * np.sqrt(var / np.maximum(n, 1)), 0.0)
    return mean, mean - half, mean + half


def _by_scenario(groups: Sequence[str], scenario_of: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for g in groups:
        out.setdefault(scenario_of.get(g, ""), []).append(g)
    return out


def add_legend(ax) -> None:
    """The axes' legend, if anything on them is labelled."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best", framealpha=0.7)


def _band_plot(ax, series: Series, color, label: str) -> None:
    days, values = series
    mean, lo, hi = mean_band(values)
    ax.plot(days, mean, color=color, lw=1.8, label=label)
    if np.any(hi > lo):
        ax.fill_between(days, lo, hi, color=color, alpha=0.18, lw=0)


def _short(group: str, several: bool) -> str:
    """A group's label inside a per-scenario panel (the scenario is in the panel's title)."""
    return group.split(" @ ", 1)[0] if several else group


def band_figure(panels: Sequence[tuple[str, str, Mapping[str, Series]]],
                groups: Sequence[str], scenario_of: Mapping[str, str],
                colors: Mapping[str, tuple[float, ...]], title: str,
                hline: float | None = None) -> Figure:
    """Rows of mean-and-band lines per group; one column per scenario variant.

    Args:
        panels: (row title, y label, {group: series}) for each row.
        groups: groups in legend order.
        scenario_of: group -> scenario variant label.
        colors: group -> colour.
        title: figure title.
        hline: a reference level drawn in every panel (e.g. 0 for uplift).
    """
    scen = _by_scenario(groups, scenario_of)
    several = len(scen) > 1
    fig, axes = plt.subplots(len(panels), len(scen), figsize=(6.5 * len(scen) + 2.5,
                                                              3.6 * len(panels)),
                             squeeze=False, constrained_layout=True)
    for r, (row_title, ylabel, data) in enumerate(panels):
        for c, (s, members) in enumerate(scen.items()):
            ax = axes[r, c]
            for g in members:
                if g in data:
                    _band_plot(ax, data[g], colors[g], _short(g, several))
            if hline is not None:
                ax.axhline(hline, color="0.3", lw=0.8, ls=":")
            ax.set_title(f"{row_title} ({s})" if several else row_title, fontsize=10)
            ax.set_xlabel("day")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.25)
            add_legend(ax)
    fig.suptitle(title)
    return fig


def spend_figure(spend: Mapping[str, Series], budget: Mapping[str, Series],
                 pacing: Mapping[str, float], groups: Sequence[str],
                 scenario_of: Mapping[str, str],
                 colors: Mapping[str, tuple[float, ...]], money: str = "money") -> Figure:
    """Cumulative spend per group (mean and band) against the cumulative budget.

    Args:
        spend: group -> cumulative cost series.
        budget: scenario -> cumulative budget made available (days, (1, n_days)); a scenario
            without a budget is absent.
        pacing: group -> the whole-run budget of its pacing wrapper, if it has one.
        groups: groups in legend order.
        scenario_of: group -> scenario variant label.
        colors: group -> colour.
        money: how money is labelled.
    """
    scen = _by_scenario(groups, scenario_of)
    several = len(scen) > 1
    fig, axes = plt.subplots(1, len(scen), figsize=(6.5 * len(scen) + 2.5, 4.2), squeeze=False,
                             constrained_layout=True)
    for c, (s, members) in enumerate(scen.items()):
        ax = axes[0, c]
        for g in members:
            if g in spend:
                _band_plot(ax, spend[g], colors[g], _short(g, several))
            if g in pacing:
                ax.axhline(pacing[g], color=colors[g], lw=1, ls="--",
                           label=f"pacing budget of {_short(g, several)}")
        if s in budget:
            days, values = budget[s]
            ax.step(days, values[0], where="post", color="black", lw=1.5,
                    label="budget made available")
        note = "" if s in budget else " (no budget)"
        ax.set_title(f"{s}{note}" if several else note.strip(" ()"), fontsize=10)
        ax.set_xlabel("day")
        ax.set_ylabel(f"cumulative spend ({money})")
        ax.grid(alpha=0.25)
        add_legend(ax)
    fig.suptitle("Cumulative spend (messages and discounts) against the budget")
    return fig


def migration_figure(segments: Sequence[str], counts: Mapping[str, np.ndarray]) -> Figure:
    """Heatmaps of row shares of segment migration, one per group, and their difference.

    Cells of at least `LABEL_SHARE` (in absolute value for the difference) carry their value.

    Args:
        segments: segment names, the rows and columns of every matrix.
        counts: title -> (n_segments, n_segments) customers moving from row to column segment,
            summed over seeds; with two entries a third panel shows the second minus the first.
    """
    k = len(segments)
    titles = list(counts)
    shares = {}
    for t in titles:
        m = counts[t].astype(float)
        rows = m.sum(axis=1, keepdims=True)
        shares[t] = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    n_panels = len(titles) + (len(titles) == 2)
    size = 0.45 * k + 2.2
    fig, axes = plt.subplots(1, n_panels, figsize=(size * n_panels + 1.0, 0.8 * size + 0.8),
                             squeeze=False, constrained_layout=True)
    ticks = list(range(k))
    for i, t in enumerate(titles):
        ax = axes[0, i]
        im = ax.imshow(shares[t], cmap="viridis", vmin=0, vmax=1)
        rows = counts[t].sum(axis=1)
        for a in range(k):
            for b in range(k):
                if shares[t][a, b] >= LABEL_SHARE:
                    ax.text(b, a, f"{shares[t][a, b]:.2f}", ha="center", va="center",
                            fontsize=6, color="white" if shares[t][a, b] < 0.6 else "black")
        ax.set_xticks(ticks, segments, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(ticks, [f"{s} ({int(n):,})" for s, n in zip(segments, rows, strict=True)],
                      fontsize=7)
        ax.set_xlabel("segment at the end")
        ax.set_ylabel("segment at the start (customers)" if i == 0 else "")
        ax.set_title(t, fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.7, label="share of the row")
    if len(titles) == 2:
        ax = axes[0, 2]
        diff = shares[titles[1]] - shares[titles[0]]
        lim = max(float(np.abs(diff).max()), 0.01)
        im = ax.imshow(diff, cmap="RdBu", vmin=-lim, vmax=lim)
        for a in range(k):
            for b in range(k):
                if abs(diff[a, b]) >= LABEL_SHARE:
                    ax.text(b, a, f"{diff[a, b]:+.2f}", ha="center", va="center", fontsize=6)
        ax.set_xticks(ticks, segments, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(ticks, segments, fontsize=7)
        ax.set_xlabel("segment at the end")
        ax.set_title(f"difference: {titles[1]} minus {titles[0]}", fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.7, label="difference in share")
    fig.suptitle("RFM segment migration of the treated customers (row shares, all seeds)")
    return fig


def mix_figure(mix: Mapping[str, Mapping[str, Mapping[tuple[str, str], int]]],
               groups: Sequence[str], segments: Sequence[str],
               categories: Mapping[str, Sequence[str]]) -> Figure:
    """Small multiples of stacked bars: the share of each offer (and channel) per segment.

    Args:
        mix: kind ("offer", "channel") -> group -> {(segment, category): messages sent}.
        groups: groups, one row each.
        segments: segments, one bar each, top to bottom.
        categories: kind -> its categories in stacking order.
    """
    kinds = [k for k in ("offer", "channel") if k in mix]
    cmaps = {"offer": plt.get_cmap("tab20"), "channel": plt.get_cmap("Set2")}
    colors = {k: {c: cmaps[k](i % cmaps[k].N) for i, c in enumerate(categories[k])}
              for k in kinds}
    height = max(1.6, 0.24 * len(segments) + 0.9)
    widths = [3 if k == "offer" else 2 for k in kinds]
    fig, axes = plt.subplots(len(groups), len(kinds), figsize=(4.2 * sum(widths) / 2 + 2.5,
                                                               height * len(groups) + 1.2),
                             squeeze=False, constrained_layout=True,
                             gridspec_kw={"width_ratios": widths})
    y = np.arange(len(segments))
    for r, g in enumerate(groups):
        for c, kind in enumerate(kinds):
            ax = axes[r, c]
            counts = mix[kind].get(g, {})
            total = np.array([sum(n for (s, _), n in counts.items() if s == seg)
                              for seg in segments], dtype=float)
            n = np.array([[counts.get((seg, cat), 0) for seg in segments]
                          for cat in categories[kind]], dtype=float)
            share = np.divide(n, total, out=np.zeros_like(n), where=total > 0)
            left = np.cumsum(share, axis=0) - share
            on = share > 0  # (n_categories, n_segments): one rectangle per nonzero share
            if on.any():
                ax.barh(np.broadcast_to(y, on.shape)[on], share[on], left=left[on], height=0.8,
                        color=[colors[kind][cat] for cat, row in zip(categories[kind], on,
                                                                       strict=True)
                               for hit in row if hit])
            ax.set_xlim(0, 1)
            ax.set_ylim(len(segments) - 0.5, -0.5)
            if c == 0:
                ax.set_yticks(y, [f"{s} ({int(n):,})" for s, n in
                                  zip(segments, total, strict=True)], fontsize=7)
            else:
                ax.set_yticks(y, [])
            ax.set_xticks([0, 0.25, 0.5, 0.75, 1],
                          ["0", "", "0.5", "", "1"] if r == len(groups) - 1 else [])
            ax.tick_params(axis="x", labelsize=7)
            ax.set_title(f"{g}: {kind}", fontsize=9, loc="left")
            if not total.any():
                ax.text(0.5, len(segments) / 2 - 0.5, "no messages sent", ha="center",
                        va="center", color="0.4")
            if r == len(groups) - 1:
                ax.set_xlabel("share of messages sent in the segment")
    for c, kind in enumerate(kinds):
        handles = [plt.Rectangle((0, 0), 1, 1, color=colors[kind][cat])
                   for cat in categories[kind]]
        if handles:
            axes[0, c].legend(handles, list(categories[kind]), fontsize=7, ncol=3,
                              loc="lower left", bbox_to_anchor=(0, 1.12), frameon=False)
    fig.suptitle("Action mix per segment (messages sent; segment (messages) on the left)")
    return fig


def ranking_figure(order: Sequence[str], metric_label: str,
                   values: Mapping[str, tuple[float, float, float, Sequence[float]]],
                   diffs: Mapping[str, tuple[float, float, float]], baselines: Sequence[str],
                   baseline_name: str, colors: Mapping[str, tuple[float, ...]]) -> Figure:
    """Dot-and-interval chart of the ranking, and of the paired difference vs the baseline.

    Args:
        order: groups, best first.
        metric_label: the ranked metric's label.
        values: group -> (mean, lo, hi, per-seed values).
        diffs: group -> (mean, lo, hi) of the paired difference vs its baseline (baselines
            absent); empty to leave out the second panel.
        baselines: the baseline groups (one per scenario variant).
        baseline_name: the baseline's name in the panel's title.
        colors: group -> colour.
    """
    n_panels = 2 if diffs else 1
    fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels + 2.5, 0.55 * len(order) + 1.6),
                             squeeze=False, constrained_layout=True, sharey=True)
    y = np.arange(len(order))
    ax = axes[0, 0]
    for i, g in enumerate(order):
        if g not in values:
            continue
        mean, lo, hi, seeds = values[g]
        ax.scatter(seeds, np.full(len(seeds), i), s=12, color=colors[g], alpha=0.35, lw=0)
        ax.errorbar(mean, i, xerr=[[mean - lo], [hi - mean]], fmt="o", color=colors[g],
                    capsize=4, ms=7)
    ax.axvline(0, color="0.3", lw=0.8, ls=":")
    ax.set_yticks(y, list(order))
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlabel(f"{metric_label} (mean, 95 % interval; faint dots: seeds)")
    ax.set_title("Ranking (best at the top; 0 = the holdout)", fontsize=10)
    ax.grid(axis="x", alpha=0.25)
    if diffs:
        ax = axes[0, 1]
        for i, g in enumerate(order):
            if g in baselines:
                ax.text(0, i, "baseline", ha="center", va="center", fontsize=8, color="0.3")
            elif g in diffs:
                mean, lo, hi = diffs[g]
                ax.errorbar(mean, i, xerr=[[mean - lo], [hi - mean]], fmt="D",
                            color=colors[g], capsize=4, ms=6)
        ax.axvline(0, color="0.3", lw=0.8, ls=":")
        ax.set_xlabel(f"difference vs {baseline_name} (paired by seed, 95 % interval)")
        ax.set_title(f"Against the baseline {baseline_name}", fontsize=10)
        ax.grid(axis="x", alpha=0.25)
    return fig


def timing_figure(order: Sequence[str], timing: Mapping[str, tuple[float, float]]) -> Figure:
    """Stacked bars of the mean seconds per cell, world and policy.

    Args:
        order: groups, top to bottom.
        timing: group -> (world seconds, policy seconds).
    """
    rows = [g for g in order if g in timing]
    world = np.array([timing[g][0] for g in rows])
    policy = np.array([timing[g][1] for g in rows])
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.5), constrained_layout=True)
    y = np.arange(len(rows))
    ax.barh(y, world, color="#8da0cb", label="world (simulation)")
    ax.barh(y, policy, left=world, color="#fc8d62", label="policy (act and learn)")
    for i in range(len(rows)):
        ax.text(world[i] + policy[i], i, f"  {world[i] + policy[i]:.2f} s", va="center",
                fontsize=8)
    ax.set_yticks(y, rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, max(float((world + policy).max(initial=0.0)) * 1.2, 1e-3))
    ax.set_xlabel("mean seconds per cell (one seed of one group)")
    fig.legend(fontsize=8, loc="outside lower center", ncol=2, frameon=False)
    ax.set_title("Time per cell", fontsize=10)
    return fig


LEARNING_PANELS = {
    "margin": ("True incremental margin per decision, by week", "{money} per decision"),
    "value": ("True incremental value per decision, by week", "{money} per decision"),
    "regret": ("Cumulative regret against the myopic oracle (true incremental margin)",
               "cumulative regret ({money})"),
    "regret_ltv": ("Cumulative regret against the long-term oracle (true incremental value)",
                   "cumulative regret ({money})"),
}
"""Learning-curve panel key -> (title, y label); the weekly panels above, regret below."""


def learning_figure(curves: Mapping[str, Mapping[str, Band]], groups: Sequence[str],
                    scenario_of: Mapping[str, str], colors: Mapping[str, tuple[float, ...]],
                    roles: Mapping[str, str], money: str = "money") -> Figure:
    """Learning curves: per decision by week above, cumulative regret by day below.

    Per scenario variant two columns, margin (and regret against the myopic oracle) on the
    left, value (and regret against the long-term oracle) on the right. The regret row is
    left out when no group has a regret curve.

    Args:
        curves: panel key of `LEARNING_PANELS` -> group -> its band (weeks or days).
        groups: groups in legend order.
        scenario_of: group -> scenario variant label.
        colors: group -> colour.
        roles: oracle group -> its role ("myopic oracle", "long-term oracle").
        money: how money is labelled.
    """
    scen = _by_scenario(groups, scenario_of)
    several = len(scen) > 1
    rows = [("margin", "value")]
    if curves.get("regret") or curves.get("regret_ltv"):
        rows.append(("regret", "regret_ltv"))
    fig, axes = plt.subplots(len(rows), 2 * len(scen), figsize=(11.5 * len(scen) + 1.5,
                                                               3.9 * len(rows)),
                             squeeze=False, constrained_layout=True)
    for c0, (s, members) in enumerate(scen.items()):
        for r, keys in enumerate(rows):
            for dc, key in enumerate(keys):
                ax = axes[r, 2 * c0 + dc]
                title, ylabel = LEARNING_PANELS[key]
                ax.set_title(f"{title} ({s})" if several else title, fontsize=9)
                data = curves.get(key, {})
                drawn = [g for g in members if g in data]
                if not drawn:
                    ax.text(0.5, 0.5, f"no {key.replace('_', ' ')} curve in this run",
                            ha="center", va="center", color="0.4", transform=ax.transAxes)
                    ax.set_axis_off()
                    continue
                for g in drawn:
                    b = data[g]
                    label = _short(g, several) + (f" ({roles[g]})" if g in roles else "")
                    ax.plot(b.x, b.mean, color=colors[g], lw=1.8, label=label,
                            marker="o" if r == 0 else None, ms=3.5,
                            ls="--" if g in roles else "-")
                    if np.any(b.hi > b.lo):
                        ax.fill_between(b.x, b.lo, b.hi, color=colors[g], alpha=0.15, lw=0)
                ax.axhline(0.0, color="0.3", lw=0.8, ls=":")
                ax.set_xlabel("week (week 0: days 0-6)" if r == 0 else "day")
                if r == 0:
                    ax.xaxis.get_major_locator().set_params(integer=True)
                ax.set_ylabel(ylabel.format(money=money))
                ax.grid(alpha=0.25)
                add_legend(ax)
    fig.suptitle("Learning curves (mean over seeds, 95 % band). A decision is a customer "
                 "decided for, sent a message or not")
    return fig
