"""Contact rules per RFM segment and per offer: segment caps, suppressions, offer caps.

Three kinds, each a list in the campaign's settings (`sim.constraints.ContactRules`), empty by
default (and then nothing here is computed, so results are unchanged):

- `segment_caps`: a customer in `segment` today is sent at most `messages` messages (contact
  days) in any `days` consecutive days, today's included (read from the contact history bit
  mask, hence `days` <= 32);
- `suppress`: `offers` never reach a customer in `segment` today;
- `offer_caps`: a customer receives `offer` at most `messages` times in any `days`
  consecutive days, today's included, whatever the segment.

Segments are the customer's RFM segment as the world last scored it (`Population.segment`,
names in `sim.rfm.SEGMENTS`); offers are names in the catalog (`sim.params.OFFERS`). An offer
cap remembers, per customer, the days of the last `messages` sends of its offer
(`OfferHistory`: int16 days, 2 bytes per customer per counted message, and nothing when there
is no offer cap).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from nbasim.sim import memory
from nbasim.sim.params import OFFERS, FrozenModel
from nbasim.sim.rfm import SEGMENTS

OFFER_RULE_KEYS = ("segment_caps", "suppress", "offer_caps")
"""The settings these rules are given under (`sim.constraints.ContactRules`)."""
SEGMENT_CAP_MAX_DAYS = 32
"""Longest window of a segment cap: the contact history bit mask holds 32 days."""
OFFER_CAP_MAX_MESSAGES = 10
"""Most messages an offer cap may allow (each costs 2 bytes per customer)."""
NEVER = np.iinfo(np.int16).min
"""Day an offer history slot holds until that offer is first sent."""

SegmentName = Literal[SEGMENTS]
OfferName = Literal[OFFERS[1:]]


class SegmentCap(FrozenModel):
    """At most `messages` contact days in any `days` days for a customer in `segment`."""

    segment: SegmentName
    """RFM segment the cap applies to (the customer's segment on the day of sending)."""
    messages: Annotated[int, Field(ge=1, le=SEGMENT_CAP_MAX_DAYS)]
    """Messages (contact days) allowed in the window."""
    days: Annotated[int, Field(ge=1, le=SEGMENT_CAP_MAX_DAYS)]
    """Length of the window in days, today included."""

    @model_validator(mode="after")
    def _binds(self) -> SegmentCap:
        if self.messages >= self.days:
            raise ValueError(f"segment cap {self.segment!r}: messages = {self.messages} in days = "
                             f"{self.days} never binds (one contact day a day at most); allowed "
                             "messages < days")
        return self


class Suppression(FrozenModel):
    """Offers that never reach a customer in `segment`."""

    segment: SegmentName
    """RFM segment the offers are withheld from."""
    offers: tuple[OfferName, ...] = Field(min_length=1)
    """Offers withheld (names from the catalog)."""


class OfferCap(FrozenModel):
    """At most `messages` sends of `offer` to a customer in any `days` days."""

    offer: OfferName
    """Offer the cap applies to."""
    messages: Annotated[int, Field(ge=1, le=OFFER_CAP_MAX_MESSAGES)]
    """Sends of the offer allowed in the window."""
    days: Annotated[int, Field(ge=1, le=3650)]
    """Length of the window in days, today included."""


def contacts_in_window(contact_days: np.ndarray, since: np.ndarray, days: int) -> np.ndarray:
    """Contact days among the `days` days up to and including today (days <= 32).

    Args:
        contact_days: (n,) uint32 bit mask, bit k = a contact k days before the last contact.
        since: (n,) int32 days from the last contact to today.
        days: window length, today included.

    Returns:
        (n,) uint8 counts.
    """
    # Bit k is a contact since + k days before today: the window's offsets 0 to days - 1
    # are the bits of its mask shifted right by `since` (numpy shifts by >= 32 to 0).
    gap = np.clip(since, 0, 32).astype(np.uint32)
    return np.bitwise_count(contact_days & np.right_shift(np.uint32((1 << days) - 1), gap))


def segment_capped(segment: np.ndarray, contact_days: np.ndarray, since: np.ndarray,
                   caps: tuple[SegmentCap, ...]) -> np.ndarray:
    """Customers a segment cap stops today: (n,) bool.

    Args:
        segment: (n,) uint8 RFM segment codes (into `SEGMENTS`).
        contact_days: (n,) uint32 contact history bit masks.
        since: (n,) int32 days since the last contact.
        caps: the segment caps.
    """
    out = np.zeros(segment.shape, dtype=bool)
    for cap in caps:
        out |= (segment == SEGMENTS.index(cap.segment)) & (
            contacts_in_window(contact_days, since, cap.days) >= cap.messages)
    return out


def suppression_table(suppress: tuple[Suppression, ...]) -> np.ndarray:
    """(len(SEGMENTS), len(OFFERS)) bool: True where the segment may not receive the offer."""
    table = np.zeros((len(SEGMENTS), len(OFFERS)), dtype=bool)
    for rule in suppress:
        table[SEGMENTS.index(rule.segment), [OFFERS.index(o) for o in rule.offers]] = True
    return table


class OfferHistory:
    """Days of each customer's last sends of every capped offer, and the caps they enforce.

    Args:
        caps: the offer caps.
        n_customers: rows to keep (the whole base).
    """

    def __init__(self, caps: tuple[OfferCap, ...], n_customers: int):
        self.caps = caps
        width = sum(c.messages for c in caps)
        if width:
            memory.check_fits(n_customers * width * 2, f"offer caps ({width} sends remembered "
                              f"per customer) for {n_customers:,} customers")
        self.days = np.full((n_customers, width), NEVER, dtype=np.int16)
        """(n_customers, sum of messages) int16: cap i owns columns `_cols[i]`."""
        edges = np.cumsum([0, *(c.messages for c in caps)])
        self._cols = [slice(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        self._offer = [OFFERS.index(c.offer) for c in caps]

    def blocked(self, rows: np.ndarray, day: int) -> np.ndarray:
        """(len(rows), len(OFFERS)) bool: offers an offer cap stops for each customer today.

        A cap is reached when its `messages` last sends all fall within the `days` days up to
        and including today.
        """
        out = np.zeros((np.size(rows), len(OFFERS)), dtype=bool)
        if not self.caps:
            return out
        held = self.days[rows]
        for cap, cols, offer in zip(self.caps, self._cols, self._offer, strict=True):
            out[:, offer] |= held[:, cols].min(axis=1) > day - cap.days
        return out

    def record(self, rows: np.ndarray, offers: np.ndarray, day: int) -> None:
        """Remember that `offers[i]` (codes into `OFFERS`) reached `rows[i]` on `day`.

        Each send replaces the oldest remembered day of every cap on its offer.
        """
        for cols, offer in zip(self._cols, self._offer, strict=True):
            to = np.asarray(rows)[np.asarray(offers) == offer]
            if to.size:
                ring = self.days[to, cols]
                ring[np.arange(to.size), ring.argmin(axis=1)] = day
                self.days[to, cols] = ring
