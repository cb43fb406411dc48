"""The city: zones on a grid, stores at fixed positions, and gravity (Huff) store choice.

Huff (1963): the probability that a customer in zone z visits store j is
A_j / d(z, j)^beta, normalised over stores, with A_j the store's attractiveness and
d the distance from the zone's centre (plus `GeographyParams.distance_offset_cells`, half a
cell, so a store in the zone is not at 0). Homes and jobs are denser near the centre
(`GeographyParams`).
"""

from __future__ import annotations

import numpy as np

from nbasim.sim.params import ScenarioParams


class City:
    """Zones of a `city_size` x `city_size` grid and the store choice probabilities.

    Attributes:
        n_zones: number of zones; zone id = row * city_size + column.
        n_stores: number of physical stores.
        zone_xy: (n_zones, 2) zone centres.
        store_xy: (n_stores, 2) store positions.
        huff: (n_zones, n_stores) store choice probabilities, rows sum to 1.
        second_store_distance: (n_zones,) distance to the second-nearest store.
        distance: (n_zones, n_stores) distance from each zone's centre to each store.
        home_density: (n_zones,) where people live (denser near the centre).
        work_density: (n_zones,) where commuters work (concentrated in the centre).
    """

    def __init__(self, params: ScenarioParams):
        g = params.city_size
        self.n_zones = g * g
        rows, cols = np.divmod(np.arange(self.n_zones), g)
        self.zone_xy = np.column_stack([cols + 0.5, rows + 0.5])
        self.store_xy = np.array([[s.x, s.y] for s in params.stores], dtype=np.float64)
        self.n_stores = len(params.stores)
        attract = np.array([s.attractiveness for s in params.stores])
        geo = params.geography
        dist = (np.linalg.norm(self.zone_xy[:, None, :] - self.store_xy[None, :, :], axis=2)
                + geo.distance_offset_cells)
        w = attract[None, :] / dist ** params.huff_distance_decay
        self.huff = w / w.sum(axis=1, keepdims=True)
        self._cum = np.cumsum(self.huff, axis=1)
        self._cum[:, -1] = 1.0
        centre = np.array([g / 2, g / 2])
        r2 = ((self.zone_xy - centre) ** 2).sum(axis=1) / g ** 2
        self.distance = dist - geo.distance_offset_cells
        dist_sorted = np.sort(dist, axis=1)
        self.second_store_distance = (dist_sorted[:, min(1, self.n_stores - 1)]
                                      - geo.distance_offset_cells)
        self.home_density = _normalise(np.exp(-r2 / geo.home_density_spread)
                                       + geo.home_density_floor)
        self.work_density = _normalise(np.exp(-r2 / geo.work_density_spread)
                                       + geo.work_density_floor)

    def choose_stores(self, zones: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Draw a store per visit from its zone's Huff probabilities.

        Args:
            zones: (n,) zone of each visit.
            u: (n,) uniform draws in [0, 1).

        Returns:
            (n,) store index, uint8 when there are fewer than 256 stores.
        """
        cum = self._cum[zones]
        idx = (cum <= u[:, None]).sum(axis=1)
        return np.minimum(idx, self.n_stores - 1).astype(store_dtype(self.n_stores))


def store_dtype(n_stores: int) -> type:
    """Smallest unsigned type that holds a store index (one more for the online shop)."""
    return np.uint8 if n_stores < 255 else np.uint16


def _normalise(w: np.ndarray) -> np.ndarray:
    return w / w.sum()
