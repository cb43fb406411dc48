"""`build_report` on small synthetic run directories that follow `experiments.run.layout`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomli_w

from nbasim.experiments.results.report import build_report
from nbasim.experiments.results.report.figures import mean_band
from nbasim.experiments.results.report.load import CHANNEL_VALUES, cumulative_budget, load_run
from nbasim.experiments.results.report.page import render_html
from nbasim.experiments.results.summary import ResultsError
from nbasim.experiments.run.layout import DAILY_COLUMNS, DECISION_COLUMNS
from nbasim.experiments.run.metrics import METRICS, definitions
from nbasim.sim.params import CHANNELS, OFFERS
from nbasim.sim.rfm import SEGMENTS

# Incremental margin per policy: the ranking is oracle, linucb, blanket, random.
MARGIN = {"blanket": 300.0, "linucb": 500.0, "random": -40.0, "oracle": 900.0, "no_action": 0.0}
ALL_PLOTS = {"ranking", "uplift", "learning", "active", "spend", "migration", "action_mix",
             "timing"}
BREAKDOWN_PLOTS = {"segments", "channels", "qini"}
"""Plots of the breakdown files (segments, channels and scores.parquet), which only `built`
has: they take a second or more to draw, and the other runs do not need them."""
SCORE = [0.8, 0.1, 0.9, 0.8]
"""The ranking of `test_qini.py`'s hand-computed example (AUUC 2.875, Qini 0.8333)."""
TRUTH = [-1.0, -2.0, 3.0, 2.0]


def _entry(values: list[float]) -> dict:
    """A summary metric entry: mean, a crude interval (exact for one seed), per-seed values."""
    mean = float(np.mean(values))
    half = 0.0 if len(values) < 2 else 2.0 * float(np.std(values, ddof=1))
    return {"mean": mean, "ci": [mean - half, mean + half], "per_seed": values}


