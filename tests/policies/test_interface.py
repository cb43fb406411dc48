"""The one policy interface, checked on every registered policy alike.

Over the real catalog (`sim.actions.build_catalog()`, 433 actions) and the real context names:
same seed gives the same actions, actions stay inside each row's mask, pscores are in (0, 1]
and never 0, empty batches work, bad names, params and inputs raise `PolicyError` naming what
is wrong, and `available()` describes each policy in one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nbasim import policies
from nbasim.envs.context import CrmSpec, feature_names
from nbasim.policies import PolicyError
from nbasim.sim.actions import build_catalog
from nbasim.sim.scenarios import get_scenario

CATALOG = build_catalog()
TABLE = CATALOG.table()
FEATURES = CATALOG.features
K = CATALOG.n_actions
NAMES = feature_names(CrmSpec.of(get_scenario("dry_cleaning_chain")))
DIM = len(NAMES)
NAMES_OF = list(policies.available())
# Pilots and warm-ups short enough that the learned phase is reached within `rollout`.
SMALL = {"segment_greedy": {"pilot_decisions": 150, "min_count": 2},
         "response_model": {"warmup": 100},
         "uplift_two_model": {"warmup": 100}}
EXPECTED = {"no_action", "random", "blanket", "rfm_playbook", "segment_greedy",
            "response_model", "uplift_two_model", "arbitration", "epsilon_greedy", "linucb",
            "lints", "vw", "oracle"}


def needs(name: str) -> dict[str, Any]:
    """The names a policy's params take (context_names, action_table), plus small pilots."""
    fields = policies.policy_class(name).Params.model_fields
    out: dict[str, Any] = dict(SMALL.get(name, {}))
    if "context_names" in fields:
        out["context_names"] = NAMES
    if "action_table" in fields:
        out["action_table"] = TABLE
    return out


def make(name: str, seed: int = 0, **params: Any) -> policies.Policy:
    """`name` over the real catalog and context names."""
    return policies.make(name, action_features=FEATURES, dim_context=DIM, seed=seed,
                         **{**needs(name), **params})


def contexts(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, DIM) contexts in [0, 1]: one RFM segment per row (some none), a few open carts."""
    x = rng.random((n, DIM))
    seg = [j for j, c in enumerate(NAMES) if c.startswith("segment_")]
    x[:, seg] = 0.0
    has = rng.random(n) < 0.9
    x[np.flatnonzero(has), rng.choice(seg, size=int(has.sum()))] = 1.0
    x[:, NAMES.index("cart_open")] = rng.random(n) < 0.1
    return x


def masks(kind: str, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """An eligibility argument of each form `act` accepts.

    "none": None; "rows": (n,) bool, a quarter of the rows not contactable; "consent":
    (n, K) by channel consent as an env builds it; "sparse": (n, K) about 3% of actions per
    row, some rows with none but action 0 and column 0 sometimes False (the policy must
    still treat action 0 as allowed).
    """
    if kind == "none":
        return None
    if kind == "rows":
        return rng.random(n) < 0.75
    if kind == "consent":
        consent = rng.random((n, 4)) < 0.6
        mask = consent[:, np.maximum(CATALOG.channel, 0)]
        mask[:, 0] = True
        return mask
    mask = rng.random((n, K)) < 0.03
    mask[rng.random(n) < 0.1, 1:] = False
    return mask


def allowed(eligible: np.ndarray | None, n: int) -> np.ndarray:
    """(n, K) what the interface allows for `eligible`: action 0 always, the rest as given."""
    if eligible is None:
        out = np.ones((n, K), dtype=bool)
    elif eligible.ndim == 1:
        out = np.repeat(eligible[:, None], K, axis=1)
    else:
        out = eligible.copy()
    out[:, 0] = True
    return out


def reward(x: np.ndarray, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A planted reward: actions with an even index pay when recency is low, plus noise."""
    pay = (a > 0) & (a % 2 == 0) & (x[:, 0] < 0.5)
    return np.where(pay, 1.0, 0.0) - 0.05 * (a > 0) + 0.1 * rng.standard_normal(len(a))


