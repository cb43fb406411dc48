"""Contact rules per segment and offer hold over a run, in the masks and in what `info` says."""

from __future__ import annotations

import gymnasium
import numpy as np

from nbasim import envs  # noqa: F401  (registers the environments)
from nbasim.sim.params import CHANNELS, OFFERS
from nbasim.sim.rfm import SEGMENTS

DISCOUNTS = ("discount_10", "discount_20", "discount_30")
RULES = {
    "max_per_7_days": 7, "min_gap_days": 0,  # the global policy out of the way
    "segment_caps": [{"segment": "champions", "messages": 1, "days": 5},
                     {"segment": "loyal", "messages": 2, "days": 6}],
    "suppress": [{"segment": "champions", "offers": list(DISCOUNTS)},
                 {"segment": "loyal", "offers": ["free_delivery"]}],
    "offer_caps": [{"offer": "cross_sell", "messages": 1, "days": 4}],
}
CAPS = {SEGMENTS.index(c["segment"]): (c["messages"], c["days"]) for c in RULES["segment_caps"]}
SUPPRESSED = {(SEGMENTS.index(s["segment"]), OFFERS.index(o))
              for s in RULES["suppress"] for o in s["offers"]}


def _run(seed: int, days: int = 14, follow_mask: bool = False):
    """CampaignDay-v0 under `RULES` with random actions; every send and every morning.

    Returns:
        sends: (k, 4) int: day, customer, segment that day, offer code; mornings: list of
        (day, eligible, segment), one a decision day; rejected: the summed
        `info["rejected"]`.
    """
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=1500, days=days, holdout=0.1,
                         **RULES)
    u = env.unwrapped
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    offer_of = np.array([OFFERS.index(o) for o in u.action_table["offer"]])
    sends, mornings, rejected = [], [], {}
    truncated = False
    while not truncated:
        day, rows = int(obs["day"]), np.flatnonzero(obs["eligible"])
        mornings.append((day, obs["eligible"].astype(bool), obs["segment"].copy()))
        action = rng.integers(0, u.n_actions, u.options.customers)
        if follow_mask:  # a uniform choice among the actions the mask allows
            mask = u.action_mask(obs, rows)
            action[rows] = np.where(mask, rng.random(mask.shape), -1.0).argmax(axis=1)
        obs, _, _, truncated, info = env.step(action)
        dec = info["decisions"]
        to = info["customers"][dec["sent"]]
        segment = mornings[-1][2]
        sends += [(day, c, segment[c], offer_of[a]) for c, a in
                  zip(to.tolist(), dec["actions"][dec["sent"]].tolist(), strict=True)]
        for k, v in info["rejected"].items():
            rejected[k] = rejected.get(k, 0) + v
    return np.array(sends, dtype=np.int64).reshape(-1, 4), mornings, rejected


def _per_day(sends, days, n):
    """(days, n) sends per day and customer, and the sum over the `w` days up to each day."""
    count = np.zeros((days, n), dtype=np.int64)
    np.add.at(count, (sends[:, 0], sends[:, 1]), 1)
    total = np.vstack([np.zeros((1, n), np.int64), count.cumsum(axis=0)])

    def window(w):  # sends on days d - w + 1 .. d, for every day d
        return total[1:] - total[np.maximum(np.arange(1, days + 1) - w, 0)]
    return count, window


def test_segment_caps_suppressions_and_offer_caps_hold_over_a_run():
    """Random actions for 13 days: no rule is ever broken, and each one stopped something.

    Segment caps: a customer sent a message while in a capped segment has, counting that
    message, at most `messages` in the `days` days up to that day. Suppressed offers never
    reach their segment. The cross-sell cap: at most one in any 4 days, per customer.
    """
    sends, mornings, rejected = _run(seed=1)
    days, n = mornings[-1][0] + 1, 1500
    assert sends.shape[0] > 500
    _, window = _per_day(sends, days, n)
    for segment, (messages, w) in CAPS.items():
        hit = sends[sends[:, 2] == segment]
        assert hit.size and (window(w)[hit[:, 0], hit[:, 1]] <= messages).all()
    assert not {(s, o) for s, o in sends[:, 2:].tolist()} & SUPPRESSED
    cross = sends[sends[:, 3] == OFFERS.index("cross_sell")]
    assert cross.size and (_per_day(cross, days, n)[1](4) <= 1).all()
    # The rules did bind: offer rules reject (the policy ignored the mask), and capped
    # customers were left out of `eligible` (so no segment_cap rejection is left).
    assert rejected.get("suppressed", 0) > 0 and rejected.get("offer_cap", 0) > 0
    assert "segment_cap" not in rejected
    champions, capped = SEGMENTS.index("champions"), 0
    before = window(4)  # sends on days d - 3 .. d: the 4 days before d + 1
    for day, eligible, segment in mornings[1:]:
        at_cap = (segment == champions) & (before[day - 1] >= 1)
        assert not (at_cap & eligible).any()  # a champion at the cap is not eligible
        capped += int(at_cap.sum())
    assert capped > 0


def test_the_action_mask_leaves_out_what_the_rules_forbid():
    """A policy choosing only among masked-in actions meets no consent or offer rejection."""
    sends, _, rejected = _run(seed=2, days=10, follow_mask=True)
    assert sends.shape[0] > 500
    assert not {"no_consent", "suppressed", "offer_cap", "segment_cap"} & set(rejected)
    assert not {(s, o) for s, o in sends[:, 2:].tolist()} & SUPPRESSED


def test_next_best_action_names_the_rule_and_masks_suppressed_offers():
    """One decision at a time: info names "suppressed" and "segment_cap"; the mask agrees.

    For a champion (in the world's segments), discount actions on a consented channel are
    masked out, and sending one is stopped (by an earlier contact rule or by "suppressed"),
    never sent.
    """
    rules = {**RULES, "segment_caps": [{"segment": s, "messages": 1, "days": 3}
                                       for s in SEGMENTS]}
    env = gymnasium.make("nbasim/NextBestAction-v0", customers=600, days=5, **rules)
    u = env.unwrapped
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    names = u.feature_names
    champions = SEGMENTS.index("champions")
    consent = [names.index(f"consent_{c}") for c in CHANNELS]
    table = {k: np.array(v) for k, v in u.action_table.items()}
    discount = np.isin(table["offer"], DISCOUNTS)
    reasons, truncated = [], False
    while not truncated:
        mask = u.action_mask()
        channels = [c for c, i in zip(CHANNELS, consent, strict=True) if obs[i] > 0.5]
        pick = np.flatnonzero(discount & np.isin(table["channel"], channels))
        # The rules read the world's segment as it stands (the observation's CRM view may
        # still show yesterday's).
        champion = u.world.pop.segment[info["next"]["customer"]] == champions
        if champion and pick.size:
            assert not mask[pick].any()
            action = int(rng.choice(pick))
            obs, _, _, truncated, info = env.step(action)
            assert not info["sent"]
            assert info["rejected"] in ("suppressed", "segment_cap", "contact_limit")
        else:
            allowed = np.flatnonzero(mask)
            obs, _, _, truncated, info = env.step(int(rng.choice(allowed)))
            assert info["rejected"] not in ("no_consent", "suppressed", "offer_cap")
        reasons.append(info["rejected"])
    assert {"suppressed", "segment_cap"} <= set(reasons)
