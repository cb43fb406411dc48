"""Offer-effect settings that make a blanket send reproduce a measured conversion lift.

A blanket send of an arm gives every customer of a base the arm's offer through the arm's
channel once; its true lift is the mean, over the customers, of `response.truth(...).uplift`:
the conversion probability within the attribution window with the message minus without it.
Customers who do not consent to the channel, or are not reached, count with a lift of 0, as
they do in an intent-to-treat comparison of a randomized test. When the arm does not name the
send slot or the wording, the lift is averaged over every slot and wording of the catalog
(each customer equally likely to get any of them).

The lift depends on the offer's `ResponseParams.offer_effect` entry only through the effect
tau = responsiveness x offer_effect x customer scale x ..., so it is 0 at an offer effect of 0
and, for the default worlds, rises with it; `fit_offer_effect` solves for the entry with
`scipy.optimize.brentq` (one arm) or a bounded least-squares fit (several arms of one offer on
different channels, which one entry per offer cannot always match together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from nbasim.sim import response
from nbasim.sim.actions import SLOTS, ActionCatalog
from nbasim.sim.params import CHANNELS, OFFERS, WORDINGS, ResponseParams

MAX_OFFER_EFFECT = 1e3
"""Largest offer effect tried: beyond it tau is clipped at 1 for any customer it reaches."""


@dataclass(frozen=True)
class Arm:
    """One arm of a test as the world sees it.

    Attributes:
        offer: index into `OFFERS` (never 0, no action).
        channel: index into `CHANNELS`.
        slot: index into `SLOTS`, or None for every slot alike.
        wording: index into `WORDINGS`, or None for every wording alike.
    """

    offer: int
    channel: int
    slot: int | None = None
    wording: int | None = None

    def label(self) -> str:
        """The arm as "offer:channel[:slot[:wording]]"."""
        parts = [OFFERS[self.offer], CHANNELS[self.channel]]
        if self.slot is not None or self.wording is not None:
            parts.append("*" if self.slot is None else SLOTS[self.slot])
        if self.wording is not None:
            parts.append(WORDINGS[self.wording])
        return ":".join(parts)


def parse_arm(text: str) -> Arm | None:
    """Read "offer:channel", "offer:channel:slot" or "offer:channel:slot:wording".

    A slot of "*" stands for every slot. Returns None when `text` names no catalog action.
    """
    parts = [p.strip() for p in str(text).split(":")]
    if not 2 <= len(parts) <= 4:
        return None
    offer, channel, *rest = parts
    slot = rest[0] if rest else "*"
    wording = rest[1] if len(rest) > 1 else "*"
    if offer not in OFFERS[1:] or channel not in CHANNELS or slot not in (*SLOTS, "*") \
            or wording not in (*WORDINGS, "*"):
        return None
    return Arm(OFFERS.index(offer), CHANNELS.index(channel),
               None if slot == "*" else SLOTS.index(slot),
               None if wording == "*" else WORDINGS.index(wording))


def arm_actions(catalog: ActionCatalog, arm: Arm) -> np.ndarray:
    """Catalog rows of the arm: its offer and channel in its slot and wording, or in all.

    Returns:
        (k,) int64 action indices, k >= 1.

    Raises:
        ValueError: the catalog has no such action.
    """
    match = (catalog.offer == arm.offer) & (catalog.channel == arm.channel)
    if arm.slot is not None:
        match &= catalog.slot == arm.slot
    if arm.wording is not None:
        match &= catalog.wording == arm.wording
    rows = np.flatnonzero(match)
    if rows.size == 0:
        raise ValueError(f"arm {arm.label()}: not in the action catalog")
    return rows.astype(np.int64)


def with_offer_effect(rp: ResponseParams, offer: int, value: float) -> ResponseParams:
    """`rp` with `offer_effect[offer]` set to `value` (the other entries kept)."""
    effect = list(rp.offer_effect)
    effect[offer] = float(value)
    return rp.model_copy(update={"offer_effect": tuple(effect)})


@dataclass(frozen=True)
class BlanketLift:
    """True mean outcome of a blanket send, per customer of the base.

    Attributes:
        lift: mean conversion uplift within the attribution window.
        spend_lift: mean uplift x expected basket (gross spend the send adds, before any
            discount the company gives away).
    """

    lift: float
    spend_lift: float


def blanket_lift(customers: response.Customers, actions: np.ndarray, catalog: ActionCatalog,
                 rp: ResponseParams, channel_up: np.ndarray | None = None) -> BlanketLift:
    """True lift of sending each of `actions` equally often to every customer.

    Args:
        customers: the base, (n,) rows.
        actions: (k,) catalog actions; the lift is averaged over them.
        catalog: the action catalog.
        rp: response parameters.
        channel_up: (n_channels,) delivery multiplier of the day (None: every channel up).
    """
    t = response.truth(customers, np.asarray(actions, dtype=np.int64), catalog, rp,
                       channel_up, grid=True)
    return BlanketLift(float(t.uplift.mean()), float((t.uplift * t.basket).mean()))


@dataclass(frozen=True)
class Target:
    """A measured lift that one arm should reproduce: `lift` with standard error `se`."""

    actions: np.ndarray
    lift: float
    se: float


@dataclass(frozen=True)
class EffectFit:
    """The offer effect found for one offer.

    Attributes:
        offer_effect: the `ResponseParams.offer_effect` entry.
        lifts: (k,) the blanket lift of each target's arm under it.
        spend_lifts: (k,) the matching spend lifts.
        method: "brentq" (an exact root), "least_squares" (several arms of one offer) or
            "unreachable" (no effect in [0, MAX_OFFER_EFFECT] gives the lift, e.g. a negative
            lift in a world where offers help on average, or one above what the channel's
            opens allow: the closest effect tried).
    """

    offer_effect: float
    lifts: np.ndarray
    spend_lifts: np.ndarray
    method: str


def fit_offer_effect(customers: response.Customers, catalog: ActionCatalog,
                     rp: ResponseParams, offer: int, targets: Sequence[Target],
                     channel_up: np.ndarray | None = None, xtol: float = 1e-10) -> EffectFit:
    """The `offer_effect[offer]` whose blanket sends reproduce the measured lifts.

    One target: the root of lift(effect) = measured on [0, MAX_OFFER_EFFECT] by brentq (the
    smallest one when the lift is not monotone). Several targets (the offer sent through
    several channels): the effect in [0, largest single-target root] that minimises
    sum(((lift_k(effect) - measured_k) / se_k) ** 2). Effects stay >= 0: a negative entry
    would turn persuadables into sleeping dogs and the reverse, which is not what a measured
    harm means.

    Args:
        customers: the base the sends reach, (n,) rows.
        catalog: the action catalog.
        rp: response parameters (every other entry is kept).
        offer: index into `OFFERS`, not 0.
        targets: the arms of this offer with their measured lifts.
        channel_up: (n_channels,) delivery multiplier of the day.
        xtol: absolute tolerance on the effect.
    """
    if not targets:
        raise ValueError("fit_offer_effect needs at least one target")

    def lifts(value: float) -> list[BlanketLift]:
        rp_v = with_offer_effect(rp, offer, value)
        return [blanket_lift(customers, t.actions, catalog, rp_v, channel_up) for t in targets]

    def done(value: float, method: str) -> EffectFit:
        got = lifts(value)
        return EffectFit(float(value), np.array([g.lift for g in got]),
                         np.array([g.spend_lift for g in got]), method)

    def lifts_one(value: float, t: Target) -> float:
        return blanket_lift(customers, t.actions, catalog, with_offer_effect(rp, offer, value),
                            channel_up).lift

    roots = [_root(lambda v, t=t: lifts_one(v, t) - t.lift, t.lift, xtol) for t in targets]
    if len(targets) == 1:
        value, method = roots[0]
        return done(value, method)
    hi = max(v for v, _ in roots)
    if hi <= 0:
        return done(0.0, "unreachable" if all(m == "unreachable" for _, m in roots)
                    else "least_squares")
    se = np.array([max(t.se, 1e-12) for t in targets])
    want = np.array([t.lift for t in targets])

    def loss(value: float) -> float:
        got = np.array([g.lift for g in lifts(value)])
        return float((((got - want) / se) ** 2).sum())

    best = optimize.minimize_scalar(loss, bounds=(0.0, hi), method="bounded",
                                    options={"xatol": max(xtol, 1e-9 * hi)})
    value = float(best.x) if loss(float(best.x)) <= loss(0.0) else 0.0
    return done(value, "least_squares")


def _root(f, lift: float, xtol: float = 1e-10) -> tuple[float, str]:
    """Smallest root of f on [0, MAX_OFFER_EFFECT], where f(0) = -lift, by doubling then brentq.

    Without a sign change the effect of smallest |f| among those tried ("unreachable").
    """
    if lift == 0:
        return 0.0, "brentq"
    lo, f_lo, hi = 0.0, -lift, 0.05
    best, best_f = 0.0, abs(lift)
    while hi <= MAX_OFFER_EFFECT:
        f_hi = f(hi)
        if f_hi == 0 or (f_hi > 0) != (f_lo > 0):
            return optimize.brentq(f, lo, hi, xtol=xtol), "brentq"
        if abs(f_hi) < best_f:
            best, best_f = hi, abs(f_hi)
        lo, f_lo, hi = hi, f_hi, hi * 2
    return best, "unreachable"
