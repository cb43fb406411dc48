"""A cell's per-channel table and, for a policy that ranks customers, its scores table."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.experiments.run import config, scoring, sweep
from nbasim.experiments.run.cell import run_cell
from nbasim.sim.params import CHANNELS

CFG = {"name": "tables", "customers": 300, "days": 6, "seeds": [0],
       "policies": [{"label": "uplift_two_model",
                     "params": {"offer": "discount_10", "channel": "email", "warmup": 50}},
                    {"label": "blanket", "params": {"offer": "discount_20", "channel": "sms"}}]}


@pytest.fixture(scope="module")
def cells():
    """The two cells of the tiny config, run once."""
    cfg = config.parse(CFG)
    return cfg, {c.policy.label: run_cell(cfg, c) for c in sweep.cells(cfg)}


def test_channels_add_up_to_the_cell_totals(cells):
    """Per channel the run's sends, opens, cost and true margin sum to the cell's totals."""
    _, results = cells
    for r in results.values():
        ch, daily, f = r.channels, r.daily, r.figures
        assert list(ch["channel"]) == list(CHANNELS)
        assert ch["sent"].sum() == daily["sent"].sum() > 0
        assert ch["opens"].sum() == daily["opens"].sum()
        for name in CHANNELS:
            assert ch["sent"][CHANNELS.index(name)] == daily[f"sent_{name}"].sum()
        assert ch["cost"].sum() == pytest.approx(f["spend"])
        assert ch["true_incremental_margin"].sum() == pytest.approx(
            f["true_incremental_margin"])
        assert (ch["conversions"] <= ch["opens"]).all()
    blanket = results["blanket"].channels
    assert blanket["sent"][CHANNELS.index("sms")] == blanket["sent"].sum()


def test_a_ranking_policy_scores_the_last_decision_day_with_the_truth(cells):
    """scores: the last decision day's eligible customers, the truth the world used that day.

    Where the policy sent its action that day, the decision log's true incremental margin
    (worked out by the world as it sent) equals the score table's, exactly.
    """
    cfg, results = cells
    r = results["uplift_two_model"]
    s, log = r.scores, r.decisions
    assert set(s) == set(scoring.SCORE_COLUMNS) and s["customer"].size > 0
    last = cfg.days - 2
    assert (s["day"] == last).all()
    assert len(np.unique(s["action"])) == 1 and np.isfinite(s["score"]).all()
    on = (log["day"] == last) & log["sent"]
    sent = dict(zip(log["customer"][on].tolist(), log["true_incremental_margin"][on].tolist(),
                    strict=True))
    both = [i for i, c in enumerate(s["customer"].tolist()) if c in sent]
    assert both
    np.testing.assert_array_equal(s["true_incremental_margin"][both],
                                  [sent[c] for c in s["customer"][both].tolist()])
    assert results["blanket"].scores == {}


def test_scoring_changes_nothing_else(cells, monkeypatch):
    """The same cell without the ranking taken gives the same figures and tables."""
    cfg, results = cells
    monkeypatch.setattr(scoring, "SCORERS", {})
    again = run_cell(cfg, sweep.cells(cfg)[0])
    before = results["uplift_two_model"]
    assert again.figures == before.figures and again.scores == {}
    for k, v in before.daily.items():
        np.testing.assert_array_equal(again.daily[k], v)
