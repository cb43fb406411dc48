"""The action catalog: (offer, channel, send-time slot, wording), with costs and features.

Action 0 is "no action". Every other action is one offer sent through one channel in one
slot with one wording; a scenario may restrict offers and channels. An offer may carry a
target (a category for a cross-sell, a store for a visit bonus, `sim.targets`): a scenario
that names targets gets one variant of the offer per target beside the untargeted one. Each
action has a feature vector (offer attributes, then one-hot channel, slot and wording, then
one-hot target when the catalog has targets) for policies that learn through features rather
than one arm per combination.

Channels are the message channels (`CHANNELS`) and, when a scenario opts in, `POS`: an offer
shown at the till of a checkout (`sim.pos`). A catalog without `POS` is exactly the catalog
from before it existed: the `channel_pos` feature column exists only in catalogs that have it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from nbasim.sim.params import ACTION_CHANNELS, CHANNELS, OFFERS, POS, WORDINGS, ParameterError
from nbasim.sim.targets import NO_TARGETS, OfferTargets

SLOTS = ("morning", "midday", "evening")
SLOT_HOURS = (8, 12, 19)
DISCOUNT = {"discount_10": 0.10, "discount_20": 0.20, "discount_30": 0.30, "win_back": 0.15}
OFFER_FEATURES = ("discount_depth", "free_delivery", "cross_sell", "loyalty", "visit_bonus",
                  "win_back", "cart_reminder")


@dataclass(frozen=True)
class ActionCatalog:
    """All actions as aligned arrays (n_actions rows; row 0 is no action).

    Attributes:
        offer, channel, slot, wording: (n_actions,) int8 codes into `OFFERS`,
            `ACTION_CHANNELS` (`POS` is code `len(CHANNELS)`), `SLOTS`, `WORDINGS` (-1 for row
            0 where no channel, slot or wording applies). A `POS` action's slot has no effect:
            the offer is shown at the checkout's hour.
        discount: (n_actions,) share of the basket given away when the offer is redeemed.
        features: (n_actions, n_features) float32 action features.
        feature_names: names of the feature columns.
        target: (n_actions,) int16 index into `targets` (-1: the offer names no target).
        variant: (n_actions,) int16 row of the response's effect table: the offer's code
            when it names no target, `len(OFFERS)` + target otherwise.
        targets: the scenario's targets (`sim.targets`).
    """

    offer: np.ndarray
    channel: np.ndarray
    slot: np.ndarray
    wording: np.ndarray
    discount: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]
    target: np.ndarray
    variant: np.ndarray
    targets: OfferTargets = NO_TARGETS

    @property
    def n_actions(self) -> int:
        """Number of actions, no action included."""
        return self.offer.shape[0]

    @cached_property
    def offers_sent(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct offers of actions 1.. in code order, (k,), and their discounts, (k,)."""
        sent = self.offer > 0
        offers, first = np.unique(self.offer[sent], return_index=True)
        return offers, self.discount[sent][first]

    @cached_property
    def channels_sent(self) -> np.ndarray:
        """The distinct message channels of actions 1.. in code order, (k,) (`POS` left out)."""
        return np.unique(self.channel[(self.offer > 0) & (self.channel < len(CHANNELS))])

    @cached_property
    def pos(self) -> np.ndarray:
        """(n_actions,) bool: the point-of-sale actions (channel `POS`, `sim.pos`)."""
        return self.channel == len(CHANNELS)

    def table(self) -> dict[str, tuple[str, ...]]:
        """Names per action: {"offer", "channel", "slot", "wording", "target"} -> names.

        Each entry has n_actions names. Row 0 is "none" throughout, and "target" is "none"
        for an offer that names no category or store. Policies, which never import `sim`,
        read the catalog through this table and the feature matrix.
        """
        def names(codes: np.ndarray, vocab: tuple[str, ...]) -> tuple[str, ...]:
            return tuple("none" if c < 0 else vocab[c] for c in codes.tolist())
        return {"offer": tuple(OFFERS[c] for c in self.offer.tolist()),
                "channel": names(self.channel, ACTION_CHANNELS), "slot": names(self.slot, SLOTS),
                "wording": names(self.wording, WORDINGS),
                "target": names(self.target, self.targets.names)}

    def grid(self) -> CatalogGrid:
        """The actions as the product of their offers, channels, slots and wordings.

        Raises:
            ParameterError: actions 1.. are not that product in `build_catalog`'s order, with
                one discount per offer (a catalog put together by hand).
        """
        axes = [_first_seen(a[1:]) for a in (self.variant, self.channel, self.slot,
                                              self.wording)]
        sizes = [a.size for a in axes]
        inner = int(np.prod(sizes[1:]))  # actions per offer
        discount = self.discount[1::max(inner, 1)]
        expected = [np.tile(np.repeat(a, int(np.prod(sizes[k + 1:]))), int(np.prod(sizes[:k])))
                    for k, a in enumerate(axes)] + [np.repeat(discount, inner)]
        got = (self.variant, self.channel, self.slot, self.wording, self.discount)
        if not all(a.shape == (self.n_actions - 1,) and np.array_equal(a, b[1:])
                   for a, b in zip(expected, got, strict=True)):
            raise ParameterError("catalog: actions 1.. must be every (offer variant, channel, "
                                 "slot, wording) in build_catalog's order, one discount per "
                                 "offer")
        return CatalogGrid(*axes, discount)

    def describe(self, action: int) -> str:
        """Readable name of one action, e.g. "discount_20 by sms, evening, urgency"."""
        if not 0 <= action < self.n_actions:
            raise ParameterError(f"action {action}: allowed 0 to {self.n_actions - 1}")
        if action == 0:
            return "no action"
        target = self.target[action]
        offer = OFFERS[self.offer[action]] + ("" if target < 0
                                              else f" for {self.targets.names[target]}")
        if self.pos[action]:
            return f"{offer} at the till, {WORDINGS[self.wording[action]]}"
        return (f"{offer} by {CHANNELS[self.channel[action]]}, "
                f"{SLOTS[self.slot[action]]}, {WORDINGS[self.wording[action]]}")


