"""Causal learners on a planted problem: persuadables, sure things and sleeping dogs."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim import policies

# Customers of three kinds (one-hot context); actions 0 (none), 1 a mail, 2 a call.
# True uplift (incremental margin net of cost) per kind and action:
#   persuadable:  mail +1.0, call +0.3   -> the oracle mails them
#   sure thing:   mail -0.3, call -1.0   -> a discount paid to someone who buys anyway
#   sleeping dog: mail -1.0, call -2.0   -> contact drives them away
UPLIFT = np.array([[0.0, 1.0, 0.3], [0.0, -0.3, -1.0], [0.0, -1.0, -2.0]])
NOISE = 3.0     # the reward's noise, 3x the largest effect, as organic purchases are
FEATURES = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


def _batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    kind = rng.integers(0, 3, n)
    return np.eye(3)[kind], kind


def _learn(name: str, seed: int, rounds: int = 150, batch: int = 500, **params):
    """Train on uplift rewards; return the policy and the value of its choices on new rows."""
    rng = np.random.default_rng(seed)
    policy = policies.make(name, action_features=FEATURES, dim_context=3, seed=seed, **params)
    for _ in range(rounds):
        x, kind = _batch(rng, batch)
        a, p = policy.act(x)
        policy.update(x, a, UPLIFT[kind, a] + rng.normal(0, NOISE, batch), p)
    x, kind = _batch(rng, 20_000)
    a, _ = policy.act(x)
    return policy, kind, a


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_causal_lints_mails_the_persuadables_and_leaves_the_others(seed):
    """At least 80 % of the oracle's value; the others rarely contacted.

    The oracle mails the persuadables: a third of the customers at +1.0, 0.333 a customer.
    """
    policy, kind, a = _learn("causal_lints", seed, hurdle=0.0)  # no fatigue to price here
    value = UPLIFT[kind, a].mean()
    oracle = UPLIFT.max(axis=1)[kind].mean()
    assert value >= 0.8 * oracle, (value, oracle)
    assert (a[kind == 0] == 1).mean() > 0.8
    assert (a[kind != 0] > 0).mean() < 0.1
    assert policy.noise == pytest.approx(NOISE, rel=0.1)   # the scale it learned at


def test_no_action_is_worth_zero_and_never_learned():
    """Rewards of no-action rows teach neither the uplift model nor the noise scale.

    Under `uplift_opened` they are exactly 0; the messages' spread is the noise.
    """
    policy = policies.make("causal_lints", action_features=FEATURES, dim_context=3, seed=0)
    before = (policy._model.gram.copy(), policy._model.moment.copy(), policy._model.n)
    policy.update(np.eye(3), np.zeros(3, dtype=np.int64), np.array([5.0, -5.0, 9.0]),
                  np.ones(3))
    np.testing.assert_array_equal(policy._model.gram, before[0])
    np.testing.assert_array_equal(policy._model.moment, before[1])
    assert policy._model.n == before[2]
    assert policy.noise == policy.params.noise_prior
    policy.update(np.eye(3), np.array([1, 2, 0]), np.array([5.0, -5.0, 9.0]), np.ones(3))
    assert policy.noise == pytest.approx(5.0)   # the two messages' rewards, +5 and -5


def test_a_hurdle_keeps_a_fresh_learner_quiet():
    """Before any evidence, a hurdle far above the prior's spread means no message."""
    policy = policies.make("causal_lints", action_features=FEATURES, dim_context=3, seed=0,
                           hurdle=50.0)
    a, p = policy.act(np.eye(3)[np.zeros(100, dtype=int)])
    assert (a == 0).all() and (p == 1).all()


def test_uplift_sd_is_the_posterior_sd_of_the_messages_learned_from():
    """sigma^2 (p - lambda tr(A^-1)) / n is the mean of phi' Sigma phi over the rows learned."""
    rng = np.random.default_rng(0)
    policy = policies.make("causal_lints", action_features=FEATURES, dim_context=3, seed=0)
    x, kind = _batch(rng, 2_000)
    a = rng.integers(1, 3, 2_000)
    policy.update(x, a, UPLIFT[kind, a] + rng.normal(0, NOISE, 2_000), np.full(2_000, 0.5))
    policy.act(x[:10])                                           # a draw at this data
    model, sigma, prior_sd = policy._model, policy.noise, policy.params.prior_sd
    prior = (sigma / prior_sd) ** 2 * np.eye(model.gram.shape[0])
    cov = sigma ** 2 * np.linalg.inv(model.gram + prior)
    xt = np.hstack([x, np.ones((2_000, 1))])
    phis = np.einsum("nd,nm->ndm", xt, model.feats[a - 1]).reshape(2_000, -1)
    expected = np.sqrt(np.einsum("np,pq,nq->n", phis, cov, phis).mean())
    assert model.uplift_sd() == pytest.approx(expected, rel=1e-9)


