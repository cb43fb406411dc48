"""Versions of nbasim and the packages a result depends on, recorded with every run."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("nbasim", "numpy", "scipy", "simpy", "pyarrow", "pydantic", "matplotlib")


def package_versions() -> dict[str, str]:
    """Installed versions (or "not installed") of `PACKAGES`, plus Python's."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
