"""Parameters of the city: where people live and work, distances, and working hours."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from nbasim.sim.param_types import FrozenModel, NonNegative, Positive


class GeographyParams(FrozenModel):
    """Densities of homes and jobs on the grid, the distance offset and the working day.

    Densities are exp(-r^2 / spread) + floor over zones, normalised, with r the distance from
    the city centre as a share of `city_size`: a monocentric city, densest at the centre
    (the tradition of Clark 1951, "Urban population densities", JRSS A 114(4)); the Gaussian
    profile and its figures are our choice.
    """

    home_density_spread: Positive = 0.15
    """Spread of homes around the centre (r^2 units). Our choice: homes fill most of the
    city, thinning towards the edge.
    """
    home_density_floor: NonNegative = 0.2
    """Home density everywhere on top of the central bump. Our choice: the suburbs are
    lived in.
    """
    work_density_spread: Positive = 0.02
    """Spread of jobs around the centre (r^2 units). Our choice: jobs crowd a central
    business district, far more than homes.
    """
    work_density_floor: NonNegative = 0.02
    """Job density everywhere on top of the central bump. Our choice: a few jobs anywhere."""
    distance_offset_cells: Positive = 0.5
    """Added to every zone-to-store distance (half a cell), so that a store in the
    customer's own zone is not at distance 0, where Huff's A / d^beta has no value. Our
    choice.
    """
    work_start_hour: Annotated[int, Field(ge=0, le=24)] = 9
    """First hour of the working day: commuters' weekday visits from this hour to
    `work_end_hour` start from their work zone. Our choice: a 9-to-5 day.
    """
    work_end_hour: Annotated[int, Field(ge=0, le=24)] = 17
    """Hour the working day ends (visits from this hour on start from home). Our choice."""

    @model_validator(mode="after")
    def _check(self) -> GeographyParams:
        if not self.work_start_hour < self.work_end_hour:
            raise ValueError(f"working hours must satisfy work_start_hour < work_end_hour, got "
                             f"{self.work_start_hour} and {self.work_end_hour}")
        return self