def test_caution_shrinks_with_evidence():
    """The cautious part of the hurdle falls as messages tighten the posterior.

    Messages drawn at random: 1,000 rows leave the prior (SD 0.1 a weight at noise 3, that
    is a precision of 100 against 1 / 9 a row) in charge, 75,000 outweigh it about 80 to 1.
    """
    rng = np.random.default_rng(0)
    policy = policies.make("causal_lints", action_features=FEATURES, dim_context=3, seed=0,
                           caution=1.0)
    sds = []
    for rows in (1_000, 74_000):
        x, kind = _batch(rng, rows)
        a = rng.integers(1, 3, rows)
        policy.update(x, a, UPLIFT[kind, a] + rng.normal(0, NOISE, rows), np.full(rows, 0.5))
        policy.act(x[:10])                                       # a draw at the new data
        sds.append(policy._model.uplift_sd())
    assert sds[0] > 4 * sds[1] > 0


def test_causal_learners_declare_the_uplift_objective():
    """Runners build their envs with the uplift reward; other policies leave it to the config."""
    assert policies.policy_class("causal_lints").objective == "uplift_opened"
    assert policies.policy_class("causal_vw").objective == "uplift_opened"
    assert policies.policy_class("linucb").objective is None


def test_score_bound_never_undercuts_the_best_eligible_message():
    """The bound that lets `act` skip (row, sample) pairs is an upper bound, exact on a product.

    A catalog of 3 offers x 2 channels (one-hots, plus the intercept): with every message
    allowed the bound is the best message's score; with a consent mask it is never below the
    best eligible one's, and a row with no eligible message is bounded by -inf.
    """
    from nbasim.policies.causal import _ScoreBound

    offers, channels = np.eye(3), np.eye(2)
    feats = np.array([[*o, *c, 1.0] for o in offers for c in channels])     # (6, 6)
    bound = _ScoreBound(feats)
    rng = np.random.default_rng(0)
    xw = rng.normal(size=(200, 6, 4)).astype(np.float32)                    # (n, m, S)
    scores = np.einsum("nms,km->nsk", xw, feats.astype(np.float32))        # (n, S, K)
    np.testing.assert_allclose(bound.pairs(xw), scores.max(axis=2), rtol=1e-5, atol=1e-5)
    eligible = rng.random((200, 6)) < 0.5
    eligible[0] = False
    masked = np.where(eligible[:, None, :], scores, -np.inf).max(axis=2)
    tight = bound.pairs(xw, bound.allowed(eligible))
    assert (tight >= masked - 1e-5).all()
    assert np.isneginf(tight[0]).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_causal_vw_mails_the_persuadables_and_leaves_the_others(seed):
    """VW among the screen's shortlist: at least 80 % of the oracle's value (0.333 a row)."""
    _, kind, a = _learn("causal_vw", seed, screen={"hurdle": 0.0}, shortlist=2)
    value = UPLIFT[kind, a].mean()
    oracle = UPLIFT.max(axis=1)[kind].mean()
    assert value >= 0.8 * oracle, (value, oracle)
    assert (a[kind != 0] > 0).mean() < 0.1


def test_a_shortlist_holds_the_best_eligible_messages_of_its_sample(monkeypatch):
    """A row lists its 4 best eligible messages of its sample if one clears the hurdle.

    Else none; never an ineligible one. The sample is pinned to `weights`, the hurdle is 0.
    """
    rng = np.random.default_rng(4)
    feats = rng.normal(size=(30, 4))
    feats[0] = 0.0
    weights = rng.normal(size=(6, 5))
    policy = policies.make("causal_lints", action_features=feats, dim_context=5, seed=1,
                           n_samples=1, hurdle=0.0, caution=0.0)
    monkeypatch.setattr(policy._model, "resample", lambda rng: weights[:, :, None])
    x = rng.normal(size=(400, 5))
    eligible = rng.random((400, 30)) < 0.5
    eligible[:, 0] = True
    short = policy.shortlist(x, eligible, 4)
    ft = np.hstack([feats, np.ones((30, 1))])
    uplift = np.hstack([x, np.ones((400, 1))]) @ weights @ ft[1:].T
    uplift[~eligible[:, 1:]] = -np.inf
    top = np.argsort(-uplift, axis=1)[:, :4] + 1
    sends = uplift.max(axis=1) > 0
    assert 0.2 < sends.mean() < 1
    expected = np.zeros_like(short)
    expected[:, 0] = True
    expected[np.repeat(np.flatnonzero(sends), 4), top[sends].ravel()] = True
    np.testing.assert_array_equal(short, expected)


