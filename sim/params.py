"""Typed, frozen scenario parameters, validated once at the boundary.

Every field carries its allowed range, so a bad override fails with a message naming the
field, the value and what is allowed (see `ParameterError`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError, model_validator

from nbasim.sim.geography_params import GeographyParams
from nbasim.sim.param_types import (
    ACTION_CHANNELS,
    CHANNELS,
    OFFERS,
    POS,
    WORDINGS,
    FrozenModel,
    NonNegative,
    ParameterError,
    Positive,
    PositiveInt,
    Probability,
    Quad,
)
from nbasim.sim.population_params import HourPeak, TraitParams
from nbasim.sim.response_params import OfferScaleParams, ResponseParams

__all__ = ["ACTION_CHANNELS", "CHANNELS", "OFFERS", "POS", "WORDINGS", "CategorySpec",
           "FrozenModel", "GeographyParams", "HourPeak", "NonNegative", "OfferScaleParams",
           "ParameterError", "Positive", "PositiveInt", "Probability", "Quad", "ResponseParams",
           "ScenarioParams", "StoreSpec", "TraitParams", "allowed", "describe_error", "validate"]


class StoreSpec(FrozenModel):
    """One service point on the city grid (coordinates in grid cells)."""

    name: str
    """Store name, unique in the scenario ("online" is the online shop's)."""
    x: NonNegative
    """Column position on the grid, in cells (0 to city_size)."""
    y: NonNegative
    """Row position on the grid, in cells (0 to city_size)."""
    attractiveness: Positive = 1.0
    """Huff attractiveness A of the store (relative floor space or appeal)."""


class CategorySpec(FrozenModel):
    """One product or service category."""

    name: str
    """Category name, unique in the scenario."""
    price_level: Positive = 1.0
    """Basket multiplier of the category (1: the Gamma-Gamma basket itself)."""
    margin: Probability = 0.4
    """Margin as a share of spend."""
    cycle_days: Positive = 30.0
    """Typical days between two purchases of the category (its readiness grows over it)."""
    affinity: Positive = 1.0
    """Dirichlet weight of the category in customers' affinities."""


class ScenarioParams(FrozenModel):
    """All parameters of a world; scenarios are named presets of these.

    Purchase and dropout follow BG/NBD with per-week parameters (r, alpha, a, b); spend follows
    Gamma-Gamma (p, q, gamma). Defaults are the CDNOW fits of Fader, Hardie and Lee (2005),
    "Counting your customers the easy way" and "RFM and CLV: using iso-value curves".
    """

    name: str
    """Scenario name."""
    description: str = ""
    """One line on what the scenario models."""
    start_date: dt.date = dt.date(2026, 1, 1)
    """Calendar date of day 0 (drives weekday and yearly seasonality)."""

    # Purchase process and latent traits.
    bgnbd_r: Positive = 0.243
    """BG/NBD shape r of the Gamma purchase rate (per week); CDNOW fit (FHL 2005)."""
    bgnbd_alpha: Positive = 4.414
    """BG/NBD rate parameter alpha of the Gamma purchase rate (per week)."""
    bgnbd_a: Positive = 0.793
    """BG/NBD Beta a of the dropout probability after each repeat purchase; CDNOW fit."""
    bgnbd_b: Positive = 2.426
    """BG/NBD Beta b of the dropout probability after each repeat purchase; CDNOW fit."""
    gg_p: Positive = 6.25
    """Gamma-Gamma shape p of a basket; CDNOW fit (FHL 2005, "RFM and CLV")."""
    gg_q: Annotated[float, Field(gt=1)] = 3.74
    """Gamma-Gamma shape q of the customer's basket rate nu."""
    gg_gamma: Positive = 15.44
    """Gamma-Gamma rate parameter gamma of the customer's basket rate nu."""
    spend_scale: Positive = 1.0
    """Currency scale applied to every basket."""
    purchase_process: Literal["poisson", "renewal"] = "poisson"
    """'poisson' (BG/NBD) or 'renewal' (a purchase every renewal_days, dropout at each renewal,
    Poisson add-ons).
    """
    renewal_days: PositiveInt = 30
    """Renewal period of the 'renewal' process."""

    # The living base.
    acquisition_rate: NonNegative = 0.0008
    """Newcomers per day, as a share of the day-0 base."""
    burn_in_days: Annotated[int, Field(ge=1, le=3650)] = 730
    """The day-0 base joined over this many days before day 0 (BG/NBD history)."""
    burn_in_profile: tuple[NonNegative, ...] = ()
    """Relative numbers of the day-0 base by join age, youngest first, in equal bins over
    burn_in_days (bin i: ages round(i D / k) + 1 to round((i + 1) D / k) days, D = burn_in_days,
    k bins); empty: joins spread evenly. A calibration fills it from a transaction log.
    """

    # Geography.
    city_size: Annotated[int, Field(ge=2, le=180)] = 20
    """The city is a city_size x city_size grid of zones."""
    stores: tuple[StoreSpec, ...] = Field(min_length=1, max_length=250)
    """Service points: name, x, y (grid cells) and attractiveness."""
    huff_distance_decay: Positive = 2.0
    """Huff gravity exponent beta on distance; 2, the classic gravity value (Huff 1963)."""
    commuter_share: Probability = 0.6
    """Share of customers who work in another zone (weekday daytime visits start there).
    Our choice.
    """
    visit_hour_weekday: tuple[NonNegative, ...] = Field(
        default=(0, 0, 0, 0, 0, 0, 0, 1, 4, 3, 2, 2, 3, 2, 2, 2, 3, 5, 5, 3, 1, 0, 0, 0),
        min_length=24, max_length=24)
    """Weights of 24 hours for customers' preferred weekday visit hour."""
    visit_hour_weekend: tuple[NonNegative, ...] = Field(
        default=(0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 4, 4, 4, 3, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0),
        min_length=24, max_length=24)
    """Weights of 24 hours for weekend visits."""
    visit_hour_sd: Positive = 1.0
    """Standard deviation in hours of a weekday visit around the customer's preferred hour
    (rounded to the hour). Our choice: people keep to their routine within an hour or so.
    """

    # Catalog.
    categories: tuple[CategorySpec, ...] = Field(min_length=1, max_length=32)
    """Categories: name, price_level, margin, cycle_days, affinity (Dirichlet weight)."""
    sequence_boost: tuple[tuple[str, str, Positive], ...] = ()
    """(previous, next, odds multiplier) of the category sequence matrix. Category readiness
    and affinity dilute it: in the dry-cleaning chain shirts then outerwear at 3 makes
    outerwear the next purchase after shirts 11 % of the time against 7 % after others; the
    `dry_cleaning_seeds` preset's 9 makes it 22 % against 7 % (measured on a simulated log,
    `sim.sequences`; tests/sim/test_sequences.py).
    """
    sequence_repeat: Positive = 1.5
    """Odds multiplier of buying the same category again."""
    category_readiness_floor: Annotated[float, Field(gt=0, le=1)] = 0.05
    """Least readiness 1 - exp(-recency / cycle_days) of a category in the choice odds, so a
    category bought just now can still be chosen. Our choice.
    """

    # Seasonality: weekday multipliers (Monday first), a yearly wave and a holiday peak.
    weekly: tuple[Positive, ...] = Field(default=(1, 1, 1, 1, 1, 1, 1), min_length=7, max_length=7)
    """Demand multipliers Monday to Sunday."""
    yearly_amplitude: Annotated[float, Field(ge=0, lt=1)] = 0.1
    """Amplitude of the yearly demand wave."""
    yearly_peak_day: Annotated[int, Field(ge=0, le=365)] = 172
    """Day of year at the top of the yearly wave."""
    holiday_height: NonNegative = 0.6
    """Height of the holiday demand peak (relative)."""
    holiday_day: Annotated[int, Field(ge=0, le=365)] = 350
    """Day of year of the holiday peak."""
    holiday_width_days: Positive = 10.0
    """Standard deviation of the holiday peak in days."""

    # Churn beyond BG/NBD dropout: a daily hazard rising with recency and fatigue.
    churn_base: Probability = 0.0002
    """Daily churn hazard beyond BG/NBD dropout, at recency 0."""
    churn_recency_days: Positive = 90.0
    """The hazard grows by churn_base every this many days since the last purchase."""
    churn_recency_cap: Annotated[float, Field(ge=1)] = 4.0
    """The recency factor of the hazard stops growing at this multiple."""
    churn_fatigue_weight: NonNegative = 0.5
    """Hazard multiplier per unit of summed contact fatigue."""
    fatigue_half_life_days: Positive = 7.0
    """Half-life of contact fatigue."""

    # Lifecycle thresholds in days since the last purchase.
    at_risk_days: PositiveInt = 60
    """Days without a purchase to enter the at-risk stage."""
    lapsed_days: PositiveInt = 120
    """Days without a purchase to enter the lapsed stage."""
    churned_days: PositiveInt = 240
    """Days without a purchase to enter the churned stage."""

    # Online shop and carts.
    online_share_mean: Probability = 0.0
    """Mean share of shopping done online (0: no online shop)."""
    cart_abandon_ratio: NonNegative = 2.0
    """Online sessions ending in an abandoned cart per online purchase."""
    cart_ttl_days: PositiveInt = 7
    """Days an abandoned cart stays open."""

    # Contact traits.
    channel_affinity_mean: tuple[Probability, Probability, Probability, Probability] = (
        0.5, 0.3, 0.25, 0.1)
    """Mean affinity for email, sms, push, phone. Our choice."""
    consent_rate: tuple[Probability, Probability, Probability, Probability] = (
        0.7, 0.5, 0.4, 0.3)
    """Share of customers who consent to email, sms, push, phone. Our choice."""
    responsiveness_mean: float = 0.5
    """Mean treatment responsiveness (below 0: contact harms, sleeping dogs). Our choice:
    with sd 0.5, about 16 % of customers are sleeping dogs.
    """
    responsiveness_sd: Positive = 0.5
    """Spread of treatment responsiveness across customers."""
    price_sensitivity_beta: tuple[Positive, Positive] = (2.0, 3.0)
    """Beta(a, b) of price sensitivity. Our choice: mean 0.4, most customers moderate."""
    offers: tuple[Literal[OFFERS[1:]], ...] = Field(default=OFFERS[1:], min_length=1)
    """Offers of the action catalog (no action is always there)."""
    channels: tuple[Literal[ACTION_CHANNELS], ...] = Field(default=CHANNELS, min_length=1)
    """Channels of the action catalog: the message channels by default; add "pos" for
    point-of-sale offers at NextBestAction-v0 checkout moments (`sim.pos`; opt-in, so that
    the default catalogs, action indices and features stay as they were).
    """
    cross_sell_targets: tuple[str, ...] = ()
    """Categories that get a cross-sell of their own (`cross_sell` targeting the category,
    beside the untargeted one): its effect follows the customer's affinity for the category
    and the category's place in their purchase sequence, and the purchase it causes is of
    that category. Empty (the default): the catalog has the untargeted offer only.
    """
    visit_bonus_targets: tuple[str, ...] = ()
    """Stores that get a visit bonus of their own (`second_store_bonus` targeting the store):
    its effect falls with the store's distance from the customer's home or work zone, it is
    nil for the customer's primary store, and the visit it causes is at that store. Empty
    (the default): the untargeted offer only.
    """
    traits: TraitParams = TraitParams()
    """How contact traits are drawn: affinity spread, wording shares, send-hour peaks."""
    geography: GeographyParams = GeographyParams()
    """Home and job densities, the distance offset and the working day."""
    response: ResponseParams = ResponseParams()
    """How customers react to actions (channels, offers, fatigue, unsubscribes)."""

    @model_validator(mode="after")
    def _check(self) -> ScenarioParams:
        names = [c.name for c in self.categories]
        if len(set(names)) != len(names):
            raise ValueError(f"category names must be unique, got {names}")
        for src, dst, _ in self.sequence_boost:
            for n in (src, dst):
                if n not in names:
                    raise ValueError(f"sequence_boost names unknown category {n!r}; "
                                     f"categories are {names}")
        stores = [s.name for s in self.stores]
        if len(set(stores)) != len(stores) or "online" in stores:
            raise ValueError(f"store names must be unique and not 'online' (the online shop), "
                             f"got {stores}")
        for field, offer, allowed in (("cross_sell_targets", "cross_sell", names),
                                      ("visit_bonus_targets", "second_store_bonus", stores)):
            given = getattr(self, field)
            bad = [g for g in given if g not in allowed]
            if bad or len(set(given)) != len(given):
                raise ValueError(f"{field} = {list(given)}: each must be one of {allowed}, "
                                 "no repeats")
            if given and offer not in self.offers:
                raise ValueError(f"{field} = {list(given)} needs the offer {offer!r} in offers")
        for s in self.stores:
            if s.x > self.city_size or s.y > self.city_size:
                raise ValueError(f"store {s.name!r} at ({s.x}, {s.y}) lies outside the "
                                 f"{self.city_size}x{self.city_size} city")
        if not self.at_risk_days < self.lapsed_days < self.churned_days:
            raise ValueError("lifecycle thresholds must satisfy at_risk_days < lapsed_days < "
                             f"churned_days, got {self.at_risk_days}, {self.lapsed_days}, "
                             f"{self.churned_days}")
        if self.burn_in_profile and (len(self.burn_in_profile) > self.burn_in_days
                                     or sum(self.burn_in_profile) <= 0):
            raise ValueError(f"burn_in_profile must have at most burn_in_days = "
                             f"{self.burn_in_days} bins and a positive sum, got "
                             f"{len(self.burn_in_profile)} bins summing to "
                             f"{sum(self.burn_in_profile)}")
        if sum(self.visit_hour_weekday) <= 0 or sum(self.visit_hour_weekend) <= 0:
            raise ValueError("visit hour patterns need at least one positive hour")
        return self


_BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "at least",
           "max_length": "at most"}


