"""Policies found by name: `make` builds one, `available` lists them with a line each."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nbasim.policies.base import Policy, PolicyError

_REGISTRY: dict[str, tuple[Callable[..., Policy], str]] = {}


def register(name: str, description: str) -> Callable[[type[Policy]], type[Policy]]:
    """Class decorator: make the policy available as `name`, with a one-line description."""
    def add(cls: type[Policy]) -> type[Policy]:
        if name in _REGISTRY:
            raise PolicyError(f"policy {name!r} is registered twice")
        _REGISTRY[name] = (cls, description)
        cls.name = name
        return cls
    return add


def available() -> dict[str, str]:
    """Names of the registered policies, each with its one-line description, sorted."""
    return {name: _REGISTRY[name][1] for name in sorted(_REGISTRY)}


def policy_class(name: str) -> type[Policy]:
    """The class registered as `name` (its `Params` and `needs_truth` tell callers what it takes).

    Raises:
        PolicyError: an unknown name.
    """
    if name not in _REGISTRY:
        raise PolicyError(f"policy {name!r}: unknown; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name][0]


def make(name: str, *, action_features: np.ndarray, dim_context: int, seed: int,
         **params: object) -> Policy:
    """Build the policy `name`.

    Args:
        name: a registered name (see `available()`).
        action_features: (n_actions, dim_action) features of the catalog; row 0 is no action.
        dim_context: length of a context vector.
        seed: seed of the policy's own random stream.
        **params: the policy's parameters (each policy documents its own).

    Raises:
        PolicyError: an unknown name, or a parameter the policy does not know or accept.
    """
    return policy_class(name)(action_features=action_features, dim_context=dim_context,
                              seed=seed, **params)
