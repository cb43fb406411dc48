"""The `vw` policy.

Exact pscores, seeding, learning, every exploration, eligibility, slates, save/load and
parameter errors.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import vowpalwabbit

from nbasim import policies
from nbasim.policies import PolicyError
from nbasim.policies import vw as vw_module
from nbasim.policies.vw import VWPolicy
from nbasim.policies.vw_params import VWParams, vw_arguments

N_ACTIONS, DIM_ACTION, DIM_CONTEXT = 6, 3, 4
EXPLORATIONS = {
    "epsilon": {"explore": 0.2},
    "squarecb": {"gamma_scale": 5.0},
    "cover": {"cover": 3},
    "bag": {"bag": 3, "explore": 0.05},
    "softmax": {"lambda": 2.0},
    "rnd": {"rnd": 2},
}


def _features(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((N_ACTIONS, DIM_ACTION))


def _make(seed: int = 0, **params) -> VWPolicy:
    return policies.make("vw", action_features=_features(), dim_context=DIM_CONTEXT,
                         seed=seed, **params)


def _contexts(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM_CONTEXT))


def _planted_reward(x: np.ndarray, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Action 1 is best when x0 > 0 and action 2 otherwise (p = 0.9 vs 0.1 for the rest)."""
    best = np.where(x[:, 0] > 0, 1, 2)
    return (rng.random(len(a)) < np.where(a == best, 0.9, 0.1)).astype(float)


def _run(policy: VWPolicy, n_rounds: int, batch: int = 1, seed: int = 2):
    """Online loop on the planted task; returns the actions, pscores and best actions."""
    x_all = _contexts(n_rounds, seed)
    rng = np.random.default_rng(seed + 100)
    acts, ps = [], []
    for s in range(0, n_rounds, batch):
        x = x_all[s:s + batch]
        a, p = policy.act(x)
        policy.update(x, a, _planted_reward(x, a, rng), p)
        acts.append(a)
        ps.append(p)
    return np.concatenate(acts), np.concatenate(ps), np.where(x_all[:, 0] > 0, 1, 2)


def test_epsilon_pscores_are_exact():
    """Epsilon-greedy over 6 actions: (1 - 0.2) / t + 0.2/6 on each of t tied greedy actions.

    With one greedy action that is 0.8 + 0.0333 = 0.8333, elsewhere 0.2/6 = 0.0333; before
    the first update all 6 tie: 0.8/6 + 0.2/6 = 1/6.
    """
    policy = _make(explore=0.2)
    _, ps, _ = _run(policy, 300)
    allowed = [0.8 / t + 0.2 / 6 for t in range(1, 7)] + [0.2 / 6]
    assert np.isclose(ps[0], 1 / 6, atol=1e-6)
    assert np.isclose(ps[:, None], allowed, atol=1e-6).any(axis=1).all()
    assert np.isclose(ps[50:], 0.8 + 0.2 / 6, atol=1e-6).mean() > 0.7  # greedy, no tie
    assert np.isclose(ps, 0.2 / 6, atol=1e-6).any()  # some exploration happened


@pytest.mark.parametrize("exploration", sorted(EXPLORATIONS))
def test_every_exploration_runs_with_valid_pscores(exploration):
    """Each exploration: pscores in (0, 1], VW's pmf at the chosen action; the pmf sums to 1."""
    policy = _make(exploration=exploration, **EXPLORATIONS[exploration])
    _run(policy, 200, batch=7)
    x = _contexts(50, seed=9)
    dist = policy.action_dist(x)
    assert dist.shape == (50, N_ACTIONS)
    assert np.allclose(dist.sum(axis=1), 1.0, atol=1e-5)
    assert (dist >= 0).all()
    a, p = policy.act(x)
    assert a.dtype == np.int64 and p.dtype == np.float64
    assert ((p > 0) & (p <= 1)).all()
    assert np.allclose(p, dist[np.arange(50), a], atol=1e-7)


