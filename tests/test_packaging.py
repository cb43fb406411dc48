"""Packaging: every subpackage of the four package folders is installed."""

from __future__ import annotations

import subprocess
import sys
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


def test_import_nbasim_is_light_and_its_names_are_there():
    """`import nbasim` loads gymnasium's registry, not the world; the episode names load on use.

    The `nbasim` command guards Ctrl-C from its entry point on, so what loads before it (the
    package itself) should be little.
    """
    code = ("import sys, nbasim; light = 'nbasim.sim.world' not in sys.modules; "
            "from nbasim import Episode, Step, run_episode, steps; "
            "print(light, 'nbasim.sim.world' in sys.modules, callable(run_episode))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "True", "True"]