def make_run(root: Path, policies=("blanket", "linucb", "random"), seeds=(0, 1, 2), days=12,
             scenarios=("base",), budget: float | None = 400.0, decisions: bool = True,
             migration: bool = True, drop_daily=(), drop_decisions=(), breakdowns: bool = False,
             scored=(), currency: str | None = None, targets: bool = False) -> Path:
    """Write a run directory as `nbasim run` would: config, summary and the tables.

    With `breakdowns`, segments.parquet: every group's uplift in "champions" is 10, 20, 30 on
    seeds 0, 1, 2 (other segments: noise); channels.parquet: email, sms and push carry
    messages, phone none.
    scores.parquet: the groups of policies in `scored` rank four customers as `SCORE`, with
    the true uplift `TRUTH`, on every seed.
    With `targets`, cross-sells name "outerwear" and visit bonuses "north" (else "none").
    """
    rng = np.random.default_rng(7)
    run = root / "demo" / "run-1"
    run.mkdir(parents=True)
    several = len(scenarios) > 1
    label = {(s, p): f"{p} @ {s}" if several else p for s in scenarios for p in policies}
    baseline = policies[0]

    daily: dict[str, list] = {c: [] for c in DAILY_COLUMNS}
    dec: dict[str, list] = {c: [] for c in DECISION_COLUMNS} | {"x_recency": []}
    mig: dict[str, list] = {c: [] for c in ("scenario", "policy", "seed", "from_segment",
                                            "to_segment", "customers")}
    per_seed: dict[str, dict[str, list[float]]] = {}
    for (s, p), g in label.items():
        per_seed[g] = {m: [] for m in METRICS if m != "regret"}
        for seed in seeds:
            uplift = MARGIN[p] / days + rng.normal(0, 3, days)
            cost = np.full(days, 10.0) + rng.uniform(0, 2, days)
            for d in range(days):
                row = {c: 0 for c in DAILY_COLUMNS}
                row.update(scenario=s, policy=p, seed=seed, day=d, uplift=uplift[d],
                           cost=cost[d], active=900 - 3 * d, churned=3, eligible=20,
                           true_incremental_margin=MARGIN[p] / days,
                           true_incremental_value=2 * MARGIN[p] / days,
                           budget=np.nan if budget is None else budget,
                           budget_left=np.nan if budget is None else budget - cost[:d + 1]
                           [d - d % 5:].sum())
                for c in DAILY_COLUMNS:
                    daily[c].append(row[c])
                n = 20
                action = rng.integers(0, 19, n)
                sent = action > 0
                dec["scenario"] += [s] * n
                dec["policy"] += [p] * n
                dec["seed"] += [seed] * n
                dec["day"] += [d] * n
                dec["customer"] += list(range(n))
                dec["segment"] += list(rng.choice(SEGMENTS[:6], n))
                dec["action"] += action.tolist()
                dec["offer"] += [OFFERS[a % len(OFFERS)] if a else "none" for a in action]
                dec["channel"] += [CHANNELS[a % 4] if a else "none" for a in action]
                named = {"cross_sell": "outerwear", "second_store_bonus": "north"}
                dec["target"] += [named.get(o, "none") if targets else "none"
                                  for o in dec["offer"][-n:]]
                dec["pscore"] += [1 / 19] * n
                dec["sent"] += sent.tolist()
                dec["rejected"] += [""] * n
                dec["reward"] += rng.normal(0, 1, n).tolist()
                dec["true_incremental_margin"] += np.where(sent, 0.5, 0.0).tolist()
                dec["x_recency"] += rng.uniform(0, 30, n).astype(np.float32).tolist()
            for a in SEGMENTS:
                for b in SEGMENTS:
                    mig["scenario"].append(s)
                    mig["policy"].append(p)
                    mig["seed"].append(seed)
                    mig["from_segment"].append(a)
                    mig["to_segment"].append(b)
                    stay = a == b or (a, b) == ("champions", "loyal")
                    mig["customers"].append(int(rng.integers(40, 60)) if stay else
                                            int(rng.integers(0, 3)))
            for m in per_seed[g]:
                per_seed[g][m].append(float(uplift.sum()) if m == "incremental_margin"
                                      else float(rng.uniform(0.01, 2.0)))

    groups = {}
    for (s, p), g in label.items():
        base = label[(s, baseline)]
        groups[g] = {
            "policy": p, "scenario": s, "n_seeds": len(seeds),
            "metrics": {m: _entry(v) for m, v in per_seed[g].items()},
            "vs_baseline": {} if g == base else {
                m: {k: v for k, v in _entry([a - b for a, b in zip(
                    per_seed[g][m], per_seed[base][m], strict=True)]).items() if k != "per_seed"}
                for m in per_seed[g]},
            "timing": {"world_s": 1.5, "policy_s": 0.25 * (1 + len(p))}}
    summary = {"experiment": "demo", "run_id": "run-1",
               "baseline": label[(scenarios[0], baseline)], "seeds": list(seeds),
               "metrics": definitions(), "groups": groups}
    (run / "summary.json").write_text(json.dumps(summary, indent=2))
    config = {"name": "demo", "customers": 1000, "days": days, "seeds": list(seeds),
              "holdout": 0.1, "budget_period_days": 5, "baseline": baseline,
              "scenarios": [{"label": s, "scenario": "dry_cleaning_chain"} for s in scenarios],
              "policies": [{"label": p} for p in policies],
              "versions": {"nbasim": "0.1.0"}}
    if budget is not None:
        config["budget"] = budget
    (run / "config.toml").write_text(tomli_w.dumps(config))
    pq.write_table(pa.table({c: v for c, v in daily.items() if c not in drop_daily}),
                   run / "daily.parquet")
    if decisions:
        pq.write_table(pa.table({c: v for c, v in dec.items() if c not in drop_decisions}),
                       run / "decisions.parquet")
    if migration:
        pq.write_table(pa.table(mig), run / "migration.parquet")
    keys = [(s, p, seed) for s in scenarios for p in policies for seed in seeds]
    if breakdowns:
        seg: dict[str, list] = {c: [] for c in (
            "scenario", "policy", "seed", "segment", "treated_customers", "holdout_customers",
            "uplift")}
        ch: dict[str, list] = {c: [] for c in ("scenario", "policy", "seed", "channel",
                                               *CHANNEL_VALUES)}
        for s, p, seed in keys:
            for a in SEGMENTS:
                for c, v in zip(("scenario", "policy", "seed", "segment"), (s, p, seed, a),
                                strict=True):
                    seg[c].append(v)
                seg["treated_customers"].append(90)
                seg["holdout_customers"].append(10)
                seg["uplift"].append(10.0 * (seed + 1) if a == "champions"
                                     else float(rng.normal(0, 5)))
            for c_name in CHANNELS:
                for c, v in zip(("scenario", "policy", "seed", "channel"), (s, p, seed, c_name),
                                strict=True):
                    ch[c].append(v)
                n = 0 if c_name == "phone" else int(rng.integers(50, 100))
                for v in CHANNEL_VALUES:
                    ch[v].append(n if v == "sent" else n // 2 if v == "opens"
                                 else float(rng.uniform(0, n)))
        pq.write_table(pa.table(seg), run / "segments.parquet")
        pq.write_table(pa.table(ch), run / "channels.parquet")
    if scored:
        sc: dict[str, list] = {c: [] for c in ("scenario", "policy", "seed", "day", "customer",
                                               "action", "score", "true_incremental_margin")}
        for s, p, seed in keys:
            if p in scored:
                for i, (x, u) in enumerate(zip(SCORE, TRUTH, strict=True)):
                    for c, v in zip(sc, (s, p, seed, days - 2, i, 3, x, u), strict=True):
                        sc[c].append(v)
        pq.write_table(pa.table(sc), run / "scores.parquet")
    if currency is not None:
        text = (run / "config.toml").read_text()
        (run / "config.toml").write_text(f'currency = "{currency}"\n' + text)
    return run


