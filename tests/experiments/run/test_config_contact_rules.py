"""Contact rules per segment and offer in an experiment config: read, written back, named."""

from __future__ import annotations

import tomllib

import pytest

from nbasim.experiments.run import config, sweep
from nbasim.sim.params import ParameterError

TOML = """
name = "x"

[[policies]]
label = "random"

[[segment_caps]]
segment = "champions"
messages = 1
days = 14

[[suppress]]
segment = "champions"
offers = ["discount_10", "discount_20"]

[[offer_caps]]
offer = "discount_20"
messages = 2
days = 30
"""


def test_rules_read_from_toml_and_back_and_only_set_ones_change_the_run_id(tmp_path):
    """The three lists of tables load, read back from config.toml, and enter the run id.

    Left empty, they are kept out of config.toml and the run id, so earlier runs resume.
    """
    cfg = config.parse(tomllib.loads(TOML))
    assert cfg.segment_caps[0].segment == "champions" and cfg.offer_caps[0].messages == 2
    assert cfg.contact_rules().suppress[0].offers == ("discount_10", "discount_20")
    written = tmp_path / "config.toml"
    written.write_text(sweep._config_toml(cfg))
    assert config.load(written) == cfg
    plain = config.parse({"name": "x", "policies": [{"label": "random"}]})
    assert sweep.run_id(plain) != sweep.run_id(cfg)
    text = sweep._config_toml(plain)
    assert not {"segment_caps", "suppress", "offer_caps"} & set(tomllib.loads(text))


def test_a_bad_rule_in_a_config_is_named():
    """The config's error names the list, the item and the key."""
    raw = tomllib.loads(TOML.replace('segment = "champions"\nmessages', 'segment = "vip"\n'
                                     'messages', 1))
    with pytest.raises(ParameterError, match=r"field 'segment_caps.0.segment' = 'vip'.*"
                                             r"allowed: one of champions"):
        config.parse(raw)
