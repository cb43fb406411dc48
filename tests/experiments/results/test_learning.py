"""Learning curves: weekly margin and value per decision, cumulative regret, by hand."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomli_w

from nbasim.experiments.results import learning
from nbasim.experiments.results.report import build_report
from nbasim.experiments.results.report import figures as rp
from nbasim.experiments.results.report.draw import learning_curves
from nbasim.experiments.results.report.load import load_run
from nbasim.experiments.results.report.text import oracle_groups

T975_1 = 12.706204736174698
"""t(0.975) with one degree of freedom: the half-width factor of a two-seed interval."""

# Nine days (week 0: days 0-6, week 1: days 7-8) on two seeds.
DAYS = np.arange(9)
MARGIN = np.array([np.arange(9.0), np.full(9, 2.0)])
ELIGIBLE = np.array([np.full(9, 10.0), [4.0] * 8 + [0.0]])


def test_weekly_per_decision_by_hand():
    """Sum of the week's metric over the sum of its decisions, per seed."""
    weeks, rate = learning.weekly_per_decision(DAYS, MARGIN, ELIGIBLE)
    np.testing.assert_array_equal(weeks, [0, 1])
    # seed 0: week 0 (0+1+...+6) / (7 * 10) = 21 / 70 = 0.3; week 1 (7 + 8) / 20 = 0.75.
    # seed 1: week 0 (7 * 2) / (7 * 4) = 0.5; week 1 (2 + 2) / (4 + 0) = 1.0.
    np.testing.assert_allclose(rate, [[0.3, 0.75], [0.5, 1.0]])


def test_weekly_band_by_hand():
    """Mean of the two seeds and its t-interval: week 0 has 0.3 and 0.5.

    Mean 0.4; sd |0.5 - 0.3| / sqrt(2); sem = sd / sqrt(2) = 0.1; half-width t * 0.1.
    """
    weeks, rate = learning.weekly_per_decision(DAYS, MARGIN, ELIGIBLE)
    band = learning.seed_band(weeks, rate)
    np.testing.assert_allclose(band.mean, [0.4, 0.875])
    np.testing.assert_allclose(band.hi - band.mean, [T975_1 * 0.1, T975_1 * 0.125])
    np.testing.assert_allclose(band.mean - band.lo, band.hi - band.mean)


def test_weeks_without_decisions_or_days_are_nan():
    """A week with no decision, or a seed without the week's days, has no rate."""
    margin = np.array([[1.0, 2.0, 3.0], [np.nan, np.nan, 5.0]])
    eligible = np.array([[0.0, 0.0, 4.0], [np.nan, np.nan, 5.0]])
    weeks, rate = learning.weekly_per_decision(np.arange(3), margin, eligible, week_days=2)
    # weeks 0 (days 0, 1), 1 (day 2); seed 0 has no decision in week 0, seed 1 no day.
    np.testing.assert_array_equal(weeks, [0, 1])
    np.testing.assert_allclose(rate, [[np.nan, 0.75], [np.nan, 1.0]])
    band = learning.seed_band(weeks, rate)
    assert np.isnan(band.mean[0]) and band.mean[1] == pytest.approx(0.875)


