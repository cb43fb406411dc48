"""The scale figure of the report (`plots/scale.png`): a metric per customer against base size.

Drawn from the summary's means and intervals of scenario variants that differ in their base
size (`draw.scale_lines`), never from live objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from nbasim.experiments.results.report.figures import add_legend


class ScaleLine(NamedTuple):
    """One policy's points in `plots/scale.png`, by base size ascending.

    Attributes:
        policy: the policy label.
        family: the variants on the line, when variants differ in more than their size
            ("" when they differ in nothing else).
        sizes: (n_points,) base sizes (customers).
        mean, lo, hi: (n_points,) the metric's mean over seeds and 95 % interval, each
            divided by the size.
    """

    policy: str
    family: str
    sizes: np.ndarray
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


SCALE_PANELS = {"true_incremental_value": ("True incremental value per customer", "value"),
                "true_incremental_margin": ("True incremental margin per customer", "margin")}
"""Scale panel metric -> (title, its word in the figure's title), in panel order."""

DODGE = 1.015
"""Lines at one size are drawn this factor apart on the log axis, so intervals show."""


def scale_figure(lines: Mapping[str, Sequence[ScaleLine]],
                 colors: Mapping[str, tuple[float, ...]], roles: Mapping[str, str],
                 money: str = "money") -> Figure:
    """A metric per customer against base size: one panel per metric, one line per policy.

    Args:
        lines: metric of `SCALE_PANELS` -> its lines.
        colors: policy -> colour.
        roles: oracle policy -> its role ("myopic oracle", "long-term oracle"); drawn dashed.
        money: how money is labelled.
    """
    metrics = [m for m in SCALE_PANELS if m in lines]
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.0 * len(metrics) + 2.0, 4.4),
                             squeeze=False, constrained_layout=True)
    families = list(dict.fromkeys(ln.family for m in metrics for ln in lines[m]))
    for ax, m in zip(axes[0], metrics, strict=True):
        sizes = sorted({int(n) for ln in lines[m] for n in ln.sizes})
        for i, ln in enumerate(lines[m]):
            shift = DODGE ** (i - (len(lines[m]) - 1) / 2)
            label = (ln.policy + (f" ({roles[ln.policy]})" if ln.policy in roles else "")
                     + (f", {ln.family}" if ln.family else ""))
            err = np.maximum([ln.mean - ln.lo, ln.hi - ln.mean], 0.0)
            ax.errorbar(ln.sizes * shift, ln.mean, yerr=err, color=colors[ln.policy],
                        marker="osD^v"[families.index(ln.family) % 5], ms=5, lw=1.8,
                        capsize=4, ls="--" if ln.policy in roles else "-", label=label)
        ax.axhline(0.0, color="0.3", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(sizes[0] / 1.25, sizes[-1] * 1.25)
        ax.set_xlabel("customers (base size of the scenario variant, log scale)")
        ax.set_ylabel(f"{money} per customer")
        ax.set_title(SCALE_PANELS[m][0], fontsize=10)
        ax.grid(alpha=0.25)
        add_legend(ax)
    words = " and ".join(SCALE_PANELS[m][1] for m in metrics)
    fig.suptitle(f"Scale: true incremental {words} per customer against base size "
                 "(mean over seeds, 95 % interval)")
    return fig
