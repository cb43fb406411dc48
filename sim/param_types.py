"""Building blocks shared by every parameter model.

The base model, bounded number types, the error they raise, and the names of channels,
offers and wordings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from nbasim.errors import NbasimError

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]
Quad = tuple[Probability, Probability, Probability, Probability]
"""One probability per channel, in `CHANNELS` order."""

CHANNELS = ("email", "sms", "push", "phone")
"""The message channels: each has a consent bit, fatigue, a price and a funnel per customer."""
POS = "pos"
"""The point-of-sale channel: an offer shown at a store's till at a checkout (`sim.pos`)."""
ACTION_CHANNELS = (*CHANNELS, POS)
"""Every channel an action may use: the message channels, then `POS` (code `len(CHANNELS)`)."""
OFFERS = ("none", "discount_10", "discount_20", "discount_30", "free_delivery", "cross_sell",
          "loyalty_x2", "second_store_bonus", "win_back", "cart_reminder")
WORDINGS = ("rational", "emotional", "urgency", "social_proof")


class ParameterError(NbasimError):
    """A parameter, override or option that is not allowed; the message names field and value."""


class FrozenModel(BaseModel):
    """Base of every parameter model: frozen, no unknown fields, finite numbers, documented."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True,
                              allow_inf_nan=False)
