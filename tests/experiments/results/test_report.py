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
from nbasim.experiments.results.report.load import cumulative_budget
from nbasim.experiments.results.summary import ResultsError
from nbasim.experiments.run.layout import DAILY_COLUMNS, DECISION_COLUMNS
from nbasim.experiments.run.metrics import METRICS, definitions
from nbasim.sim.params import CHANNELS, OFFERS
from nbasim.sim.rfm import SEGMENTS

# Incremental margin per policy: the ranking is oracle, linucb, blanket, random.
MARGIN = {"blanket": 300.0, "linucb": 500.0, "random": -40.0, "oracle": 900.0, "no_action": 0.0}
ALL_PLOTS = {"ranking", "uplift", "learning", "active", "spend", "migration", "action_mix",
             "timing"}


def _entry(values: list[float]) -> dict:
    """A summary metric entry: mean, a crude interval (exact for one seed), per-seed values."""
    mean = float(np.mean(values))
    half = 0.0 if len(values) < 2 else 2.0 * float(np.std(values, ddof=1))
    return {"mean": mean, "ci": [mean - half, mean + half], "per_seed": values}


def make_run(root: Path, policies=("blanket", "linucb", "random"), seeds=(0, 1, 2), days=12,
             scenarios=("base",), budget: float | None = 400.0, decisions: bool = True,
             migration: bool = True, drop_daily=(), drop_decisions=()) -> Path:
    """Write a run directory as `nbasim run` would: config, summary and the three tables."""
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
    """Three groups over three seeds with a budget and every table, reported once."""
    run = make_run(tmp_path_factory.mktemp("report"))
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
    assert page.count("data:image/png;base64,") == len(ALL_PLOTS)
    for group in ("blanket", "linucb", "random"):
        assert f'data-group="{group}"' in page
    assert {p.stem for p in (built / "plots").glob("*.png")} == ALL_PLOTS
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
