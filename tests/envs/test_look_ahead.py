"""NextBestAction-v0 never looks ahead: a decision sees only what happened before its moment.

The world simulates a day whole at its 00:00 tick; these tests record, for every day, the
CRM state before the tick and the hour of each purchase and abandoned cart, and check every
decision's context and every moment's customers against that record.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from nbasim import envs  # noqa: F401  (registers the environments)
from nbasim.envs import context
from nbasim.envs.crm_view import DAY_COLUMNS
from nbasim.sim.world import World

WORLD = {"scenario": "retail_chain", "customers": 1500, "days": 8}  # with carts (online shop)


def record_days(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Patch `World.step` to record each day: the state before it, then its events' hours."""
    days: list[dict] = []
    step = World.step

    def recording_step(world: World):
        pop = world.pop
        before = {"n": world.n_present, **{k: getattr(pop, k).copy() for k in (
            "frequency", "last_purchase_day", "r_score", "cart_value", "cart_day")}}
        out = step(world)
        tx = out.transactions
        days.append({"before": before,
                     "bought": dict(zip(tx.customer.tolist(), tx.hour.tolist(), strict=True)),
                     "carted": dict(zip(out.carts.tolist(), out.cart_hours.tolist(),
                                        strict=True))})
        return out

    monkeypatch.setattr(World, "step", recording_step)
    return days


def play(seed: int, **options) -> tuple[gymnasium.Env, list[tuple[dict, np.ndarray]]]:
    """A random-action episode; returns the env and each decision's info["next"] and obs."""
    env = gymnasium.make("nbasim/NextBestAction-v0", **{**WORLD, **options})
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    seen, truncated = [], False
    while not truncated:
        seen.append((info["next"], obs))
        obs, _, _, truncated, info = env.step(env.action_space.sample())
    return env, seen


@pytest.mark.parametrize("seed", [0, 1])
def test_no_decision_sees_an_event_at_or_after_its_moment(monkeypatch, seed):
    """Each context counts exactly the purchases and carts from before its moment.

    Before the moment: every purchase and cart of earlier days, and those of the day at an
    earlier hour, or at the moment's own hour when they raised it (a checkout's purchase, an
    abandoned cart's cart). Frequency and recency must match that count exactly, so a
    purchase made later that day (the look-ahead this guards against) fails the test, and so
    does one left out. RFM scores are the previous night's; nobody is decided for before
    they have joined.
    """
    days = record_days(monkeypatch)
    env, seen = play(seed)
    u = env.unwrapped
    col = {k: u.feature_names.index(k) for k in (
        "log_frequency", "recency_years", "r_score", "cart_open")}
    ttl = u.world.params.cart_ttl_days
    wrong, later_that_day, cart_later = [], 0, 0
    for nxt, x in seen:
        d, h, kind, c = nxt["day"], nxt["hour"], nxt["moment"], nxt["customer"]
        rec = days[d]
        pre = rec["before"]
        t, t_cart = rec["bought"].get(c), rec["carted"].get(c)
        bought = t is not None and (t < h or (t == h and kind == "checkout"))
        carted = t_cart is not None and (t_cart < h or (t_cart == h and kind == "cart_abandoned"))
        later_that_day += t is not None and not bought
        cart_later += t_cart is not None and not carted
        last = d if bought else int(pre["last_purchase_day"][c])
        cart_open = carted or (not bought and pre["cart_value"][c] > 0
                               and d - pre["cart_day"][c] <= ttl)
        got = (round(float(np.expm1(x[col["log_frequency"]]))),
               round(float(x[col["recency_years"]]) * 365), round(float(x[col["r_score"]]) * 5),
               bool(x[col["cart_open"]]), c < pre["n"] or bought)
        want = (int(pre["frequency"][c]) + bought, max(d - last, 0), int(pre["r_score"][c]),
                cart_open, True)
        if got != want:
            wrong.append((d, h, kind, c, got, want))
    # Decisions whose customer bought, or left a cart, later that day were among those checked.
    assert later_that_day > 20 and cart_later > 5
    assert wrong == []


def test_at_risk_moments_hold_every_crossing_by_the_last_purchase_before_the_day(monkeypatch):
    """At 00:00 a customer turns at-risk by recency alone, whether or not they buy later.

    The world's own crossings are counted after the day's purchases, so taking them would
    leave out exactly the customers who are about to buy: a look-ahead in who is decided for.
    """
    days = record_days(monkeypatch)
    # At-risk after 5 days without a purchase, and frequent buyers: many cross at 00:00 and
    # buy again that same day.
    env, seen = play(2, overrides={"at_risk_days": 5, "bgnbd_alpha": 0.5})
    u = env.unwrapped
    at_risk_days, holdout = u.world.params.at_risk_days, u.campaign.holdout
    decided: dict[int, list[int]] = {}
    for nxt, _ in seen:
        if nxt["moment"] == "at_risk":
            assert nxt["hour"] == 0
            decided.setdefault(nxt["day"], []).append(nxt["customer"])
    buying_later = 0
    for d, rec in enumerate(days):
        pre = rec["before"]
        crossing = np.flatnonzero(pre["last_purchase_day"][:pre["n"]] == d - at_risk_days)
        crossing = crossing[~holdout[crossing]]
        assert decided.get(d, []) == crossing.tolist(), f"day {d}"
        buying_later += sum(c in rec["bought"] for c in crossing.tolist())
    assert buying_later > 0  # the world's crossings would have missed these


def test_day_columns_are_what_a_day_changes_and_messages_leave_alone():
    """`DAY_COLUMNS` holds every CRM column `World.step` changes; `Campaign.apply` none of them.

    The env keeps only those columns from before each day and reads the others live, which is
    right only while messages (applied between moments) never change them.
    """
    env = gymnasium.make("nbasim/CampaignDay-v0", scenario="retail_chain", customers=3000,
                         days=12)
    env.reset(seed=0)
    env.action_space.seed(0)
    u = env.unwrapped
    changed = set()
    for _ in range(u.world.params.response.attribution_days + 2):  # windows close too
        pop = u.world.pop
        before = {k: getattr(pop, k).copy() for k in context.CRM_COLUMNS}
        rows = np.arange(u.world.n_present)
        u.campaign.act(rows, env.action_space.sample()[rows])
        assert [k for k in DAY_COLUMNS if not np.array_equal(getattr(pop, k), before[k])] == []
        assert pop.contact_days.any()  # messages did land
        before = {k: getattr(pop, k).copy() for k in context.CRM_COLUMNS}
        u.world.step()
        changed |= {k for k in context.CRM_COLUMNS if not np.array_equal(getattr(pop, k),
                                                                         before[k])}
    assert changed <= set(DAY_COLUMNS)
    assert {"frequency", "cart_value", "r_score", "conversions"} <= changed
