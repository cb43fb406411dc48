"""Every policy of a config built once before any cell runs, so a bad one fails before any work.

A policy checks its parameters, and the actions it names against the action catalog, when it
is built; a cell builds its policy only when the cell runs, after earlier cells have finished
and been written. `check_policies` builds each policy on each scenario variant's env first (an
env is cheap until `reset`: no customer is drawn), so that a bad `alpha`, an unknown key, or an
offer the scenario's catalog lacks stops the sweep before anything is written.
"""

from __future__ import annotations

import numpy as np

from nbasim import policies
from nbasim.envs.episode import check_slates
from nbasim.experiments.run.cell import make_env, make_policy
from nbasim.experiments.run.config import ExperimentConfig
from nbasim.sim.params import ParameterError


def check_policies(cfg: ExperimentConfig, where: str = "config") -> None:
    """Build every (scenario variant, policy) pair of `cfg` once, with its pacing budget.

    Raises:
        ParameterError: naming the policy label, the scenario variant and what the policy
            refused (its own message names the parameter and what is allowed).
    """
    for variant in cfg.scenarios:
        env = make_env(cfg, variant, truth=False)
        for spec in cfg.policies:
            try:
                policy = make_policy(spec.model_copy(update={"budget": None}), env, seed=0,
                                     days=cfg.days)
                check_slates(cfg.slate_size, policy)
                if spec.budget is not None and cfg.slate_size > 1:
                    raise ValueError(f"budget pacing of slates: allowed slate_size = 1 with "
                                     f"a policy budget (slate_size = {cfg.slate_size})")
                if spec.budget is not None:  # pacing's own checks, on zero cost bounds
                    policies.paced(policy, spec.budget, action_costs=np.zeros(env.n_actions),
                                   horizon=cfg.days - 1, seed=0)
            except (ValueError, TypeError) as err:  # PolicyError, or a constructor's own
                raise ParameterError(f"{where}: policies[{spec.label}] on scenario "
                                     f"{variant.label!r} ({variant.scenario}): {err}") from None
