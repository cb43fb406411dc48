"""Learning curves on a real tiny run: they match the daily table and the summary's regret."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from nbasim.experiments.results.report.draw import learning_curves
from nbasim.experiments.results.report.load import load_run
from nbasim.experiments.run import config, sweep

TINY = {"name": "tiny", "customers": 300, "days": 10, "seeds": [0, 1], "baseline": "blanket",
        "policies": [{"label": "blanket", "params": {"offer": "discount_20"}},
                     {"label": "eg", "policy": "epsilon_greedy"},
                     {"label": "oracle"}, {"label": "oracle_ltv"}]}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Four groups, two seeds, both oracles; daily.parquet has days 0-8 (weeks 0 and 1)."""
    return sweep.run(config.parse(TINY), tmp_path_factory.mktemp("learning") / "run")


def test_week_matches_the_daily_table(tiny_run):
    """Week 1 (days 7, 8) of eg: per seed the summed true margin and value over decisions."""
    daily = {c: np.asarray(v) for c, v in pq.read_table(tiny_run / "daily.parquet")
             .to_pydict().items()}
    sums = {}
    for seed in (0, 1):
        rows = (daily["policy"] == "eg") & (daily["day"] >= 7) & (daily["seed"] == seed)
        assert rows.sum() == 2
        sums[seed] = [daily[c][rows].sum() for c in ("true_incremental_margin",
                                                     "true_incremental_value", "eligible")]
    margin = np.array([m / n for m, _, n in sums.values()])
    value = np.array([v / n for _, v, n in sums.values()])
    assert all(n > 0 for _, _, n in sums.values())
    curves = learning_curves(load_run(tiny_run))
    np.testing.assert_array_equal(curves["margin"]["eg"].x, [0, 1])
    assert curves["margin"]["eg"].mean[1] == pytest.approx(margin.mean(), rel=1e-12)
    assert curves["value"]["eg"].mean[1] == pytest.approx(value.mean(), rel=1e-12)
    # 95 % t-interval of two seeds: mean +- t(0.975, 1) * |a - b| / 2.
    half = 12.706204736174698 * abs(margin[0] - margin[1]) / 2
    band = curves["margin"]["eg"]
    assert band.hi[1] - band.mean[1] == pytest.approx(half, rel=1e-9)


def test_last_day_regret_is_the_summary_regret(tiny_run):
    """The cumulative regret on the last day is summary.json's regret and regret_ltv."""
    summary = json.loads((tiny_run / "summary.json").read_text())["groups"]
    curves = learning_curves(load_run(tiny_run))
    for key in ("regret", "regret_ltv"):
        assert set(curves[key]) == set(summary)
        for g, band in curves[key].items():
            assert band.mean[-1] == pytest.approx(summary[g]["metrics"][key]["mean"],
                                                  rel=1e-9, abs=1e-6)
            np.testing.assert_array_equal(band.x, np.arange(9))


def test_the_run_draws_and_reports_the_learning_curves(tiny_run):
    """`nbasim run` writes plots/learning.png and report.html shows it with its caption."""
    png = tiny_run / "plots" / "learning.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tiny_run / "report.html").read_text()
    assert '<h2>Learning curves</h2>' in page and 'alt="Learning curves"' in page
    assert "a decision is a customer decided for, sent a message or not" in page
