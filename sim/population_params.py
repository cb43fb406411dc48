"""Parameters of how customers' contact traits are drawn: affinity spread, wording, send hour.

The purchase, spend and consent parameters stay on `ScenarioParams` itself (BG/NBD and
Gamma-Gamma: Fader, Hardie and Lee 2005); these are the rest of the population's traits.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from nbasim.sim.param_types import WORDINGS, FrozenModel, NonNegative, Positive, Probability


class HourPeak(FrozenModel):
    """One peak of the preferred send hour: a Gaussian bump over the hours of the day."""

    hour: Annotated[float, Field(ge=0, lt=24)]
    """Hour of the peak (0 to 24, fractions allowed)."""
    sd: Positive
    """Standard deviation of the peak in hours."""
    weight: NonNegative
    """Height of the peak relative to the others."""


class TraitParams(FrozenModel):
    """How the contact traits of a population are drawn."""

    channel_affinity_concentration: Positive = 4.0
    """Concentration k of the Beta(k m, k (1 - m)) channel affinity around its mean m
    (`channel_affinity_mean`). Our choice: k = 4 gives a standard deviation of
    sqrt(m (1 - m) / 5), 0.22 at m = 0.5, so customers differ widely between channels.
    """
    online_share_concentration: Positive = 4.0
    """Concentration k of the Beta(k m, k (1 - m)) online share around `online_share_mean`.
    Our choice, as for channel affinity: most customers mix stores and the online shop.
    """
    wording_share: tuple[Probability, Probability, Probability, Probability] = (
        0.35, 0.3, 0.15, 0.2)
    """Share of customers preferring each wording, in `WORDINGS` order (sums to 1). Our
    choice: no published split over these four styles; rational and emotional appeals
    first, urgency least.
    """
    send_hour_peaks: tuple[HourPeak, ...] = Field(
        default=(HourPeak(hour=8.0, sd=1.5, weight=1.0), HourPeak(hour=12.5, sd=1.0, weight=0.7),
                 HourPeak(hour=19.5, sd=1.5, weight=1.2)),
        min_length=1, max_length=8)
    """Peaks of the preferred hour to receive a message. Our choice: the morning, lunch and
    evening peaks of checking one's phone, the evening highest.
    """
    send_hour_floor: NonNegative = 0.01
    """Weight added to every hour on top of the peaks, so that any hour has a few takers.
    Our choice.
    """

    @model_validator(mode="after")
    def _check(self) -> TraitParams:
        total = sum(self.wording_share)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"wording_share must sum to 1 over {', '.join(WORDINGS)}, got "
                             f"{self.wording_share} (sum {total})")
        if self.send_hour_floor == 0 and not any(p.weight > 0 for p in self.send_hour_peaks):
            raise ValueError("send hours need a positive send_hour_floor or a peak of positive "
                             "weight")
        return self
