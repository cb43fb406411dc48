"""Shocks that layer on any scenario, found by name in a registry.

Each shock turns into per-day multipliers (purchase rate, spend, churn hazard, category
weights) and additive shifts of channel affinity, collected in `DayModifiers` for the whole
horizon before the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from nbasim.sim.params import CHANNELS, FrozenModel, ParameterError, Positive, Probability, validate
from nbasim.sim.scenarios import parse_value

Channel = Literal["email", "sms", "push", "phone"]


class Shock(FrozenModel):
    """A shock active from `start_day` for `duration_days` (to the end of the run if None)."""

    start_day: Annotated[int, Field(ge=0)] = 0
    """First day of the shock."""
    duration_days: Annotated[int, Field(gt=0)] | None = None
    """Days the shock lasts (None: to the end of the run)."""

    @property
    def name(self) -> str:
        """The shock's registry name (its class name if it is not registered)."""
        cls = type(self)
        for key, registered in SHOCKS.items():
            if registered is cls:
                return key
        for key, registered in SHOCKS.items():  # an instance of a class since redefined
            if (registered.__module__, registered.__qualname__) == (cls.__module__,
                                                                    cls.__qualname__):
                return key
        return cls.__name__

    def window(self, days: int) -> np.ndarray:
        """Boolean mask over the horizon: where the shock is active. Shape (days,)."""
        d = np.arange(days)
        end = days if self.duration_days is None else self.start_day + self.duration_days
        return (d >= self.start_day) & (d < end)

    def apply(self, mods: DayModifiers, on: np.ndarray) -> None:
        """Fold this shock into `mods` on the days where `on` is True."""
        raise NotImplementedError


@dataclass
class DayModifiers:
    """Per-day factors over the horizon.

    Attributes:
        rate: (days,) multiplier of the organic purchase rate.
        spend: (days,) multiplier of basket value.
        churn: (days,) multiplier of the churn hazard.
        channel_shift: (days, n_channels) additive shift of channel affinity.
        category_weight: (days, n_categories) multiplier of category choice weights.
        channel_up: (days, n_channels) delivery multiplier (0 during an outage).
        budget: (days,) multiplier of the campaign budget.
    """

    rate: np.ndarray
    spend: np.ndarray
    churn: np.ndarray
    channel_shift: np.ndarray
    category_weight: np.ndarray
    channel_up: np.ndarray
    budget: np.ndarray

    @classmethod
    def neutral(cls, days: int, n_categories: int) -> DayModifiers:
        """Modifiers that change nothing."""
        return cls(np.ones(days), np.ones(days), np.ones(days),
                   np.zeros((days, len(CHANNELS))), np.ones((days, n_categories)),
                   np.ones((days, len(CHANNELS))), np.ones(days))


class Recession(Shock):
    """Lower spend and slightly fewer purchases."""

    spend_drop: Annotated[float, Field(ge=0, lt=1)] = 0.15
    """Share by which baskets shrink. Our choice: a marked but not extreme downturn."""
    rate_drop: Annotated[float, Field(ge=0, lt=1)] = 0.05
    """Share by which the purchase rate falls. Our choice: people trade down more than they
    stop buying.
    """

    def apply(self, mods: DayModifiers, on: np.ndarray) -> None:  # noqa: D102
        mods.spend[on] *= 1 - self.spend_drop
        mods.rate[on] *= 1 - self.rate_drop


class CompetitorCampaign(Shock):
    """A competitor's campaign: the churn hazard spikes for a while."""

    start_day: Annotated[int, Field(ge=0)] = 60
    """First day of the competitor's campaign."""
    duration_days: Annotated[int, Field(gt=0)] | None = 30
    """Days the campaign lasts."""
    churn_multiplier: Positive = 4.0
    """Multiplier of the churn hazard while it lasts. Our choice."""

    def apply(self, mods: DayModifiers, on: np.ndarray) -> None:  # noqa: D102
        mods.churn[on] *= self.churn_multiplier


class HolidaySeason(Shock):
    """An extra demand peak on top of the scenario's own seasonality."""

    start_day: Annotated[int, Field(ge=0)] = 330
    """First day of the extra season."""
    duration_days: Annotated[int, Field(gt=0)] | None = 30
    """Days the season lasts."""
    rate_boost: Annotated[float, Field(ge=0)] = 0.5
    """Extra share of purchases while it lasts. Our choice."""
    spend_boost: Annotated[float, Field(ge=0)] = 0.1
    """Extra share of spend per basket while it lasts. Our choice."""

    def apply(self, mods: DayModifiers, on: np.ndarray) -> None:  # noqa: D102
        mods.rate[on] *= 1 + self.rate_boost
        mods.spend[on] *= 1 + self.spend_boost