def allowed(model: type[BaseModel], field: str) -> str:
    """What a field accepts: its type and bounds, e.g. "float, >= 0, <= 1"."""
    info = model.model_fields.get(field)
    if info is None:
        return ""
    ann = info.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):  # a nested model: its own rules
        return ""
    args = [a for a in get_args(ann) if a is not type(None)]
    if get_origin(ann) is Literal:
        return "one of " + ", ".join(map(str, args))
    metadata = list(info.metadata)
    if args and get_origin(ann) is not tuple and len(args) == 1:  # Optional[X]
        ann = args[0]
    if get_origin(ann) is Annotated:
        ann, *extra = get_args(ann)
        metadata += [m for e in extra for m in getattr(e, "metadata", [e])]
    kind = getattr(ann, "__name__", str(ann)).replace("typing.", "")
    each = []
    if get_origin(ann) is tuple:
        kind = f"list of {len(args)} values" if Ellipsis not in args else "list"
        item = get_args(ann)[0] if get_args(ann) else None
        if get_origin(item) is Annotated:  # bounds every item shares, e.g. "each >= 0"
            each = [m for e in get_args(item)[1:] for m in getattr(e, "metadata", [e])]
    parts = [kind] + _bounds(metadata) + [f"each {b}" for b in _bounds(each)]
    return ", ".join(parts)


