"""The report's breakdown sections as HTML: per segment, channel, ranking, offer target.

Each reads what `load.load_run` read from the run's files (segments.parquet,
channels.parquet, scores.parquet, decisions.parquet) and shows means over seeds with their
95 % interval beneath; each says in one line why it is empty when its file is missing or
lacks columns (the offer-target section is left out of runs whose offers name no target).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np

from nbasim.experiments.results.report import draw, offer_targets
from nbasim.experiments.results.report.breakdowns import Estimate, estimate
from nbasim.experiments.results.report.load import CHANNEL_VALUES, Run
from nbasim.experiments.results.report.ranking_quality import finite
from nbasim.experiments.results.report.text import (
    control_groups,
    display_name,
    fmt,
    money,
)
from nbasim.experiments.results.stats import mean_ci
from nbasim.experiments.run.layout import CHANNEL_MONEY

CHANNEL_HEADS = {"sent": "sent", "opens": "opens", "clicks": "clicks",
                 "conversions": "conversions", "unsubscribes": "unsub&shy;scribes",
                 "cost": "cost", "attributed_margin": "attributed margin",
                 "true_incremental_margin": "true incr. margin"}
"""Column headers of the channel table, per `load.CHANNEL_VALUES`."""


def cell(mean: float, lo: float, hi: float, signed: bool = False) -> str:
    """A table cell: the mean, its interval beneath when it has width."""
    ci = (f'<div class="ci">{fmt(lo, signed=signed)} to {fmt(hi, signed=signed)}</div>'
          if hi > lo else "")
    return f"<td>{fmt(mean, signed=signed)}{ci}</td>"


def _missing(run: Run, file: str, what: str) -> str:
    """Why a section is empty: the reader's note on its file (absent, or lacking columns)."""
    note = next((n for n in run.notes if n.startswith(file)), f"{file} is not in this run.")
    return f'<p class="note">No {what}: {html.escape(note)}</p>'


def segments_section(run: Run) -> str:
    """Uplift per start segment: segments as rows, the groups as columns.

    Every cell is the segment's raw incremental margin over the holdout, mean over seeds and
    95 % interval; the control's column is the noise floor of each segment.
    """
    e = html.escape
    est = draw.segment_estimates(run)
    if not est:
        return _missing(run, "segments.parquet", "uplift per start segment")
    segments = next(iter(run.segments.values())).categories
    first = run.segments[next(iter(est))].values
    treated = first["treated_customers"].mean(axis=0)
    held = first["holdout_customers"].mean(axis=0)
    controls = set(control_groups(run))
    head = ('<th class="name">segment at the start</th><th>treated<br><small>customers'
            "</small></th><th>holdout<br><small>customers</small></th>"
            + "".join(f"<th>{e(display_name(run, g))}"
                      + ("<br><small>control: noise floor</small>" if g in controls else "")
                      + "</th>" for g in est))
    rows = []
    for j, seg in enumerate(segments):
        cells = [f'<td class="name">{e(seg)}</td>', f"<td>{treated[j]:,.0f}</td>",
                 f"<td>{held[j]:,.0f}</td>"]
        cells += [cell(x.mean[j], x.lo[j], x.hi[j], signed=True) for x in est.values()]
        rows.append(f'<tr data-segment="{e(seg)}">' + "".join(cells) + "</tr>")
    return (f'<table id="segments"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            f"</tbody></table><p><small>Raw incremental margin over the holdout ({e(money(run))})"
            " of the treated customers of each RFM segment at the start: their margin net of "
            "spend minus what they would have made at the rate of the segment's holdout "
            "customers; mean over seeds, 95 % interval beneath. Customers are means over seeds "
            "(the same on a seed for every group). A segment's holdout is a tenth of its "
            "customers or so, so these intervals are wide: read a segment's figure against "
            "the control's, which never contacts anyone and so shows the noise alone."
            "</small></p>")


def channels_section(run: Run) -> str:
    """Results per channel: a row per (group, channel) with messages sent."""
    e = html.escape
    if not run.channels:
        return _missing(run, "channels.parquet", "results per channel")
    rows = []
    for g in run.order:
        b = run.channels.get(g)
        if b is None:
            continue
        est: dict[str, Estimate] = {v: estimate(b.values[v]) for v in CHANNEL_VALUES}
        sent = b.values["sent"].sum(axis=0)
        for j, ch in enumerate(b.categories):
            if sent[j] == 0:
                continue
            cells = [f'<td class="name"><b>{e(display_name(run, g))}</b></td>',
                     f'<td class="name">{e(ch)}</td>']
            cells += [cell(est[v].mean[j], est[v].lo[j], est[v].hi[j],
                            signed=v == "true_incremental_margin") for v in CHANNEL_VALUES]
            rows.append(f'<tr data-group="{e(g)}" data-channel="{e(ch)}">' + "".join(cells)
                        + "</tr>")
    if not rows:
        return '<p class="note">No group sent any message.</p>'
    head = ('<th class="name">group</th><th class="name">channel</th>'
            + "".join(f"<th>{CHANNEL_HEADS[v]}"
                      + (f"<br><small>{e(money(run))}</small>" if v in CHANNEL_MONEY else "")
                      + "</th>" for v in CHANNEL_VALUES))
    return (f'<table id="channels"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table><p><small>Per group and channel, totals over the run: mean over "
            "seeds, 95 % interval beneath. Conversions and the attributed margin are what a "
            "CRM credits the messages with (a purchase within the window after an opened "
            "message), purchases that would have happened anyway included. The incremental "
            "margin per channel is the simulator's truth (the expected margin the messages "
            "added, net of their cost): the holdout is not split by channel, so the measured "
            "uplift has no per-channel figure. Groups that sent nothing are left out."
            "</small></p>")