def rollout(policy: policies.Policy, kind: str, rounds: int = 4, n: int = 60,
            seed: int = 5) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """`rounds` act/update rounds on fresh data; returns (actions, pscores, eligible) per round.

    Truth (random true margins) is passed to every policy: only the oracle may read it, the
    others must ignore it, so callers never branch on the kind of policy.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rounds):
        x = contexts(n, rng)
        eligible = masks(kind, n, rng)
        truth = rng.standard_normal((n, K))
        a, ps = policy.act(x, eligible, truth=truth)
        policy.update(x, a, reward(x, a, rng), ps, costs=0.01 * (a > 0))
        out.append((a, ps, eligible))
    return out


@pytest.mark.parametrize("name", NAMES_OF)
def test_same_seed_same_actions(name):
    """Two policies built with the same seed and fed the same data act identically."""
    first = rollout(make(name, seed=11), "consent")
    second = rollout(make(name, seed=11), "consent")
    for (a1, p1, _), (a2, p2, _) in zip(first, second, strict=True):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(p1, p2)


@pytest.mark.parametrize("kind", ["none", "rows", "consent", "sparse"])
@pytest.mark.parametrize("name", NAMES_OF)
def test_actions_in_mask_and_pscores_in_unit_interval(name, kind):
    """Every action is allowed by its row's mask; pscores are float64 in (0, 1], never 0."""
    policy = make(name, seed=2)
    for a, ps, eligible in rollout(policy, kind):
        n = a.shape[0]
        assert a.shape == (n,) and a.dtype == np.int64
        assert ps.shape == (n,) and ps.dtype == np.float64
        assert ((a >= 0) & (a < K)).all()
        assert allowed(eligible, n)[np.arange(n), a].all(), f"{name}: action outside the mask"
        assert np.isfinite(ps).all() and (ps > 0).all() and (ps <= 1).all(), \
            f"{name}: pscores {ps.min()}..{ps.max()}"
        if eligible is not None and eligible.ndim == 1:
            assert (a[~eligible] == 0).all()


@pytest.mark.parametrize("name", NAMES_OF)
def test_empty_batch(name):
    """A day with no eligible customer: act and update on zero rows."""
    policy = make(name)
    x = np.zeros((0, DIM))
    a, ps = policy.act(x, np.zeros((0, K), dtype=bool), truth=np.zeros((0, K)))
    assert a.shape == (0,) and ps.shape == (0,)
    policy.update(x, a, np.zeros(0), ps, costs=np.zeros(0))


def test_unknown_policy_name():
    """An unknown name is refused, with the names that are available."""
    args = {"action_features": FEATURES, "dim_context": DIM, "seed": 0}
    with pytest.raises(PolicyError, match=r"policy 'nope': unknown; available: .*linucb"):
        policies.make("nope", **args)
    with pytest.raises(PolicyError, match=r"policy 'nope': unknown"):
        policies.policy_class("nope")


@pytest.mark.parametrize("name", NAMES_OF)
def test_unknown_param_is_named(name):
    """A parameter the policy does not know is refused, naming the policy and the parameter."""
    with pytest.raises(PolicyError, match=rf"policy {name}: no_such_knob = 3"):
        make(name, no_such_knob=3)


BAD_PARAMS = [
    ("epsilon_greedy", {"explore": 1.5}, r"policy epsilon_greedy: explore = 1\.5"),
    ("linucb", {"alpha": -1.0}, r"policy linucb: alpha = -1\.0"),
    ("linucb", {"model": "joint"}, r"policy linucb: model = 'joint'"),
    ("lints", {"n_samples": 0}, r"policy lints: n_samples = 0"),
    ("lints", {"l2": float("nan")}, r"policy lints: l2 = nan"),
    ("vw", {"exploration": "greedy"}, r"policy vw: exploration = 'greedy'"),
    ("segment_greedy", {"pilot_decisions": 0}, r"policy segment_greedy: pilot_decisions = 0"),
    ("segment_greedy", {"candidates": (0, K)}, rf"policy segment_greedy: candidates = \[0, {K}\]"),
    ("response_model", {"explore": 1.5}, r"policy response_model: explore = 1\.5"),
    ("uplift_two_model", {"l2": 0.0}, r"policy uplift_two_model: l2 = 0\.0"),
    ("blanket", {"offer": "free_lunch"}, r"policy blanket: offer/channel/slot/wording = "
                                         r"free_lunch by email"),
    ("rfm_playbook", {"playbook": {"vips": "none"}}, r"policy rfm_playbook: playbook segment "
                                                     r"'vips'"),
    ("arbitration", {"levers": {"discount_10": -1.0}},
     r"policy arbitration: levers\.discount_10 = -1\.0"),
    ("arbitration", {"values": {"free_lunch": 1.0}}, r"policy arbitration: values offer "
                                                      r"'free_lunch'"),
    ("blanket", {"action_table": None}, r"policy blanket: action_table is required"),
    ("rfm_playbook", {"context_names": None}, r"policy rfm_playbook: context_names is required"),
    ("segment_greedy", {"context_names": NAMES[:-1]},
     rf"policy segment_greedy: context_names has {DIM - 1} names: expected dim_context = {DIM}"),
]


