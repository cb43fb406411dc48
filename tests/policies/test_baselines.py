"""Baselines: documented rule actions, exact pscores, learning on planted problems, bad input.

The invariants every policy shares (actions in the mask, pscores in (0, 1], same seed same
actions) are checked on the baselines with the others in test_interface.
"""

from __future__ import annotations

import itertools
import pickle

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
NAMES = feature_names(CrmSpec.of(get_scenario("dry_cleaning_chain")))
DIM = len(NAMES)
SEGMENTS = ("champions", "loyal", "potential_loyalists", "new", "promising", "need_attention",
            "at_risk", "cannot_lose", "hibernating", "lost")

# What each policy needs besides its own params.
NEEDS = {"no_action": {}, "random": {},
         "blanket": {"action_table": TABLE},
         "rfm_playbook": {"action_table": TABLE, "context_names": NAMES},
         "segment_greedy": {"context_names": NAMES, "pilot_decisions": 200, "min_count": 1},
         "response_model": {"action_table": TABLE, "warmup": 100},
         "uplift_two_model": {"action_table": TABLE, "warmup": 100},
         "arbitration": {"action_table": TABLE}}


def index(offer: str, channel: str, slot: str, wording: str) -> int:
    """Catalog index by hand: 1 + ((o x 4 + c) x 3 + s) x 4 + w in build_catalog's order.

    o counts discount_10, discount_20, discount_30, free_delivery, cross_sell, loyalty_x2,
    second_store_bonus, win_back, cart_reminder from 0; c email, sms, push, phone; s morning,
    midday, evening; w rational, emotional, urgency, social_proof.
    """
    o = ("discount_10", "discount_20", "discount_30", "free_delivery", "cross_sell",
         "loyalty_x2", "second_store_bonus", "win_back", "cart_reminder").index(offer)
    c = ("email", "sms", "push", "phone").index(channel)
    s = ("morning", "midday", "evening").index(slot)
    w = ("rational", "emotional", "urgency", "social_proof").index(wording)
    return 1 + ((o * 4 + c) * 3 + s) * 4 + w


def make(name: str, seed: int = 0, **params):
    """A policy over the real catalog and context names."""
    return policies.make(name, action_features=FEATURES, dim_context=DIM, seed=seed,
                         **{**NEEDS[name], **params})


