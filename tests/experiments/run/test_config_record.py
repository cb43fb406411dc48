"""A run's config.toml reads back as the config that was run (its `[versions]` set aside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbasim.experiments.run import config, sweep
from nbasim.sim.params import ParameterError

SHIPPED = sorted(Path("experiments/configs").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_config_as_run_reads_back_as_the_same_config(path, tmp_path):
    """Every shipped config, written as a run writes it, loads equal, with the same run id."""
    cfg = config.load(path)
    written = tmp_path / "config.toml"
    written.write_text(sweep._config_toml(cfg))
    assert "[versions]" in written.read_text()
    again = config.load(written)
    assert again == cfg
    assert sweep.run_id(again) == sweep.run_id(cfg)


def test_versions_must_be_a_table():
    """A `versions` that is not a table is named, with what is allowed."""
    raw = {"name": "x", "policies": [{"label": "random"}], "versions": "1.0"}
    with pytest.raises(ParameterError, match="field 'versions' = '1.0': .*allowed: a table"):
        config.parse(raw)