def _bounds(metadata: list) -> list[str]:
    """Bounds in pydantic field metadata as words, e.g. [">= 0", "<= 1"]."""
    return [f"{word} {getattr(meta, attr)}" for meta in metadata
            for attr, word in _BOUNDS.items() if getattr(meta, attr, None) is not None]


def _owner(model: type[BaseModel], loc: tuple) -> tuple[type[BaseModel], str]:
    """The model and field an error location ends in, through nested models.

    E.g. ("response", "offer_scale", "discount_base") -> (OfferScaleParams, "discount_base"),
    and through lists of models: ("segment_caps", 0, "days") -> (SegmentCap, "days").
    """
    field = str(loc[0])
    parts = iter(loc[1:])
    for part in parts:
        info = model.model_fields.get(field)
        sub = info.annotation if info is not None else None
        item = get_args(sub)[0] if get_origin(sub) is tuple and get_args(sub) else None
        if isinstance(part, int) and isinstance(item, type) and issubclass(item, BaseModel):
            # An item of a list of models, e.g. ("suppress", 0, "offers"): that model's field.
            field_of_item = next(parts, None)
            if field_of_item not in item.model_fields:
                break
            model, field = item, str(field_of_item)
            continue
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)
                and part in sub.model_fields):
            break
        model, field = sub, str(part)
    return model, field


