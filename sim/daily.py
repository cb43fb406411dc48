"""The organic daily series of a run: one row per day, filled in place as the world steps."""

from __future__ import annotations

import numpy as np

from nbasim.sim import lifecycle, rfm
from nbasim.sim.world import DayOutcome, World

_ACTIVE_STAGES = np.array([lifecycle.NEW, lifecycle.ACTIVE, lifecycle.REACTIVATED])


class DailySeries:
    """Per-day aggregates of a world: customers, purchases, revenue, churn, stages, segments.

    Columns: day, date, present, alive (latent), active (stage new, active or reactivated),
    new_customers, purchases, revenue, margin, avg_check, new_churn, carts_abandoned,
    at_risk_crossings, stage_<name>, segment_<name>, visits_<outlet>.
    """

    def __init__(self, world: World):
        self.world = world
        self.outlets = world.outlet_names
        names = ["present", "alive", "active", "new_customers", "purchases", "revenue", "margin",
                 "avg_check", "new_churn", "carts_abandoned", "at_risk_crossings"]
        names += [f"stage_{s}" for s in lifecycle.STAGES]
        names += [f"segment_{s}" for s in rfm.SEGMENTS]
        names += [f"visits_{s}" for s in self.outlets]
        self.columns = {n: np.zeros(world.days, dtype=np.float64) for n in names}
        self.segment_start = world.pop.segment[: world.n_present].copy()
        self._alive = int(np.count_nonzero(world.pop.alive[: world.n_present]))
        self.days_recorded = 0

    def record(self, out: DayOutcome) -> None:
        """Add the row of one simulated day."""
        pop, d, c, hi = self.world.pop, out.day, self.columns, out.n_present
        tx = out.transactions
        self._alive += out.arrivals - out.churned.size
        c["present"][d] = hi
        c["alive"][d] = self._alive
        stages = np.bincount(pop.stage[:hi], minlength=len(lifecycle.STAGES))
        c["active"][d] = stages[_ACTIVE_STAGES].sum()
        c["new_customers"][d] = out.arrivals
        c["purchases"][d] = tx.customer.size
        c["revenue"][d] = tx.amount.sum()
        c["margin"][d] = tx.margin.sum()
        c["avg_check"][d] = tx.amount.mean() if tx.customer.size else np.nan
        c["new_churn"][d] = out.churned.size
        c["carts_abandoned"][d] = out.carts.size
        c["at_risk_crossings"][d] = out.crossed[lifecycle.AT_RISK].size
        for name, k in zip(lifecycle.STAGES, stages, strict=True):
            c[f"stage_{name}"][d] = k
        for name, k in zip(rfm.SEGMENTS, rfm.segment_counts(pop.segment[:hi]), strict=True):
            c[f"segment_{name}"][d] = k
        visits = np.bincount(tx.store, minlength=len(self.outlets))
        for name, k in zip(self.outlets, visits, strict=True):
            c[f"visits_{name}"][d] = k
        self.days_recorded = d + 1

    def table(self) -> dict[str, np.ndarray]:
        """Columns over the recorded days, with the calendar date."""
        n = self.days_recorded
        dates = np.datetime64(self.world.params.start_date) + np.arange(n)
        out = {"day": np.arange(n, dtype=np.int32), "date": dates.astype("datetime64[D]")}
        for name, col in self.columns.items():
            is_count = name not in ("revenue", "margin", "avg_check")
            out[name] = col[:n].astype(np.int64) if is_count else col[:n]
        return out

    def migration(self) -> tuple[np.ndarray, np.ndarray]:
        """Segment migration of the day-0 base from the start to now: counts and row shares."""
        now = self.world.pop.segment[: self.segment_start.size]
        return rfm.transition_matrix(self.segment_start, now)