def test_causal_vw_chooses_within_the_shortlist_and_learns_over_it():
    """Every action is no action or on its row's shortlist; the kept shortlist is used."""
    rng = np.random.default_rng(0)
    policy = policies.make("causal_vw", action_features=FEATURES, dim_context=3, seed=2,
                           screen={"hurdle": 0.0}, shortlist=1)
    for _ in range(20):
        x, kind = _batch(rng, 300)
        a, p = policy.act(x)
        assert len(policy._kept) == 1
        ((live, pending),) = policy._kept.values()
        quiet = np.setdiff1d(np.arange(300), live)
        assert (a[quiet] == 0).all() and (p[quiet] == 1).all()
        assert ((p > 0) & (p <= 1)).all()
        if live.size:   # VW chose among no action and the one message listed
            assert all(len(c) == 2 and c[0] == 0 and a[i] in c
                       for i, c in zip(live, pending.cands, strict=True))
        policy.update(x, a, UPLIFT[kind, a] + rng.normal(0, NOISE, 300), p)
        assert not policy._kept   # learned over the shortlist it acted on


def test_causal_vw_learns_a_late_batch_against_its_own_contexts():
    """Rewards a day late (act A, act B, update A) teach VW what act A, update A would.

    Act B rewrites the VW adapter's pooled examples (batches of at most 512 rows are learned
    from the pool); update A must not learn A's rewards against B's contexts.
    """
    from nbasim.policies.vw import VWPolicy

    rng = np.random.default_rng(3)
    (xa, ka), (xb, _) = _batch(rng, 200), _batch(rng, 200)
    make = lambda: policies.make("causal_vw", action_features=FEATURES,  # noqa: E731
                                 dim_context=3, seed=4, screen={"hurdle": 0.0, "caution": 0.0})
    late, prompt = make(), make()
    a, p = late.act(xa)
    late.act(xb)
    a2, p2 = prompt.act(xa)
    np.testing.assert_array_equal(a, a2)
    assert (a > 0).any()
    reward = UPLIFT[ka, a] + rng.normal(0, NOISE, 200)
    late.update(xa, a, reward, p)
    prompt.update(xa, a, reward, p)
    probe = np.eye(3)
    np.testing.assert_array_equal(VWPolicy.action_dist(late, probe),
                                  VWPolicy.action_dist(prompt, probe))
    assert not np.array_equal(VWPolicy.action_dist(make(), probe),
                              VWPolicy.action_dist(prompt, probe))   # it did learn


def test_causal_vw_action_dist_changes_nothing_it_will_do():
    """Asking for the distribution leaves the next act as it would have been."""
    rng = np.random.default_rng(5)
    x, _ = _batch(rng, 100)
    asked, quiet = (policies.make("causal_vw", action_features=FEATURES, dim_context=3,
                                  seed=6) for _ in range(2))
    dist = asked.action_dist(x)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, rtol=1e-6)
    a1, p1 = asked.act(x)
    a2, p2 = quiet.act(x)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(p1, p2)


def test_causal_vw_pickles_with_its_screen():
    """A pickled causal_vw acts as the original, screen included."""
    import pickle

    rng = np.random.default_rng(1)
    policy = policies.make("causal_vw", action_features=FEATURES, dim_context=3, seed=5,
                           screen={"hurdle": 0.0})
    for _ in range(5):
        x, kind = _batch(rng, 200)
        a, p = policy.act(x)
        policy.update(x, a, UPLIFT[kind, a] + rng.normal(0, NOISE, 200), p)
    copy = pickle.loads(pickle.dumps(policy))
    x, _ = _batch(rng, 200)
    np.testing.assert_array_equal(copy.action_dist(x), policy.action_dist(x))
    a1, p1 = policy.act(x)
    a2, p2 = copy.act(x)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(p1, p2)


@pytest.mark.parametrize(("params", "match"), [
    ({"screen": {"n_samples": 2}}, "screen: n_samples must be 1"),
    ({"screen": {"explore": 0.1}}, "screen: n_samples must be 1 and explore 0"),
    ({"screen": {"hurdle": -1}}, "hurdle"),
    ({"shortlist": 0}, "shortlist"),
])
def test_causal_vw_bad_params_are_named(params, match):
    """A bad shortlist or screen is refused naming it."""
    with pytest.raises(policies.PolicyError, match=match):
        policies.make("causal_vw", action_features=FEATURES, dim_context=3, seed=0, **params)
