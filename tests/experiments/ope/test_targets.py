"""Targets of off-policy evaluation: parsing a target spec, a policy's action distribution."""

from __future__ import annotations

import numpy as np

from nbasim.experiments.ope.targets import parse_target, policy_action_dist


def test_policy_action_dist_is_exact_for_epsilon_greedy():
    """epsilon-greedy's distribution from draws: 1 - eps + eps/K on the best, eps/K elsewhere."""
    from nbasim import policies

    pol = policies.make("epsilon_greedy", action_features=np.eye(4), dim_context=1, seed=0,
                        explore=0.2)
    pol.update(np.ones((8, 1)), np.array([0, 1, 2, 3] * 2), np.array([0, 1, 0, 0.0] * 2),
               np.full(8, 0.25))
    d = policy_action_dist(pol, np.ones((5, 1)), draws=32)
    assert np.allclose(d, [[0.05, 0.85, 0.05, 0.05]] * 5)


def test_parse_target():
    """Target specs parse to their kind and argument; policy values are read as JSON."""
    assert parse_target("uniform") == ("uniform", None)
    assert parse_target("action:3") == ("action", 3)
    assert parse_target("policy:linucb:alpha=0.5,model=shared") == (
        "policy", ("linucb", {"alpha": 0.5, "model": "shared"}))
