"""The report's breakdown figures: uplift per start segment, results per channel, Qini curves.

Each function takes arrays the report read from a run's files (`breakdowns.Estimate` per
category, `learning.Band` curves) and returns a matplotlib figure; groups are named as the
report names them (oracles with their role) and keep their colours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from nbasim.experiments.results.learning import Band
from nbasim.experiments.results.report.breakdowns import Estimate
from nbasim.experiments.results.report.figures import add_legend


def _dots(ax, estimates: Mapping[str, Estimate], categories: Sequence[str],
          colors: Mapping[str, tuple[float, ...]]) -> None:
    """Per category (a row each, top down) a dot and interval per group, side by side."""
    n = max(len(estimates), 1)
    height = 0.8 / n
    for i, (g, e) in enumerate(estimates.items()):
        y = np.arange(len(categories)) - 0.4 + height * (i + 0.5)
        err = np.maximum([e.mean - e.lo, e.hi - e.mean], 0.0)
        ax.errorbar(e.mean, y, xerr=err, fmt="o", color=colors[g], ms=4, capsize=2.5, lw=1.2,
                    label=g)
    ax.axvline(0.0, color="0.3", lw=0.8, ls=":")
    ax.set_yticks(np.arange(len(categories)), list(categories))
    ax.set_ylim(len(categories) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.25)


def segments_figure(estimates: Mapping[str, Estimate], segments: Sequence[str],
                    colors: Mapping[str, tuple[float, ...]], money: str) -> Figure:
    """Uplift per start segment: each group's mean over seeds and 95 % interval.

    Args:
        estimates: group -> its uplift per segment (in `segments` order).
        segments: the RFM segments at the start, top to bottom.
        colors: group -> colour.
        money: how money is labelled.
    """
    fig, ax = plt.subplots(figsize=(9.5, 0.42 * len(segments) * max(1, len(estimates)) ** 0.5
                                    + 2.0), constrained_layout=True)
    _dots(ax, estimates, segments, colors)
    ax.set_xlabel(f"incremental margin over the holdout in the segment, raw ({money}; "
                  "mean over seeds, 95 % interval)")
    ax.set_ylabel("RFM segment at the start")
    ax.set_title("Uplift per start segment", fontsize=10)
    add_legend(ax)
    return fig


def channels_figure(sent: Mapping[str, Estimate], margin: Mapping[str, Estimate],
                    channels: Sequence[str], colors: Mapping[str, tuple[float, ...]],
                    money: str) -> Figure:
    """Messages sent and their true incremental margin per channel, per group.

    Args:
        sent: group -> messages sent per channel (in `channels` order).
        margin: group -> true incremental margin per channel.
        channels: the channels, top to bottom.
        colors: group -> colour.
        money: how money is labelled.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 0.5 * len(channels) * max(1, len(sent)) ** 0.5
                                            + 2.2), sharey=True, constrained_layout=True)
    _dots(axes[0], sent, channels, colors)
    axes[0].set_xlabel("messages sent (mean over seeds, 95 % interval)")
    axes[0].set_title("Messages sent per channel", fontsize=10)
    _dots(axes[1], margin, channels, colors)
    axes[1].set_xlabel(f"true incremental margin ({money}; mean over seeds, 95 % interval)")
    axes[1].set_title("What the messages of each channel added (the simulator's truth)",
                      fontsize=10)
    add_legend(axes[1])
    return fig


def qini_figure(curves: Mapping[str, tuple[Band, Band, float]],
                colors: Mapping[str, tuple[float, ...]], money: str) -> Figure:
    """Qini (cumulative gain) curves against the truth, one panel per ranking group.

    Args:
        curves: group -> (its curve's band over seeds, the perfect ranking's band, the mean
            total uplift of targeting everyone: the random ranking's end point).
        colors: group -> colour.
        money: how money is labelled.
    """
    n = len(curves)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n + 1.0, 4.2), squeeze=False,
                             constrained_layout=True)
    for ax, (g, (model, perfect, total)) in zip(axes[0], curves.items(), strict=True):
        ax.plot(perfect.x, perfect.mean, color="0.35", lw=1.2, ls="--",
                label="perfect ranking (by the truth)")
        ax.plot([0.0, 1.0], [0.0, total], color="0.35", lw=1.2, ls=":", label="random ranking")
        ax.plot(model.x, model.mean, color=colors[g], lw=2.0, label=g)
        if np.any(model.hi > model.lo):
            ax.fill_between(model.x, model.lo, model.hi, color=colors[g], alpha=0.18, lw=0)
        ax.axhline(0.0, color="0.6", lw=0.6)
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("share of the ranked customers targeted, best scores first")
        ax.set_ylabel(f"true incremental margin gained ({money})")
        ax.set_title(g, fontsize=10)
        ax.grid(alpha=0.25)
        add_legend(ax)
    fig.suptitle("Qini curves against the truth, last decision day (mean over seeds, 95 % band)")
    return fig
