"""Runs with `epochs = "moments"`: NextBestAction-v0 cells, pos offers and top-k lists.

One small run on `retail_chain` with point-of-sale offers: a rule that shows a cross-sell at
every till, a policy that sends top-3 lists (its own slate size, beside single-offer
policies) and the myopic oracle. Its tables add up: daily rows to the decision log, the
per-moment table to the log's sends and truth, pos lines to the daily margin.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from nbasim.experiments.results.report.build import build_report
from nbasim.experiments.run import config, sweep
from nbasim.sim.params import ParameterError

CFG = {"name": "moments", "epochs": "moments", "customers": 1200, "days": 5, "seeds": [0],
       "decision_log": "actions", "baseline": "no_action",
       "scenarios": [{"label": "retail", "scenario": "retail_chain",
                      "overrides": {"channels": ["email", "sms", "push", "phone", "pos"]}}],
       "policies": [{"label": "no_action"},
                    {"label": "till", "policy": "blanket",
                     "params": {"offer": "cross_sell", "channel": "pos"}},
                    {"label": "top3", "policy": "arbitration", "params": {"top_k": 3}},
                    {"label": "oracle"}]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One run of the small moments config."""
    cfg = config.parse({**CFG, "out": str(tmp_path_factory.mktemp("moments"))})
    return sweep.run(cfg, cfg.out / cfg.name / "r")


def table(run_dir, name):
    """A run table as a dict of numpy columns."""
    return {k: np.array(v) for k, v in pq.read_table(run_dir / f"{name}.parquet").to_pydict()
            .items()}


def test_daily_rows_add_up_to_the_decision_log(run_dir):
    """Daily rows add up to the log per policy; the till rule shows pos at checkouts only.

    Decisions, sends and true margin of the daily rows are the log's; every day has a row.
    """
    daily, log = table(run_dir, "daily"), table(run_dir, "decisions")
    for policy in CFG["policies"]:
        name = policy["label"]
        d, g = daily["policy"] == name, log["policy"] == name
        assert daily["day"][d].tolist() == list(range(CFG["days"]))
        assert daily["eligible"][d].sum() == g.sum()
        assert daily["sent"][d].sum() == log["sent"][g].sum()
        assert daily["true_incremental_margin"][d].sum() == pytest.approx(
            log["true_incremental_margin"][g].sum())
    till = log["policy"] == "till"
    assert set(log["moment"][till & log["sent"]]) == {"checkout"}
    assert (log["action"][till & (log["moment"] != "checkout")] == 0).all()  # masked out
    t = daily["policy"] == "till"
    assert daily["sent_pos"][t].sum() == daily["sent"][t].sum() > 5


def test_moments_table_matches_the_log(run_dir):
    """moments.parquet: per moment and channel, the log's sends and true margin."""
    m, log = table(run_dir, "moments"), table(run_dir, "decisions")
    assert set(m["channel"]) == {"email", "sms", "push", "phone", "pos"}
    for policy in ("till", "oracle", "top3"):
        for kind in ("campaign", "checkout"):
            g = (log["policy"] == policy) & (log["moment"] == kind)
            rows = (m["policy"] == policy) & (m["moment"] == kind)
            assert (m["decisions"][rows] == g.sum()).all()
            for ch in ("email", "pos"):
                r = rows & (m["channel"] == ch)
                assert m["sent"][r].sum() == (g & log["sent"] & (log["channel"] == ch)).sum()
                assert m["true_incremental_margin"][r].sum() == pytest.approx(
                    log["true_incremental_margin"][g & (log["channel"] == ch)].sum())
    oracle_pos = (m["policy"] == "oracle") & (m["channel"] == "pos")
    assert m["sent"][oracle_pos].sum() > 0 and m["true_incremental_margin"][oracle_pos].sum() > 0


def test_pos_lines_count_in_the_treated_margin(run_dir):
    """Lines taken at the till count in the treated margin, not in purchases.

    The channel table's pos row has the shows and the lines.
    """
    daily, ch = table(run_dir, "daily"), table(run_dir, "channels")
    t = daily["policy"] == "till"
    pos = (ch["policy"] == "till") & (ch["channel"] == "pos")
    assert ch["sent"][pos].sum() == daily["sent_pos"][t].sum()
    assert ch["conversions"][pos].sum() == daily["lines_pos"][t].sum()
    n = daily["policy"] == "no_action"  # the same world and purchases, without the lines
    np.testing.assert_array_equal(daily["purchases"][t], daily["purchases"][n])
    if daily["lines_pos"][t].sum():
        assert daily["margin"][t].sum() > daily["margin"][n].sum()


def test_top_k_policy_gets_slates_and_the_report_shows_moments(run_dir):
    """The top3 policy sends slates of 3, the others single offers; the report has moments."""
    slots, log = table(run_dir, "slots"), table(run_dir, "decisions")
    assert set(slots["policy"]) == {"top3"} and slots["slot"].tolist() == [1, 2, 3]
    assert np.isnan(log["pscore_2"][log["policy"] == "oracle"].astype(float)).all()
    html = build_report(run_dir).read_text()
    assert 'id="moments-section"' in html
    assert 'data-group="oracle" data-moment="checkout" data-channel="pos"' in html


@pytest.mark.parametrize(("change", "match"), [
    ({"objective": "window"}, r"learns objective 'window'.*allowed 'margin' or 'ltv'"),
    ({"policies": [{"label": "no_action"}, {"label": "causal_lints"}]},
     r"policies\[causal_lints\] learns objective 'uplift_opened'"),
    ({"epochs": "hourly"}, r"epochs"),
])
def test_moments_refuse_what_needs_days(change, match):
    """Window objectives (and causal learners, which learn one) are CampaignDay-v0 only."""
    with pytest.raises(ParameterError, match=match):
        config.parse({**CFG, **change})


def test_budget_left_is_the_periods_budget_less_its_spend(tmp_path):
    """Each day's budget_left: the period's budget less what the period spent so far."""
    cfg = config.parse({**CFG, "customers": 600, "days": 5, "budget": 40.0,
                        "budget_period_days": 2, "out": str(tmp_path),
                        "policies": [{"label": "no_action"}, {"label": "arbitration"}]})
    daily = table(sweep.run(cfg, tmp_path / "r"), "daily")
    arb = daily["policy"] == "arbitration"
    day, cost, left = daily["day"][arb], daily["cost"][arb], daily["budget_left"][arb]
    spent = np.array([cost[(day // 2 == d // 2) & (day <= d)].sum() for d in day])
    np.testing.assert_allclose(left, daily["budget"][arb] - spent)
    assert spent.max() > 0 and (left >= -1e-9).all()