def test_cumulative_regret_by_hand():
    """Oracle 3 a day, policy 1, 2, 3: regret 2, 2 + 1 = 3, 3 + 0 = 3."""
    regret = learning.cumulative_regret(np.array([[3.0, 3.0, 3.0]]), np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(regret, [[2.0, 3.0, 3.0]])


def test_common_seeds_pairs_rows_by_seed():
    """Rows are matched by seed, not by position; a seed on one side only is dropped."""
    a, b = learning.common_seeds(np.array([0, 1, 2]), np.array([[0.0], [1.0], [2.0]]),
                                 np.array([2, 0]), np.array([[20.0], [0.5]]))
    np.testing.assert_allclose(a, [[0.0], [2.0]])
    np.testing.assert_allclose(b, [[0.5], [20.0]])


@pytest.mark.parametrize(("call", "match"), [
    (lambda: learning.weekly_per_decision(DAYS, MARGIN, ELIGIBLE, week_days=0),
     "week_days: must be at least 1"),
    (lambda: learning.weekly_per_decision(DAYS, MARGIN[0], ELIGIBLE),
     r"metric: expected per-seed daily values of shape \(n_seeds, n_days\)"),
    (lambda: learning.weekly_per_decision(DAYS[:5], MARGIN, ELIGIBLE), "metric: has 9 days"),
    (lambda: learning.weekly_per_decision(DAYS, MARGIN, ELIGIBLE[:1]),
     "metric has shape .* and eligible"),
    (lambda: learning.cumulative_regret(MARGIN, MARGIN[:1]), "regret pairs the same seeds"),
    (lambda: learning.seed_band(np.arange(3), MARGIN), "per_seed: has 9 days, expected 3"),
])
def test_invalid_inputs_are_named(call, match):
    """Each bad input names the argument and what was expected."""
    with pytest.raises(ValueError, match=match):
        call()


def write_run(root: Path, oracle: bool) -> Path:
    """A run directory with a policy and (optionally) the myopic oracle over 8 days, 2 seeds.

    Per day: `eligible` 10; the policy's true margin is the day's number (0..7) and value
    twice that; the oracle's margin is 10 a day and value 30.
    """
    policies = ["learner"] + (["oracle"] if oracle else [])
    rows: dict[str, list] = {c: [] for c in ("scenario", "policy", "seed", "day", "eligible",
                                             "true_incremental_margin",
                                             "true_incremental_value")}
    for p in policies:
        for seed in (0, 1):
            for d in range(8):
                margin = 10.0 if p == "oracle" else float(d + seed)
                rows["scenario"].append("base")
                rows["policy"].append(p)
                rows["seed"].append(seed)
                rows["day"].append(d)
                rows["eligible"].append(10)
                rows["true_incremental_margin"].append(margin)
                rows["true_incremental_value"].append(3 * margin if p == "oracle" else 2 * margin)
    run = root / "run"
    run.mkdir()
    pq.write_table(pa.table(rows), run / "daily.parquet")
    entry = {"mean": 1.0, "ci": [0.0, 2.0], "per_seed": [0.0, 2.0]}
    groups = {p: {"policy": p, "scenario": "base", "n_seeds": 2,
                  **({"role": "myopic oracle"} if p == "oracle" else {}),
                  "metrics": {"true_incremental_margin": entry}} for p in policies}
    (run / "summary.json").write_text(json.dumps({
        "experiment": "demo", "run_id": "run", "baseline": "learner", "seeds": [0, 1],
        "metrics": {}, "groups": groups}))
    (run / "config.toml").write_text(tomli_w.dumps({
        "name": "demo", "days": 8, "seeds": [0, 1],
        "policies": [{"label": p} for p in policies]}))
    return run


def test_curves_of_a_written_run_by_hand(tmp_path):
    """The curves read back from daily.parquet match the arithmetic on its rows."""
    curves = learning_curves(load_run(write_run(tmp_path, oracle=True)))
    assert set(curves) == {"margin", "value", "regret"}  # no long-term oracle: no regret_ltv
    # learner, seed 0: week 0 (0+1+...+6) / 70 = 0.3, week 1 (day 7) 7 / 10 = 0.7;
    # seed 1 adds 1 a day: 28 / 70 = 0.4 and 8 / 10 = 0.8. Mean 0.35 and 0.75.
    np.testing.assert_allclose(curves["margin"]["learner"].mean, [0.35, 0.75])
    np.testing.assert_allclose(curves["value"]["learner"].mean, [0.7, 1.5])
    np.testing.assert_allclose(curves["margin"]["oracle"].mean, [1.0, 1.0])
    # Regret of the learner, seed 0: 10 - d summed: 10, 19, 27, ...; seed 1: 9, 17, 24, ...
    # After 8 days: 80 - 28 = 52 and 80 - 36 = 44, mean 48.
    regret = curves["regret"]["learner"]
    np.testing.assert_allclose(regret.mean[:3], [9.5, 18.0, 25.5])
    assert regret.mean[-1] == pytest.approx(48.0)
    np.testing.assert_allclose(curves["regret"]["oracle"].mean, np.zeros(8))


def test_run_without_an_oracle_draws_no_regret_panel(tmp_path):
    """Without an oracle the curves have no regret, the figure one row, and the report builds."""
    run_dir = write_run(tmp_path, oracle=False)
    run = load_run(run_dir)
    curves = learning_curves(run)
    assert set(curves) == {"margin", "value"}
    fig = rp.learning_figure(curves, run.order, run.scenario_of,
                             rp.group_colors(run.groups), oracle_groups(run))
    assert [ax.get_title() for ax in fig.axes] == [
        "True incremental margin per decision, by week",
        "True incremental value per decision, by week"]
    plt.close(fig)
    page = build_report(run_dir).read_text()
    assert (run_dir / "plots" / "learning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<h2>Learning curves</h2>" in page and "How to read it" in page


def test_oracle_lines_are_labelled_with_their_role(tmp_path):
    """The regret row is drawn, and the oracle's legend entry names its role."""
    run = load_run(write_run(tmp_path, oracle=True))
    fig = rp.learning_figure(learning_curves(run), run.order, run.scenario_of,
                             rp.group_colors(run.groups), oracle_groups(run))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[2] == "Cumulative regret against the myopic oracle (true incremental margin)"
    assert "oracle (myopic oracle)" in fig.axes[0].get_legend_handles_labels()[1]
    assert not fig.axes[3].axison  # no long-term oracle: that panel says so and has no axes
    plt.close(fig)
