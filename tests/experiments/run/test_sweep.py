"""Experiment configs and the runner: validation, determinism across workers, resuming."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from nbasim.experiments.run import config, sweep
from nbasim.experiments.run.cell import Cell, run_cell
from nbasim.sim.params import ParameterError

TINY = {"name": "tiny", "customers": 400, "days": 8, "seeds": [0, 1], "baseline": "blanket",
        "policies": [{"label": "no_action"},
                     {"label": "blanket", "params": {"offer": "discount_20"}},
                     {"label": "eg", "policy": "epsilon_greedy"},
                     {"label": "oracle"}]}


def tiny(**changes):
    """The tiny config with some fields changed."""
    return config.parse({**TINY, **changes})


@pytest.mark.parametrize(("changes", "match"), [
    # One field checked by pydantic alone (its bound, through `describe_error`); the other
    # such fields (days, name, decision_log, objective) take the same path.
    ({"customers": 5}, r"config field 'customers' = 5: .*\(allowed: int, >= 100, <= 2000000\)"),
    ({"colour": "red"}, r"config field 'colour' = 'red': Extra inputs are not permitted"),
    ({"seeds": [1, 1]}, r"seeds = \[1, 1\]: at least one, no repeats"),
    ({"holdout": 0.0}, r"holdout = 0\.0: an experiment needs a holdout .* allowed 0 < holdout < 1"),
    ({"baseline": "nobody"}, "baseline = 'nobody': must be one of the policy labels"),
    ({"policies": [{"label": "x", "policy": "magic"}], "baseline": None},
     "policies\\[x\\].policy = 'magic': unknown; available: "),
    ({"policies": [{"label": "a/b", "policy": "random"}], "baseline": None}, "labels \\['a/b'\\]"),
    ({"policies": [{"label": "r", "policy": "random"}] * 2, "baseline": None},
     "policies labels repeat"),
    ({"scenarios": [{"scenario": "moon_base"}]}, "unknown scenario 'moon_base'"),
    ({"scenarios": [{"shocks": ["meteor"]}]}, "unknown shock 'meteor'"),
    ({"currency": "$$"}, r"config field 'currency' = '\$\$': .*at most one \"\$\""),
    ({"currency": "E-U"}, "config field 'currency' = 'E-U': .*not a currency label"),
])
def test_bad_configs_are_named(changes, match):
    """Each bad field is reported with its value and what is allowed.

    One case per way the message is built: a pydantic bound and an unknown field (worded by
    `describe_error`), each rule of `ExperimentConfig._consistent`, and the names `parse`
    looks up (policy, scenario, shock).
    """
    with pytest.raises(ParameterError, match=match):
        tiny(**changes)


def test_load_names_a_missing_or_broken_file(tmp_path):
    """A missing file and a TOML syntax error are named."""
    with pytest.raises(ParameterError, match="no such file"):
        config.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ParameterError, match="not valid TOML"):
        config.load(bad)


def test_shipped_configs_are_valid():
    """Every config in experiments/configs validates."""
    from pathlib import Path

    shipped = sorted(Path("experiments/configs").glob("*.toml"))
    assert shipped
    for path in shipped:
        config.load(path)


def test_same_cell_twice_is_identical_and_policies_share_the_world():
    """A cell is a function of the config and seed; two policies face the same day-0 base."""
    cfg = tiny()
    a = run_cell(cfg, Cell(cfg.scenarios[0], cfg.policies[1], 0))
    b = run_cell(cfg, Cell(cfg.scenarios[0], cfg.policies[1], 0))
    assert a.figures == b.figures
    for k in a.daily:
        assert (a.daily[k] == b.daily[k]).all() or k in ("budget", "budget_left")
    c = run_cell(cfg, Cell(cfg.scenarios[0], cfg.policies[0], 0))
    # Same customers and holdout: the holdout's purchases on day 1 are the same.
    assert a.daily["holdout_purchases"][0] == c.daily["holdout_purchases"][0]
    assert c.figures["spend"] == 0 and c.figures["true_incremental_margin"] == 0


def test_cell_uplift_is_cuped_adjusted_and_keeps_the_raw_figure():
    """Daily `uplift` sums to the adjusted figure, `uplift_raw` to the raw one; they differ.

    At the end, the adjustment is CUPED on each customer's margin over the run with the
    day-0 covariate (`cuped.adjustment`), so adjusted = raw - that adjustment.
    """
    cfg = tiny()
    r = run_cell(cfg, Cell(cfg.scenarios[0], cfg.policies[0], 0))
    f, d = r.figures, r.daily
    assert d["uplift"].sum() == pytest.approx(f["incremental_margin"])
    assert d["uplift_raw"].sum() == pytest.approx(f["incremental_margin_raw"])
    assert f["incremental_margin"] != pytest.approx(f["incremental_margin_raw"])
    raw = d["margin"] - d["cost"] - d["n_treated"] * d["holdout_margin"] / d["n_holdout"]
    assert d["uplift_raw"] == pytest.approx(raw)


def test_runs_with_one_and_two_workers_are_identical(tmp_path, monkeypatch):
    """Every table and the summary's numbers agree whatever the number of workers."""
    monkeypatch.setattr("nbasim.experiments.results.report.build_report", lambda run_dir: run_dir)
    cfg = tiny()
    one = sweep.run(cfg, tmp_path / "w1", workers=1)
    two = sweep.run(cfg, tmp_path / "w2", workers=2)
    for name in ("daily", "decisions", "migration", "segments"):
        assert pq.read_table(one / f"{name}.parquet").equals(pq.read_table(two / f"{name}.parquet"))
    s1, s2 = (json.loads((d / "summary.json").read_text()) for d in (one, two))
    for s in (s1, s2):
        s.pop("run_id")
        for g in s["groups"].values():
            g.pop("timing")
    assert s1 == s2


