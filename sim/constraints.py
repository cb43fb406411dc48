"""Rules the world enforces on every action, whatever a policy asks for.

An action that breaks a rule is not sent; `check` reports, per customer, the first rule that
stopped it (`REASONS`), in this order: holdout, consent, contacts in the last 7 days, minimum
gap since the last contact, a cap of the customer's segment, an offer suppressed for that
segment, a cap of the offer (the rules of `sim.offer_rules`), the channel's daily capacity,
and the budget of the period. (Codes are in the order the reasons were added, not that one.)

The rules live here once. The per-customer ones (`customer_reasons`) and what is left of the
shared limits (`Ledger.calls_left`, `Ledger.money_left`, `within_budget`) serve `check` (first
come, first served), `Campaign.oracle` (greedy by margin) and the one-at-a-time
`MomentQueue` (`Ledger.admit`) alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from nbasim.sim.offer_rules import OfferCap, SegmentCap, Suppression, segment_capped
from nbasim.sim.params import CHANNELS, FrozenModel, NonNegative

REASONS = ("sent", "holdout", "no_consent", "contact_limit", "min_gap", "capacity", "budget",
           "segment_cap", "suppressed", "offer_cap", "not_at_checkout")
(SENT, HOLDOUT, NO_CONSENT, CONTACT_LIMIT, MIN_GAP, CAPACITY, BUDGET, SEGMENT_CAP, SUPPRESSED,
 OFFER_CAP, NOT_AT_CHECKOUT) = range(len(REASONS))
BUDGET_TOLERANCE = 1e-9
"""Money by which spend may exceed a budget (float sums of prices)."""
PHONE = CHANNELS.index("phone")
"""The channel with a daily capacity (calls the phone team can make)."""
POS = len(CHANNELS)
"""Code of the point-of-sale channel (`sim.pos`): shown only at a checkout's till, so in a
batch (CampaignDay-v0, `Campaign.oracle`) always stopped as `NOT_AT_CHECKOUT`."""


class ContactRules(FrozenModel):
    """Contact policy and budget of a campaign."""

    max_per_7_days: Annotated[int, Field(ge=1, le=7)] = 2
    """At most this many contact days per customer in any 7 days."""
    min_gap_days: Annotated[int, Field(ge=0, le=30)] = 2
    """At least this many days between two contacts of a customer."""
    budget: NonNegative | None = None
    """Money per budget period for messages and redeemed discounts (None: no budget)."""
    budget_period_days: Annotated[int, Field(ge=1)] = 30
    """Length of a budget period in days."""
    segment_caps: tuple[SegmentCap, ...] = ()
    """Caps per RFM segment, each {segment, messages, days}: a customer in `segment` today
    gets at most `messages` contact days in any `days` days (1 to 32), today included
    (reason "segment_cap")."""
    suppress: tuple[Suppression, ...] = ()
    """Offers withheld from segments, each {segment, offers}: `offers` never reach a customer
    in `segment` today (reason "suppressed")."""
    offer_caps: tuple[OfferCap, ...] = ()
    """Caps per offer, each {offer, messages, days}: a customer receives `offer` at most
    `messages` times (1 to 10) in any `days` days, today included (reason "offer_cap")."""

    @property
    def by_offer(self) -> bool:
        """Whether a rule depends on the offer (a suppression or an offer cap)."""
        return bool(self.suppress or self.offer_caps)


@dataclass
class Ledger:
    """What the rules need to remember across decisions: capacity used today, money spent.

    Attributes:
        day: the day `capacity_used` refers to.
        capacity_used: calls made today.
        period: index of the current budget period; spent: money spent in it.
    """

    day: int = -1
    capacity_used: int = 0
    period: int = -1
    spent: float = 0.0

    def admit(self, phone: bool, cost: float, capacity: int, budget: float | None) -> int:
        """One decision's shared limits, first come first served: `SENT`, `CAPACITY` or `BUDGET`.

        A call takes one of today's `capacity` calls; `cost` (the worst case) must fit what is
        left of `budget`. Nothing is charged: the caller adds what was actually spent.
        """
        if phone and self.capacity_used >= capacity:
            return CAPACITY
        if budget is not None and self.spent + cost > budget + BUDGET_TOLERANCE:
            return BUDGET
        self.capacity_used += phone
        return SENT

    def calls_left(self, day: int, capacity: int) -> int:
        """Phone calls still allowed on `day` out of `capacity` (all of them on a new day)."""
        return max(capacity - (self.capacity_used if self.day == day else 0), 0)

    def money_left(self, day: int, period_days: int, budget: float) -> float:
        """Money still allowed in the budget period of `day` (all of it in a new period)."""
        return budget - (self.spent if self.period == day // period_days else 0.0)

    def roll(self, day: int, period_days: int) -> None:
        """Start a new day (and a new budget period when one begins)."""
        if day != self.day:
            self.day, self.capacity_used = day, 0
        if day // period_days != self.period:
            self.period, self.spent = day // period_days, 0.0


def contacts_last_7_days(contact_days: np.ndarray, last_contact_day: np.ndarray,
                         day: int, window: int = 7) -> np.ndarray:
    """Contact days among the `window` days before `day` (today excluded; window <= 31).

    Args:
        contact_days: (n,) uint32 bit mask, bit k = a contact k days before `last_contact_day`.
        last_contact_day: (n,) int16 day of the last contact.
        day: today.
        window: how many days back to count.

    Returns:
        (n,) uint8 counts.
    """
    return _contacts_within(contact_days, _days_since(last_contact_day, day), window)


def _days_since(last_contact_day: np.ndarray, day: int) -> np.ndarray:
    """(n,) int32 days from the last contact to `day`."""
    return np.subtract(np.int32(day), last_contact_day, dtype=np.int32)


def _contacts_within(contact_days: np.ndarray, since: np.ndarray, window: int) -> np.ndarray:
    """`contacts_last_7_days` from the days since the last contact (`_days_since`)."""
    # Bit k is a contact gap + k days before today (gap = day - last contact): the window's
    # days 1 to `window` are the bits of the window mask shifted right by the gap.
    # (numpy shifts a uint32 by 32 or more to 0.)
    gap = np.clip(since, 0, 32, out=np.empty_like(since)).view(np.uint32)
    return np.bitwise_count(contact_days & np.right_shift(np.uint32(((1 << window) - 1) << 1),
                                                          gap))


def contact_reasons(contact_days: np.ndarray, last_contact_day: np.ndarray, day: int,
                    rules: ContactRules, segment: np.ndarray | None = None) -> np.ndarray:
    """`CONTACT_LIMIT`, `MIN_GAP`, `SEGMENT_CAP` or `SENT` per customer, from the contact history.

    Args:
        contact_days: (n,) contact bit masks.
        last_contact_day: (n,) day of the last contact.
        day: today.
        rules: the contact policy.
        segment: (n,) RFM segment codes; needed when `rules` has segment caps.

    Returns:
        (n,) int8 reason codes.
    """
    since = _days_since(last_contact_day, day)
    limit = _contacts_within(contact_days, since, 7) >= rules.max_per_7_days
    gap = (since < rules.min_gap_days) & ~limit  # the limit comes first
    reason = (limit.view(np.int8) * np.int8(CONTACT_LIMIT)) | (gap.view(np.int8)
                                                               * np.int8(MIN_GAP))
    if rules.segment_caps:
        reason[(reason == SENT) & segment_capped(segment, contact_days, since,
                                                 rules.segment_caps)] = SEGMENT_CAP
    return reason


def offer_reasons(suppressed: np.ndarray, capped: np.ndarray) -> np.ndarray:
    """`SUPPRESSED`, `OFFER_CAP` or `SENT` per customer and offer.

    Args:
        suppressed: (n, len(OFFERS)) bool, offers withheld from each customer's segment
            (`offer_rules.suppression_table` read at the customers' segments).
        capped: (n, len(OFFERS)) bool, offers whose cap each customer reached
            (`offer_rules.OfferHistory.blocked`).

    Returns:
        (n, len(OFFERS)) int8 reason codes; column 0 (no offer) is `SENT`.
    """
    reason = np.where(suppressed, np.int8(SUPPRESSED),
                      np.where(capped, np.int8(OFFER_CAP), np.int8(SENT)))
    reason[:, 0] = SENT
    return reason


def within_budget(cost: np.ndarray, left: float) -> np.ndarray:
    """Which of `cost`, granted in order, fit in `left`: (n,) bool, True up to the first miss.

    Costs are non-negative, so the running total crosses `left` once.
    """
    return np.cumsum(cost) <= left + BUDGET_TOLERANCE


def customer_reasons(channel, holdout, consent, contact_reason, offer_reason=None
                     ) -> np.ndarray:
    """The per-customer rules: the first one an action on `channel` breaks, or `SENT`.

    Holdout, then consent to the channel, then the contact history (`contact_reasons`), then
    the offer's rules (`offer_reasons`, read at each action's offer). No action (channel -1)
    breaks none; a pos action (`POS`), outside the holdout, is `NOT_AT_CHECKOUT` (these rules
    are the batch's; `MomentQueue` decides a checkout's pos offers itself). Arguments
    broadcast: aligned (n,) arrays for one action per customer, or
    (n, 1) customers against (1, k) channels for a grid.

    Args:
        channel: channel of each action, -1 for no action.
        holdout: customers nobody may contact.
        consent: uint8 consent bit masks.
        contact_reason: `contact_reasons` of each customer.
        offer_reason: the offer rules' reason code of each action (None: no such rules).

    Returns:
        int8 reason codes, the broadcast shape.
    """
    reason = combine_reasons(np.asarray(holdout, dtype=np.int8), consents(consent, channel),
                             np.asarray(contact_reason, dtype=np.int8))
    if offer_reason is not None:
        reason = np.where(reason == SENT, np.asarray(offer_reason, dtype=np.int8), reason)
    channel = np.asarray(channel)
    if (channel == POS).any():
        reason = np.where((channel == POS) & (reason != HOLDOUT), np.int8(NOT_AT_CHECKOUT),
                          reason)
    return reason * (channel >= 0)  # no action: SENT, 0


def consents(consent, channel):
    """1 where the customer consents to the action's channel, else 0 (broadcasts).

    Args:
        consent: uint8 consent bit masks (bit j: channel j).
        channel: channel of each action; -1 (no action) reads bit 0.

    Returns:
        int8 zeros and ones.
    """
    return (consent.astype(np.int8) >> np.maximum(channel, 0).astype(np.int8)) & 1


def combine_reasons(holdout, consents, contact_reason):
    """The first rule a customer's action breaks: holdout, then consent, then contact history.

    Arguments are aligned arrays or single values (one decision at a time).
    """
    return (holdout * HOLDOUT + (1 - holdout) * ((1 - consents) * NO_CONSENT
                                                 + consents * contact_reason))


def check(channel: np.ndarray, price: np.ndarray, holdout: np.ndarray, consent: np.ndarray,
          contact_days: np.ndarray, last_contact_day: np.ndarray, day: int,
          rules: ContactRules, capacity: int, budget: float | None,
          ledger: Ledger, segment: np.ndarray | None = None,
          offer_reason: np.ndarray | None = None) -> np.ndarray:
    """Reason code per requested action; the ledger is charged for those sent.

    Capacity and budget are granted in row order, first come first served.

    Args:
        channel: (n,) channel per action, -1 for no action (always allowed, reason `SENT`).
        price: (n,) cost charged to the budget when sent.
        holdout: (n,) customers nobody may contact.
        consent: (n,) uint8 consent bit masks.
        contact_days: (n,) contact bit masks.
        last_contact_day: (n,) day of the last contact.
        day: today.
        rules: the contact policy.
        capacity: phone calls allowed today.
        budget: money allowed this period (None: unlimited), after shocks.
        ledger: capacity and spend so far; updated in place.
        segment: (n,) RFM segment codes (needed with segment caps).
        offer_reason: (n,) `offer_reasons` at each action's offer (None: no offer rules).

    Returns:
        (n,) int8 reason codes (`SENT` = allowed).
    """
    ledger.roll(day, rules.budget_period_days)
    send = channel >= 0
    reason = customer_reasons(channel, holdout, consent,
                              contact_reasons(contact_days, last_contact_day, day, rules,
                                              segment), offer_reason)
    phone = np.flatnonzero(send & (reason == SENT) & (channel == PHONE))
    over = phone[ledger.calls_left(day, capacity):]
    reason[over] = CAPACITY
    ledger.capacity_used += phone.size - over.size
    ok = np.flatnonzero(send & (reason == SENT))
    if budget is not None and ok.size:
        within = within_budget(price[ok], ledger.money_left(day, rules.budget_period_days,
                                                            budget))
        reason[ok[~within]] = BUDGET
        ok = ok[within]
    ledger.spent += float(price[ok].sum())
    return reason
