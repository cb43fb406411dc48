"""Policies: one batched interface for baselines, numpy bandits, Vowpal Wabbit and the oracle.

`make(name, action_features=..., dim_context=..., seed=..., **params)` builds one;
`available()` lists them; `register_policy(name, cls)` adds your own, a subclass of `Policy`
(or of `Fixed`, for one that does not learn). Policies see arrays only: they import neither
`nbasim.sim` nor `nbasim.envs`.
"""

from nbasim.policies.base import Fixed, Params, Policy, PolicyError
from nbasim.policies.pacing import paced
from nbasim.policies.registry import available, make, policy_class, register_policy

__all__ = ["Fixed", "Params", "Policy", "PolicyError", "available", "make", "paced",
           "policy_class", "register_policy"]
