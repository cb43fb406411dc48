"""`nbasim ope` as a function: files written, targets of every kind, bad input named."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest
from ope_planted import PI_T, planted_log  # in this folder

from nbasim.experiments import ope
from nbasim.experiments.ope import OPEError
from nbasim.experiments.ope.command import ope_command, render

# --- a synthetic bandit with a known value -------------------------------------------------------



# --- the command ---------------------------------------------------------------------------------


def _write_csv(path, n=400, seed=0, **override):
    rng = np.random.default_rng(seed)
    x, a, r, p = planted_log(rng, n)
    cols = {"action": a, "reward": r, "pscore": p, "x_ctx": x.astype(float),
            "x_noise": rng.normal(size=n)}
    cols.update(override)
    pv.write_csv(pa.table(cols), path)
    return path


def test_command_writes_json_and_plot(tmp_path):
    """ope.json holds every estimate with a 2-number interval and the diagnostics."""
    log = _write_csv(tmp_path / "log.csv")
    result, out = ope_command(log, target="uniform", n_bootstrap=20,
                              results_root=tmp_path / "res")
    assert out == tmp_path / "res" / "ope" / "log-uniform"
    data = json.loads((out / "ope.json").read_text())
    assert set(data["estimates"]) == set(ope.ESTIMATORS)
    assert all(len(v["ci"]) == 2 for v in data["estimates"].values())
    assert data["diagnostics"]["n_rounds"] == 400 and data["n_actions"] == 3
    assert (out / "ope.png").stat().st_size > 0
    render(result)


def test_command_file_target_equals_the_same_distribution_inline(tmp_path):
    """A .npy of per-row probabilities gives the same estimates as that distribution."""
    log = _write_csv(tmp_path / "log.csv")
    x = pv.read_csv(log).column("x_ctx").to_numpy().astype(int)
    np.save(tmp_path / "pi.npy", PI_T[x])
    res, _ = ope_command(log, target=f"file:{tmp_path / 'pi.npy'}", n_bootstrap=0,
                         estimators=["ips"], out=tmp_path / "o")
    t = pv.read_csv(log)
    a, r, p = (t.column(c).to_numpy() for c in ("action", "reward", "pscore"))
    assert res["estimates"]["ips"]["value"] == pytest.approx(ope.ips(r, p, PI_T[x, a]))


def test_command_policy_target_on_an_external_log(tmp_path):
    """A registry policy trained on the first half is evaluated on the second."""
    log = _write_csv(tmp_path / "log.csv")
    res, _ = ope_command(log, target="policy:epsilon_greedy:explore=0.3", n_bootstrap=10,
                         out=tmp_path / "o")
    assert res["split"] == {"by": "rows", "train_rows": 200, "evaluate_rows": 200}
    assert res["diagnostics"]["n_rounds"] == 200


def test_command_keeps_other_files_in_an_existing_out_dir(tmp_path):
    """Writing into a directory with other files adds ope.json and ope.png, removes nothing."""
    log = _write_csv(tmp_path / "log.csv")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("x")
    ope_command(log, n_bootstrap=0, out=tmp_path / "o")
    assert sorted(f.name for f in (tmp_path / "o").iterdir()) == ["keep.txt", "ope.json",
                                                                  "ope.png"]


def test_command_run_log_uses_the_catalog(tmp_path):
    """A log with the run columns gets the run catalog's size (433 actions) as n_actions."""
    n = 50
    rng = np.random.default_rng(0)
    table = pa.table({"scenario": ["base"] * n, "policy": ["random"] * n, "seed": [0] * n,
                      "day": np.repeat(np.arange(5), 10), "customer": np.arange(n),
                      "action": rng.integers(0, 433, n), "pscore": np.full(n, 1 / 433),
                      "reward": rng.normal(size=n), "x_recency": rng.random(n)})
    pq.write_table(table, tmp_path / "decisions.parquet")
    res, _ = ope_command(tmp_path / "decisions.parquet", target="action:432", n_bootstrap=0,
                         out=tmp_path / "o")
    assert res["n_actions"] == 433
    res, _ = ope_command(tmp_path / "decisions.parquet", target="policy:linucb", split="day",
                         n_bootstrap=0, out=tmp_path / "p", logging_policy="random")
    assert res["split"]["by"] == "day" and res["split"]["train_rows"] == 20



# --- bad input: a named error, nothing written -------------------------------------------------

