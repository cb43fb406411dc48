"""The data commands from the command line: exit codes, files written, nothing on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np


def nbasim(*args: str) -> subprocess.CompletedProcess:
    """Run the command line in a fresh process."""
    return subprocess.run([sys.executable, "-m", "nbasim.experiments.cli", *args],
                          capture_output=True,
                          text=True, timeout=600)


def test_calibrate_campaign_measures_the_lift_and_refuses_a_missing_control(tmp_path):
    """A test with a planted 4-point lift: the interval covers it; a wrong control exits 2."""
    rng = np.random.default_rng(3)
    n = 6000
    arm = np.where(rng.random(n) < 0.5, "control", "discount_20:sms")
    bought = rng.random(n) < np.where(arm == "control", 0.10, 0.14)
    path = tmp_path / "test.csv"
    path.write_text("arm,bought\n" + "".join(f"{a},{int(b)}\n" for a, b in zip(arm, bought,
                                                                               strict=True)))
    out = tmp_path / "out"
    done = nbasim("calibrate-campaign", str(path), "--arm-col", "arm", "--control", "control",
                  "--outcome-col", "bought", "--customers", "5000", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    lift = json.loads((out / "campaign.json").read_text())["arms"]["discount_20:sms"]
    assert lift["ci"][0] < 0.04 < lift["ci"][1] and lift["n"] > 2500
    bad = tmp_path / "bad"
    done = nbasim("calibrate-campaign", str(path), "--arm-col", "arm", "--control", "nobody",
                  "--outcome-col", "bought", "--out", str(bad))
    assert done.returncode == 2 and "nobody" in done.stderr and not bad.exists()


def test_calibrate_then_simulate_and_run_a_calibrated_world(tmp_path):
    """A small log: calibrate, then simulate and run an experiment on the calibrated base.

    `calibrate` writes calibration.json; `simulate --calibration` and an experiment whose
    scenario names it both build that base; a missing column exits 2 and writes nothing.
    """
    rng = np.random.default_rng(5)
    rows = ["id,date,amount"]
    for c in range(400):
        days = np.sort(rng.choice(300, size=1 + rng.poisson(2), replace=False))
        rows += [f"c{c},2024-01-01,{rng.gamma(4, 8):.2f}".replace(
            "2024-01-01", str(np.datetime64("2024-01-01") + int(d))) for d in days]
    log = tmp_path / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    cal = tmp_path / "cal"
    done = nbasim("calibrate", str(log), "--customer-col", "id", "--date-col", "date",
                  "--amount-col", "amount", "--out", str(cal))
    assert done.returncode == 0, done.stderr[-2000:]
    fitted = json.loads((cal / "calibration.json").read_text())
    assert fitted["bgnbd"]["r"] > 0 and fitted["counts"]["customers"] == 400
    done = nbasim("simulate", "--calibration", str(cal / "calibration.json"), "--days", "20",
                  "--out", str(tmp_path / "sim"))
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    assert summary["customers_at_start"] == 400
    config = tmp_path / "exp.toml"
    config.write_text(f'name = "cal"\ndays = 6\nseeds = [0]\n[[scenarios]]\n'
                      f'calibration = "{cal / "calibration.json"}"\n'
                      f'scenario = "retail_chain"\n[[policies]]\nlabel = "no_action"\n')
    done = nbasim("run", str(config), "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-2000:]
    bad = nbasim("calibrate", str(log), "--customer-col", "who", "--date-col", "date",
                 "--amount-col", "amount", "--out", str(tmp_path / "never"))
    assert bad.returncode == 2 and "who" in bad.stderr and not (tmp_path / "never").exists()


def test_ope_from_the_command_line_and_a_zero_propensity_exits_2(tmp_path):
    """`nbasim ope` on a uniform-random log of a known bandit; a pscore of 0 exits 2."""
    rng = np.random.default_rng(2)
    n, k = 4000, 3
    action = rng.integers(0, k, n)
    reward = (rng.random(n) < np.array([0.1, 0.3, 0.5])[action]).astype(float)
    log = tmp_path / "log.csv"
    log.write_text("a,r,p\n" + "".join(f"{a},{r},{1 / k}\n" for a, r in zip(action, reward,
                                                                            strict=True)))
    out = tmp_path / "ope"
    done = nbasim("ope", str(log), "--action-col", "a", "--reward-col", "r", "--pscore-col", "p",
                  "--target", "action:2", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    est = json.loads((out / "ope.json").read_text())["estimates"]
    assert est["ips"]["ci"][0] < 0.5 < est["ips"]["ci"][1]  # the truth of action 2 is 0.5
    bad = tmp_path / "bad.csv"
    bad.write_text("a,r,p\n0,1,0\n1,0,0.5\n")
    done = nbasim("ope", str(bad), "--action-col", "a", "--reward-col", "r", "--pscore-col",
                  "p", "--out", str(tmp_path / "never"))
    assert done.returncode == 2 and not (tmp_path / "never").exists()


def test_rfm_exports_segments_and_refuses_a_date_before_every_purchase(tmp_path):
    """`nbasim rfm`: one CSV row per customer with a segment; a too-early --as-of exits 2."""
    rows = ["id,date,amount"] + [f"c{c},2024-0{1 + d % 6}-1{d % 9},{10 + c + d}"
                                 for c in range(60) for d in range(c % 5 + 1)]
    log = tmp_path / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    out = tmp_path / "rfm"
    done = nbasim("rfm", str(log), "--customer-col", "id", "--date-col", "date", "--amount-col",
                  "amount", "--as-of", "2024-06-30", "--compare", "2024-03-31", "--k", "3",
                  "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    export = (out / "customers.csv").read_text().strip().splitlines()
    assert export[0].startswith('"customer_id"') and len(export) == 61
    done = nbasim("rfm", str(log), "--customer-col", "id", "--date-col", "date", "--amount-col",
                  "amount", "--as-of", "2020-01-01", "--out", str(tmp_path / "never"))
    assert done.returncode == 2 and not (tmp_path / "never").exists()