@pytest.mark.parametrize(("name", "params", "match"), BAD_PARAMS,
                         ids=[f"{n}-{next(iter(p))}" for n, p, _ in BAD_PARAMS])
def test_bad_param_value_is_named(name, params, match):
    """A value out of range, of the wrong kind or missing: PolicyError naming the field."""
    with pytest.raises(PolicyError, match=match):
        make(name, **params)


def test_bad_construction_arguments():
    """The catalog, dim_context and seed are checked for every policy the same way."""
    args = {"action_features": FEATURES, "dim_context": DIM, "seed": 0}
    for bad, match in ((("action_features", FEATURES[:1]), r"action_features shape \(1, "),
                       (("dim_context", 0), r"dim_context = 0"),
                       (("seed", -1), r"seed = -1")):
        with pytest.raises(PolicyError, match=match):
            policies.make("random", **{**args, bad[0]: bad[1]})


BAD_INPUTS = [
    ("act", {"contexts": np.zeros((3, DIM + 1))}, rf"contexts shape \(3, {DIM + 1}\)"),
    ("act", {"contexts": np.full((3, DIM), np.nan)}, "contexts hold NaN"),
    ("act", {"eligible": np.ones((3, K), dtype=int)}, "eligible dtype int"),
    ("act", {"eligible": np.ones((3, K - 1), dtype=bool)}, rf"eligible shape \(3, {K - 1}\)"),
    ("update", {"actions": np.array([0, 1, K])}, rf"action {K}: allowed 0 to {K - 1}"),
    ("update", {"actions": np.array([0.0, 1.0, 2.0])}, "actions shape .* dtype float64"),
    ("update", {"rewards": np.array([0.0, np.inf, 1.0])}, "rewards hold NaN or infinity"),
    ("update", {"pscores": np.array([0.5, 0.0, 1.0])}, r"pscore 0\.0: allowed 0 < p <= 1"),
    ("update", {"pscores": np.array([0.5, 1.5, 1.0])}, r"pscore 1\.5"),
    ("update", {"costs": np.zeros(2)}, r"costs shape \(2,\)"),
]


GOOD = {"contexts": np.zeros((3, DIM)), "eligible": None, "truth": np.zeros((3, K)),
        "actions": np.array([0, 1, 2]), "rewards": np.zeros(3), "pscores": np.ones(3),
        "costs": np.zeros(3)}


def call(policy: policies.Policy, method: str, bad: dict[str, Any]) -> None:
    """`policy.act` or `policy.update` on GOOD inputs with `bad` ones swapped in."""
    args = {**GOOD, **bad}
    if method == "act":
        policy.act(args["contexts"], args["eligible"], truth=args["truth"])
    else:
        policy.update(args["contexts"], args["actions"], args["rewards"], args["pscores"],
                      costs=args["costs"])


@pytest.mark.parametrize(("method", "bad", "match"), BAD_INPUTS,
                         ids=[f"{m}-{next(iter(b))}-{i}" for i, (m, b, _) in
                              enumerate(BAD_INPUTS)])
def test_bad_input_is_refused(method, bad, match):
    """`act` and `update` check their arrays before any work, each check naming what is wrong.

    The checks live in `Policy` and wrap every subclass's own `act` and `update`; that every
    registered policy is wrapped is test_every_policy_checks_its_inputs.
    """
    with pytest.raises(PolicyError, match=match):
        call(make("linucb"), method, bad)


# One row (a customer at a time) is checked on Python values, all at once; each bad value
# must still reach the full checks and their message. Row 0 of the contexts is also what a
# valid `act` saw just before, so that `update` may skip re-checking only unchanged values.
ONE = {"contexts": np.zeros((1, DIM)), "eligible": None, "truth": np.zeros((1, K)),
       "actions": np.array([1]), "rewards": np.zeros(1), "pscores": np.ones(1),
       "costs": np.zeros(1)}
