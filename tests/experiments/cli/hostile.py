"""The good and bad inputs the hostile-input tables share, and how to write them.

The tables are test_hostile_*.py; their fixtures (`home`, `refused`) are in conftest.py.
"""

from __future__ import annotations

import json
from pathlib import Path

TOP = {"name": '"tiny"', "customers": "300", "days": "4", "seeds": "[0]"}
POLICY = '[[policies]]\nlabel = "random"\n'
LOG = "id,date,amount\n" + "".join(
    f"c{c:03d},2024-0{1 + (c + d) % 6}-1{d},{5 + c % 7 + d}.50\n" for c in range(40)
    for d in range(1 + c % 3))
"""A tiny transaction log: 40 customers, 1 to 3 purchases each in the first half of 2024."""
CAMPAIGN = "arm,bought,spend\n" + "".join(
    f"{arm},{(i * 7) % 3 == 0:d},{(i % 5) * 4.5}\n" for i in range(60)
    for arm in ("control", "discount_20:email"))
"""A tiny past test: control and one arm named offer:channel, 60 customers each."""
DECISIONS = "a,r,p,x_1\n" + "".join(
    f"{i % 3},{(i * 5) % 4 == 0:d},0.3333333,{(i % 7) / 7:.3f}\n" for i in range(90))
"""A tiny decision log of a uniform logger over 3 actions, with one context column."""


def config(policies: str = POLICY, scenarios: str = "", **top: str | None) -> str:
    """The tiny experiment config (300 customers, 4 days, one seed), fields replaced.

    Args:
        policies: the [[policies]] tables.
        scenarios: the [[scenarios]] tables (default: none).
        **top: top-level fields as TOML text; None drops the field.
    """
    fields = {**TOP, **top}
    head = "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)
    return head + scenarios + policies


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


def write(home: Path, name: str, text: str | bytes) -> Path:
    """Write a case's own input file into `home` (before the folder is listed)."""
    path = home / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


CALIBRATION = {"time_unit": "week", "bgnbd": {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5},
               "gamma_gamma": {"p": 6.0, "q": 4.0, "v": 15.0},
               "population": {"customers": 300, "start_date": "2024-10-27", "burn_in_days": 60,
                              "age_counts": [1.0, 2.0, 3.0],
                              "acquisition_rate_per_day": 0.001}}
"""A small calibration.json of the shape `nbasim calibrate` writes (what `simulate` reads)."""


def calibration(*keys: str, value: object) -> str:
    """The small calibration as JSON text, with the entry at `keys` set to `value`."""
    d = json.loads(json.dumps(CALIBRATION))
    inner = d
    for key in keys[:-1]:
        inner = inner[key]
    inner[keys[-1]] = value
    return json.dumps(d)
