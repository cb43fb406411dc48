"""Options shared by both environments, validated once, and the world they build."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from nbasim.sim.campaign import TRUTH_GRIDS, Campaign
from nbasim.sim.constraints import ContactRules
from nbasim.sim.params import validate
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.shocks import parse_shock
from nbasim.sim.slates import CONTINUATION, MAX_SLATE
from nbasim.sim.world import World

OBJECTIVES = ("margin", "ltv", "window", "uplift", "uplift_opened")
WINDOW_OBJECTIVES = ("window", "uplift", "uplift_opened")
"""Objectives whose rewards are known when the attribution window closes (CampaignDay-v0)."""
UPLIFT_OBJECTIVES = ("uplift", "uplift_opened")
"""Window objectives that subtract a baseline of what the customer would have made."""
TRUTH_OPTIONS = (False, True, *TRUTH_GRIDS)
"""Values of option `truth`: no truth, every grid, or one grid by name."""


class CampaignSettings(ContactRules):
    """The campaign's rules and objective, shared by env options and experiment configs.

    The contact and budget fields come from `sim.constraints.ContactRules`, declared there
    once; this adds the holdout and what a decision's reward is.
    """

    holdout: Annotated[float, Field(ge=0, lt=1)] = 0.1
    """Share of customers nobody may contact (their outcomes measure uplift)."""
    objective: Literal[OBJECTIVES] = "margin"
    """'margin': attributed margin minus cost; 'ltv': that plus the change in expected value;
    'window' (CampaignDay-v0): the margin of everything the customer buys in the attribution
    window after the decision, minus cost, for every decided customer, contacted or not, known
    when the window closes (so a learner sees what no action earns and can learn uplift);
    'uplift' (CampaignDay-v0): 'window' minus an estimate of what the customer would have made
    uncontacted, fitted on the holdout and uncontacted customers only (`envs.uplift_baseline`),
    so that a decision's reward estimates its incremental margin; 'uplift_opened'
    (CampaignDay-v0): 'uplift' where a message was opened, minus the cost alone where it was
    not, and exactly 0 for no action: a message nobody opened cannot have changed what the
    customer bought, so its window's organic noise is replaced by its expectation, 0 (the
    CRM sees opens; about four times less noise for e-mail)."""
    slate_size: Annotated[int, Field(ge=1, le=MAX_SLATE)] = 1
    """Offers per message (`sim.slates`): 1 sends one action per decision; K > 1 sends a
    slate of K offers in one message or app screen, read in order as a cascade, redeemed at
    most once (CampaignDay-v0 takes an (n_customers, K) action, NextBestAction-v0 a (K,) one;
    the experiment runner asks policies that fill slates, `top_k`, for K)."""
    slate_continuation: Annotated[float, Field(gt=0, le=1)] = CONTINUATION
    """Probability that a reader of a slate reads on to the next slot after one that did not
    catch or put them off (the cascade's gamma; `sim.slates` cites where its default comes
    from)."""

    def contact_rules(self) -> ContactRules:
        """The `ContactRules` part of these settings, as the world takes them."""
        return ContactRules(**{k: getattr(self, k) for k in ContactRules.model_fields})


class EnvOptions(CampaignSettings):
    """How an environment's world is built: the world, its size and the campaign settings."""

    scenario: str = "dry_cleaning_chain"
    """Scenario name (see `nbasim scenarios`)."""
    overrides: dict[str, object] = Field(default_factory=dict)
    """Scenario field overrides."""
    shocks: tuple[str, ...] = ()
    """Shocks, NAME or NAME:key=value,..."""
    customers: Annotated[int, Field(ge=1)] = 10_000
    """Customers in all (the day-0 base plus newcomers)."""
    days: Annotated[int, Field(ge=2)] = 90
    """Days simulated; decisions are taken on every day but the last."""
    truth: Literal[TRUTH_OPTIONS] = False
    """Hand over the true incremental margin and value of every action in
    `info["next"]["true_margins"]` and `info["next"]["true_values"]` (for the oracles and
    regret), beside the rest of what describes the decision the observation asks for: the
    eligible customers' (n_eligible, n_actions) in CampaignDay-v0, the next decision's
    (n_actions,) in NextBestAction-v0.
    "margins" or "values" hands over that one alone (what `oracle` or `oracle_ltv` reads), for
    a fraction of the work."""


def truth_grids(truth: bool | str) -> tuple[str, ...]:
    """The truth grids an env built with option `truth` hands over (`Campaign.truth_grids`).

    Args:
        truth: the option: True (both), False (none), "margins" or "values" (that one).
    """
    if truth is True:
        return TRUTH_GRIDS
    return (truth,) if truth else ()


def parse_options(kwargs: dict) -> EnvOptions:
    """Validate environment keyword arguments (raises `ParameterError` naming the field)."""
    opts = validate(EnvOptions, kwargs, "environment")
    get_scenario(opts.scenario, opts.overrides)  # fail now on a bad scenario or override
    for s in opts.shocks:
        parse_shock(s)
    return opts


def build(opts: EnvOptions, seed: int, first_day: bool = True) -> tuple[World, Campaign]:
    """The world and campaign of one episode, with day 0 simulated when `first_day`."""
    world = World(get_scenario(opts.scenario, opts.overrides), opts.customers, opts.days, seed,
                  [parse_shock(s) for s in opts.shocks])
    campaign = Campaign(world, opts.contact_rules(), opts.holdout, opts.slate_continuation)
    if first_day:
        world.step()
    return world, campaign


def value_change(campaign: Campaign, rows: np.ndarray, revived: np.ndarray,
                 churned: np.ndarray) -> np.ndarray:
    """Change in expected customer value from decisions: won back minus driven away.

    Args:
        campaign: the campaign.
        rows: (n,) customers.
        revived: (n,) dead customers whose action caused a purchase (they come back).
        churned: (n,) customers the action drove away.
    """
    return campaign.expected_value(rows) * (revived.astype(float) - churned)
