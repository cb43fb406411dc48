"""`nbasim rfm --segments FILE.toml`: a segments file replaces the R x F map.

Bad files are in the hostile-input table (tests/experiments/cli/test_hostile_data.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from nbasim.experiments.data import rfm_report
from nbasim.experiments.data.segment_map import default_map, load_segments
from nbasim.policies.playbook import DEFAULT_PLAYBOOK
from nbasim.sim import rfm

# The five customers of test_rfm_report.py; as of 2024-01-31 (worked out there):
#   customer  recency  frequency  monetary  R  F  M
#   A         1        4          45        5  5  3
#   B         6        3          150       3  4  5
#   C         3        1          20        4  1  2
#   D         28       2          10        2  3  1
#   E         30       1          100       1  1  4
LOG = """customer,date,amount
A,2024-01-05,10
A,2024-01-10,10
A,2024-01-20,10
A,2024-01-30,10
A,2024-01-30,5
B,2024-01-01,50
B,2024-01-15,50
B,2024-01-25,50
C,2024-01-28,20
C,2024-02-10,99
D,2024-01-02,5
D,2024-01-03,5
E,2024-01-01,100
"""
SEGMENTS = """
[[segment]]
name = "big"
monetary = [100, inf]

[[segment]]
name = "champions"
r_score = [4, 5]
f_score = [4, 5]

[[segment]]
name = "recent"
recency = [0, 7]
action = "none"

[[segment]]
name = "cheap_regulars"
m_score = 1
frequency = [3, inf]
action = { offer = "discount_10", channel = "sms" }
"""
# big: monetary 100 or more (both ends included) -> B (150) and E (100).
# champions: R 4-5 and F 4-5 -> A (5, 5); B has F 4 but R 3.
# recent: recency 0-7 days -> A (1), B (6) and C (3); A and B are taken earlier (first match
#   wins), so C only, and 2 shadowed.
# cheap_regulars: M 1 and 3 purchase days or more -> D has M 1 but 2 days: nobody.
# other: D.
WANT = {"A": "champions", "B": "big", "C": "recent", "D": "other", "E": "big"}
ACTIONS = {"big": ("none", "no playbook entry"),
           "champions": ("loyalty_x2 by email, morning, emotional", "playbook"),
           "recent": ("none", "segments file"),
           "cheap_regulars": ("discount_10 by sms, morning, rational", "segments file"),
           "other": ("none", "no playbook entry")}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The log scored with the segments file, a compare date and a list of `big`."""
    tmp_path = tmp_path_factory.mktemp("segments")
    (tmp_path / "log.csv").write_text(LOG)
    (tmp_path / "segments.toml").write_text(SEGMENTS)
    return rfm_report.rfm_report(tmp_path / "log.csv", "customer", "date", "amount",
                                 "2024-01-31", compare="2024-01-15", out=tmp_path / "out",
                                 segments=tmp_path / "segments.toml", lists=["big"])


def test_a_segments_file_replaces_the_map(run):
    """Customers go to the first segment that holds them, in file order, else to other."""
    result, out = run
    got = dict(zip(result.customers["customer_id"], result.customers["segment"], strict=True))
    assert got == WANT
    summary = json.loads((out / "segments.json").read_text())
    rows = {r["segment"]: r for r in summary["segments"]}
    assert list(rows) == ["big", "champions", "recent", "cheap_regulars", "other"]
    assert {k: r["customers"] for k, r in rows.items()} == {
        "big": 2, "champions": 1, "recent": 1, "cheap_regulars": 0, "other": 1}
    assert rows["recent"]["shadowed"] == 2 and rows["big"]["shadowed"] == 0
    assert rows["big"]["revenue"] == 250


def test_each_segment_carries_its_action(run):
    """segments.json names each segment's action and where it comes from."""
    result, out = run
    summary = json.loads((out / "segments.json").read_text())
    assert {r["segment"]: r["action"] for r in summary["segments"]} == {
        k: a for k, (a, _) in ACTIONS.items()}
    assert load_segments(out.parent / "segments.toml").action_from == tuple(
        f for _, f in ACTIONS.values())
    assert summary["segment_map"]["definitions"][0] == {"name": "big", "monetary": [100, None]}
    assert summary["segment_map"]["rule"].startswith("first match in file order")


def test_the_default_map_carries_the_playbook():
    """Without a file, every segment's action is the rfm_playbook policy's default."""
    m = default_map()
    assert m.names == rfm.SEGMENTS
    assert m.actions == tuple(str(DEFAULT_PLAYBOOK[s]) for s in rfm.SEGMENTS)
    assert m.actions[rfm.SEGMENTS.index("at_risk")] == "win_back by email, morning, emotional"
    assert m.actions[rfm.SEGMENTS.index("lost")] == "none"


def test_migration_runs_between_the_files_segments(run):
    """The migration matrix and segment_at_compare use the file's segments.

    As of 2024-01-15 (C not yet a customer): monetary A 20, B 100, D 10, E 100 -> big holds B
    and E; champions nobody (R: B 4, A 3, D 2, E 1; F: E 1, A, B and D 3); recency A 5 ->
    recent; D (M 1 but 2 purchase days) other. To 01-31: A recent -> champions, B and E stay
    big, D stays other.
    """
    result, _ = run
    mig = result.summary["migration"]
    names = mig["segments"]
    counts = np.asarray(mig["counts"])
    moves = {(names[i], names[j]): int(counts[i, j]) for i, j in zip(*np.nonzero(counts),
                                                                      strict=True)}
    assert moves == {("big", "big"): 2, ("recent", "champions"): 1, ("other", "other"): 1}
    got = dict(zip(result.customers["customer_id"], result.customers["segment_at_compare"],
                   strict=True))
    assert got == {"A": "recent", "B": "big", "C": None, "D": "other", "E": "big"}


def test_the_readme_segments_file_is_valid(tmp_path):
    """The segments file in the README's rfm walk-through loads, in the order written."""
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    block = re.search(r"```toml\n(# segments\.toml.*?)```", readme, re.S)
    assert block, "README: no ```toml block starting with '# segments.toml'"
    (tmp_path / "segments.toml").write_text(block.group(1))
    m = load_segments(tmp_path / "segments.toml")
    assert m.names[-1] == "other" and len(m.names) >= 3
