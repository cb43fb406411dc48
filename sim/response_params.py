"""Parameters of the response to an action: channels, offers, wording, fatigue, unsubscribes.

Sources: the e-mail figures follow Mailchimp's "Email Marketing Benchmarks" (October 2019,
all industries: 21.33 % unique opens, 2.62 % clicks, so about 12 % of opens click; hard plus
soft bounces about 1 %; unsubscribes about 0.25 % of a campaign). Everything else is our
choice, stated with its reason, and meant to be overridden or calibrated (`sim.effects` fits
`offer_effect` to a measured test).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from nbasim.sim.param_types import OFFERS, FrozenModel, NonNegative, Positive, Probability, Quad


class OfferScaleParams(FrozenModel):
    """The customer-specific part of each offer's effect, multiplying `offer_effect`.

    Each scale is near 1 for a typical customer, so `offer_effect` reads as the offer's
    average lift among openers; the slopes say who the offer works on. All our choice.
    """

    discount_base: NonNegative = 0.4
    """Discount scale at price sensitivity 0 (scale = base + slope x price sensitivity).
    Our choice: 0.4 + 1.2 x 0.4 = 0.88 at the mean of the default Beta(2, 3) sensitivity, and
    the most price-sensitive react four times as much as the least (1.6 / 0.4).
    """
    discount_per_price_sensitivity: NonNegative = 1.2
    """Slope of the discount scale in price sensitivity (0 to 1). Our choice, see above."""
    free_delivery_base: NonNegative = 0.3
    """Free-delivery scale of a customer who never shops online (base + slope x online
    share). Our choice: free delivery matters little to store-only customers.
    """
    free_delivery_per_online_share: NonNegative = 1.4
    """Slope of the free-delivery scale in online share (0 to 1). Our choice: 1.7 for a
    customer who shops only online.
    """
    cross_sell_base: NonNegative = 0.5
    """Cross-sell scale at affinity 0 for the suggested category (base + slope x affinity).
    Our choice: a suggestion works mostly on customers who already like the category.
    """
    cross_sell_per_affinity: NonNegative = 2.0
    """Slope of the cross-sell scale in the suggested category's affinity (0 to 1)."""
    loyalty_base: NonNegative = 0.3
    """Loyalty-points scale of a first-time buyer (base + slope x min(frequency / full, 1)).
    Our choice: points appeal to those who already buy often.
    """
    loyalty_per_frequency: NonNegative = 1.2
    """Slope of the loyalty-points scale, reached in full at `loyalty_full_frequency`."""
    loyalty_full_frequency: Positive = 10.0
    """Purchases at which the loyalty-points scale stops growing. Our choice."""
    second_store_scale: NonNegative = 2.0
    """Second-store bonus scale for a second store at distance 0
    (scale x exp(-distance / second_store_distance_cells)). Our choice.
    """
    second_store_distance_cells: Positive = 4.0
    """Grid cells over which the second-store bonus falls by a factor e. Our choice: a
    second store more than a few cells away is not worth the trip.
    """
    win_back_at_risk: NonNegative = 0.8
    """Win-back scale of an at-risk customer. Our choice: the longer a customer has been
    gone, the more a win-back offer can do (at risk < lapsed < churned).
    """
    win_back_lapsed: NonNegative = 1.2
    """Win-back scale of a lapsed customer. Our choice, see `win_back_at_risk`."""
    win_back_churned: NonNegative = 1.5
    """Win-back scale of a churned customer. Our choice, see `win_back_at_risk`."""
    win_back_other: NonNegative = 0.1
    """Win-back scale of a new, active or reactivated customer. Our choice: little to win."""
    cart_decay_days: Positive = 3.0
    """Days over which a cart reminder's pull falls by a factor e as the cart ages. Our
    choice: abandoned-cart reminders work in the first days.
    """
    cart_value_base: NonNegative = 0.5
    """Cart-reminder scale at a cart worth nothing (min(base + cart / basket, cap)). Our
    choice: a fuller cart pulls harder.
    """
    cart_value_cap: Positive = 2.0
    """Largest cart-reminder scale from the cart's value. Our choice."""