BAD_ONE = [
    ("act", {"contexts": np.full((1, DIM), np.nan)}, "contexts hold NaN"),
    ("act", {"contexts": np.full((1, DIM), -np.inf)}, "contexts hold NaN or infinity"),
    ("act", {"contexts": np.zeros((1, DIM - 1))}, rf"contexts shape \(1, {DIM - 1}\)"),
    ("act", {"contexts": np.zeros(DIM)}, rf"contexts shape \({DIM},\)"),
    ("update", {"contexts": np.full((1, DIM), np.inf)}, "contexts hold NaN or infinity"),
    ("update", {"contexts": np.zeros((2, DIM))}, r"actions shape \(1,\) dtype int64: "
                                                 r"expected \(2,\)"),
    ("update", {"actions": np.array([K])}, rf"action {K}: allowed 0 to {K - 1}"),
    ("update", {"actions": np.array([-1])}, rf"action -1: allowed 0 to {K - 1}"),
    ("update", {"actions": np.array([1.0])}, r"actions shape \(1,\) dtype float64"),
    ("update", {"actions": np.array(1)}, r"actions shape \(\) dtype int64"),
    ("update", {"rewards": np.array([np.nan])}, "rewards hold NaN or infinity"),
    ("update", {"rewards": np.zeros(2)}, r"rewards shape \(2,\)"),
    ("update", {"pscores": np.array([0.0])}, r"pscore 0\.0: allowed 0 < p <= 1"),
    ("update", {"pscores": np.array([-0.5])}, r"pscore -0\.5: allowed 0 < p <= 1"),
    ("update", {"pscores": np.array([1.5])}, r"pscore 1\.5: allowed 0 < p <= 1"),
    ("update", {"pscores": np.array([np.nan])}, "pscores hold NaN or infinity"),
    ("update", {"pscores": np.array([np.inf])}, "pscores hold NaN or infinity"),
    ("update", {"costs": np.array([np.inf])}, "costs hold NaN or infinity"),
]


@pytest.mark.parametrize(("method", "bad", "match"), BAD_ONE,
                         ids=[f"{m}-{next(iter(b))}-{i}" for i, (m, b, _) in
                              enumerate(BAD_ONE)])
@pytest.mark.parametrize("name", ["linucb", "vw"])
def test_bad_single_row_is_refused(name, method, bad, match):
    """At batch size 1 (checked on Python values) each bad input gets the same named error."""
    policy = make(name)
    policy.act(ONE["contexts"])
    args = {**ONE, **bad}
    with pytest.raises(PolicyError, match=match):
        if method == "act":
            policy.act(args["contexts"], args["eligible"], truth=args["truth"])
        else:
            policy.update(args["contexts"], args["actions"], args["rewards"], args["pscores"],
                          costs=args["costs"])


@pytest.mark.parametrize("name", ["linucb", "vw"])
def test_contexts_changed_after_act_are_checked_again(name):
    """`update` re-checks contexts that were edited in place since `act` checked them."""
    policy = make(name)
    x = np.zeros((1, DIM))
    a, ps = policy.act(x)
    x[0, 3] = np.nan
    with pytest.raises(PolicyError, match="contexts hold NaN"):
        policy.update(x, a, np.zeros(1), ps)
    x[0, 3] = 0.0
    policy.update(x, a, np.zeros(1), ps)


@pytest.mark.parametrize("name", NAMES_OF)
def test_every_policy_checks_its_inputs(name):
    """Each registered policy's act and update receive checked inputs, one bad array each."""
    policy = make(name)
    with pytest.raises(PolicyError, match=rf"contexts shape \(3, {DIM + 1}\)"):
        call(policy, "act", {"contexts": np.zeros((3, DIM + 1))})
    with pytest.raises(PolicyError, match=rf"action {K}: allowed 0 to {K - 1}"):
        call(policy, "update", {"actions": np.array([0, 1, K])})


def test_available_lists_each_with_a_one_line_description():
    """available(): every policy of the design, sorted, each with a non-empty one-line text."""
    listed = policies.available()
    assert EXPECTED <= set(listed)
    assert list(listed) == sorted(listed)
    for name, description in listed.items():
        assert isinstance(description, str) and description.strip() == description
        assert description and "\n" not in description, name
        assert policies.policy_class(name).name == name
