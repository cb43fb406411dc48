"""Speed and memory of the simulated world, against a plain-numpy reference day.

Measured on one machine in one run (`make bench`):

- per population size (10k, 100k, 1M customers; scenario `dry_cleaning_chain`, seed 1,
  30 days), each in a fresh subprocess: population build time, the cost of a full simulated
  day driven as `nbasim simulate` drives it (`Calendar` with a `DailySeries` recording each
  day, build excluded), state bytes per customer and peak RSS;
- a reference day: 1M customers as 16 float64 columns, one purchase draw, an RFM update and a
  churn draw (copied from the acceptance reference `bench_numpy.py`, struct-of-arrays);
- `nbasim simulate` end to end, 1M customers for 365 days, when the console script exists.

Each figure is printed with its target and appended as a JSON line to
`benchmarks/results/bench_world.jsonl`. Run `python benchmarks/bench_world.py --help`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nbasim.sim.calendar import Calendar
from nbasim.sim.daily import DailySeries
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World

SCENARIO, SEED = "dry_cleaning_chain", 1
RESULTS = Path(__file__).resolve().parent / "results" / "bench_world.jsonl"
REF_CUSTOMERS, REF_DAYS = 1_000_000, 7
E2E = ["simulate", "--scenario", SCENARIO, "--customers", "1000000", "--days", "365",
       "--seed", str(SEED)]
MAX_DAY_VS_REFERENCE = 4.0  # full simulated day at the largest size / reference day
MAX_SCALE_RATIO = 1.3  # cost per customer-day, largest size / second largest
MAX_STATE_BYTES = 250.0  # bytes of state per customer
MAX_E2E_SECONDS = 60.0  # `nbasim simulate`, 1M customers, 365 days


@dataclass
class Figure:
    """One measured figure and its target.

    Attributes:
        figure: what was measured, with its unit.
        value: the measurement (None when not measured).
        target: the upper bound it must not exceed (None for figures reported for
            information).
        note: why a figure was not measured, or context.
    """

    figure: str
    value: float | None
    target: float | None = None
    note: str = ""

    @property
    def shown(self) -> str:
        """The value for people: whole numbers from 100 up, else three significant digits."""
        if self.value is None:
            return "-"
        return f"{self.value:,.0f}" if abs(self.value) >= 100 else f"{self.value:.3g}"

    @property
    def met(self) -> bool | None:
        """Whether the value is within the target; None without a target or a value."""
        if self.value is None or self.target is None:
            return None
        return self.value <= self.target


# --------------------------------------------------------------------- reference day
# Copied from /work/shared/acceptance/reference/bench_numpy.py (struct-of-arrays layout only).
COLS = ["alive", "age", "tenure", "recency", "frequency", "monetary", "basket", "propensity",
        "price_sens", "fatigue", "churn_base", "segment", "last_offer", "offer_resp", "clv",
        "spare"]


def init_population(N, rng):  # noqa: N803
    """16 float64 columns of N customers, one array per column (struct-of-arrays)."""
    cols = {c: np.empty(N) for c in COLS}
    cols["alive"][:] = 1.0
    cols["age"][:] = rng.uniform(18, 80, N)
    cols["tenure"][:] = rng.integers(0, 2000, N)
    cols["recency"][:] = rng.integers(0, 365, N)
    cols["frequency"][:] = rng.poisson(3, N)
    cols["monetary"][:] = cols["frequency"] * 40.0
    cols["basket"][:] = rng.lognormal(3.5, 0.5, N)
    cols["propensity"][:] = rng.normal(-4.0, 0.7, N)
    cols["price_sens"][:] = rng.uniform(0, 1, N)
    cols["fatigue"][:] = 0.0
    cols["churn_base"][:] = rng.uniform(1e-4, 2e-3, N)
    cols["segment"][:] = rng.integers(0, 8, N)
    cols["last_offer"][:] = -1.0
    cols["offer_resp"][:] = 0.0
    cols["clv"][:] = 0.0
    cols["spare"][:] = 0.0
    return cols


def population_day(c, rng):
    """One simulated day for every customer (vectorised; ~straightforward numpy)."""
    N = c["alive"].shape[0]  # noqa: N806
    logit = (c["propensity"] + 0.3 * np.log1p(c["frequency"]) - c["recency"] * (1.0 / 60.0)
             - 0.5 * c["fatigue"])
    p = c["alive"] / (1.0 + np.exp(-logit))
    buy = rng.random(N) < p
    idx = np.flatnonzero(buy)
    amount = c["basket"][idx] * rng.lognormal(0.0, 0.3, idx.size)
    c["recency"] += 1.0
    c["recency"][idx] = 0.0
    c["frequency"][idx] += 1.0
    c["monetary"][idx] += amount
    c["basket"][idx] = 0.9 * c["basket"][idx] + 0.1 * amount
    hazard = c["churn_base"] * (1.0 + c["recency"] * (1.0 / 90.0))
    churn = rng.random(N) < hazard
    c["alive"][churn] = 0.0
    c["tenure"] += c["alive"]
    c["fatigue"] *= 0.9
    c["clv"] += amount.sum() / N  # touch another column (running aggregate)
    return idx.size, int(churn.sum())


# -------------------------------------------------------------- child measurements
def peak_rss_bytes() -> int:
    """Peak resident set size of this process (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def measure_world(n: int, days: int) -> dict:
    """Build a world of `n` customers and run it `days` days as `nbasim simulate` does.

    Returns:
        build and run seconds, customer-days simulated (customers present, summed over the
        days), state bytes per customer and peak RSS.
    """
    start = time.perf_counter()
    world = World(get_scenario(SCENARIO), n, days, SEED)
    build = time.perf_counter() - start
    series = DailySeries(world)
    start = time.perf_counter()
    Calendar(world, on_day=series.record, keep_moments=False).run()
    run = time.perf_counter() - start
    return {"n": n, "days": days, "build_s": build, "run_s": run,
            "customer_days": float(series.columns["present"].sum()),
            "state_bytes": world.pop.nbytes() / n, "peak_rss": peak_rss_bytes()}


def measure_reference(n: int) -> dict:
    """Median seconds of the reference day over `n` customers (one warm-up, 7 timed days)."""
    rng = np.random.default_rng(0)
    cols = init_population(n, rng)
    population_day(cols, rng)  # warm-up (page faults etc.)
    times = []
    for _ in range(REF_DAYS):
        start = time.perf_counter()
        population_day(cols, rng)
        times.append(time.perf_counter() - start)
    return {"n": n, "day_s": float(np.median(times))}


def in_subprocess(*args: object) -> dict:
    """Run one measurement of this script in a fresh Python process; returns its result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def end_to_end() -> Figure:
    """Time `nbasim simulate` (1M customers, 365 days) when the console script is installed."""
    name = f"nbasim {' '.join(E2E)} (s)"
    exe = Path(sys.executable).parent / "nbasim"
    if not exe.exists():
        return Figure(name, None, MAX_E2E_SECONDS, f"not measured: no console script {exe}")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([str(exe), *E2E, "--out", str(Path(tmp) / "run")],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if proc.returncode:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return Figure(name, None, MAX_E2E_SECONDS,
                      f"not measured: exit {proc.returncode}: {tail[0][:200]}")
    return Figure(name, seconds, MAX_E2E_SECONDS)


# ------------------------------------------------------------------------ the run
def run(sizes: list[int], days: int, with_e2e: bool) -> list[Figure]:
    """Measure every figure, printing each as it comes in."""
    figures: list[Figure] = []

    def add(fig: Figure) -> None:
        figures.append(fig)
        status = {True: "met", False: "NOT MET", None: ""}[fig.met]
        target = "" if fig.target is None else f" (target <= {fig.target:g})"
        print(f"  {fig.figure}: {fig.shown}{target} {status} {fig.note}".rstrip(), flush=True)

    worlds = {}
    for n in sizes:
        print(f"world: {n:,} customers, {days} days ...", flush=True)
        w = worlds[n] = in_subprocess("world", n, days)
        add(Figure(f"build time {n:,} (s)", w["build_s"]))
        add(Figure(f"customer-days/s {n:,}", w["customer_days"] / w["run_s"]))
        add(Figure(f"ms per simulated day {n:,}", 1e3 * w["run_s"] / days))
        add(Figure(f"state bytes per customer {n:,}", w["state_bytes"], MAX_STATE_BYTES))
        add(Figure(f"peak RSS {n:,} (MB)", w["peak_rss"] / 1e6))

    big, small = worlds[sizes[-1]], worlds[sizes[-2]]
    ref_n = min(REF_CUSTOMERS, big["n"])
    print(f"reference: {ref_n:,} customers x 16 float64 columns ...", flush=True)
    ref = in_subprocess("reference", ref_n)
    ref_ms, world_ms = 1e3 * ref["day_s"], 1e3 * big["run_s"] / days
    add(Figure(f"reference ms per day {ref_n:,}", ref_ms))
    add(Figure(f"simulated day / reference day at {ref_n:,}", world_ms / ref_ms,
               MAX_DAY_VS_REFERENCE))
    per_cd = {w["n"]: w["run_s"] / w["customer_days"] for w in (small, big)}
    add(Figure(f"cost per customer-day {big['n']:,} / {small['n']:,}",
               per_cd[big["n"]] / per_cd[small["n"]], MAX_SCALE_RATIO))
    add(Figure(f"marginal peak RSS per customer {small['n']:,} -> {big['n']:,} (bytes)",
               (big["peak_rss"] - small["peak_rss"]) / (big["n"] - small["n"])))
    if with_e2e:
        print("end to end ...", flush=True)
        add(end_to_end())
    return figures


def report(figures: list[Figure], mode: str) -> None:
    """Print the table of figures and append one JSON line per figure to `RESULTS`."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"bench_world ({mode})")
    for col in ("figure", "value", "target", "met"):
        table.add_column(col, justify="left" if col == "figure" else "right")
    for f in figures:
        met = {True: "[green]yes[/]", False: "[red]NO[/]", None: ""}[f.met]
        table.add_row(f.figure, f.shown,
                      "" if f.target is None else f"<= {f.target:g}", met or f.note)
    Console().print(table)

    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    machine = {"platform": platform.platform(), "cpu_count": os.cpu_count(),
               "python": platform.python_version(), "numpy": np.__version__}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        for f in figures:
            fh.write(json.dumps({"date": date, "machine": machine, "mode": mode, **asdict(f),
                                 "met": f.met}) + "\n")
    print(f"appended {len(figures)} lines to {RESULTS}")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the benchmark (or one child measurement)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 10k and 100k customers, 10 days, no end-to-end run")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # one measurement, as JSON
    a = ap.parse_args(argv)
    if a.child:
        kind, *nums = a.child
        fn = {"world": measure_world, "reference": measure_reference}[kind]
        print(json.dumps(fn(*map(int, nums))))
        return 0
    if a.quick:
        figures = run([10_000, 100_000], 10, with_e2e=False)
    else:
        figures = run([10_000, 100_000, 1_000_000], 30, with_e2e=True)
    report(figures, "quick" if a.quick else "full")
    return 0


if __name__ == "__main__":
    sys.exit(main())