def contexts(n: int, seed: int) -> np.ndarray:
    """Random contexts in [0, 1] with one segment set per row and a few open carts."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, DIM))
    seg = [NAMES.index(f"segment_{s}") for s in SEGMENTS]
    x[:, seg] = 0.0
    x[np.arange(n), rng.choice(seg, size=n)] = 1.0
    x[:, NAMES.index("cart_open")] = rng.random(n) < 0.1
    return x


def segment_rows(*segments: str | None, cart: bool = False) -> np.ndarray:
    """One context row per segment (None: no segment column set), zeros elsewhere."""
    x = np.zeros((len(segments), DIM))
    for i, s in enumerate(segments):
        if s is not None:
            x[i, NAMES.index(f"segment_{s}")] = 1.0
    x[:, NAMES.index("cart_open")] = float(cart)
    return x


def test_no_action_and_random_pscores_are_exact():
    """no_action: 0 with pscore 1; random: pscore 1 / n_eligible and roughly uniform."""
    x = contexts(4000, 0)
    a, p = make("no_action").act(x)
    assert (a == 0).all() and (p == 1).all()
    mask = np.zeros((4000, CATALOG.n_actions), dtype=bool)
    mask[:, [5, 9]] = True
    mask[2000:, 9] = False  # rows 0-1999 allow {0, 5, 9}; rows 2000+ allow {0, 5}
    a, p = make("random", seed=3).act(x, mask)
    np.testing.assert_array_equal(p, np.where(np.arange(4000) < 2000, 1 / 3, 1 / 2))
    # 2000 draws of 1/3: sd = sqrt(2000 / 3 x 2 / 3) = 21; 5 sd tolerance.
    assert abs(np.sum(a[:2000] == 9) - 2000 / 3) < 105
    a, p = make("random", seed=3).act(x)
    assert (p == 1 / CATALOG.n_actions).all() and len(np.unique(a)) > 400


def test_blanket_sends_the_documented_action_to_eligible_rows_only():
    """Default discount_10/email/morning/rational is index 1; another is looked up by name."""
    # index("discount_10", "email", "morning", "rational") = 1 + ((0 x 4 + 0) x 3 + 0) x 4 + 0.
    x = contexts(5, 0)
    a, p = make("blanket").act(x, np.array([True, False, True, True, False]))
    np.testing.assert_array_equal(a, [1, 0, 1, 1, 0])
    assert (p == 1).all()
    # discount_20 by sms, evening, urgency: 1 + ((1 x 4 + 1) x 3 + 2) x 4 + 2 = 71.
    pol = make("blanket", offer="discount_20", channel="sms", slot="evening", wording="urgency")
    assert pol.action == 71 == index("discount_20", "sms", "evening", "urgency")
    assert CATALOG.describe(71) == "discount_20 by sms, evening, urgency"
    mask = np.ones((5, CATALOG.n_actions), dtype=bool)
    mask[2, 71] = False
    np.testing.assert_array_equal(pol.act(x, mask)[0], [71, 71, 0, 71, 71])


def test_rfm_playbook_picks_the_documented_default_actions():
    """Each segment gets its documented action; carts override; no segment gets nothing."""
    x = np.vstack([segment_rows(*SEGMENTS, None), segment_rows("lost", "champions", cart=True)])
    a, p = make("rfm_playbook").act(x)
    expected = [
        242, 242,  # loyalty_x2 email morning emotional: 1 + ((5x4+0)x3+0)x4+1
        201, 201,  # cross_sell email evening rational: 1 + ((4x4+0)x3+2)x4+0
        145,       # free_delivery email morning rational: 1 + ((3x4+0)x3+0)x4+0
        19,        # discount_10 sms midday urgency: 1 + ((0x4+1)x3+1)x4+2
        338,       # win_back email morning emotional: 1 + ((7x4+0)x3+0)x4+1
        354,       # win_back sms midday emotional: 1 + ((7x4+1)x3+1)x4+1
        0, 0,      # hibernating, lost: none
        0,         # no segment
        395, 395,  # open cart: cart_reminder email evening urgency: 1 + ((8x4+0)x3+2)x4+2
    ]
    np.testing.assert_array_equal(a, expected)
    assert (p == 1).all()
    assert CATALOG.describe(242) == "loyalty_x2 by email, morning, emotional"
    assert CATALOG.describe(354) == "win_back by sms, midday, emotional"
    assert CATALOG.describe(395) == "cart_reminder by email, evening, urgency"
    assert expected[:8] == [index("loyalty_x2", "email", "morning", "emotional")] * 2 + [
        index("cross_sell", "email", "evening", "rational")] * 2 + [
        index("free_delivery", "email", "morning", "rational"),
        index("discount_10", "sms", "midday", "urgency"),
        index("win_back", "email", "morning", "emotional"),
        index("win_back", "sms", "midday", "emotional")]


def test_rfm_playbook_edits_and_eligibility():
    """Given entries replace the default's; cart='none' ignores carts; ineligible -> 0."""
    pol = make("rfm_playbook", playbook={"lost": {"offer": "win_back", "channel": "push"},
                                         "champions": "none"}, cart="none")
    x = segment_rows("lost", "champions", "loyal", cart=True)
    # win_back push morning rational: 1 + ((7x4+2)x3+0)x4+0 = 361; loyal keeps 242.
    np.testing.assert_array_equal(pol.act(x)[0], [361, 0, 242])
    np.testing.assert_array_equal(pol.act(x, np.array([True, True, False]))[0], [361, 0, 0])


