"""The action space of slates: rows of K distinct actions, offers first, empty slots (0) last.

With option `slate_size=K > 1` an env's action is a slate per decision (`sim.slates`):
CampaignDay-v0 takes (n_customers, K), NextBestAction-v0 (K,). A `MultiDiscrete` of that shape
would also hold slates the world refuses (an action twice, an empty slot before an offer), so
the space is its own: `contains` is exactly `sim.slates.check`, and `sample` draws only valid
slates (each row: slot 1 uniform over the catalog, no action leaving the row empty; the other
slots distinct offers uniform over the rest), from the space's own generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from nbasim.sim import slates


class Slates(spaces.Space[np.ndarray]):
    """Slates of `k` actions out of `n_actions`, `rows` of them (None: a single slate, (k,)).

    Args:
        n_actions: size of the catalog (action 0 is no action).
        k: slots per slate, 2 to `sim.slates.MAX_SLATE`.
        rows: slates per action (CampaignDay-v0: one per customer), or None.
        seed: seed of the space's generator.
    """

    def __init__(self, n_actions: int, k: int, rows: int | None = None,
                 seed: int | np.random.Generator | None = None):
        if not 2 <= k <= slates.MAX_SLATE or k >= n_actions:
            raise slates.SlateError(f"slate_size = {k}: allowed 2 to "
                                    f"{min(slates.MAX_SLATE, n_actions - 1)} for a slate space")
        self.n_actions, self.k, self.rows = int(n_actions), int(k), rows
        shape = (k,) if rows is None else (rows, k)
        super().__init__(shape, np.int64, seed)

    @property
    def is_np_flattenable(self) -> bool:
        """Slates flatten to their actions."""
        return True

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """Valid slates drawn from the space's generator (see the module docstring)."""
        if mask is not None or probability is not None:
            raise NotImplementedError("Slates.sample takes no mask or probability")
        rng, n = self.np_random, 1 if self.rows is None else self.rows
        first = rng.integers(0, self.n_actions, n)
        # Slots 2..k: distinct offers other than slot 1's, by ranking random keys.
        keys = rng.random((n, self.n_actions - 1))
        keys[np.arange(n)[first > 0], first[first > 0] - 1] = np.inf
        rest = 1 + np.argsort(keys, axis=1)[:, :self.k - 1]
        out = np.concatenate([first[:, None], rest], axis=1)
        out[first == 0] = 0
        return out[0] if self.rows is None else out

    def contains(self, x: Any) -> bool:
        """True when `x` has the space's shape and integer slates the world accepts."""
        a = np.asarray(x)
        if a.shape != self.shape or (a.size and a.dtype.kind not in "iu"):
            return False
        try:
            slates.check(a.reshape(-1, self.k), self.n_actions)
        except slates.SlateError:
            return False
        return True

    def __repr__(self) -> str:
        """Slates(n_actions, k, rows)."""
        return f"Slates({self.n_actions}, {self.k}, {self.rows})"

    def __eq__(self, other: object) -> bool:
        """Equal spaces hold the same slates."""
        return (isinstance(other, Slates) and (self.n_actions, self.k, self.rows)
                == (other.n_actions, other.k, other.rows))