def targeting_section(run: Run) -> str:
    """Qini and AUUC of each policy that ranks customers, against the truth."""
    e = html.escape
    if not run.ranked:
        return ('<p class="note">No policy of this run ranks customers (response_model, '
                "uplift_two_model and arbitration do; scores.parquet holds their rankings)."
                "</p>")
    rows = []
    for g in run.order:
        r = run.ranked.get(g)
        if r is None:
            continue
        cells = [f'<td class="name"><b>{e(display_name(run, g))}</b></td>',
                 f"<td>{np.mean(r.per_seed('n_customers')):,.0f}</td>"]
        for field in ("auuc", "random", "perfect", "total"):
            cells.append(cell(*mean_ci(r.per_seed(field)), signed=True))
        q = finite(r.per_seed("qini"))
        cells.append(cell(*mean_ci(q)) if q.size else "<td>—</td>")
        rows.append(f'<tr data-group="{e(g)}">' + "".join(cells) + "</tr>")
    cash = e(money(run))
    head = ('<th class="name">group</th><th>customers<br><small>ranked</small></th>'
            f"<th>AUUC<br><small>{cash}</small></th><th>random<br><small>AUUC</small></th>"
            "<th>perfect<br><small>AUUC</small></th>"
            f"<th>all targeted<br><small>{cash}</small></th><th>Qini<br><small>coefficient"
            "</small></th>")
    return (f'<table id="targeting"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table><p><small>On the run's last decision day each policy that ranks "
            "customers scored every customer eligible that day to whom it could send its "
            "action, with what it had learned by then (the contact rules leave out customers "
            "contacted lately, so a policy that contacts much ranks fewer); the simulator "
            "knows the true incremental margin of the action the policy would send each of "
            "them. Targeting by decreasing score, the Qini curve is the "
            "true margin gained so far against the share targeted (causalml's cumulative gain "
            "with the true effect; tied scores taken together, as scikit-uplift does). AUUC: "
            "the area under it, the mean gain over every targeting depth; a random ranking's "
            "is half of targeting everyone (\"all targeted\"), the perfect ranking's orders by "
            "the truth itself. Qini coefficient: (AUUC - random) / (perfect - random), 1 for a "
            "perfect ranking, 0 for one no better than chance (scikit-uplift's qini_auc_score)."
            " Mean over seeds, 95 % interval beneath.</small></p>")


def offer_targets_section(run: Run) -> str:
    """Category cross-sells and store visit bonuses: where they pay ("" without targets)."""
    if not run.targets:
        return ""
    e = html.escape
    rows, lines = [], []
    for g in run.order:
        b = run.targets.get(g)
        if b is None:
            continue
        sent, margin = estimate(b.values["sent"]), estimate(b.values["margin"])
        for j, c in enumerate(b.categories):
            if b.values["sent"][:, j].any():
                rows.append(f'<tr data-group="{e(g)}" data-offer="{e(c)}">'
                            f'<td class="name"><b>{e(display_name(run, g))}</b></td>'
                            f'<td class="name">{e(c)}</td>'
                            + cell(sent.mean[j], sent.lo[j], sent.hi[j])
                            + cell(margin.mean[j], margin.lo[j], margin.hi[j], signed=True)
                            + "</tr>")
        both, aimed = offer_targets.shares(b)
        if np.isfinite(both).all():
            m, lo, hi = (100 * v for v in mean_ci(both))
            lines.append(f"<li><b>{e(display_name(run, g))}</b>: {m:.1f} % ({lo:.1f} to "
                         f"{hi:.1f}) of its true incremental margin came from category "
                         f"cross-sells and store visit bonuses, {100 * np.mean(aimed):.1f} % "
                         "from those that name their category or store.</li>")
    head = ('<th class="name">group</th><th class="name">offer</th><th>sent</th>'
            f"<th>true incr. margin<br><small>{e(money(run))}</small></th>")
    return (f'<table id="offer_targets"><thead><tr>{head}</tr></thead><tbody>'
            f'{"".join(rows)}</tbody></table><ul id="target_shares">{"".join(lines)}</ul>'
            "<p><small>Per group, the messages of each cross-sell and visit bonus (by the "
            "category or store it names, or none) and of every other offer together, and the "
            "true incremental margin they added (the simulator's expected margin with the "
            "message minus without, net of its cost), totals over the run: mean over seeds, "
            "95 % interval beneath. The oracle's rows say where the offers pay: it sends an "
            "offer only where its true margin is the best of the catalog.</small></p>")


SECTIONS: dict[str, tuple[str, Callable[[Run], str]]] = {
    "segments": ("Uplift per start segment", segments_section),
    "channels": ("Results per channel", channels_section),
    "qini": ("Targeting: Qini curves and AUUC", targeting_section),
    "offer_targets": ("Offers that name a category or store", offer_targets_section),
}
"""Figure name -> (section title, the section's HTML before the figure; "" leaves the section
out)."""
