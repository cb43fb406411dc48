"""Shared by the resume tests: a small config and one whole run of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbasim.experiments.run import config, sweep

SMALL_TOML = """\
name = "small"
customers = 300
days = 4
seeds = [0]
baseline = "no_action"

[[policies]]
label = "no_action"

[[policies]]
label = "random"
"""


@pytest.fixture(scope="session")
def small_toml() -> str:
    """A config of two cells (no_action and random, seed 0) that runs in a second."""
    return SMALL_TOML


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> tuple[config.ExperimentConfig, Path]:
    """The small config and one whole run of it; copy the run before changing it."""
    home = tmp_path_factory.mktemp("small")
    (home / "small.toml").write_text(SMALL_TOML)
    cfg = config.load(home / "small.toml")
    return cfg, sweep.run(cfg, home / "run")
