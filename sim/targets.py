"""What targeted offers name: a category for a cross-sell, a store for a visit bonus.

A scenario opts in (`ScenarioParams.cross_sell_targets`, `visit_bonus_targets`); each target
adds an offer variant to the action catalog beside the untargeted offer. Targets are listed
categories first, then stores, and target i is offer variant `len(OFFERS) + i` in the
response's effect table (`ActionCatalog.variant`).
"""

from __future__ import annotations

from dataclasses import dataclass

from nbasim.sim.param_types import OFFERS

CATEGORY, STORE = "category", "store"
TARGET_OFFERS = {CATEGORY: "cross_sell", STORE: "second_store_bonus"}
"""Kind of target -> the offer that carries it."""


@dataclass(frozen=True)
class OfferTargets:
    """The targets of a scenario's targeted offers, categories first, then stores.

    Attributes:
        kind: (n_targets,) `CATEGORY` or `STORE`.
        index: (n_targets,) category or store index.
        names: (n_targets,) the category's or store's name.
    """

    kind: tuple[str, ...] = ()
    index: tuple[int, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, params) -> OfferTargets:
        """The targets a scenario (`ScenarioParams`) names."""
        cats = [c.name for c in params.categories]
        stores = [s.name for s in params.stores]
        pairs = [(CATEGORY, cats.index(n), n) for n in params.cross_sell_targets] + [
            (STORE, stores.index(n), n) for n in params.visit_bonus_targets]
        return cls(*(tuple(col) for col in zip(*pairs, strict=True))) if pairs else cls()

    @property
    def n(self) -> int:
        """Number of targets."""
        return len(self.kind)

    @property
    def offer(self) -> tuple[int, ...]:
        """(n_targets,) `OFFERS` code of the offer that carries each target."""
        return tuple(OFFERS.index(TARGET_OFFERS[k]) for k in self.kind)

    def of_kind(self, kind: str) -> list[int]:
        """Category (or store) indices of the targets of one kind, in target order."""
        return [i for k, i in zip(self.kind, self.index, strict=True) if k == kind]


NO_TARGETS = OfferTargets()
