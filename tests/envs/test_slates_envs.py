"""Slates in the environments: the space, check_env, pickling, slate policies, named errors."""

from __future__ import annotations

import pickle
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from nbasim import envs, policies  # noqa: F401  (registers the environments)
from nbasim.envs.episode import steps
from nbasim.envs.slate_space import Slates
from nbasim.sim.params import ParameterError
from nbasim.sim.slates import SlateError

SMALL = {"nbasim/CampaignDay-v0": {"customers": 2000, "days": 8, "slate_size": 3},
         "nbasim/NextBestAction-v0": {"customers": 800, "days": 5, "slate_size": 3}}
NBA = "nbasim/NextBestAction-v0"


def make_env(env_id="nbasim/CampaignDay-v0", **options):
    """An env of `SMALL`'s size with options overriding."""
    return gymnasium.make(env_id, **{**SMALL[env_id], **options}).unwrapped


def make_policy(env, name, **params):
    """A policy for the env, with the env's names where the policy takes them."""
    fields = policies.policy_class(name).Params.model_fields
    if "action_table" in fields:
        params.setdefault("action_table", env.action_table)
    return policies.make(name, action_features=env.action_features,
                         dim_context=len(env.feature_names), seed=5, **params)


@pytest.mark.parametrize("env_id", list(SMALL))
def test_check_env_passes_with_slates(env_id):
    """Gymnasium's checker passes and warns about nothing with slate_size 3."""
    env = make_env(env_id)
    assert isinstance(env.action_space, Slates)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    assert [str(w.message) for w in caught] == []


def test_space_samples_only_valid_slates_and_pickles():
    """Samples are valid slates (contains), a repeat is not; the space pickles equal."""
    space = Slates(50, 4, 300, seed=0)
    sample = space.sample()
    assert sample.shape == (300, 4) and space.contains(sample)
    bad = sample.copy()
    bad[0] = [7, 7, 0, 0]
    assert not space.contains(bad)
    assert pickle.loads(pickle.dumps(space)) == space


@pytest.mark.parametrize(("options", "match"), [
    ({"slate_size": 0}, "slate_size"),
    ({"slate_size": 11}, "slate_size"),
    ({"slate_continuation": 1.5}, "slate_continuation"),
])
def test_bad_slate_options_are_named(options, match):
    """Bad slate options fail when the env is built, naming the field."""
    with pytest.raises(ParameterError, match=match):
        make_env(**options)


def test_repeated_action_in_a_slate_is_a_named_error():
    """A slate showing an action twice stops the step with the rule, before the world moves."""
    env = make_env()
    obs, _ = env.reset(seed=0)
    action = env.action_space.sample()
    row = int(np.flatnonzero(obs["eligible"])[0])
    action[row] = [9, 9, 0]
    day = env.world.today
    with pytest.raises(SlateError, match="action 9 shown twice: allowed each action at most"):
        env.step(action)
    assert env.world.today == day


def test_single_action_policy_with_slates_is_a_named_error():
    """A policy that fills no slates is refused before the first step."""
    env = make_env()
    with pytest.raises(SlateError, match="fills slates of 1 offer.*slate_size=3.*vw, "
                                         "arbitration, no_action"):
        next(steps(env, make_policy(env, "random"), seed=0))


@pytest.mark.parametrize(("name", "params"), [("vw", {"top_k": 3, "explore": 0.2}),
                                              ("arbitration", {"top_k": 3})])
def test_slate_policies_reach_customers_with_valid_pscores(name, params):
    """The slates sent are the policy's, with valid pscores, and one slot redeemed at most.

    Slot pscores are in (0, 1] where filled and 0 on empty slots; redemptions come from
    several slots.
    """
    env = make_env()
    policy = make_policy(env, name, **params)
    redeemed = np.zeros(3, dtype=np.int64)
    for step in steps(env, policy, seed=1):
        s, p = step.slates, step.slate_pscores
        dec = step.info["decisions"]
        np.testing.assert_array_equal(dec["slates"], s)
        np.testing.assert_array_equal(s[:, 0], step.actions)
        np.testing.assert_array_equal(p[:, 0], step.pscores)
        filled = s > 0
        filled[:, 0] = True
        assert ((p > 0) & (p <= 1))[filled].all() and (p[~filled] == 0).all()
        slot = dec["slot"]
        np.testing.assert_array_equal(slot >= 0, dec["realized"]["converted"])
        redeemed += step.info["slots"]
        np.testing.assert_array_equal(step.info["slots"],
                                      np.bincount(slot[slot >= 0], minlength=3))
    assert redeemed.sum() > 0 and (redeemed[1:] > 0).any()


def test_vw_slot_one_pscore_is_its_distribution():
    """VW's slot-1 pscore is the probability its action_dist gives the action drawn."""
    env = make_env()
    obs, _ = env.reset(seed=2)
    policy = make_policy(env, "vw", top_k=3, explore=0.3)
    rows = np.flatnonzero(obs["eligible"])[:200]
    x, mask = env.contexts(obs, rows), env.action_mask(obs, rows)
    dist = policy.action_dist(x, mask)
    actions, pscores = policy.act(x, mask)
    np.testing.assert_allclose(pscores, dist[np.arange(rows.size), actions], rtol=1e-6)
    # Given slot 1, a deterministic fill (arbitration) shows every other slot with pscore 1.
    arb = make_policy(env, "arbitration", top_k=3, explore=0.0)
    arb.act(x, mask)
    filled = arb.last_slate[:, 1:] >= 0
    assert (arb.last_slate_pscores[:, 1:][filled] == 1).all()


def test_slate_env_pickles_mid_episode():
    """A slate env pickled mid-episode continues exactly like the original."""
    env = make_env()
    env.reset(seed=1)
    env.action_space.seed(1)
    env.step(env.action_space.sample())
    twin = pickle.loads(pickle.dumps(env))
    action = env.action_space.sample()
    a = env.step(action)
    b = twin.step(action)
    assert a[1] == b[1]
    np.testing.assert_array_equal(a[4]["slots"], b[4]["slots"])



@pytest.mark.parametrize("name", ["vw", "arbitration"])
def test_next_best_action_sends_the_policy_slates(name):
    """NextBestAction-v0 with slates: one slate per decision, at most one slot redeemed.

    A sent slate's slot is -1 or a slot that holds an offer; a conversion always has one.
    """
    env = make_env(NBA)
    policy = make_policy(env, name, top_k=3)
    sent = redeemed = 0
    for step in steps(env, policy, seed=2):
        s, p = step.slates, step.slate_pscores
        assert s.shape == (1, 3) and p[0, 0] == step.pscores[0]
        assert ((p > 0) & (p <= 1))[s > 0].all()
        if step.info["sent"]:
            sent += 1
            slot = step.info["slot"]
            assert -1 <= slot < 3 and (slot < 0 or s[0, slot] > 0)
            redeemed += slot >= 0
    assert sent > 0 and redeemed > 0


def test_next_best_action_bad_slate_is_named():
    """A repeated action in a NextBestAction-v0 slate gets the slate rule's error."""
    env = make_env(NBA)
    env.reset(seed=0)
    with pytest.raises(SlateError, match="shown twice"):
        env.step(np.array([5, 5, 0]))
    with pytest.raises(ParameterError, match=r"expected \(3,\)"):
        env.step(np.array([5, 6]))