class ResponseParams(FrozenModel):
    """How customers react to actions; channels in the order email, sms, push, phone."""

    attribution_days: Annotated[int, Field(ge=1, le=60)] = 7
    """Days after a send during which a conversion is attributed to it. Our choice: the
    common 7-day click window of CRM attribution.
    """
    channel_price: tuple[NonNegative, NonNegative, NonNegative, NonNegative] = (
        0.003, 0.04, 0.001, 1.5)
    """Cost of one message (a call for phone). Our choice: the order of magnitude of bulk
    e-mail, SMS and push prices and of a call-centre minute.
    """
    delivery: Quad = (0.97, 0.98, 0.92, 0.55)
    """Probability a message is delivered (a call answered). E-mail: about 1 % bounces
    (Mailchimp 2019) plus spam filtering; the rest our choice.
    """
    open_rate: Quad = (0.25, 0.9, 0.12, 0.8)
    """Probability a delivered message is opened (a call heard out), at affinity 0.5.
    E-mail: near Mailchimp 2019 (21.33 % of sends opened, before the slot and affinity fit);
    the rest our choice (nearly every SMS is read, few pushes are).
    """
    click_rate: Quad = (0.12, 0.08, 0.07, 0.3)
    """Probability an opened message is clicked. E-mail: Mailchimp 2019 (2.62 % clicks of
    21.33 % opens); the rest our choice.
    """
    click_weight: NonNegative = 2.0
    """How much more the offer works on those who click than on those who only open. Our
    choice.
    """
    slot_width_hours: Positive = 3.0
    """How fast opens fall as the send slot moves away from the preferred hour. Our choice."""
    slot_fit_floor: Probability = 0.5
    """Share of opens a message keeps when sent far from the customer's preferred hour
    (fit = floor + (1 - floor) x exp(-gap^2 / (2 width^2))). Our choice: send time shifts
    opens, it does not decide them.
    """
    open_affinity_offset: NonNegative = 0.5
    """Opens scale with (offset + channel affinity), so `open_rate` holds at affinity 0.5.
    Our choice: affinity 0 to 1 moves opens from half to one and a half times the rate.
    """
    wording_match: Positive = 1.3
    """Effect and click multiplier when the wording is the customer's preferred one. Our
    choice.
    """
    wording_miss: Positive = 0.9
    """Effect and click multiplier for any other wording. Our choice."""
    offer_effect: tuple[float, ...] = Field(
        default=(0.0, 0.05, 0.09, 0.12, 0.04, 0.05, 0.04, 0.04, 0.12, 0.2),
        min_length=len(OFFERS), max_length=len(OFFERS))
    """Base conversion lift of each offer among those who open, in `OFFERS` order. Our
    choice; fit it to a measured test with `nbasim calibrate-campaign`.
    """
    offer_scale: OfferScaleParams = OfferScaleParams()
    """The customer-specific part of each offer's effect."""
    fatigue_damping: NonNegative = 0.5
    """Effect x exp(-damping x (fatigue of the channel + spill-over x fatigue of others)).
    Our choice.
    """
    fatigue_spill: Probability = 0.3
    """Share of other channels' fatigue that also damps a channel. Our choice."""
    fatigue_per_message: Positive = 1.0
    """Fatigue added to a channel by one delivered message (the unit of fatigue)."""
    unsubscribe_rate: Quad = (0.002, 0.008, 0.004, 0.02)
    """Probability a delivered message leads to an unsubscribe, at zero fatigue. E-mail:
    Mailchimp 2019 (about 0.25 % of a campaign); the rest our choice.
    """
    sleeping_dog_unsubscribe: Probability = 0.1
    """Extra unsubscribe probability of an opening customer per unit of negative effect. Our
    choice.
    """
    sleeping_dog_churn: Probability = 0.05
    """Probability that an opening customer churns, per unit of negative effect. Our
    choice.
    """
    pos_annoyance: Annotated[float, Field(ge=0, le=1)] = 0.01
    """What a point-of-sale offer at the till takes off its effect (`sim.pos`): instead of
    message fatigue, each offer shown annoys a little, so an offer of less effect than this
    puts the customer off their next visit with probability (annoyance - effect). Our
    choice: half the mildest offer's effect on a typical customer (responsiveness 0.5 x the
    0.04 of free delivery or cross-sell), so it bites only where an offer does almost nothing.
    """
    phone_capacity_per_1000: NonNegative = 2.0
    """Calls the phone team can make per day, per 1,000 present customers. Our choice."""