BAD = [
    ({"pscore": [0.0, 0.5, 0.5]}, {}, r"pscore: row 0 holds 0\.0; .*\(0, 1\]"),
    ({"pscore": [0.5, 1.5, 0.5]}, {}, r"pscore: row 1 holds 1\.5"),
    ({"pscore": [0.5, None, 0.5]}, {}, r"pscore: row 1 holds nan; .*missing"),
    ({"reward": [1.0, None, 0.0]}, {}, r"reward: row 1 holds nan; rewards must be finite"),
    ({}, {"target": "action:7"}, r"action:7: the log can only express actions 0 to 2"),
    ({}, {"target": "action:-1"}, r"action:-1: the log can only express actions 0 to 2"),
    ({}, {"pscore_col": "prop"},
     r"no column 'prop'; columns found: action, reward, pscore, x_ctx"),
    ({}, {"context_cols": ["x_gone"]}, r"no column 'x_gone'; columns found"),
    ({"action": [0, -1, 2]}, {}, r"action column 'action': row 1 holds -1"),
    ({"action": [0.0, 1.5, 2.0]}, {}, r"row 1 holds 1\.5; actions must be integers"),
    ({}, {"n_actions": 2}, r"n_actions = 2: the log holds action 2"),
    ({}, {"estimators": ["ips", "magic"]}, r"estimators .*each must be one of dm, ips"),
    ({}, {"target": "best"}, r"target 'best': allowed: uniform, action:K"),
    ({}, {"target": "policy:nope"}, r"policy 'nope': unknown; available"),
    ({}, {"target": "policy:oracle"}, r"true margins"),
    ({}, {"target": "policy:linucb:alpha=-1"}, r"policy:linucb: .*alpha"),
    ({}, {"target": "file:missing.npy"}, r"target file missing\.npy: no such file"),
    ({}, {"clip": 0}, r"clip = 0: expected None"),
    ({}, {"n_bootstrap": -1}, r"n_bootstrap = -1"),
    ({}, {"log_seed": 3}, r"filter seed = 3: the log has no column 'seed'"),
    ({}, {"split": "week", "target": "policy:random"}, r"split = 'week': allowed: rows, day"),
]


@pytest.mark.parametrize(("columns", "options", "match"), BAD)
def test_bad_input_is_named_and_writes_nothing(tmp_path, columns, options, match):
    """Each bad input raises OPEError naming it; no output directory appears."""
    cols = {"action": [0, 1, 2], "reward": [1.0, 0.0, 2.0], "pscore": [0.5, 0.5, 0.5],
            "x_ctx": [0.0, 1.0, 2.0]}
    cols.update(columns)
    pv.write_csv(pa.table(cols), tmp_path / "log.csv")
    with pytest.raises(OPEError, match=match):
        ope_command(tmp_path / "log.csv", out=tmp_path / "out", n_bootstrap=options.pop(
            "n_bootstrap", 5), **options)
    assert not (tmp_path / "out").exists()


def test_file_target_beyond_the_log_is_refused(tmp_path):
    """A file putting mass on action 3 of a log whose actions run 0..2 is refused."""
    pv.write_csv(pa.table({"action": [0, 1, 2], "reward": [1.0, 0.0, 2.0],
                           "pscore": [0.5, 0.5, 0.5]}), tmp_path / "log.csv")
    np.save(tmp_path / "pi.npy", np.full((3, 4), 0.25))
    with pytest.raises(OPEError, match="action 3, which the log cannot express"):
        ope_command(tmp_path / "log.csv", target=f"file:{tmp_path / 'pi.npy'}",
                    out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_run_logs_catalog_has_its_scenarios_targets(tmp_path):
    """A log beside a run's config.toml gets that scenario's catalog, targeted offers too."""
    from nbasim.experiments.ope.log import catalog_features
    from nbasim.sim.actions import catalog_for
    from nbasim.sim.scenarios import get_scenario

    (tmp_path / "config.toml").write_text(
        'name = "t"\n[[scenarios]]\nlabel = "s"\nscenario = "dry_cleaning_seeds"\n'
        '[[policies]]\nlabel = "random"\n')
    log = tmp_path / "decisions.parquet"
    features = catalog_features(log, pa.table({"scenario": ["s"]}))
    expected = np.asarray(catalog_for(get_scenario("dry_cleaning_seeds")).features)
    assert features.shape == expected.shape and features.shape[0] > 433
    np.testing.assert_array_equal(features, expected)
