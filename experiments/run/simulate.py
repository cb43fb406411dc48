"""`nbasim simulate`: organic behaviour only, written as a results directory.

Writes `config.toml` (as run, with package versions), `summary.json`, `daily.parquet`,
`migration.parquet` (segment migration of the day-0 base), optionally `transactions.parquet`,
and `plots/daily.png`, `plots/migration.png`, all staged and renamed into place at the end.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nbasim.experiments.run import versions, world_plots
from nbasim.experiments.store import atomic
from nbasim.sim import lifecycle, rfm
from nbasim.sim.calendar import Calendar
from nbasim.sim.daily import DailySeries
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.shocks import parse_shock
from nbasim.sim.world import DayOutcome, World


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate: a scenario with overrides and shocks, a size, a horizon and a seed."""

    scenario: str
    customers: int
    days: int
    seed: int
    shocks: tuple[str, ...] = ()
    overrides: dict[str, object] = field(default_factory=dict)
    transactions: bool = False

    def run_id(self) -> str:
        """A readable directory name that identifies the run.

        A short hash stands for the overrides and shock parameters, when there are any.
        """
        parts = [self.scenario, f"n{self.customers}", f"d{self.days}", f"s{self.seed}"]
        parts += [s.split(":", 1)[0] for s in self.shocks]
        if self.overrides or any(":" in s for s in self.shocks):
            detail = json.dumps([sorted(self.overrides.items()), list(self.shocks)], default=str)
            parts.append(hashlib.sha1(detail.encode()).hexdigest()[:8])
        return "_".join(parts)


@dataclass
class SimulationResult:
    """A finished simulation: the world at its end, its daily series and its transactions."""

    spec: SimulationSpec
    world: World
    series: DailySeries
    transactions: dict[str, np.ndarray] | None


def build_world(spec: SimulationSpec) -> World:
    """Validate the spec and build its world (raises `ParameterError` before any work)."""
    params = get_scenario(spec.scenario, spec.overrides)
    shocks = [parse_shock(s) for s in spec.shocks]
    return World(params, spec.customers, spec.days, spec.seed, shocks)


def simulate(spec: SimulationSpec, world: World | None = None,
             progress=None) -> SimulationResult:
    """Run the organic world day by day through the calendar.

    Args:
        spec: what to simulate.
        world: the spec's world, if already built by `build_world`.
        progress: optional callable(days_done, days_total) for a progress bar.
    """
    world = world or build_world(spec)
    series = DailySeries(world)
    log: list[tuple[int, object]] = []

    def on_day(out: DayOutcome) -> None:
        series.record(out)
        if spec.transactions:
            log.append((out.day, out.transactions))
        if progress is not None:
            progress(out.day + 1, world.days)

    Calendar(world, on_day=on_day, keep_moments=False).run()
    return SimulationResult(spec, world, series, _transaction_table(world, log) if
                            spec.transactions else None)


def _transaction_table(world: World, log: list) -> dict[str, np.ndarray]:
    days = np.concatenate([np.full(tx.customer.size, d, dtype=np.int32) for d, tx in log])
    outlets = list(world.outlet_names)
    cat = lambda name: np.concatenate([getattr(tx, name) for _, tx in log])  # noqa: E731
    store = cat("store")
    return {"customer_id": cat("customer").astype(np.int64), "day": days,
            "date": (np.datetime64(world.params.start_date) + days).astype("datetime64[D]"),
            "hour": cat("hour"), "store": np.array(outlets, dtype=object)[store],
            "category": np.array(world.catalog.names, dtype=object)[cat("category")],
            "amount": cat("amount"), "margin": cat("margin"), "first_purchase": cat("first")}


def summary(result: SimulationResult) -> dict[str, object]:
    """Headline figures of a simulation, as written to `summary.json`."""
    table, world = result.series.table(), result.world
    pop, n = world.pop, world.n_present
    purchases, revenue = int(table["purchases"].sum()), float(table["revenue"].sum())
    return {
        "run_id": result.spec.run_id(), "scenario": result.spec.scenario,
        "customers": result.spec.customers, "days": result.spec.days, "seed": result.spec.seed,
        "shocks": list(result.spec.shocks),
        "customers_at_start": int(result.series.segment_start.size),
        "customers_at_end": n, "new_customers": int(table["new_customers"].sum()),
        "alive_at_end": int(np.count_nonzero(pop.alive[:n])),
        "active_at_end": int(table["active"][-1]),
        "purchases": purchases, "revenue": revenue, "margin": float(table["margin"].sum()),
        "average_check": revenue / purchases if purchases else None,
        "latent_dropouts": int(table["new_churn"].sum()),
        "carts_abandoned": int(table["carts_abandoned"].sum()),
        "stages_at_end": {s: int(table[f"stage_{s}"][-1]) for s in lifecycle.STAGES},
        "segments_at_end": {s: int(table[f"segment_{s}"][-1]) for s in rfm.SEGMENTS},
        "state_bytes_per_customer": pop.nbytes() / pop.n_customers,
    }


def check_target(out: Path) -> None:
    """Refuse an `--out` that is a file, or a non-empty directory not an earlier simulation.

    An experiment run (it has cells) is never replaced.
    """
    atomic.check_target(out, "summary.json", "an earlier `nbasim simulate` run",
                        "an earlier simulation there", foreign=("cells",))


def write(result: SimulationResult, out: Path, summary_: dict | None = None) -> Path:
    """Write the results directory `out` whole (staged, then renamed into place)."""
    counts, shares = result.series.migration()
    k = len(rfm.SEGMENTS)
    with atomic.staged_dir(out) as stage:
        spec = asdict(result.spec)
        atomic.write_toml(stage / "config.toml", {
            "simulate": spec, "scenario": result.world.params.model_dump(mode="json"),
            "versions": versions.package_versions()})
        atomic.write_parquet(stage / "daily.parquet", result.series.table())
        atomic.write_parquet(stage / "migration.parquet", {
            "from_segment": np.repeat(np.array(rfm.SEGMENTS, dtype=object), k),
            "to_segment": np.tile(np.array(rfm.SEGMENTS, dtype=object), k),
            "customers": counts.ravel(), "share": shares.ravel()})
        if result.transactions is not None:
            atomic.write_parquet(stage / "transactions.parquet", result.transactions)
        atomic.write_json(stage / "summary.json", summary_ or summary(result))
        world_plots.plot_world(stage)
    return Path(out)