def listing(run: Path) -> dict[str, bytes]:
    """Every file under the run directory and its bytes."""
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file()}


def ranked_groups(page: str) -> list[str]:
    """Groups in the order of the ranking table's rows."""
    table = page.split('<table id="ranking">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr[^>]*data-group="([^"]+)"', table)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Three groups over three seeds with a budget and every table, reported once.

    linucb stands in for a policy that ranks customers: the report draws whatever groups
    scores.parquet holds.
    """
    run = make_run(tmp_path_factory.mktemp("report"), breakdowns=True, scored=("linucb",))
    assert build_report(run) == run / "report.html"
    return run


@pytest.fixture
def copy_of_built(built, tmp_path) -> Path:
    """A copy of the reported run that a test may spoil."""
    return Path(shutil.copytree(built, tmp_path / "run"))


def test_report_is_self_contained_and_complete(built):
    """The page embeds every plot, links nothing outside and names every group."""
    page = (built / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<link" not in page and "<script" not in page
    assert page.count("data:image/png;base64,") == len(ALL_PLOTS | BREAKDOWN_PLOTS)
    for group in ("blanket", "linucb", "random"):
        assert f'data-group="{group}"' in page
    assert {p.stem for p in (built / "plots").glob("*.png")} == ALL_PLOTS | BREAKDOWN_PLOTS
    for p in (built / "plots").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ("Best by incremental margin over the holdout (uplift), regression-adjusted "
            "(CUPED): <b>linucb</b>") in page
    assert "<b>Customers:</b> 1,000" in page and "<b>Seeds:</b> 3 (0, 1, 2)" in page
    assert "<b>Budget:</b> 400 per 5 days" in page


def test_ranking_follows_the_summary(built):
    """Rows are the groups sorted by mean incremental margin, best first."""
    # MARGIN: linucb 500 > blanket 300 > random -40 (noise sd 3 x sqrt(12) days, about 10).
    means = json.loads((built / "summary.json").read_text())["groups"]
    assert [means[g]["metrics"]["incremental_margin"]["mean"] for g in ("linucb", "blanket",
            "random")] == pytest.approx([500, 300, -40], abs=50)
    assert ranked_groups((built / "report.html").read_text()) == ["linucb", "blanket", "random"]


def test_rebuild_gives_the_same_bytes(copy_of_built):
    """Building again writes identical HTML and PNG files (no timestamps)."""
    first = listing(copy_of_built)
    build_report(copy_of_built)
    assert listing(copy_of_built) == first


def test_rebuild_keeps_the_plots_other_commands_wrote(copy_of_built):
    """A rebuild keeps plots/ope_validate.png (`nbasim ope-validate` writes it).

    A stale plot of the report's own is dropped.
    """
    plots = copy_of_built / "plots"
    (plots / "ope_validate.png").write_bytes(b"not the report's")
    (plots / "stale.png").write_bytes(b"an earlier report's")
    build_report(copy_of_built)
    assert (plots / "ope_validate.png").read_bytes() == b"not the report's"
    assert not (plots / "stale.png").exists()
    assert (plots / "ranking.png").is_file()


def test_missing_summary_names_the_file_and_writes_nothing(tmp_path):
    """Without summary.json the error names it and the directory is left untouched."""
    run = make_run(tmp_path)
    (run / "summary.json").unlink()
    before = listing(run)
    with pytest.raises(ResultsError, match=r"summary\.json: no such file"):
        build_report(run)
    assert listing(run) == before
    assert sorted(p.name for p in run.iterdir()) == [
        "config.toml", "daily.parquet", "decisions.parquet", "migration.parquet"]


@pytest.mark.parametrize(("content", "match"), [
    ("{not json", "summary.json: cannot read it as JSON"),
    ("[1, 2]", "summary.json: not a summary.json: expected a JSON object"),
    ('{"metrics": {}, "groups": {}}', "summary.json: 'groups' must be a non-empty object"),
    ('{"metrics": {}, "groups": {"a": {}}}',
     r"summary.json: groups\['a'\]: expected an object with a 'metrics' object"),
    ('{"metrics": {}, "groups": {"a": {"metrics": {"roi": {"mean": "x"}}}}}',
     r"summary.json: groups\['a'\].metrics\['roi'\].mean: expected a finite number"),
])
def test_malformed_summary_keeps_the_earlier_report(copy_of_built, content, match):
    """A malformed summary.json fails naming the file and field; earlier files stay."""
    (copy_of_built / "summary.json").write_text(content)
    before = listing(copy_of_built)
    with pytest.raises(ResultsError, match=match):
        build_report(copy_of_built)
    assert listing(copy_of_built) == before


def test_corrupt_parquet_is_named(tmp_path):
    """A table that is not Parquet fails naming that file, before anything is written."""
    run = make_run(tmp_path)
    (run / "daily.parquet").write_bytes(b"not parquet")
    with pytest.raises(ResultsError, match=r"daily\.parquet: not readable Parquet"):
        build_report(run)
    assert not (run / "report.html").exists() and not (run / "plots").exists()


def test_one_seed_one_group_no_budget_thin_tables(tmp_path):
    """One group on one seed without budget or migration and with columns missing: it builds.

    Intervals collapse, there is no comparison and spend is drawn without a budget; what is
    missing is noted.
    """
    run = make_run(tmp_path, policies=("blanket",), seeds=(4,), budget=None, migration=False,
                   drop_daily=("active",), drop_decisions=("channel", "sent"))
    page = build_report(run).read_text()
    assert ranked_groups(page) == ["blanket"]
    assert "single seed" in page and "vs baseline" not in page
    assert "<b>Budget:</b> none" in page
    assert {p.stem for p in (run / "plots").glob("*.png")} == ALL_PLOTS - {"migration"}
    assert "migration.parquet is not in this run" in page
    assert "daily.parquet lacks the column(s) active" in page
    assert "no &#x27;sent&#x27; column" in page


def test_several_scenarios_and_an_oracle(tmp_path):
    """Groups named '<policy> @ <scenario>' are matched to their rows and baselines.

    The oracle ranks first; the headline also names the best policy one could deploy.
    """
    run = make_run(tmp_path, policies=("blanket", "oracle"), scenarios=("base", "recession"),
                   decisions=False)
    page = build_report(run).read_text()
    ranked = ranked_groups(page)
    assert sorted(ranked) == ["blanket @ base", "blanket @ recession", "oracle @ base",
                              "oracle @ recession"]
    assert ranked[0].startswith("oracle @ ") and ranked[2].startswith("blanket @ ")
    assert f"The best policy that can be deployed is <b>{ranked[2]}</b>" in page
    assert "base: dry_cleaning_chain; recession: dry_cleaning_chain" in page
    table = page.split('<table id="ranking">', 1)[1].split("</table>", 1)[0]
    assert table.count("<small>(baseline)</small>") == 2
    assert {p.stem for p in (run / "plots").glob("*.png")} == ALL_PLOTS - {"action_mix"}
    assert "decisions.parquet is not in this run" in page


def test_cumulative_budget_by_hand():
    """Periods of 3 days with 10 each: 10 on days 0-2, 20 on days 3-5, 30 on day 6."""
    days = np.arange(7)
    made = cumulative_budget(days, np.full(7, 10.0), None, 3)
    np.testing.assert_allclose(made, [10, 10, 10, 20, 20, 20, 30])
    # Without a period length a refill of the budget left starts a period: left goes
    # 7, 4, 10 (refill), 6 -> periods start on days 0 and 2.
    left = np.array([7.0, 4.0, 10.0, 6.0])
    np.testing.assert_allclose(cumulative_budget(days[:4], np.full(4, 10.0), left, None),
                               [10, 10, 20, 20])
    assert cumulative_budget(days, np.full(7, np.nan), None, 3) is None


def test_mean_band_by_hand():
    """Two seeds 1 and 3: mean 2, sd sqrt(2), half width t(0.975, 1) * sqrt(2) / sqrt(2)."""
    mean, lo, hi = mean_band(np.array([[1.0, 5.0], [3.0, np.nan]]))
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(hi - mean, [12.7062047, 0.0], rtol=1e-6)
    np.testing.assert_allclose(mean - lo, hi - mean)


@pytest.mark.parametrize(("seeds", "flagged"), [((0, 1, 2), True), ((0, 1, 2, 3, 4), False)])
def test_control_noise_floor_raw_uplift_and_few_seeds(tmp_path, seeds, flagged):
    """The control, the raw uplift and few seeds, as the report names them.

    no_action is named the control and its uplift the noise floor; the raw uplift has a
    column beside the adjusted one; intervals from fewer than 5 seeds are flagged.
    """
    run = make_run(tmp_path, policies=("blanket", "linucb", "no_action"), seeds=seeds)
    build_report(run)
    page = (run / "report.html").read_text()
    assert "<b>no_action</b> is the control: it never contacts anyone, so its true effect is " \
           "0" in page and "is the noise floor of this run" in page
    assert "(the control: never contacts, true effect 0)" in page
    assert "incr. margin (raw)" in page
    assert ("intervals from fewer than 5 seeds are rough" in page) is flagged



def _section(page: str, table_id: str) -> str:
    return page.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]


def _row(table: str, attr: str, value: str) -> str:
    return table.split(f'{attr}="{value}"', 1)[1].split("</tr>", 1)[0]


def _page(run: Path) -> str:
    """The report page of a run directory's files, without drawing its figures (fast)."""
    return render_html(load_run(run), {})