class PreferenceDrift(Shock):
    """Preferences drift while active, from e-mail to push and towards one category.

    The drift is linear in time and keeps the level it reached once the window ends.
    """

    per_year: Annotated[float, Field(ge=0, le=1)] = 0.2
    """Channel affinity moved from `channel_from` to `channel_to` per year active. Our
    choice.
    """
    channel_from: Channel = "email"
    """Channel that loses affinity."""
    channel_to: Channel = "push"
    """Channel that gains affinity."""
    category_index: Annotated[int, Field(ge=0)] = 0
    """Category (index into the scenario's categories) that gains weight."""
    category_gain: Probability = 0.5
    """Extra choice weight of that category per year active. Our choice."""

    def apply(self, mods: DayModifiers, on: np.ndarray) -> None:  # noqa: D102
        n_cat = mods.category_weight.shape[1]
        if self.category_index >= n_cat:
            raise ParameterError(f"shock preference_drift: category_index = "
                                 f"{self.category_index}; allowed: 0..{n_cat - 1}")
        elapsed = np.cumsum(on) / 365.0  # drifted preferences stay after the window
        mods.channel_shift[:, CHANNELS.index(self.channel_from)] -= self.per_year * elapsed
        mods.channel_shift[:, CHANNELS.index(self.channel_to)] += self.per_year * elapsed
        mods.category_weight[:, self.category_index] *= 1 + self.category_gain * elapsed


class ChannelOutage(Shock):
    """A channel delivers nothing for a while (messages are still sent and paid for)."""

    duration_days: Annotated[int, Field(gt=0)] | None = 7
    """Days the outage lasts."""
    channel: Channel = "email"
    """Channel that delivers nothing."""

    def apply(self, mods: DayModifiers, on: np.ndarray) -> None:  # noqa: D102
        mods.channel_up[on, CHANNELS.index(self.channel)] = 0.0


class BudgetCut(Shock):
    """The campaign budget is cut by a share."""

    share: Annotated[float, Field(gt=0, le=1)] = 0.5
    """Share of the budget cut."""

    def apply(self, mods: DayModifiers, on: np.ndarray) -> None:  # noqa: D102
        mods.budget[on] *= 1 - self.share


SHOCKS: dict[str, type[Shock]] = {
    "recession": Recession,
    "competitor_campaign": CompetitorCampaign,
    "holiday_season": HolidaySeason,
    "preference_drift": PreferenceDrift,
    "channel_outage": ChannelOutage,
    "budget_cut": BudgetCut,
}
"""Shock name -> its class (fields are its parameters, `apply` its effect)."""


def register_shock(name: str, shock: type[Shock], replace: bool = False) -> type[Shock]:
    """Register a shock class under a name, so `parse_shock` and configs find it.

    Registering the same class again does nothing, and so does a class of the same module and
    qualified name (a notebook cell defining and registering it, run twice: the new definition
    takes the place of the old one). A different class under a taken name is refused unless
    `replace`.

    Args:
        name: the registry name, as written in `--shock NAME:k=v`.
        shock: a subclass of `Shock` that implements `apply`.
        replace: put `shock` in place of the class registered under `name`.

    Returns:
        `shock`.

    Raises:
        ParameterError: a name that is empty or holds ":" "," or "=", a class that is not a
            `Shock` with its own `apply`, a class already registered under another name, or
            a name taken by a different class without `replace`.
    """
    if not isinstance(name, str) or not name.strip() or any(c in name for c in ":,="):
        raise ParameterError(f"shock name {name!r}: must be a non-empty string without "
                             "':', ',' or '='")
    if not (isinstance(shock, type) and issubclass(shock, Shock)) or shock is Shock \
            or shock.apply is Shock.apply:
        raise ParameterError(f"shock {name!r}: {shock!r} must be a subclass of Shock that "
                             "defines apply(mods, on)")
    old = SHOCKS.get(name)
    redefined = old is not None and (old.__module__, old.__qualname__) == (
        shock.__module__, shock.__qualname__)
    if old is not None and not (old is shock or redefined or replace):
        raise ParameterError(f"shock {name!r} is already registered as {old.__qualname__}; "
                             "pass replace=True to replace it")
    other = [k for k, cls in SHOCKS.items() if cls is shock and k != name]
    if other:
        raise ParameterError(f"shock class {shock.__qualname__} is already registered as "
                             f"{other[0]!r}; a class has one name")
    SHOCKS[name] = shock
    return shock


def available() -> dict[str, str]:
    """Shock names with the first line of their docstrings (defaults: see their fields)."""
    return {name: cls.__doc__.strip().splitlines()[0] for name, cls in SHOCKS.items()}


def parse_shock(spec: str) -> Shock:
    """Parse `NAME` or `NAME:key=value,key=value` into a validated shock.

    Raises:
        ParameterError: unknown shock, malformed spec or a parameter out of range.
    """
    name, _, rest = spec.partition(":")
    if name not in SHOCKS:
        raise ParameterError(f"unknown shock {name!r}; allowed: {', '.join(SHOCKS)}")
    data = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ParameterError(f"shock {spec!r}: expected key=value, got {item!r}")
        data[key.strip()] = parse_value(value.strip())
    return validate(SHOCKS[name], data, f"shock {name}")


def day_modifiers(shocks: list[Shock], days: int, n_categories: int) -> DayModifiers:
    """Collect every shock into per-day modifiers over `days` days."""
    mods = DayModifiers.neutral(days, n_categories)
    for shock in shocks:
        shock.apply(mods, shock.window(days))
    return mods
