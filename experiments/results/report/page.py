"""The report page: one self-contained HTML file with its CSS and figures inline."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from nbasim.experiments.results import summary as summary_reader
from nbasim.experiments.results.report.breakdown_page import SECTIONS
from nbasim.experiments.results.report.load import Run, group_timing
from nbasim.experiments.results.report.moments_page import moments_section
from nbasim.experiments.results.report.slots_page import slots_section
from nbasim.experiments.results.report.text import (
    MIN_SEEDS,
    baseline_name,
    baseline_of,
    ci_of,
    control_groups,
    difference_words,
    few_seeds,
    fmt,
    fmt_number,
    metric_label,
    metric_unit,
    oracle_groups,
    seed_count,
    short_label,
    vs_control,
)
from nbasim.experiments.run.metrics import METRICS

TABLE_ORDER = ("incremental_margin_raw", "true_incremental_margin", "regret",
               "true_incremental_value", "regret_ltv", "roi", "spend", "conversion", "churn_rate",
               "clv", "contacts_per_customer", "unsubscribes_per_customer")
"""Metrics shown first in the table after the ranking metric; the others follow."""


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
    "segments": "Each group's raw uplift in each RFM segment at the start: mean over seeds and "
                "95 % interval. Where the control's interval is as wide as a policy's, the "
                "segment's holdout is too small to tell them apart.",
    "channels": "Left, messages sent per channel; right, the true incremental margin those "
                "messages added (the simulator's truth): mean over seeds, 95 % interval.",
    "qini": "How to read it: targeting the ranked customers best score first, the true "
            "incremental margin gained so far (coloured, with its band over seeds) against "
            "a random order (dotted straight line) and the order of the truth itself (dashed). "
            "A curve above the dotted line ranks better than chance; the area between them, "
            "over the perfect ranking's, is the Qini coefficient in the table.",
    "learning": "How to read it: top, the true incremental margin (left) and value (right) "
                "that each policy earned per decision, week by week (a decision is a customer "
                "decided for, sent a message or not); a policy that learns climbs towards the "
                "oracles (dashed). Bottom, the regret summed day by day: what the policy left "
                "on the table against the myopic oracle (margin) and the long-term oracle "
                "(value) on the same seed; a learning policy's line flattens. Bands are 95 % "
                "intervals over seeds; the last day's regret is the table's.",
    "scale": "How to read it: each point is a policy's true incremental value or margin "
             "(a panel each) on the scenario variant of that base size, divided by the "
             "variant's customers (the holdout included) so that sizes compare: the mean over "
             "seeds with its 95 % interval. A policy whose line rises with size learns from "
             "more data; a fixed rule's stays about level. Where the line of a learner crosses "
             "the playbook's is the size from which learning pays in this run; read a crossing "
             "only where the intervals part. Variants that differ in more than their size are "
             "drawn as separate lines.",
}

QUIET = ("scale",)
"""Figures left out without a note when the run cannot draw them (most runs have one size)."""

TITLES = {
    "ranking": "Ranking", "uplift": "Cumulative uplift", "active": "Active customers and churn",
    "spend": "Spend against budget", "migration": "Segment migration",
    "action_mix": "Action mix per segment", "timing": "Time per cell",
    "learning": "Learning curves", "scale": "Scale",
    **{k: title for k, (title, _) in SECTIONS.items()},
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
    for name in ("uplift", "learning", "scale", "active", "spend", "migration", "action_mix"):
        if name in QUIET and name not in figures:
            continue
        parts.append(f"<h2>{TITLES[name]}</h2>")
        parts.append(_figure(name, figures) if name in figures else
                     '<p class="note">Not available for this run (see the notes below).</p>')
    for name, (title, section) in SECTIONS.items():
        body = section(run)
        if body:
            parts += [f'<h2 id="{name}-section">{title}</h2>', body, _figure(name, figures)]
    parts += [slots_section(run), moments_section(run)]
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
        cash = f" {run.currency}" if run.currency else ""
        facts.append(("Budget", f"{fmt_number(float(cfg['budget']))}{cash} per "
                                f"{period or '?'} days"))
    elif cfg:
        facts.append(("Budget", "none"))
    if "objective" in cfg:
        facts.append(("Policies learn from", str(cfg["objective"])))
    if run.currency:
        facts.append(("Money", f"in {run.currency}"))
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
        return f"<p>No group reports {e(metric_label(run, m))}.</p>"
    lo, hi = ci_of(entry)
    unit = metric_unit(run, m)
    text = (f"<p>Best by {e(metric_label(run, m))}: <b>{e(best)}</b>, "
            f"{fmt(float(entry['mean']), unit)} (95 % interval {fmt(lo, unit)} to "
            f"{fmt(hi, unit)}).")
    base = baseline_of(run, best)
    if len(run.groups) > 1:
        d = run.summary["groups"][best].get("vs_baseline", {}).get(m)
        if best == base:
            text += " It is the baseline itself."
        elif d is not None:
            dlo, dhi = ci_of(d)
            text += (f" Against the baseline {e(base)}: {fmt(float(d['mean']), unit, True)}"
                     f" (95 % interval {fmt(dlo, unit, True)} to {fmt(dhi, unit, True)}): "
                     f"{difference_words(run, m, d)}.")
    oracles = oracle_groups(run)
    if best in oracles:
        text += (f" The {oracles[best]} knows every customer's true response: it bounds what a "
                 "policy can reach rather than being one to deploy.")
        real = [g for g in run.order if g not in oracles
                and m in run.summary["groups"][g]["metrics"]]
        if real:
            r = run.summary["groups"][real[0]]["metrics"][m]
            rlo, rhi = ci_of(r)
            text += (f" The best policy that can be deployed is <b>{e(real[0])}</b>, "
                     f"{fmt(float(r['mean']), unit)} (95 % interval {fmt(rlo, unit)} to "
                     f"{fmt(rhi, unit)}).")
    if float(entry["mean"]) <= 0:
        text += " No group earned more than the holdout."
    for g in control_groups(run):
        c = run.summary["groups"][g]["metrics"].get(m)
        if c is not None:
            clo, chi = ci_of(c)
            text += (f" <b>{e(g)}</b> is the control: it never contacts anyone, so its true "
                     f"effect is 0, and what it measures, {fmt(float(c['mean']), unit, True)} "
                     f"(95 % interval {fmt(clo, unit, True)} to {fmt(chi, unit, True)}), is the "
                     "noise floor of this run.")
    text += _against_control(run, m)
    if seed_count(run) < 2:
        text += " With a single seed there is no interval: treat the order as indicative."
    elif few_seeds(run):
        text += " " + e(few_seeds(run))
    return text + "</p>"


def deployable_vs_control(run: Run, metric: str) -> dict[str, dict]:
    """Deployable groups (neither oracle nor control) -> their paired difference vs the control.

    Groups without a control on their scenario variant or without per-seed values are left
    out.
    """
    skip = set(oracle_groups(run)) | set(control_groups(run))
    out = {}
    for g in run.order:
        d = None if g in skip else vs_control(run, g, metric)
        if d is not None:
            out[g] = d
    return out


def _against_control(run: Run, metric: str) -> str:
    """The headline's sentence on which deployable policies the control's interval separates."""
    e = html.escape
    diffs = deployable_vs_control(run, metric)
    if not diffs or seed_count(run) < 2:
        return ""
    unit = metric_unit(run, metric)
    better = summary_reader.better(run.summary, metric)
    words = {g: difference_words(run, metric, d, "the control") for g, d in diffs.items()}
    apart = [g for g, w in words.items() if w.startswith(("better", "worse"))]
    if not apart:
        return (" <b>No policy one could deploy is separated from the control at this size:</b>"
                f" the paired 95 % interval of every one against {e(_control_name(diffs))} "
                "includes 0, so which of them helps and which harms is not known from this "
                "run.")
    listed = "; ".join(
        f"<b>{e(g)}</b> {fmt(float(diffs[g]['mean']), unit, True)} (95 % interval "
        f"{fmt(ci_of(diffs[g])[0], unit, True)} to {fmt(ci_of(diffs[g])[1], unit, True)}, "
        f"{e(words[g])})" for g in apart)
    same = len(diffs) - len(apart)
    rest = (f" The other {same} deployable polic{'y is' if same == 1 else 'ies are'} not "
            "separated from it." if same else "")
    direction = "" if better in ("higher", "lower") else " (this metric has no better side)"
    return (f" Against the control {e(_control_name(diffs))}, paired by seed, the interval "
            f"excludes 0 for: {listed}{direction}.{rest}")


def _control_name(diffs: dict[str, dict]) -> str:
    return ", ".join(dict.fromkeys(str(d["control"]) for d in diffs.values()))


def _metric_table(run: Run, metrics: Sequence[str], table_id: str, with_diff: bool) -> str:
    """Groups in ranking order, a column per metric (mean, interval beneath).

    With `with_diff`, the ranking metric is followed by its paired difference vs the baseline.
    """
    e = html.escape
    rank = run.rank_metric
    diff_col = with_diff and len(run.groups) > 1
    controls = control_groups(run)
    control_col = (diff_col and rank is not None and bool(controls)
                   and run.baseline not in controls)
    head = ['<th class="name">#</th>', '<th class="name">group</th>']
    for m in metrics:
        unit = metric_unit(run, m)
        head.append(f'<th title="{e(metric_label(run, m))}">{e(short_label(run, m))}'
                    + (f"<br><small>{e(unit)}</small>" if unit else "") + "</th>")
        if m == rank and diff_col:
            head.append(f"<th>vs baseline<br><small>{e(baseline_name(run))}</small></th>")
        if m == rank and control_col:
            head.append(f"<th>vs control<br><small>{e(run.policy_of[controls[0]])}</small>"
                        "</th>")
    rows = []
    for i, g in enumerate(run.order, start=1):
        info = run.summary["groups"][g]
        base = baseline_of(run, g)
        role = oracle_groups(run).get(g) or (
            "the control: never contacts, true effect 0" if g in control_groups(run) else None)
        cells = [f'<td class="name">{i}</td>', f'<td class="name"><b>{e(g)}</b>'
                 + (f" <small>({e(role)})</small>" if role else "")
                 + (" <small>(baseline)</small>" if g == base else "") + "</td>"]
        for m in metrics:
            entry = info["metrics"].get(m)
            unit = metric_unit(run, m)
            if entry is None:
                cells.append("<td>—</td>")
            else:
                lo, hi = ci_of(entry)
                ci = (f'<div class="ci">{fmt(lo, unit)} to {fmt(hi, unit)}</div>'
                      if hi > lo else "")
                cells.append(f"<td>{fmt(float(entry['mean']), unit)}{ci}</td>")
            if m == rank and diff_col:
                d = info.get("vs_baseline", {}).get(m)
                if g == base or d is None:
                    cells.append("<td>—</td>")
                else:
                    word = difference_words(run, m, d)
                    cells.append(_diff_cell(d, unit, word))
            if m == rank and control_col:
                d = vs_control(run, g, m)
                cells.append("<td>—</td>" if d is None else _diff_cell(
                    d, unit, difference_words(run, m, d, "the control")))
        css = ' class="best"' if g == run.best and len(run.groups) > 1 else ""
        rows.append(f'<tr{css} data-group="{e(g)}">' + "".join(cells) + "</tr>")
    n = seed_count(run)
    note = ""
    if with_diff:
        paired = (" Differences are paired by seed against the baseline policy on the same "
                  "scenario variant" + (" and against the control, which never contacts "
                                        "anyone" if control_col else "")
                  + "; \"better\" or \"worse\" only where the paired 95 % interval "
                  "excludes 0." if diff_col else "")
        note = (f"<p><small>Means over {n} seed{'s' if n != 1 else ''}; beneath each, the "
                "95 % interval" + (" (none with one seed)" if n < 2 else "") + ". Ranked by "
                f"{e(metric_label(run, rank)) if rank else 'summary order'}.{paired}"
                + (f" {e(few_seeds(run))}" if 1 < n < MIN_SEEDS else "") + "</small></p>")
    return (f'<table id="{table_id}"><thead><tr>{"".join(head)}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>" + note)


def _diff_cell(d, unit: str, word: str) -> str:
    """A paired difference: mean, interval and its words, coloured when the interval excludes 0."""
    dlo, dhi = ci_of(d)
    css = {"better": "good", "worse": "bad"}.get(word.split()[0], "even")
    return (f"<td>{fmt(float(d['mean']), unit, True)}<div class=\"ci\">"
            f"{fmt(dlo, unit, True)} to {fmt(dhi, unit, True)}</div>"
            f'<div class="{css}">{html.escape(word)}</div></td>')


def _metric_notes(run: Run) -> str:
    e = html.escape
    items = []
    for m in _all_metrics(run):
        better = summary_reader.better(run.summary, m)
        direction = {"higher": "higher is better", "lower": "lower is better"}.get(better, "")
        unit = metric_unit(run, m)
        extra = ", ".join(x for x in (unit, direction) if x)
        text = METRICS[m].description if m in METRICS else metric_label(run, m)
        items.append(f"<dt>{e(short_label(run, m))}" + (f" <small>({e(extra)})</small>"
                                                          if extra else "")
                     + f"</dt><dd>{e(text)}.</dd>")
    return "<dl>" + "".join(items) + "</dl>"


def _timing_table(run: Run) -> str:
    timing = group_timing(run)
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



def _all_metrics(run: Run) -> list[str]:
    """Metrics some group has: the main ones first, then in summary order."""
    groups = run.summary["groups"].values()
    present = list(run.summary["metrics"])
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
