"""The public policy API: an abstract `Policy`, checked inputs, `register_policy`, lazy imports."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

from nbasim import policies
from nbasim.errors import NbasimError
from nbasim.policies import Fixed, Policy, PolicyError, register_policy, registry

FEATS = np.eye(4)[:, 1:]          # 4 actions, row 0 is no action


class Second(Fixed):
    """Always the second action."""

    def act(self, contexts, eligible):
        """Action 1 for every row."""
        return np.full(len(contexts), 1, dtype=np.int64), np.ones(len(contexts))


@pytest.fixture
def clean_registry():
    """Leave the registry as it was."""
    saved = {k: list(v) for k, v in registry._REGISTRY.items()}
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def test_policy_is_abstract_in_act_and_update() -> None:
    """Policy cannot be built, nor can a subclass that implements only act."""
    assert inspect.isabstract(Policy)
    assert Policy.__abstractmethods__ == {"act", "update"}

    class OnlyAct(Policy):
        def act(self, contexts, eligible):
            return np.zeros(len(contexts), dtype=np.int64), np.ones(len(contexts))

    with pytest.raises(TypeError, match="update"):
        OnlyAct(action_features=FEATS, dim_context=2, seed=0)


def test_own_policy_receives_checked_inputs() -> None:
    """Act gets float64 contexts and an (n, n_actions) mask; update gets int64 actions."""
    seen = {}

    class Spy(Policy):
        def act(self, contexts, eligible):
            seen["act"] = (contexts.dtype, None if eligible is None else eligible.shape)
            return np.zeros(len(contexts), dtype=np.int64), np.ones(len(contexts))

        def update(self, contexts, actions, rewards, pscores, costs=None):
            seen["update"] = (actions.dtype, costs)

    spy = Spy(action_features=FEATS, dim_context=2, seed=0)
    x = np.zeros((3, 2), dtype=np.float32)
    spy.act(x, np.array([True, False, True]))
    assert seen["act"] == (np.float64, (3, 4))
    spy.update(x, np.array([0, 1, 2], dtype=np.int32), np.zeros(3), np.ones(3), costs=np.ones(3))
    assert seen["update"][0] == np.int64
    np.testing.assert_array_equal(seen["update"][1], 1.0)
    with pytest.raises(PolicyError, match=r"contexts shape \(3, 5\): expected \(n, 2\)"):
        spy.act(np.zeros((3, 5)))
    with pytest.raises(PolicyError, match="action 4: allowed 0 to 3"):
        spy.update(x, np.array([0, 1, 4]), np.zeros(3), np.ones(3))
    with pytest.raises(PolicyError, match="rewards hold NaN"):
        spy.update(x, np.array([0, 1, 2]), np.array([0, np.nan, 0]), np.ones(3))


def test_register_policy_makes_it_available_by_name(clean_registry) -> None:
    """A registered policy is listed with its docstring's first line and made by name."""
    register_policy("always_second", Second)
    assert policies.available()["always_second"] == "Always the second action."
    policy = policies.make("always_second", action_features=FEATS, dim_context=2, seed=0)
    actions, pscores = policy.act(np.zeros((2, 2)))
    np.testing.assert_array_equal(actions, [1, 1])
    assert policy.name == "always_second"


def test_registering_again_is_harmless_and_replacing_needs_consent(clean_registry) -> None:
    """The same class or a re-run cell re-registers quietly; another class needs replace."""
    register_policy("always_second", Second)
    register_policy("always_second", Second)                  # the same class: harmless

    class Rerun(Fixed):
        """Always the second action, defined anew as a re-run notebook cell does."""

        def act(self, contexts, eligible):
            return np.full(len(contexts), 1, dtype=np.int64), np.ones(len(contexts))

    Rerun.__qualname__ = Second.__qualname__                   # same module and name
    register_policy("always_second", Rerun)
    assert policies.policy_class("always_second") is Rerun

    class Other(Second):
        """Another."""

    with pytest.raises(PolicyError, match="already registered.*replace=True"):
        register_policy("always_second", Other)
    with pytest.raises(PolicyError, match="already registered"):
        register_policy("linucb", Other)
    register_policy("always_second", Other, replace=True)
    assert policies.policy_class("always_second") is Other


@pytest.mark.parametrize(("name", "cls", "match"), [
    ("2fast", Second, "letters, digits and underscores"),
    ("has space", Second, "letters, digits and underscores"),
    ("not_a_policy", int, "not a Policy subclass"),
    ("abstract", Policy, r"missing: act, update"),
])
def test_register_policy_rejects_bad_input(clean_registry, name, cls, match) -> None:
    """Bad names and classes that are not complete policies are named errors."""
    with pytest.raises(PolicyError, match=match):
        register_policy(name, cls)


def test_errors_share_one_base() -> None:
    """PolicyError is an NbasimError, itself a ValueError."""
    assert issubclass(PolicyError, NbasimError) and issubclass(NbasimError, ValueError)


def test_importing_policies_loads_no_policy_module_nor_vowpal_wabbit() -> None:
    """Policy modules, VW above all, load when a policy of theirs is made, not on import."""
    code = ("import sys, numpy as np; from nbasim import policies; "
            "print(sorted(m for m in sys.modules if m.startswith(('vowpalwabbit', "
            "'nbasim.policies.'))));"
            "policies.make('linucb', action_features=np.eye(3), dim_context=2, seed=0);"
            "print('vowpalwabbit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "['nbasim.policies.base', 'nbasim.policies.pacing', " \
                     "'nbasim.policies.registry']"
    assert out[1] == "False"


def test_one_exploration_name_across_policies() -> None:
    """`explore` is the exploration share everywhere; VW also takes its own `epsilon`."""
    for name in ("epsilon_greedy", "linucb", "lints", "arbitration", "vw"):
        assert "explore" in policies.policy_class(name).Params.model_fields, name
    vw = policies.make("vw", action_features=FEATS, dim_context=2, seed=0, epsilon=0.2)
    assert vw.params.explore == 0.2