def test_segment_and_channel_sections_render_from_the_files(built):
    """Uplift per start segment and results per channel, read from their Parquet files alone.

    Champions' uplift is 10, 20, 30 on the three seeds for every group: mean 20, sd 10, so the
    interval is 20 -+ t(0.975, 2) x 10 / sqrt(3) = 20 -+ 4.3027 x 5.7735 = 20 -+ 24.84,
    shown as -4.84 to +44.8. Phone carried no message, so it has no row.
    """
    page = (built / "report.html").read_text()
    champions = _row(_section(page, "segments"), "data-segment", "champions")
    assert champions.count('+20<div class="ci">−4.84 to +44.8</div>') == 3
    assert "<td>90</td><td>10</td>" in champions  # treated and holdout customers
    channels = _section(page, "channels")
    for group in ("blanket", "linucb", "random"):
        for ch in ("email", "sms", "push"):
            assert f'data-group="{group}" data-channel="{ch}"' in channels
    assert 'data-channel="phone"' not in channels
    assert "Uplift per start segment" in page and "Results per channel" in page


def test_targeting_section_draws_qini_and_auuc_from_scores(built):
    """scores.parquet -> the Qini table and plots/qini.png, with test_qini's hand numbers.

    Every seed ranks the same four customers, so the interval collapses: AUUC 2.875
    (shown +2.88), random 1, perfect 3.25, all targeted 2, Qini coefficient 0.833.
    """
    page = (built / "report.html").read_text()
    targeting = _section(page, "targeting")
    cells = re.findall(r"<td>([^<]*)", _row(targeting, "data-group", "linucb"))
    assert cells == ["4", "+2.88", "+1", "+3.25", "+2", "0.833"]
    assert 'data-group="blanket"' not in targeting
    assert "Targeting: Qini curves and AUUC" in page


