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


@pytest.mark.parametrize("label", ["EUR", "USD", "€", "$", "units", ""])
def test_a_currency_label_is_kept_and_only_a_set_one_changes_the_run_id(label, tmp_path):
    """A currency reads back from the run's config.toml; left unset it changes nothing.

    An unset label keeps the run id and config.toml of a config without it, so earlier runs
    resume; a set one is part of the run's identity.
    """
    raw = {"name": "x", "policies": [{"label": "random"}]}
    plain = config.parse(raw)
    cfg = config.parse({**raw, "currency": label})
    assert cfg.currency == label
    written = tmp_path / "config.toml"
    written.write_text(sweep._config_toml(cfg))
    assert config.load(written) == cfg
    assert ("currency" in written.read_text()) == bool(label)
    assert (sweep.run_id(cfg) == sweep.run_id(plain)) == (not label)


@pytest.mark.parametrize("label", ["E U R", "12", "<b>", "euros-and-cents", "EURO2"])
def test_a_bad_currency_is_named_with_what_is_allowed(label):
    """Spaces, digits, markup or more than 8 characters: the field, the value, what is allowed."""
    with pytest.raises(ParameterError, match=(
            rf"field 'currency' = '{label}': not a currency label; allowed: \"\" \(money is "
            r"labelled \"money\"\), or 1 to 8 letters or currency symbols")):
        config.parse({"name": "x", "policies": [{"label": "random"}], "currency": label})
