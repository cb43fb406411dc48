"""The report's slate section: the share of redemptions by slot (slots.parquet).

Shown only for runs with slates (`slate_size` > 1, `experiments.run.slots`): per group, each
slot's share of the group's redemptions, with the messages that showed an offer in the slot
and the redemptions it took, means over seeds with their 95 % interval beneath.
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

SLOT_VALUES = ("share", "shown", "redemptions")
"""slots.parquet values the section shows, in its columns' order."""


def read_slots(run: Run, path: Path) -> dict[str, Breakdown]:
    """Per group, redemptions by slot of a run with slates (slots.parquet; none: {}, no note)."""
    if not path.exists():
        return {}
    needed = ("scenario", "policy", "seed", "slot", "shown", "redemptions", "share")
    table = _read_table(run, path, needed, needed)
    if table is None:
        return {}
    slots = sorted(np.unique(_column(table, "slot")).tolist())
    table = table.set_column(table.schema.get_field_index("slot"), "slot",
                             pa.array([str(s) for s in _column(table, "slot").tolist()]))
    return _by_group(run, table, "slot", needed[4:], [str(s) for s in slots])


def slots_section(run: Run) -> str:
    """The section's HTML ("" for a run without slates)."""
    e = html.escape
    if not run.slots:
        return ""
    rows = []
    for g in run.order:
        b = run.slots.get(g)
        if b is None:
            continue
        est = {v: estimate(b.values[v]) for v in SLOT_VALUES}
        for j, slot in enumerate(b.categories):
            cells = [f'<td class="name"><b>{e(display_name(run, g))}</b></td>',
                     f'<td class="name">{e(slot)}</td>']
            cells += [cell(100 * est[v].mean[j], 100 * est[v].lo[j], 100 * est[v].hi[j])
                      if v == "share" else cell(est[v].mean[j], est[v].lo[j], est[v].hi[j])
                      for v in SLOT_VALUES]
            rows.append(f'<tr data-group="{e(g)}" data-slot="{e(slot)}">' + "".join(cells)
                        + "</tr>")
    head = ('<th class="name">group</th><th class="name">slot</th><th>share of redemptions'
            "<br><small>%</small></th><th>messages showing it</th><th>redemptions</th>")
    return ('<h2 id="slots-section">Redemptions by slot</h2>'
            f'<table id="slots"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table><p><small>Each message is a slate of offers read in order as a "
            "cascade (each slot read with a lower probability than the one before) and "
            "redeemed at most once. Per group and slot, totals over the run: mean over "
            "seeds, 95 % interval beneath.</small></p>")