def test_missing_breakdown_files_are_said_and_currency_labels_money(tmp_path):
    """Without the breakdown files each section says so; money is in the config's currency."""
    page = _page(make_run(tmp_path, currency="EUR"))
    assert "No uplift per start segment: segments.parquet is not in this run." in page
    assert "No results per channel: channels.parquet is not in this run." in page
    assert "No policy of this run ranks customers" in page
    assert "<b>Money:</b> in EUR" in page and "<b>Budget:</b> 400 EUR per 5 days" in page
    head = page.split('<table id="ranking">', 1)[1].split("</thead>", 1)[0]
    assert "<small>EUR</small>" in head and "<small>money</small>" not in head


def _set_per_seed(run: Path, values: dict[str, list[float]]) -> None:
    """Give groups these per-seed incremental margins in summary.json."""
    path = run / "summary.json"
    summary = json.loads(path.read_text())
    for g, v in values.items():
        summary["groups"][g]["metrics"]["incremental_margin"] = _entry(v)
    path.write_text(json.dumps(summary))


def test_paired_difference_against_the_control_by_hand(tmp_path):
    """The ranking table pairs each group with the control; the headline names who separates.

    linucb 510, 490, 530 against no_action 10, -10, 20: differences 500, 500, 510, mean
    503.33, sd 5.7735, half-width 4.3027 x 5.7735 / sqrt(3) = 14.34: +489.0 to +517.7,
    better. blanket 15, -5, 10: differences 5, 5, -10 straddle 0: not separated.
    """
    run = make_run(tmp_path, policies=("blanket", "linucb", "no_action"))
    _set_per_seed(run, {"linucb": [510.0, 490.0, 530.0], "no_action": [10.0, -10.0, 20.0],
                        "blanket": [15.0, -5.0, 10.0]})
    page = _page(run)
    ranking = _section(page, "ranking")
    assert ('+503.3<div class="ci">+489.0 to +517.7</div><div class="good">better than the '
            "control" in _row(ranking, "data-group", "linucb"))
    assert "no clear difference" in _row(ranking, "data-group", "blanket")
    assert ("Against the control no_action, paired by seed, the interval excludes 0 for: "
            "<b>linucb</b> +503.3 (95 % interval +489.0 to +517.7, better than the control). The "
            "other 1 deployable policy is not separated from it.") in page


