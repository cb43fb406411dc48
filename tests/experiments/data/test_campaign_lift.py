"""`calibrate_campaign`: lifts of a past test, their errors, and the world settings they become."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.data import campaign_lift as ct
from nbasim.experiments.data.translog import DataError
from nbasim.sim import effects
from nbasim.sim.actions import build_catalog
from nbasim.sim.campaign import Campaign
from nbasim.sim.params import OFFERS, ParameterError
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World

SMALL = {"customers": 3000, "seed": 1}  # a small base for the fit when its size does not matter


def write_csv(path: Path, arm, outcome, spend=None, header=("arm", "bought", "spend")) -> Path:
    """Write a test file: one line per customer."""
    lines = [",".join(header[:2] if spend is None else header)]
    for i in range(len(arm)):
        row = [str(arm[i]), str(outcome[i])] + ([] if spend is None else [str(spend[i])])
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def known_lift_test(rng: np.random.Generator, n: int, p_control: float, lift: float,
                    arm: str = "discount_20:email"):
    """Customers randomized half and half; 0/1 outcomes at the control rate or rate + lift."""
    treated = rng.random(n) < 0.5
    outcome = (rng.random(n) < np.where(treated, p_control + lift, p_control)).astype(int)
    spend = outcome * rng.gamma(4.0, 10.0, n)
    return np.where(treated, arm, "control"), outcome, np.round(spend, 2)


# ------------------------------------------------------------------------------ statistics
def test_welch_by_hand():
    """Difference, standard error and Welch df worked out by hand on tiny arms."""
    treated = np.array([1.0, 1.0, 0.0, 1.0])  # mean 0.75, var (ddof 1) = 0.25
    control = np.array([0.0, 1.0, 0.0, 0.0, 0.0])  # mean 0.2, var (ddof 1) = 0.2
    d = ct.welch(treated, control)
    # lift = 0.75 - 0.2 = 0.55; se^2 = 0.25 / 4 + 0.2 / 5 = 0.0625 + 0.04 = 0.1025
    assert d.lift == pytest.approx(0.55)
    assert d.se == pytest.approx(np.sqrt(0.1025))
    # df = 0.1025^2 / (0.0625^2 / 3 + 0.04^2 / 4) = 0.01050625 / (0.00130208 + 0.0004)
    #    = 0.01050625 / 0.00170208 = 6.1726
    assert d.df == pytest.approx(6.1726, abs=1e-4)
    # t_{0.975, 6.17} is about 2.43, so the interval is 0.55 +- 0.78.
    assert d.hi - d.lift == pytest.approx(d.lift - d.lo)
    assert 2.4 < (d.hi - d.lift) / d.se < 2.46


def test_no_variance_gives_a_point_interval():
    """Arms with constant outcomes have se 0 and an interval that is the lift itself."""
    d = ct.welch(np.ones(3), np.zeros(4))
    assert (d.lift, d.se, d.lo, d.hi) == (1.0, 0.0, 1.0, 1.0)


def test_known_lift_covered_over_seeds():
    """Known lift: 95 % intervals cover it at the stated rate, and se is the binomial formula.

    Over 40 seeded tests with lift 0.03 on a 0.10 control rate the interval covers the truth
    at least 34 times (expected 38; P(fewer than 34) = 0.3 % under binomial(40, 0.95)).
    """
    covered = 0
    for seed in range(40):
        arm, outcome, _ = known_lift_test(np.random.default_rng(seed), 4000, 0.10, 0.03)
        data = ct.TestData(arm.astype(object), outcome.astype(float), None)
        got = ct.arm_lifts(data, "control")["discount_20:email"]
        y1, y0 = outcome[arm != "control"], outcome[arm == "control"]
        p1, p0, n1, n0 = y1.mean(), y0.mean(), y1.size, y0.size
        # 0/1 outcomes: sample variance p (1 - p) n / (n - 1), so
        # se = sqrt(p1 (1 - p1) / (n1 - 1) + p0 (1 - p0) / (n0 - 1)).
        assert got["se"] == pytest.approx(np.sqrt(p1 * (1 - p1) / (n1 - 1)
                                                  + p0 * (1 - p0) / (n0 - 1)), rel=1e-12)
        assert got["lift"] == pytest.approx(p1 - p0)
        assert got["n"] == n1
        covered += got["ci"][0] <= 0.03 <= got["ci"][1]
    assert covered >= 34


def test_calibrate_campaign_writes_lifts_and_settings(tmp_path):
    """A file with a known lift: campaign.json holds lifts, intervals, n and the settings.

    The intervals cover the true lift and spend lift, and the world's lift under the settings
    is the measured one.
    """
    rng = np.random.default_rng(7)
    arm, outcome, spend = known_lift_test(rng, 20_000, 0.08, 0.02)
    path = write_csv(tmp_path / "past test.csv", arm, outcome, spend)
    result, out = ct.calibrate_campaign(path, "arm", "control", "bought", "spend",
                                        out=tmp_path / "out", **SMALL)
    assert out == tmp_path / "out"
    on_disk = json.loads((out / "campaign.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    a = on_disk["arms"]["discount_20:email"]
    assert a["n"] == int((arm != "control").sum())
    assert a["ci"][0] <= 0.02 <= a["ci"][1]
    true_spend_lift = 0.02 * 40.0  # lift x gamma(4, 10) mean
    assert a["spend_ci"][0] <= true_spend_lift <= a["spend_ci"][1]
    assert a["reproduced"] and a["fit"] == "brentq"
    assert a["world_lift"] == pytest.approx(a["lift"], abs=1e-9)
    effect = on_disk["settings"]["response"]["offer_effect"]
    assert len(effect) == len(OFFERS) and effect[OFFERS.index("discount_20")] == a["offer_effect"]
    assert on_disk["world"]["attribution_days"] == 7 and on_disk["assumptions"]
    assert sorted(p.name for p in out.iterdir()) == ["campaign.json"]


def test_parquet_and_arm_mapping(tmp_path):
    """A Parquet file whose arms have their own names, mapped to catalog actions; no spend."""
    rng = np.random.default_rng(3)
    arm, outcome, _ = known_lift_test(rng, 4000, 0.1, 0.05, arm="promo_a")
    path = tmp_path / "test.parquet"
    pq.write_table(pa.table({"group": arm, "converted": outcome.astype(bool)}), path)
    result, _ = ct.calibrate_campaign(path, "group", "control", "converted",
                                      out=tmp_path / "out", arms={"promo_a": "win_back:sms"},
                                      **SMALL)
    a = result["arms"]["promo_a"]
    assert a["action"] == "win_back:sms"
    assert a["spend_lift"] is a["spend_se"] is a["spend_ci"] is None
    assert result["settings"]["response"]["offer_effect"][OFFERS.index("win_back")] \
        == a["offer_effect"] > 0


def test_one_offer_on_two_channels_is_fitted_together(tmp_path):
    """Two arms of one offer through two channels share one offer_effect (least squares)."""
    rng = np.random.default_rng(5)
    n = 30_000
    which = rng.integers(0, 3, n)
    arm = np.array(["control", "discount_10:email", "discount_10:sms"])[which]
    outcome = (rng.random(n) < np.array([0.08, 0.09, 0.11])[which]).astype(int)
    path = write_csv(tmp_path / "two.csv", arm, outcome)
    result, _ = ct.calibrate_campaign(path, "arm", "control", "bought", out=tmp_path / "o",
                                      **SMALL)
    email, sms = result["arms"]["discount_10:email"], result["arms"]["discount_10:sms"]
    assert email["fit"] == sms["fit"] == "least_squares"
    assert email["offer_effect"] == sms["offer_effect"] > 0
    # One effect, and sms, opened far more often than email, gets the larger lift from it.
    assert email["world_lift"] < sms["world_lift"]


def test_window_days_and_settings_reach_a_world(tmp_path):
    """A 14-day window goes into the settings; the settings build a world via get_scenario."""
    rng = np.random.default_rng(9)
    arm, outcome, _ = known_lift_test(rng, 4000, 0.15, 0.04, arm="loyalty_x2:push")
    path = write_csv(tmp_path / "t.csv", arm, outcome)
    result, _ = ct.calibrate_campaign(path, "arm", "control", "bought", out=tmp_path / "o",
                                      window_days=14, overrides={"churn_base": 0.0003},
                                      **SMALL)
    settings = result["settings"]
    assert settings["response"]["attribution_days"] == 14
    merged = ct.apply_settings({"churn_base": 0.0003, "response": {"click_weight": 3.0}},
                               settings)
    params = get_scenario("dry_cleaning_chain", merged)
    assert params.response.attribution_days == 14 and params.response.click_weight == 3.0
    assert params.churn_base == 0.0003
    assert params.response.offer_effect[OFFERS.index("loyalty_x2")] \
        == result["arms"]["loyalty_x2:push"]["offer_effect"]


def test_unreachable_lift_is_flagged(tmp_path):
    """A cart reminder in a world without an online shop cannot lift anything: flagged."""
    rng = np.random.default_rng(2)
    arm, outcome, _ = known_lift_test(rng, 4000, 0.1, 0.1, arm="cart_reminder:email")
    path = write_csv(tmp_path / "t.csv", arm, outcome)
    result, _ = ct.calibrate_campaign(path, "arm", "control", "bought", out=tmp_path / "o",
                                      **SMALL)
    a = result["arms"]["cart_reminder:email"]
    assert a["fit"] == "unreachable" and not a["reproduced"] and a["world_lift"] == 0.0


# ------------------------------------------------------------------------------ bad input
GOOD = {"arm": ["control", "control", "discount_20:email", "discount_20:email"],
        "bought": ["0", "1", "1", "0"], "spend": ["0", "12.5", "30", "0"]}


def table_text(**change) -> str:
    """The GOOD table as CSV text, with columns replaced by `change`."""
    cols = GOOD | change
    rows = zip(*cols.values(), strict=True)
    return "\n".join([",".join(cols)] + [",".join(r) for r in rows]) + "\n"


BAD = [
    ("no control", table_text(), {"control": "holdout"},
     r"control arm 'holdout' is not in the data; the arms found .* 'control' \(2\), "
     r"'discount_20:email' \(2\)"),
    ("missing column", table_text(), {"outcome_col": "purchase"},
     r"no outcome column 'purchase'; the columns found are 'arm', 'bought', 'spend'"),
    ("missing spend column", table_text(), {"spend_col": "revenue"},
     r"no spend column 'revenue'; the columns found are 'arm', 'bought', 'spend'"),
    ("empty file", "", {}, r"the file is empty"),
    ("header only", "arm,bought,spend\n", {}, r"no rows"),
    ("non-binary outcome", table_text(bought=["0", "1", "2", "0"]), {},
     r"row 3 \(line 4\): outcome column 'bought' has 2.0; allowed: 0 or 1"),
    ("NaN outcome", table_text(bought=["0", "NaN", "1", "0"]), {},
     r"row 2 \(line 3\): outcome column 'bought' is empty or NaN; allowed: 0 or 1"),
    ("empty outcome", table_text(bought=["0", "1", "", "0"]), {},
     r"row 3 \(line 4\): outcome column 'bought' is empty or NaN"),
    ("text outcome", table_text(bought=["no", "yes", "yes", "no"]), {},
     r"row 1 \(line 2\): outcome column 'bought' has 'no', which is not a number"),
    ("negative spend", table_text(spend=["0", "12.5", "-3", "0"]), {},
     r"row 3 \(line 4\): spend column 'spend' has -3.0; allowed: a number from 0 to 1e\+12"),
    ("empty arm", table_text(arm=["control", "", "discount_20:email", "discount_20:email"]), {},
     r"row 2 \(line 3\): arm column 'arm' is empty"),
    ("bad mapping", table_text(arm=["control", "control", "promo", "promo"]),
     {"arms": {"promo": "discount_25:email"}}, r"arm 'promo' mapped to 'discount_25:email' "
                                              r"matches no catalog offer and channel; allowed: "
                                              r"'offer:channel' .* discount_10, .* channel one "
                                              r"of email, sms, push, phone"),
    ("mapping of no arm", table_text(), {"arms": {"promo": "discount_20:email"}},
     r"arm mapping names 'promo', which is not an arm of the data"),
    ("one customer", table_text(arm=["control", "control", "control", "discount_20:email"]),
     {}, r"arm 'discount_20:email' has fewer than 2 customers"),
    ("control only", table_text(arm=["control"] * 4), {}, r"only the control arm"),
]


@pytest.mark.parametrize(("text", "options", "match"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input_is_named_and_writes_nothing(tmp_path, text, options, match):
    """Each bad file or option raises a DataError naming the problem; no directory appears."""
    path = tmp_path / "test.csv"
    path.write_text(text)
    kwargs = {"arm_col": "arm", "control": "control", "outcome_col": "bought",
              "spend_col": "spend"} | options
    out = tmp_path / "out"
    with pytest.raises(DataError, match=match):
        ct.calibrate_campaign(path, out=out, **kwargs, **SMALL)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.csv"]


@pytest.mark.parametrize(("options", "match"), [
    ({"scenario": "bakery"}, r"unknown scenario 'bakery'; allowed: dry_cleaning_chain"),
    ({"window_days": 90}, r"window_days = 90: must be a whole number of days from 1 to 60"),
    ({"window_days": 2.5}, r"window_days = 2\.5: must be a whole number of days from 1 to 60"),
    ({"customers": 10}, r"customers = 10: must be an integer >= 100"),
])
def test_bad_options_are_named(tmp_path, options, match):
    """Bad world options raise ParameterError before anything is written."""
    path = tmp_path / "test.csv"
    path.write_text(table_text())
    with pytest.raises(ParameterError, match=match):
        ct.calibrate_campaign(path, "arm", "control", "bought", out=tmp_path / "out",
                              **({"customers": 3000} | options))
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_or_foreign_directory_is_refused(tmp_path):
    """`out` may be new, empty or an earlier result; a file or another directory is refused."""
    path = tmp_path / "test.csv"
    path.write_text(table_text())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match="is a file"):
        ct.calibrate_campaign(path, "arm", "control", "bought", out=tmp_path / "file", **SMALL)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep")
    with pytest.raises(ParameterError, match="not a calibrate-campaign result"):
        ct.calibrate_campaign(path, "arm", "control", "bought", out=tmp_path / "other", **SMALL)
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep"


def test_default_out_and_arm_map():
    """The default directory is named after the file; --arm items become a mapping."""
    assert ct.default_out("data/spring test.csv.gz") == Path(
        "results/calibrate-campaign/spring test")
    assert ct.parse_arm_map(["a=discount_20:email", " b = win_back:sms "]) == {
        "a": "discount_20:email", "b": "win_back:sms"}
    with pytest.raises(ParameterError, match="expected ARM=offer:channel"):
        ct.parse_arm_map(["discount_20:email"])


# ------------------------------------------------------------------------------- end to end
def test_past_test_simulated_in_the_world_is_reproduced(tmp_path):
    """A past test simulated in the world is reproduced by the settings fitted to it.

    A blanket send with a known offer effect, half the base held out, conversions counted over
    the window: the world's lift under the fitted settings, on another base and seed, lies in
    the measured interval, and so does the true lift of the world that made the data.
    """
    arm_name, true_effect, window = "discount_20:sms", 0.3, 7
    default = get_scenario("dry_cleaning_chain")
    effect = list(default.response.offer_effect)
    effect[OFFERS.index("discount_20")] = true_effect
    params = get_scenario("dry_cleaning_chain", {"response": {"offer_effect": effect}})
    world = World(params, 60_000, window + 2, seed=11)
    world.step()  # day 0; the send goes out at its end, conversions count on days 1 to 7
    campaign = Campaign(world, holdout_fraction=0.5)
    rows = np.arange(world.n_present)
    arm = effects.parse_arm(arm_name)
    actions = np.random.default_rng(3).choice(effects.arm_actions(campaign.actions, arm),
                                              rows.size)  # slot and wording at random
    true_lift = effects.blanket_lift(world.customers_for_response(rows),
                                     effects.arm_actions(campaign.actions, arm),
                                     campaign.actions, params.response).lift
    campaign.act(rows, actions)  # the holdout is blocked: it is the control
    bought, spend = np.zeros(rows.size, dtype=bool), np.zeros(rows.size)
    for _ in range(window):
        tx = world.step().transactions
        mine = tx.customer < rows.size
        bought[tx.customer[mine]] = True
        np.add.at(spend, tx.customer[mine], tx.amount[mine])
    treated = ~campaign.holdout[rows]
    path = tmp_path / "past.parquet"
    pq.write_table(pa.table({"arm": np.where(treated, arm_name, "control"),
                             "bought": bought.astype(np.int8), "spend": spend}), path)

    result, _ = ct.calibrate_campaign(path, "arm", "control", "bought", "spend",
                                      out=tmp_path / "out", customers=50_000, seed=5)
    measured = result["arms"][arm_name]
    lo, hi = measured["ci"]
    assert lo <= true_lift <= hi
    assert measured["lift"] / measured["se"] > 5  # the test can tell the effect from none

    # Apply the settings to a fresh world (another seed) and send the arm to everyone.
    fitted = get_scenario("dry_cleaning_chain", ct.apply_settings({}, result["settings"]))
    check = World(fitted, 50_000, window + 2, seed=99)
    check.step()
    catalog = build_catalog()
    lift = effects.blanket_lift(check.customers_for_response(np.arange(check.n_present)),
                                effects.arm_actions(catalog, arm), catalog,
                                fitted.response).lift
    assert lo <= lift <= hi
    # The fitted effect is within the measurement's reach of the true one (lift ~ linear).
    assert measured["offer_effect"] == pytest.approx(true_effect, rel=(hi - lo) / 2 / lo)


# ----------------------------------------------------------------- arms outside the catalog
def test_an_arm_outside_the_catalog_is_measured_and_written_but_not_fitted(tmp_path):
    """'Mens E-Mail' gets its lift and spend lift; only 'discount_20:email' is fitted."""
    rng = np.random.default_rng(3)
    n = 600
    arm = np.array(["control", "Mens E-Mail", "discount_20:email"] * (n // 3), dtype=object)
    bought = (rng.random(n) < np.where(arm == "control", 0.10, 0.16)).astype(int)
    spend = bought * rng.gamma(2, 20, n)
    path = write_csv(tmp_path / "test.csv", arm, bought, spend)
    result, out = ct.calibrate_campaign(path, "arm", "control", "bought", spend_col="spend",
                                        out=tmp_path / "out", **SMALL)
    mens, fitted = result["arms"]["Mens E-Mail"], result["arms"]["discount_20:email"]
    mine, control = bought[arm == "Mens E-Mail"], bought[arm == "control"]
    assert mens["lift"] == pytest.approx(mine.mean() - control.mean())
    assert mens["spend_lift"] == pytest.approx(spend[arm == "Mens E-Mail"].mean()
                                               - spend[arm == "control"].mean())
    assert mens["action"] is None and mens["offer_effect"] is None and mens["fit"] is None
    assert fitted["action"] == "discount_20:email" and fitted["offer_effect"] is not None
    assert result["not_fitted"] == ["Mens E-Mail"]
    written = json.loads((out / ct.RESULT_FILE).read_text())
    assert written["not_fitted"] == ["Mens E-Mail"]
    assert written["arms"]["Mens E-Mail"]["lift"] == pytest.approx(mens["lift"])


def test_a_test_of_arms_all_outside_the_catalog_keeps_the_worlds_effects(tmp_path):
    """No arm maps: every lift is written, and the world's offer effects are left as they are."""
    path = tmp_path / "test.csv"
    path.write_text(table_text(arm=["control", "control", "promo", "promo"]))
    result, _ = ct.calibrate_campaign(path, "arm", "control", "bought", out=tmp_path / "out",
                                      **SMALL)
    assert result["not_fitted"] == ["promo"] and result["arms"]["promo"]["lift"] == 0.0
    assert result["settings"]["response"]["offer_effect"] == list(
        get_scenario(ct.DEFAULT_SCENARIO).response.offer_effect)


def test_the_command_says_which_arms_were_not_fitted(tmp_path):
    """`nbasim calibrate-campaign` exits 0, lists the arm and how to map it."""
    path = tmp_path / "test.csv"
    path.write_text(table_text(arm=["control", "control", "Mens E-Mail", "Mens E-Mail"]))
    result = CliRunner().invoke(app, [
        "calibrate-campaign", str(path), "--arm-col", "arm", "--control", "control",
        "--outcome-col", "bought", "--customers", "3000", "--out", str(tmp_path / "out")])
    message = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "not fitted: 'Mens E-Mail' map to no catalog offer and channel; their lifts are " \
           "measured and written" in message, message
    assert (tmp_path / "out" / ct.RESULT_FILE).is_file()
