"""Slates in a cell: redemptions by slot (slots.parquet) and each slot in the decision log.

With `slate_size = K > 1` every message is a slate of up to K offers (`nbasim.sim.slates`).
A cell counts, per slot, the messages sent that showed an offer there, the redemptions the
slot took (a customer redeems at most one slot of a message), their share of the cell's
redemptions, and the discount they cost (`SLOT_COLUMNS`). The decision log gains, for slots
2..K, the action shown and its pscore given the slots before it (`action_2`, `pscore_2`, ...;
slot 1 is `action` and `pscore`), and `redeemed_slot` (1-based; 0 when nothing was redeemed
or nothing sent).
"""

from __future__ import annotations

import numpy as np

SLOT_COLUMNS = {
    "scenario": "scenario variant label", "policy": "policy label", "seed": "seed",
    "slot": "position in the slate, 1 first",
    "shown": "messages sent with an offer in this slot",
    "redemptions": "offers redeemed from this slot (at most one slot per message)",
    "share": "this slot's share of the cell's redemptions (0 when there were none)",
    "discount_cost": "discount redeemed from this slot",
}
"""slots.parquet columns (one row per cell and slot) and what each holds."""
LOG_PREFIXES = ("action_", "pscore_", "redeemed_slot")
"""Decision-log columns that slates add."""


class SlotCounts:
    """Per slot, a cell's messages shown, redemptions and discount, added up day by day.

    Args:
        k: the slate size.
    """

    def __init__(self, k: int):
        self.k = k
        self.shown = np.zeros(k, dtype=np.int64)
        self.redeemed = np.zeros(k, dtype=np.int64)
        self.discount = np.zeros(k)

    def add(self, dec: dict) -> None:
        """Count one day's decisions (an env step's `info["decisions"]`)."""
        sent_slates, slot = dec["slates"][dec["sent"]], dec["slot"]
        self.shown += (sent_slates > 0).sum(axis=0)
        got = slot >= 0
        self.redeemed += np.bincount(slot[got], minlength=self.k)
        self.discount += np.bincount(slot[got], dec["realized"]["discount_cost"][got],
                                     minlength=self.k)

    def table(self) -> dict[str, np.ndarray]:
        """The cell's slots.parquet columns after its keys (`SLOT_COLUMNS`)."""
        total = self.redeemed.sum()
        share = self.redeemed / total if total else np.zeros(self.k)
        return {"slot": np.arange(1, self.k + 1), "shown": self.shown,
                "redemptions": self.redeemed, "share": share, "discount_cost": self.discount}


def log_columns(slates: np.ndarray, pscores: np.ndarray, dec: dict) -> dict[str, np.ndarray]:
    """One day's decision-log columns for slots 2..K and the slot redeemed (module docstring).

    Args:
        slates: (n, K) the slates sent to the day's decided customers (0: empty slot).
        pscores: (n, K) each slot's pscore given the slots before it.
        dec: the step's `info["decisions"]`.
    """
    out = {}
    for j in range(1, slates.shape[1]):
        out[f"action_{j + 1}"] = slates[:, j]
        out[f"pscore_{j + 1}"] = pscores[:, j]
    redeemed = np.zeros(slates.shape[0], dtype=np.int64)
    redeemed[dec["sent"]] = dec["slot"] + 1
    out["redeemed_slot"] = redeemed
    return out
