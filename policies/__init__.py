"""Policies: one batched interface for baselines, numpy bandits, Vowpal Wabbit and the oracle.

`policies.make(name, action_features=..., dim_context=..., seed=..., **params)` builds one;
`policies.available()` lists them. Policies see arrays only: they import neither `sim` nor
`envs`.
"""

from nbasim.policies import bandits, baselines, oracle, vw  # noqa: F401  (they register themselves)
from nbasim.policies.base import Policy, PolicyError
from nbasim.policies.pacing import paced
from nbasim.policies.registry import available, make, policy_class, register

__all__ = ["Policy", "PolicyError", "available", "make", "paced", "policy_class", "register"]