def test_interrupted_sweep_resumes_and_a_foreign_directory_is_refused(tmp_path, monkeypatch):
    """Finished cells are skipped on a rerun; another config's directory is not touched."""
    monkeypatch.setattr("nbasim.experiments.results.report.build_report", lambda run_dir: run_dir)
    cfg = tiny()
    run_dir = tmp_path / "run"
    todo = sweep.prepare(cfg, run_dir)
    assert len(todo) == 8
    for cell in todo[:3]:  # three cells finish, then the sweep "dies"
        sweep.write_cell(run_dir, cell, run_cell(cfg, cell))
    assert len(sweep.prepare(cfg, run_dir)) == 5
    ran = []
    sweep.run(cfg, run_dir, on_cell=lambda cell, result: ran.append(cell.key))
    assert len(ran) == 5 and (run_dir / "summary.json").exists()
    assert sweep.prepare(cfg, run_dir) == []
    with pytest.raises(ParameterError, match="holds a run of another config"):
        sweep.prepare(tiny(days=9), run_dir)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="is not an experiment run"):
        sweep.prepare(cfg, other)


def test_summary_has_intervals_regret_and_paired_differences(tmp_path, monkeypatch):
    """Means lie in their intervals; each oracle has no regret; the baseline no difference."""
    monkeypatch.setattr("nbasim.experiments.results.report.build_report", lambda run_dir: run_dir)
    run_dir = sweep.run(tiny(policies=[*TINY["policies"], {"label": "oracle_ltv"}]),
                        tmp_path / "run")
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["run_id"] == "run" and s["experiment"] == "tiny"
    assert s["baseline"] == "blanket" and set(s["groups"]) == {"no_action", "blanket", "eg",
                                                                 "oracle", "oracle_ltv"}
    assert s["groups"]["oracle_ltv"]["metrics"]["regret_ltv"]["per_seed"] == [0.0, 0.0]
    for g in s["groups"].values():
        for m in g["metrics"].values():
            assert m["ci"][0] <= m["mean"] <= m["ci"][1] and len(m["per_seed"]) == 2
    assert s["groups"]["oracle"]["metrics"]["regret"]["per_seed"] == [0.0, 0.0]
    assert s["groups"]["blanket"]["vs_baseline"] == {}
    diff = s["groups"]["no_action"]["vs_baseline"]["spend"]["mean"]
    assert diff == pytest.approx(-s["groups"]["blanket"]["metrics"]["spend"]["mean"])


def test_ray_executor_gives_the_same_results_as_local(tmp_path, monkeypatch):
    """Cells run on a local Ray started here give the tables the local executor gives."""
    import ray  # installed with the dev extra (pyproject.toml)

    monkeypatch.setattr("nbasim.experiments.results.report.build_report", lambda run_dir: run_dir)
    cfg = tiny(seeds=[0], policies=TINY["policies"][:2])
    local = sweep.run(cfg, tmp_path / "local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = sweep.run(cfg, tmp_path / "ray", executor="ray")
    finally:
        ray.shutdown()
    for name in ("daily", "decisions"):
        assert pq.read_table(local / f"{name}.parquet").equals(
            pq.read_table(remote / f"{name}.parquet"))