def planted_segments(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Contexts over 3 segments (a, b, c) plus a noise column, and their segment codes."""
    seg = rng.integers(3, size=n)
    x = np.zeros((n, 4))
    x[np.arange(n), seg] = 1.0
    x[:, 3] = rng.random(n)
    return x, seg


# Mean reward of actions 0-5 per segment: a's best is 2, b's is 4, c loses on every action.
PLANTED = np.array([[0.0, 0.2, 1.0, 0.1, 0.3, 0.5],
                    [0.0, 0.1, 0.3, 0.2, 0.9, 0.4],
                    [0.0, -0.5, -0.2, -0.3, -0.1, -0.4]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segment_greedy_finds_the_planted_best_action_per_segment(seed):
    """After its random pilot, each segment gets its planted best action, pscore 1."""
    rng = np.random.default_rng(100 + seed)
    feats = np.eye(6)
    pol = policies.make("segment_greedy", action_features=feats, dim_context=4, seed=seed,
                        context_names=("segment_a", "segment_b", "segment_c", "noise"),
                        pilot_decisions=6000, min_count=30)
    for _ in range(12):  # 12 x 500 = 6000 pilot decisions, ~333 per (segment, action)
        x, seg = planted_segments(500, rng)
        a, p = pol.act(x)
        assert pol.learned is None and (p == 1 / 6).all()
        # Reward = planted mean + N(0, 1) noise: the mean's sd over 333 draws is 0.055, so
        # the smallest gap to beat (0.5 vs 1.0 in a, 0.4 vs 0.9 in b) is 9 sd.
        pol.update(x, a, PLANTED[seg, a] + rng.normal(size=500), p)
    assert pol.learned == {"a": 2, "b": 4, "c": 0}
    x, seg = planted_segments(300, rng)
    a, p = pol.act(x)
    np.testing.assert_array_equal(a, np.array([2, 4, 0])[seg])
    assert (p == 1).all()
    # Where the best is not eligible, the next best qualified action: a -> 5, b -> 5.
    mask = np.ones((300, 6), dtype=bool)
    mask[:, [2, 4]] = False
    np.testing.assert_array_equal(pol.act(x, mask)[0], np.array([5, 5, 0])[seg])


def test_segment_greedy_pilot_keeps_to_candidates_and_min_count():
    """The pilot draws only candidates and 0; too few tries leave a segment with no action."""
    rng = np.random.default_rng(5)
    pol = policies.make("segment_greedy", action_features=np.eye(6), dim_context=4, seed=0,
                        context_names=("segment_a", "segment_b", "segment_c", "noise"),
                        pilot_decisions=900, candidates=(1, 3), min_count=200)
    x, seg = planted_segments(900, rng)
    a, p = pol.act(x)
    assert set(np.unique(a)) == {0, 1, 3} and (p == 1 / 3).all()
    pol.update(x, a, PLANTED[seg, a], p)
    # ~100 tries per (segment, action) < min_count 200: nothing qualifies.
    assert pol.learned == {"a": 0, "b": 0, "c": 0}


def planted_response(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Contexts whose first column drives the response: P(respond | sent) = x0 ** 2.

    The other columns are small noise (below 0.02: the context has about a hundred).
    """
    x = rng.random((n, DIM)) * 0.02
    x[:, 0] = rng.random(n)
    return x, x[:, 0] ** 2


def test_response_model_targets_the_highest_propensity_rows():
    """After warm-up, exactly the top share of rows by true propensity get the action."""
    rng = np.random.default_rng(0)
    pol = make("response_model", seed=1, warmup=3000, explore=0.0, share=0.25)
    while pol.seen < 3000:
        x, prob = planted_response(1000, rng)
        a, p = pol.act(x)
        assert set(np.unique(p)) == {0.5}  # the fair coin of the warm-up
        pol.update(x, a, (rng.random(1000) < prob) * (a == 1) * 10.0, p)
    x, prob = planted_response(2000, rng)
    a, p = pol.act(x)
    assert (a == 1).sum() == 500 and (p == 1).all()
    # The propensity is monotone in x0, so the sent rows are the top 500 by x0.
    assert x[a == 1, 0].min() > np.sort(x[:, 0])[-501] - 0.02
    assert np.corrcoef(pol.propensity(x), prob)[0, 1] > 0.9
    thresholded = make("response_model", seed=1, warmup=0, explore=0.0, threshold=0.5)
    thresholded.model = pol.model
    a, _ = thresholded.act(x)
    np.testing.assert_array_equal(a == 1, pol.propensity(x) >= 0.5)


def test_targeting_pscores_are_the_exact_coin_probabilities():
    """With explore e: P(action) = (1 - e) x target + e / 2; its complement for action 0."""
    rng = np.random.default_rng(2)
    pol = make("response_model", seed=4, warmup=0, explore=0.2, share=0.5)
    x, _ = planted_response(4000, rng)
    a, p = pol.act(x)
    assert set(np.round(p, 12)) == {0.9, 0.1}
    # Targeted rows are sent w.p. 0.9: 2000 targeted -> about 1800 sent of them.
    target = pol._target(x, np.ones(4000, dtype=bool))
    assert abs(np.sum(a[target] == 1) - 1800) < 5 * np.sqrt(2000 * 0.09)
    np.testing.assert_allclose(p, np.where(target == (a == 1), 0.9, 0.1))


def planted_uplift(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sure things (x0 = 1, 40%): buy w.p. 0.8 either way; persuadables: 0.05, 0.4 if sent.

    Returns contexts, P(buy | not sent) and P(buy | sent); reward = buy - 0.05 if sent, so
    the true uplift is -0.05 for sure things and 0.4 - 0.05 - 0.05 = 0.3 for persuadables.
    """
    x = rng.random((n, DIM)) * 0.1
    sure = rng.random(n) < 0.4
    x[:, 0] = sure
    return x, np.where(sure, 0.8, 0.05), np.where(sure, 0.8, 0.4)


def run_targeting(name: str, seed: int) -> float:
    """Train on the planted uplift problem, then the true expected gain of the choices."""
    rng = np.random.default_rng(seed)
    pol = make(name, seed=seed, warmup=2000, explore=0.1)
    for _ in range(6):
        x, p0, p1 = planted_uplift(1000, rng)
        a, p = pol.act(x)
        sent = a > 0
        buy = rng.random(1000) < np.where(sent, p1, p0)
        pol.update(x, a, buy - 0.05 * sent, p)
    x, p0, p1 = planted_uplift(2000, rng)
    a, _ = pol.act(x)
    return float(np.sum((p1 - p0 - 0.05) * (a > 0)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uplift_two_model_beats_response_model_when_sure_things_respond_most(seed):
    """The response model mails the sure things (uplift < 0), the uplift model persuadables."""
    uplift, response = run_targeting("uplift_two_model", seed), run_targeting(
        "response_model", seed)
    # 2000 rows, ~800 sure things and ~1200 persuadables. Uplift model: it sends to the
    # persuadables w.p. 0.95 and to sure things w.p. 0.05: 1140 x 0.3 - 40 x 0.05 = 340
    # (sd about 7). Response model: its top 20% (400 rows) are sure things, sent w.p. 0.95,
    # the rest w.p. 0.05: -380 x 0.05 + 60 x 0.3 - 20 x 0.05 = -2 (sd about 3).
    assert uplift > 300 and response < 25


def test_uplift_two_model_estimates_the_planted_uplift():
    """Predicted uplift is about -0.05 for sure things and 0.3 for persuadables."""
    rng = np.random.default_rng(9)
    pol = make("uplift_two_model", seed=0, warmup=20_000)
    for _ in range(10):
        x, p0, p1 = planted_uplift(2000, rng)
        a, p = pol.act(x)
        buy = rng.random(2000) < np.where(a > 0, p1, p0)
        pol.update(x, a, buy - 0.05 * (a > 0), p)
    x, _, _ = planted_uplift(1000, rng)
    u = pol.uplift(x)
    sure = x[:, 0] == 1
    # 20,000 coin-flipped rows: each arm's mean per group has sd < 0.01.
    assert abs(u[sure].mean() + 0.05) < 0.04 and abs(u[~sure].mean() - 0.3) < 0.04


def small_table(offers: tuple[str, ...]) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
    """Features and action_table of a catalog with these offers and email/sms, morning."""
    rows = [("none",) * 4] + [(o, c, "morning", "rational")
                              for o, c in itertools.product(offers, ("email", "sms"))]
    table = {k: tuple(r[j] for r in rows) for j, k in enumerate(("offer", "channel", "slot",
                                                                  "wording"))}
    return np.eye(len(rows)), table


def trained_arbitration(**params):
    """Arbitration over gold (actions 1, 2) and silver (3, 4), trained on planted rates.

    gold converts w.p. 0.5 by email and 0.3 by sms; silver w.p. 0.2 by either channel.
    """
    feats, table = small_table(("gold", "silver"))
    pol = policies.make("arbitration", action_features=feats, dim_context=2, seed=0,
                        action_table=table, **params)
    rng = np.random.default_rng(0)
    rate = np.array([0.0, 0.5, 0.3, 0.2, 0.2])
    for _ in range(4):
        x = rng.random((4000, 2))
        a = rng.integers(1, 5, size=4000)
        pol.update(x, a, (rng.random(4000) < rate[a]) * 1.0, np.full(4000, 0.25))
    return pol, x


def test_arbitration_ranks_by_propensity_times_value_times_lever():
    """Priority = p x v x lever; the argmax moves as value and lever change."""
    pol, x = trained_arbitration(values={"gold": 1.0, "silver": 3.0}, explore=0.0)
    prop = pol.propensities(x)
    # 16,000 rows over 4 actions: each rate's sd is 0.008; 0.02 tolerance.
    np.testing.assert_allclose(prop[:, 1:].mean(axis=0), [0.5, 0.3, 0.2, 0.2], atol=0.02)
    pri = pol.priorities(x)
    np.testing.assert_allclose(pri[:, 1:], prop[:, 1:] * [1, 1, 3, 3])
    # gold email 0.5 x 1 = 0.5 < silver 0.2 x 3 = 0.6 (email or sms alike: first index wins
    # unless sms's estimate is higher).
    a, p = pol.act(x)
    assert set(np.unique(a)) <= {3, 4} and (p == 1).all()
    np.testing.assert_array_equal(a, pri.argmax(axis=1))
    # A lever of 0.5 on silver: 0.2 x 3 x 0.5 = 0.3 < 0.5 -> gold by email.
    pol2, x2 = trained_arbitration(values={"gold": 1.0, "silver": 3.0},
                                   levers={"silver": 0.5}, explore=0.0)
    assert (pol2.act(x2)[0] == 1).all()
    # Eligibility: without gold by email, the best left is gold by sms (0.3 vs 0.3 x 1)...
    mask = np.ones((4000, 5), dtype=bool)
    mask[:, 1] = False
    a, _ = pol2.act(x2, mask)
    np.testing.assert_array_equal(a, np.where(mask, pol2.priorities(x2), -1).argmax(axis=1))
    assert set(np.unique(a)) <= {2, 3, 4}
    # ... and a min_priority above every priority keeps everyone uncontacted.
    pol3, x3 = trained_arbitration(values={"gold": 1.0, "silver": 3.0}, min_priority=100.0,
                                   explore=0.0)
    assert (pol3.act(x3)[0] == 0).all()


def test_arbitration_pscores_mix_greedy_and_uniform_exactly():
    """The pscore is (1 - e) x 1{greedy} + e / n_eligible, with e = explore."""
    pol, x = trained_arbitration(values={"gold": 1.0, "silver": 3.0}, explore=0.2)
    greedy = pol.priorities(x).argmax(axis=1)
    a, p = pol.act(x)
    np.testing.assert_allclose(p, np.where(a == greedy, 0.8 + 0.2 / 5, 0.2 / 5))
    rows = np.zeros(4000, dtype=bool)
    rows[:2000] = True
    a, p = pol.act(x, rows)
    assert (a[2000:] == 0).all() and (p[2000:] == 1).all()


def test_arbitration_default_values_cover_the_real_catalog():
    """With the real catalog and no data, the first action of highest value wins.

    Every propensity is 0.5, so cross_sell (value 14, before cart_reminder's 14) by email,
    morning, rational wins: 1 + ((4x4+0)x3+0)x4+0 = 193.
    """
    a, p = make("arbitration", explore=0.0).act(contexts(10, 0))
    assert (a == 193).all() and (p == 1).all()
    assert CATALOG.describe(193) == "cross_sell by email, morning, rational"


BAD = [
    ("blanket", {"channel": "fax"}, "channels: email, sms, push, phone"),
    ("blanket", {"action_table": {**TABLE, "offer": TABLE["offer"][:-1]}},
     r"action_table\['offer'\] has 432 names: expected n_actions = 433"),
    ("blanket", {"action_table": {"offer": TABLE["offer"]}}, "lacks channel, slot, wording"),
    ("rfm_playbook", {"playbook": {"lost": {"offer": "win_back", "tone": "x"}}},
     r"playbook.lost.*tone"),
    ("rfm_playbook", {"playbook": {"lost": {"offer": "gold_card"}}},
     r"playbook\['lost'\] = gold_card by email"),
    ("rfm_playbook", {"context_names": tuple(n.replace("cart_open", "cart") for n in NAMES)},
     "needs a cart_open column"),
    ("segment_greedy", {"context_names": ("a",) * DIM}, "no segment_<name> column"),
]


@pytest.mark.parametrize(("name", "params", "match"), BAD)
def test_bad_names_and_params_raise_policy_errors(name, params, match):
    """The baselines' own checks of catalogs, playbooks and context names: named errors.

    Plain bounds, unknown names and required arguments are in test_interface's tables.
    """
    with pytest.raises(PolicyError, match=match):
        policies.make(name, action_features=FEATURES, dim_context=DIM, seed=0,
                      **{**NEEDS.get(name, {}), **params})


def test_arbitration_needs_a_value_for_an_unknown_offer():
    """An offer without a default value must be given one."""
    feats, table = small_table(("gold",))
    with pytest.raises(PolicyError, match="values lacks offer 'gold'"):
        policies.make("arbitration", action_features=feats, dim_context=2, seed=0,
                      action_table=table)
    pol = policies.make("arbitration", action_features=feats, dim_context=2, seed=0,
                        action_table=table, values={"gold": 2.0})
    assert pol.weight.tolist() == [2.0]


@pytest.mark.parametrize("name", list(NEEDS))
def test_policies_pickle_mid_run(name):
    """A policy pickled after some learning acts like the original."""
    pol = make(name, seed=3)
    x = contexts(300, 0)
    a, p = pol.act(x)
    pol.update(x, a, np.where(a > 0, 1.0, 0.0), p)
    twin = pickle.loads(pickle.dumps(pol))
    np.testing.assert_array_equal(pol.act(x)[0], twin.act(x)[0])


def test_rules_name_the_offer_that_names_no_target():
    """In a catalog with targeted variants, a rule's cross_sell is the untargeted one."""
    from nbasim.sim.actions import catalog_for

    cat = catalog_for(get_scenario("dry_cleaning_seeds"))
    table = cat.table()
    pol = policies.make("blanket", action_features=cat.features, dim_context=DIM, seed=0,
                        action_table=table, offer="cross_sell", channel="email")
    a, _ = pol.act(np.zeros((3, DIM)))
    assert {table["offer"][i] for i in a} == {"cross_sell"}
    assert {table["target"][i] for i in a} == {"none"}
