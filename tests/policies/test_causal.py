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
