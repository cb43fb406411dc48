"""The report's decision-moment section: what each channel added at each kind of moment.

Shown only for runs with `epochs = "moments"` (moments.parquet, `experiments.run.moments`):
per group, kind of moment and channel that sent anything, the actions sent, their attributed
conversions (at the till: lines taken), and the true incremental margin they added, in all
and per action sent; means over seeds with their 95 % interval beneath. At a checkout a
point-of-sale offer and a message compete for the same customer, so the checkout rows compare
them at the same moments.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pyarrow as pa

from nbasim.experiments.results.report.breakdown_page import cell
from nbasim.experiments.results.report.breakdowns import Breakdown, estimate
from nbasim.experiments.results.report.load import Run, _by_group, _column, _read_table
from nbasim.experiments.results.report.text import display_name
from nbasim.sim.calendar import KINDS
from nbasim.sim.params import ACTION_CHANNELS

MOMENT_VALUES = ("sent", "conversions", "true_incremental_margin")
"""moments.parquet values the section reads."""
SEP = " / "


def read_moments(run: Run, path: Path) -> dict[str, Breakdown]:
    """Per group, moments.parquet pivoted by seed and "moment / channel" ({} without it)."""
    if not path.exists():
        return {}
    needed = ("scenario", "policy", "seed", "moment", "channel", *MOMENT_VALUES)
    table = _read_table(run, path, needed, needed)
    if table is None:
        return {}
    key = np.char.add(np.char.add(_column(table, "moment").astype(str), SEP),
                      _column(table, "channel").astype(str))
    table = table.append_column("key", pa.array(key))
    order = [f"{k}{SEP}{c}" for k in KINDS for c in ACTION_CHANNELS]
    return _by_group(run, table, "key", MOMENT_VALUES, [k for k in order if k in set(key)])


def moments_section(run: Run) -> str:
    """The section's HTML ("" for a run by days)."""
    e = html.escape
    if not run.moments:
        return ""
    rows = []
    for g in run.order:
        b = run.moments.get(g)
        if b is None:
            continue
        est = {v: estimate(b.values[v]) for v in MOMENT_VALUES}
        sent = b.values["sent"]
        per = np.divide(b.values["true_incremental_margin"], sent, out=np.zeros(sent.shape),
                        where=sent > 0)
        per_est = estimate(per)
        for j, key in enumerate(b.categories):
            if not sent[:, j].any():
                continue
            moment, channel = key.split(SEP)
            cells = [f'<td class="name"><b>{e(display_name(run, g))}</b></td>',
                     f'<td class="name">{e(moment)}</td>', f'<td class="name">{e(channel)}</td>']
            cells += [cell(est[v].mean[j], est[v].lo[j], est[v].hi[j],
                           signed=v == "true_incremental_margin") for v in MOMENT_VALUES]
            cells.append(cell(per_est.mean[j], per_est.lo[j], per_est.hi[j], signed=True))
            rows.append(f'<tr data-group="{e(g)}" data-moment="{e(moment)}" '
                        f'data-channel="{e(channel)}">' + "".join(cells) + "</tr>")
    head = ('<th class="name">group</th><th class="name">moment</th><th class="name">channel'
            "</th><th>sent</th><th>conversions</th><th>true incremental margin</th>"
            "<th>per action sent</th>")
    return ('<h2 id="moments-section">Where it paid: decision moments and channels</h2>'
            f'<table id="moments"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table><p><small>Per group, kind of decision moment and channel, totals "
            "over the run: mean over seeds, 95 % interval beneath. Channel pos is an offer "
            "shown at the till of a checkout (its conversions are lines added to the basket); "
            "at the same checkouts the other channels are messages. The true incremental "
            "margin is the simulator's truth: the expected margin an action added, net of its "
            "cost; the measured uplift has no per-moment figure (the holdout is not split by "
            "moment). Rows with nothing sent are left out.</small></p>")
