"""Packaging: every subpackage of the four package folders is installed."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("sim", "envs", "policies", "experiments")


def test_every_folder_with_an_init_is_listed_in_pyproject_packages():
    """A folder holding `__init__.py` is `nbasim.<dotted path>` in `[tool.setuptools] packages`.

    setuptools installs only the listed packages, so a subpackage missing from the list works
    in the editable checkout and is absent from a wheel.
    """
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {"nbasim." + ".".join(init.parent.relative_to(ROOT).parts)
             for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")}
    assert found, "no package found under the four folders"
    assert sorted(found - listed) == []
    assert sorted(listed - found - {"nbasim"}) == []