@dataclass(frozen=True)
class CatalogGrid:
    """A catalog's actions 1.. as a product: offer variants x channels x slots x wordings.

    Action 1 + ((i x n_channels + j) x n_slots + k) x n_wordings + l sends offer variant
    `offer[i]` by channel `channel[j]` in slot `slot[k]` with wording `wording[l]`
    (`build_catalog`'s order: offers slowest, wordings fastest); `ActionCatalog.grid` builds it.

    Attributes:
        offer: (n_offers,) intp offer variants (`ActionCatalog.variant`: the `OFFERS` code,
            or `len(OFFERS)` + target for a targeted offer).
        channel, slot, wording: codes along each axis, (n_channels,), (n_slots,),
            (n_wordings,) intp.
        discount: (n_offers,) share of the basket each offer gives away.
    """

    offer: np.ndarray
    channel: np.ndarray
    slot: np.ndarray
    wording: np.ndarray
    discount: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(n_offers, n_channels, n_slots, n_wordings)."""
        return self.offer.size, self.channel.size, self.slot.size, self.wording.size


def _first_seen(codes: np.ndarray) -> np.ndarray:
    """The distinct values of `codes` in the order they first appear, as intp."""
    _, first = np.unique(codes, return_index=True)
    return codes[np.sort(first)].astype(np.intp)


def build_catalog(offers: tuple[str, ...] = OFFERS[1:],
                  channels: tuple[str, ...] = CHANNELS,
                  targets: OfferTargets = NO_TARGETS) -> ActionCatalog:
    """The catalog of every (offer variant, channel, slot, wording) combination, plus no action.

    Args:
        offers: offers to include (any of `OFFERS` but "none", which is always action 0).
        channels: channels to include (`ACTION_CHANNELS`; with `POS`, a `channel_pos`
            feature column follows the message channels' columns).
        targets: targets of the targeted offers; each follows its untargeted offer.

    Raises:
        ParameterError: an unknown or repeated offer or channel, an empty list, or a target
            whose offer is not in `offers`.
    """
    for kind, given, allowed in (("offer", offers, OFFERS[1:]),
                                 ("channel", channels, ACTION_CHANNELS)):
        bad = [g for g in given if g not in allowed]
        if bad or not given or len(set(given)) != len(given):
            raise ParameterError(f"catalog {kind}s = {list(given)}: each must be one of "
                                 f"{', '.join(allowed)}, at least one, no repeats")
    missing = sorted({OFFERS[o] for o in targets.offer} - set(offers))
    if missing:
        raise ParameterError(f"catalog targets name {', '.join(missing)}: not in the catalog "
                             f"offers {list(offers)}")
    variants = [(OFFERS.index(o), -1) for o in offers]
    variants = [v for o, t in variants
                for v in [(o, t)] + [(o, j) for j, to in enumerate(targets.offer) if to == o]]
    rows = [(0, -1, -1, -1, -1)] + [
        (o, t, ACTION_CHANNELS.index(c), s, w)
        for (o, t), c, s, w in itertools.product(variants, channels, range(len(SLOTS)),
                                                 range(len(WORDINGS)))]
    offer, target, channel, slot, wording = (np.array(col, dtype=np.int8)
                                             for col in zip(*rows, strict=True))
    target = target.astype(np.int16)
    variant = np.where(target < 0, offer, len(OFFERS) + target).astype(np.int16)
    discount = np.array([DISCOUNT.get(OFFERS[o], 0.0) for o in offer])
    feature_channels = CHANNELS + ((POS,) if POS in channels else ())
    names = OFFER_FEATURES + tuple(f"channel_{c}" for c in feature_channels) + tuple(
        f"slot_{s}" for s in SLOTS) + tuple(f"wording_{w}" for w in WORDINGS) + tuple(
        f"target_{k}_{n}" for k, n in zip(targets.kind, targets.names, strict=True))
    feats = np.zeros((len(rows), len(names)), dtype=np.float32)
    name = np.array([OFFERS[o] for o in offer])
    feats[:, 0] = discount
    for j, flag in enumerate(("free_delivery", "cross_sell", "loyalty_x2", "second_store_bonus",
                              "win_back", "cart_reminder"), start=1):
        feats[:, j] = name == flag
    k = len(OFFER_FEATURES)
    sent = channel >= 0
    feats[np.flatnonzero(sent), k + channel[sent]] = 1
    k += len(feature_channels)
    feats[np.flatnonzero(sent), k + slot[sent]] = 1
    k += len(SLOTS)
    feats[np.flatnonzero(sent), k + wording[sent]] = 1
    k += len(WORDINGS)
    aimed = target >= 0
    feats[np.flatnonzero(aimed), k + target[aimed]] = 1
    return ActionCatalog(offer, channel, slot, wording, discount, feats, names, target,
                         variant, targets)


def catalog_for(params) -> ActionCatalog:
    """The action catalog of a scenario (`ScenarioParams`): its offers, channels and targets."""
    return build_catalog(tuple(params.offers), tuple(params.channels), OfferTargets.of(params))
