"""A campaign after a few days of uniformly random sends, so contact histories differ."""

from __future__ import annotations

import numpy as np

from nbasim.sim.campaign import Campaign
from nbasim.sim.constraints import ContactRules
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World


def busy_campaign(rules: ContactRules, seed: int, customers: int, days: int, holdout: float,
                  send_days: int) -> tuple[World, Campaign]:
    """The dry-cleaning chain after `send_days` days of random sends under `rules`, then a day."""
    world = World(get_scenario("dry_cleaning_chain"), customers, days, seed)
    campaign = Campaign(world, rules, holdout)
    rng = np.random.default_rng(seed)
    for _ in range(send_days):
        world.step()
        rows = np.arange(world.n_present)
        campaign.act(rows, rng.integers(0, campaign.actions.n_actions, rows.size))
    world.step()
    return world, campaign