def test_same_seed_same_choices():
    """Two policies with one seed make the same choices; another seed makes others."""
    runs = [_run(_make(seed=s, exploration="bag", bag=3, explore=0.1), 300)
            for s in (5, 5, 6)]
    assert np.array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[2][0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learns_planted_context_dependent_best_action(seed):
    """Late-round share of the best action >= 0.8 (epsilon 0.1 allows at most ~0.92)."""
    actions, _, best = _run(_make(seed=seed, explore=0.1), 3000, seed=seed + 10)
    share = (actions[-1000:] == best[-1000:]).mean()
    assert share >= 0.8, share


def test_batched_act_update_learns_too():
    """Batches of 100 learn the planted task as well (late share >= 0.8)."""
    actions, _, best = _run(_make(seed=3, explore=0.1), 4000, batch=100)
    assert (actions[-1000:] == best[-1000:]).mean() >= 0.8


@pytest.mark.parametrize("exploration", ["epsilon", "squarecb"])
def test_one_row_path_acts_and_learns_as_the_batch_loop(exploration):
    """One row without a mask takes act's short path; a full mask takes the batch loop.

    Same seed, same rows and rewards: the same actions and pscores throughout and the same
    learned pmf at the end (so the labelled examples, kept or from the scratch pool, teach
    VW the same).
    """
    short, loop = _make(seed=4, exploration=exploration), _make(seed=4, exploration=exploration)
    x_all = _contexts(400, seed=6)
    rng = np.random.default_rng(7)
    everything = np.ones((1, N_ACTIONS), dtype=bool)
    for t in range(400):
        x = x_all[t:t + 1]
        a1, p1 = short.act(x)
        a2, p2 = loop.act(x, everything)
        assert np.array_equal(a1, a2) and np.array_equal(p1, p2)
        r = _planted_reward(x, a1, rng)
        short.update(x, a1, r, p1)
        loop.update(x.copy(), a2, r, p2)
    assert np.array_equal(short.action_dist(x_all[:50]), loop.action_dist(x_all[:50]))


def _squarecb_pmf(probability: float, chosen: list[int]) -> list[float]:
    """VW's SquareCB pmf on a probe after 40 rounds whose labels all carry `probability`."""
    vw = vowpalwabbit.Workspace(vw_arguments(VWParams(exploration="squarecb"), 1))
    actions = [f"|a a{k} f0:{k / 3!r}" for k in range(3)]
    x = _contexts(41, seed=12).tolist()
    costs = np.random.default_rng(13).integers(0, 2, 40).tolist()
    for t in range(40):
        shared = "shared |c " + " ".join(f"{i}:{v!r}" for i, v in enumerate(x[t]))
        lines = [f"0:{-costs[t]!r}:{probability!r} {a}" if k == chosen[t] else a
                 for k, a in enumerate(actions)]
        vw.learn([shared, *lines])
    pmf = vw.predict(["shared |c " + " ".join(f"{i}:{v!r}" for i, v in enumerate(x[40])),
                      *actions])
    vw.finish()
    return pmf


def test_squarecb_ignores_probabilities_but_the_last():
    """What the kept SquareCB labels rely on, checked on VW itself (module docstring).

    The same 40 rounds learned with labels of probability 0.2 or 0.7 give the very same model
    when the labelled action is never the list's last (VW sets those probabilities to 1), and
    another model when it is always the last.
    """
    elsewhere = [t % 2 for t in range(40)]  # actions 0 and 1 of 3
    assert _squarecb_pmf(0.2, elsewhere) == _squarecb_pmf(0.7, elsewhere)
    assert _squarecb_pmf(0.2, [2] * 40) != _squarecb_pmf(0.7, [2] * 40)


@pytest.mark.parametrize("exploration", ["epsilon", "squarecb"])
def test_kept_labels_teach_vw_what_fresh_ones_would(exploration, monkeypatch):
    """A policy that keeps labelled examples learns exactly as one that parses every label.

    One batch of 100 rows with random masks: VW's first pmfs are uniform, so labels
    (action, cost 0.1, 1/m) recur, in last place and elsewhere, which is where SquareCB
    rewrites probabilities.
    """
    kept, fresh = _make(seed=4, exploration=exploration), _make(seed=4, exploration=exploration)
    monkeypatch.setattr(fresh, "_keep_or_return",
                        lambda key, parsed: vw_module._finish(fresh._scratch, parsed))
    x = _contexts(100, seed=6)
    mask = np.random.default_rng(7).random((100, N_ACTIONS)) < 0.6
    for policy in (kept, fresh):
        a, p = policy.act(x, mask)
        policy.update(x, a, np.where(a > 0, -0.1, 0.0), p)
    assert kept._labels and not fresh._labels
    assert np.array_equal(kept.action_dist(x), fresh.action_dist(x))


def test_eligibility_is_respected_and_pscores_exact():
    """Only eligible actions are chosen; with m eligible, pscore is 0.9 + 0.1/m or 0.1/m.

    VW sees only the eligible actions, so its epsilon-greedy pmf is over those m: no
    renormalisation. (Trained first, so that no two scores tie.)
    """
    policy = _make(explore=0.1)
    _run(policy, 200)
    rng = np.random.default_rng(4)
    for _ in range(20):
        x = _contexts(30, seed=int(rng.integers(1 << 30)))
        mask = rng.random((30, N_ACTIONS)) < 0.5
        mask[:, 0] = True
        a, p = policy.act(x, mask)
        assert mask[np.arange(30), a].all()
        m = mask.sum(axis=1)
        assert (np.isclose(p, 0.9 + 0.1 / m, atol=1e-6) | np.isclose(p, 0.1 / m, atol=1e-6)
                | ((m == 1) & (p == 1.0))).all()
        policy.update(x, a, rng.random(30), p)


def test_row_mask_gives_no_action_with_certainty():
    """Rows that may not be contacted get action 0 with pscore 1."""
    policy = _make()
    rows = np.array([True, False, True, False])
    a, p = policy.act(_contexts(4), rows)
    assert (a[~rows] == 0).all() and (p[~rows] == 1.0).all()


def test_act_without_update_then_update_other_contexts():
    """A dropped act, and an update on contexts act never saw (off-policy log), both work."""
    policy = _make()
    policy.act(_contexts(5))
    policy.act(_contexts(3, seed=2))
    x = _contexts(600, seed=3)  # larger than the pool of kept examples
    a = np.random.default_rng(0).integers(0, N_ACTIONS, 600)
    policy.update(x, a, np.ones(600), np.full(600, 1 / N_ACTIONS))
    a, p = policy.act(x[:10])
    assert ((p > 0) & (p <= 1)).all()


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    """A saved and reloaded model predicts the same pmf and, with the same seed, acts alike."""
    params = {"exploration": "squarecb", "gamma_scale": 20.0}
    policy = _make(seed=7, **params)
    _run(policy, 400)
    path = tmp_path / "vw.model"
    policy.save(path)
    loaded = VWPolicy.load(path, action_features=_features(), dim_context=DIM_CONTEXT,
                           seed=7, **params)
    again = _make(seed=7, model=str(path), **params)
    x = _contexts(40, seed=11)
    dist = policy.action_dist(x)
    assert np.array_equal(loaded.action_dist(x), dist)
    assert np.array_equal(again.action_dist(x), dist)
    fresh = _make(seed=7, **params)
    assert not np.array_equal(fresh.action_dist(x), dist)


def test_pickle_round_trip():
    """A pickled policy predicts and draws as the original does."""
    policy = _make(seed=3)
    _run(policy, 200)
    copy = pickle.loads(pickle.dumps(policy))
    x = _contexts(20, seed=5)
    assert np.array_equal(copy.action_dist(x), policy.action_dist(x))
    a1, p1 = policy.act(x)
    a2, p2 = copy.act(x)
    assert np.array_equal(a1, a2) and np.array_equal(p1, p2)


def test_top_k_slates():
    """Slates hold distinct eligible actions, slot 0 is the returned action, -1 pads."""
    policy = _make(top_k=3, explore=0.2)
    rng = np.random.default_rng(8)
    for _ in range(10):
        x = _contexts(20, seed=int(rng.integers(1 << 30)))
        mask = rng.random((20, N_ACTIONS)) < 0.6
        mask[:, 0] = True
        a, p = policy.act(x, mask)
        slate, sp = policy.last_slate, policy.last_slate_pscores
        assert slate.shape == (20, 3) and np.array_equal(slate[:, 0], a)
        assert np.array_equal(sp[:, 0], p)
        for row, probs, allowed in zip(slate, sp, mask, strict=True):
            shown = row[row >= 0]
            assert len(set(shown.tolist())) == len(shown) and allowed[shown].all()
            assert (row[len(shown):] == -1).all()  # pads only at the end
            assert ((probs[:len(shown)] > 0) & (probs[:len(shown)] <= 1)).all()
            if row[0] == 0:  # no contact: nothing else shown
                assert len(shown) == 1
            else:
                assert 0 not in shown
                assert len(shown) == min(3, allowed[1:].sum())
        policy.update(x, a, rng.random(20), p)


def test_top_k_learns_from_slate_feedback():
    """With reward 1 whenever action 4 is in the slate, late slates nearly always show it."""
    policy = _make(top_k=2, explore=0.1, seed=1)
    rng = np.random.default_rng(0)
    hits = []
    for _ in range(1500):
        x = _contexts(1, seed=int(rng.integers(1 << 30)))
        a, p = policy.act(x)
        shown = (policy.last_slate[0] == 4).any()
        hits.append(shown)
        policy.update(x, a, np.array([float(shown)]), p)
    assert np.mean(hits[-500:]) >= 0.85


@pytest.mark.parametrize(("params", "match"), [
    ({"cover": 4}, "cover = 4 is only used with exploration='cover'"),
    ({"exploration": "bag", "lambda": 2.0}, "lambda = 2.0 is only used with"),
    ({"exploration": "squarecb", "cb_type": "ips"}, "cb_type = 'ips' .*allowed mtr"),
    ({"interactions": ("cx",)}, "term 'cx'"),
    ({"interactions": ("c",)}, "term 'c'"),
    ({"model": "/no/such/model.vw"}, "model .*no such model file"),
])
def test_invalid_params(params, match):
    """VWParams' own rules: options of another exploration, cb_type, interactions, model file.

    Plain bounds and unknown names go through the same message as every policy's
    (test_interface::test_bad_param_value_is_named, test_unknown_param_is_named).
    """
    with pytest.raises(PolicyError, match=match):
        _make(**params)
