"""The tutorials run, as a user would run them, at small sizes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "experiments" / "tutorials"

# What each prints when it worked: a line a reader looks for.
EXPECTED = {
    "compare_playbook_bandit.py": ["report:", "oracle", "rfm_playbook", "(baseline)"],
    "calibrate_your_log.py": ["BG/NBD:", "no_action Episode(", "blanket Episode("],
    "your_own_policy.py": ["Episode(", "offer_means: true incremental margin"],
    "your_own_scenario.py": ["competitor rfm_playbook: churn rate"],
    "pos_at_checkout.py": ["pos: margin", "messages: margin", "both: margin"],
}


def test_every_tutorial_is_tested():
    """A new tutorial gets a row here."""
    assert sorted(p.name for p in TUTORIALS.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_tutorial_runs(name, tmp_path):
    """The script runs whole from a folder of the user's, and prints what it promises."""
    env = {**os.environ, "NBASIM_TUTORIAL_SMALL": "1", "COLUMNS": "200"}
    out = subprocess.run([sys.executable, str(TUTORIALS / name)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    for text in EXPECTED[name]:
        assert text in out.stdout, f"{text!r} not in the output of {name}:\n{out.stdout}"
