"""Policies found by name: `make` builds one, `available` lists them, `register_policy` adds one.

The built-in policies are listed here as "module:Class" and imported on first use, so
`import nbasim.policies` loads neither Vowpal Wabbit nor any policy module a run does not use.
"""

from __future__ import annotations

import importlib
import inspect
import re

import numpy as np

from nbasim.policies.base import Policy, PolicyError

_BUILTIN = {
    "no_action": ("baselines:NoAction", "the control: action 0 (no contact) for everyone"),
    "random": ("baselines:Random", "uniform over each row's eligible actions (no action among "
               "them)"),
    "blanket": ("baselines:Blanket", "one offer, channel, slot and wording to every eligible row"),
    "response_model": ("baselines:ResponseModel", "one action to the rows of highest predicted "
                       "response propensity"),
    "uplift_two_model": ("baselines:UpliftTwoModel", "one action where a two-model learner "
                         "predicts uplift > threshold"),
    "arbitration": ("baselines:Arbitration", "Pega-style: max of propensity x value x lever "
                    "among eligible actions"),
    "rfm_playbook": ("playbook:RfmPlaybook", "RFM segment -> action table of common practice, "
                     "editable"),
    "segment_greedy": ("playbook:SegmentGreedy", "best mean reward per RFM segment, learned from "
                       "a random pilot"),
    "epsilon_greedy": ("bandits:EpsilonGreedy", "epsilon-greedy on ridge estimates (per action "
                       "or shared features)"),
    "linucb": ("bandits:LinUCB", "LinUCB: ridge estimate plus alpha x confidence width (per "
               "action or shared)"),
    "lints": ("bandits:LinTS", "linear Thompson sampling, n_samples posterior draws per call "
              "(exact pscores)"),
    "vw": ("vw:VWPolicy", "Vowpal Wabbit --cb_explore_adf over action features (epsilon, "
           "squarecb, cover, bag, softmax, rnd); top_k slates"),
    "causal_lints": ("causal:CausalLinTS", "Thompson sampling on the uplift reward over "
                     "factorised action features; no action is worth 0 (learns objective "
                     "uplift)"),
    "causal_vw": ("causal_vw:CausalVW", "Vowpal Wabbit --cb_explore_adf on the uplift reward, "
                  "among a shortlist from a causal_lints screen (learns objective uplift)"),
    "oracle": ("oracle:Oracle", "myopic oracle: the eligible action of highest true "
               "incremental margin, if positive"),
    "oracle_ltv": ("oracle:OracleLTV", "long-term oracle: the eligible action of highest true "
                   "incremental value (margin net of the future value it moves), if positive"),
}

# name -> [a Policy subclass, or "module:Class" not yet imported; its one-line description]
_REGISTRY: dict[str, list] = {name: [f"nbasim.policies.{target}", text]
                              for name, (target, text) in _BUILTIN.items()}

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def register_policy(name: str, cls: type[Policy], *, description: str | None = None,
                    replace: bool = False) -> type[Policy]:
    """Make a policy available by `name` (in configs, `make`, `nbasim policies`).

    Registering the same class again is harmless, and so is a class of the same module and
    name (a notebook cell run twice); another class under a taken name needs `replace=True`.

    Args:
        name: letters, digits and underscores, starting with a letter.
        cls: a `Policy` subclass that implements `act` and `update`.
        description: one line for `nbasim policies`; by default the first line of the
            class's docstring.
        replace: allow replacing a different policy registered under `name`.

    Returns:
        `cls`, with `cls.name` set to `name`.

    Raises:
        PolicyError: a bad name, a class that is not a complete `Policy`, or a taken name.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PolicyError(f"policy name {name!r}: expected letters, digits and underscores, "
                          "starting with a letter")
    if not (inspect.isclass(cls) and issubclass(cls, Policy)) or inspect.isabstract(cls):
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        raise PolicyError(f"policy {name!r}: {cls!r} is not a Policy subclass that implements "
                          "act and update" + (f" (missing: {', '.join(missing)})" if missing
                                              else ""))
    old = _REGISTRY.get(name)
    if old is not None and not replace and not _same(old[0], cls):
        raise PolicyError(f"policy {name!r} is already registered as {_qualname(old[0])}; "
                          "pass replace=True to replace it")
    text = description or (inspect.getdoc(cls) or cls.__name__).splitlines()[0]
    cls.name = name
    _REGISTRY[name] = [cls, text]
    return cls


def available() -> dict[str, str]:
    """Names of the registered policies, each with its one-line description, sorted."""
    return {name: _REGISTRY[name][1] for name in sorted(_REGISTRY)}


def policy_class(name: str) -> type[Policy]:
    """The class registered as `name` (its `Params` and `needs_truth` tell callers what it takes).

    Raises:
        PolicyError: an unknown name.
    """
    entry = _REGISTRY.get(name)
    if entry is None:
        raise PolicyError(f"policy {name!r}: unknown; available: {', '.join(sorted(_REGISTRY))}")
    if isinstance(entry[0], str):
        module, attr = entry[0].split(":")
        cls = getattr(importlib.import_module(module), attr)
        cls.name = name
        entry[0] = cls
    return entry[0]


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


def _qualname(target: type | str) -> str:
    return target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"


def _same(old: type | str, cls: type) -> bool:
    """True if `cls` is `old`, or the same module and class name (a re-run notebook cell)."""
    return old is cls or _qualname(old) == _qualname(cls)