def _keys_at(model: type[BaseModel], loc: tuple) -> tuple[str, ...]:
    """The keys allowed where an unknown key `loc[-1]` was given, or () if not in a model.

    Through nested models and lists of them, e.g. ("policies", 0, "name") -> the fields of
    `PolicySpec`.
    """
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        inner = (info.annotation, *get_args(info.annotation)) if info is not None else ()
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)),
                     None)
        if model is None:
            return ()
    return tuple(model.model_fields)


def describe_error(err: ValidationError, model: type[BaseModel], what: str) -> str:
    """Turn a pydantic error into one clause per field: name, value given, what is allowed."""
    lines = []
    for e in err.errors():
        if not e["loc"]:  # a rule across fields
            lines.append(f"{what}: {e['msg'].removeprefix('Value error, ')}")
            continue
        field = ".".join(str(p) for p in e["loc"])
        given = e.get("input")
        given_s = "" if isinstance(given, dict) else f" = {given!r}"
        if e["type"] == "extra_forbidden":
            keys = _keys_at(model, e["loc"])
            rule = f"the keys {', '.join(keys)}" if keys else ""
        else:
            rule = allowed(*_owner(model, e["loc"]))
        lines.append(f"{what} field '{field}'{given_s}: "
                     f"{e['msg'].removeprefix('Value error, ')}"
                     + (f" (allowed: {rule})" if rule else ""))
    return "; ".join(lines)


def validate(model: type[BaseModel], data: dict, what: str) -> BaseModel:
    """Validate `data` into `model`, raising `ParameterError` with a readable message."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ParameterError(describe_error(err, model, what)) from None
