"""Typed, frozen scenario parameters, validated once at the boundary.

Every field carries its allowed range, so a bad override fails with a message naming the
field, the value and what is allowed (see `ParameterError`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]

CHANNELS = ("email", "sms", "push", "phone")
WORDINGS = ("rational", "emotional", "urgency", "social_proof")


class ParameterError(ValueError):
    """A parameter, override or option that is not allowed; the message names field and value."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreSpec(_Frozen):
    """One service point on the city grid (coordinates in grid cells)."""

    name: str
    x: NonNegative
    y: NonNegative
    attractiveness: Positive = 1.0


class CategorySpec(_Frozen):
    """One product or service category."""

    name: str
    price_level: Positive = 1.0
    margin: Probability = 0.4
    cycle_days: Positive = 30.0
    affinity: Positive = 1.0


class ScenarioParams(_Frozen):
    """All parameters of a world; scenarios are named presets of these.

    Purchase and dropout follow BG/NBD with per-week parameters (r, alpha, a, b); spend follows
    Gamma-Gamma (p, q, gamma). Defaults are the CDNOW fits of Fader, Hardie and Lee (2005),
    "Counting your customers the easy way" and "RFM and CLV: using iso-value curves".
    """

    name: str
    description: str = ""
    start_date: dt.date = dt.date(2026, 1, 1)

    # Purchase process and latent traits.
    bgnbd_r: Positive = 0.243
    bgnbd_alpha: Positive = 4.414
    bgnbd_a: Positive = 0.793
    bgnbd_b: Positive = 2.426
    gg_p: Positive = 6.25
    gg_q: Annotated[float, Field(gt=1)] = 3.74
    gg_gamma: Positive = 15.44
    spend_scale: Positive = 1.0
    purchase_process: Literal["poisson", "renewal"] = "poisson"
    renewal_days: PositiveInt = 30

    # The living base.
    acquisition_rate: NonNegative = 0.0008
    burn_in_days: Annotated[int, Field(ge=1, le=3650)] = 730

    # Geography.
    city_size: Annotated[int, Field(ge=2, le=180)] = 20
    stores: tuple[StoreSpec, ...] = Field(min_length=1, max_length=250)
    huff_distance_decay: Positive = 2.0
    commuter_share: Probability = 0.6
    visit_hour_weekday: tuple[Probability, ...] = Field(
        default=(0, 0, 0, 0, 0, 0, 0, 1, 4, 3, 2, 2, 3, 2, 2, 2, 3, 5, 5, 3, 1, 0, 0, 0),
        min_length=24, max_length=24)
    visit_hour_weekend: tuple[Probability, ...] = Field(
        default=(0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 4, 4, 4, 3, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0),
        min_length=24, max_length=24)

    # Catalog.
    categories: tuple[CategorySpec, ...] = Field(min_length=1, max_length=32)
    sequence_boost: tuple[tuple[str, str, Positive], ...] = ()
    sequence_repeat: Positive = 1.5

    # Seasonality: weekday multipliers (Monday first), a yearly wave and a holiday peak.
    weekly: tuple[Positive, ...] = Field(default=(1, 1, 1, 1, 1, 1, 1), min_length=7, max_length=7)
    yearly_amplitude: Annotated[float, Field(ge=0, lt=1)] = 0.1
    yearly_peak_day: Annotated[int, Field(ge=0, le=365)] = 172
    holiday_height: NonNegative = 0.6
    holiday_day: Annotated[int, Field(ge=0, le=365)] = 350
    holiday_width_days: Positive = 10.0

    # Churn beyond BG/NBD dropout: a daily hazard rising with recency and fatigue.
    churn_base: Probability = 0.0002
    churn_recency_days: Positive = 90.0
    churn_recency_cap: Annotated[float, Field(ge=1)] = 4.0
    churn_fatigue_weight: NonNegative = 0.5
    fatigue_half_life_days: Positive = 7.0

    # Lifecycle thresholds in days since the last purchase.
    at_risk_days: PositiveInt = 60
    lapsed_days: PositiveInt = 120
    churned_days: PositiveInt = 240

    # Online shop and carts.
    online_share_mean: Probability = 0.0
    cart_abandon_ratio: NonNegative = 2.0
    cart_ttl_days: PositiveInt = 7

    # Contact traits.
    channel_affinity_mean: tuple[Probability, Probability, Probability, Probability] = (
        0.5, 0.3, 0.25, 0.1)
    consent_rate: tuple[Probability, Probability, Probability, Probability] = (
        0.7, 0.5, 0.4, 0.3)
    responsiveness_mean: float = 0.5
    responsiveness_sd: Positive = 0.5
    price_sensitivity_beta: tuple[Positive, Positive] = (2.0, 3.0)

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
        for s in self.stores:
            if s.x > self.city_size or s.y > self.city_size:
                raise ValueError(f"store {s.name!r} at ({s.x}, {s.y}) lies outside the "
                                 f"{self.city_size}x{self.city_size} city")
        if not self.at_risk_days < self.lapsed_days < self.churned_days:
            raise ValueError("lifecycle thresholds must satisfy at_risk_days < lapsed_days < "
                             f"churned_days, got {self.at_risk_days}, {self.lapsed_days}, "
                             f"{self.churned_days}")
        if sum(self.visit_hour_weekday) <= 0 or sum(self.visit_hour_weekend) <= 0:
            raise ValueError("visit hour patterns need at least one positive hour")
        return self


def describe_error(err: ValidationError, what: str) -> str:
    """Turn a pydantic error into one line per field: name, value given, what is allowed."""
    lines = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or what
        given = e.get("input")
        given_s = "" if isinstance(given, dict) else f" = {given!r}"
        lines.append(f"{what} field '{field}'{given_s}: {e['msg']}")
    return "; ".join(lines)


def validate(model: type[BaseModel], data: dict, what: str) -> BaseModel:
    """Validate `data` into `model`, raising `ParameterError` with a readable message."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ParameterError(describe_error(err, what)) from None