def test_no_separated_policy_is_said(tmp_path):
    """When every deployable policy's paired interval with the control holds 0, it says so."""
    run = make_run(tmp_path, policies=("no_action", "random"))
    _set_per_seed(run, {"random": [5.0, -5.0, 12.0], "no_action": [10.0, -10.0, 20.0]})
    page = _page(run)
    assert "No policy one could deploy is separated from the control at this size" in page
    assert "better than" not in page


@pytest.mark.parametrize(("name", "spoil", "match"), [
    ("channels.parquet", lambda p: p.write_bytes(b"not parquet"),
     r"channels\.parquet: not readable Parquet"),
    ("segments.parquet", lambda p: pq.write_table(pa.table({"segment": ["lost"]}), p),
     None),
    ("scores.parquet", lambda p: pq.write_table(pq.read_table(p).set_column(
        6, "score", pa.array([float("nan")] * pq.read_table(p).num_rows)), p),
     r"scores\.parquet: group 'linucb': score: values must be finite, got nan"),
])
def test_damaged_breakdown_files(tmp_path, name, spoil, match):
    """A breakdown file that is not Parquet, or holds NaN scores, is named and nothing written.

    One that lacks columns is left out with a note naming them.
    """
    run = make_run(tmp_path, breakdowns=True, scored=("linucb",))
    spoil(run / name)
    if match is None:
        assert ("No uplift per start segment: segments.parquet lacks the column(s) scenario, "
                "policy, seed, uplift") in _page(run)
        return
    with pytest.raises(ResultsError, match=match):
        build_report(run)
    assert not (run / "report.html").exists() and not (run / "plots").exists()


def test_offers_that_name_targets_get_their_section(tmp_path):
    """Messages and true margin per target, and the share from category and store offers.

    Every message sent adds a true margin of 0.5, so a group's share from cross-sells and
    visit bonuses is their share of its messages sent, seed by seed.
    """
    run = make_run(tmp_path, seeds=(0, 1), targets=True)
    build_report(run)
    page = (run / "report.html").read_text()
    assert 'id="offer_targets-section"' in page
    assert 'data-offer="cross_sell for outerwear"' in page
    assert 'data-offer="second_store_bonus for north"' in page
    dec = pq.read_table(run / "decisions.parquet").to_pydict()
    for g in ("blanket", "linucb", "random"):
        share = []
        for seed in (0, 1):
            offers = [o for o, p, s, sent in zip(dec["offer"], dec["policy"], dec["seed"],
                                                 dec["sent"], strict=True)
                      if p == g and s == seed and sent]
            share.append(sum(o in ("cross_sell", "second_store_bonus") for o in offers)
                         / len(offers))
        want = f"{100 * np.mean(share):.1f} % ("
        assert re.search(rf"<b>{g}</b>: {re.escape(want)}", page), (g, want)


def test_runs_without_targets_have_no_target_section(built):
    """The offer-target section is left out when no offer names a target."""
    assert "offer_targets" not in (built / "report.html").read_text()
