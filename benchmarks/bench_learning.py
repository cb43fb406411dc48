"""Speed of learning at scale: one causal cell, and the whole learning experiment (`make bench`).

- One cell of `causal_lints` (the fastest `causal_` learner) on the dry-cleaning chain at
  200,000 customers x 180 days, run as the runner runs it (`experiments.run.cell.run_cell`):
  wall seconds, split into the world's and the policy's. Target: at most 10 minutes.
- With `--experiment`: `nbasim run experiments/configs/learning.toml --workers 2` in a
  temporary directory, wall time. Target: at most 20 minutes on a 2-core machine. It is left
  out by default because it takes that long.

Run `python benchmarks/bench_learning.py --help`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbasim.experiments.run import config, sweep
from nbasim.experiments.run.cell import run_cell

CELL_TARGET_S = 600.0
EXPERIMENT_TARGET_S = 1200.0
LEARNING_TOML = Path(__file__).resolve().parent.parent / "experiments/configs/learning.toml"


def causal_cell(customers: int, days: int, policy: str = "causal_lints") -> dict[str, float]:
    """Wall, world and policy seconds of one cell of `policy` (seed 0, 10 % holdout)."""
    cfg = config.parse({"name": "bench_learning", "customers": customers, "days": days,
                        "seeds": [0], "holdout": 0.1, "decision_log": "none",
                        "policies": [{"label": policy}]})
    (cell,) = list(sweep.cells(cfg))
    start = time.perf_counter()
    result = run_cell(cfg, cell)
    wall = time.perf_counter() - start
    return {"wall_s": wall, **result.timing,
            "true_incremental_margin": result.figures["true_incremental_margin"]}


def learning_experiment(workers: int = 2) -> float:
    """Wall seconds of `nbasim run learning.toml --workers N` into a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nbasim.experiments.cli", "run",
                        str(LEARNING_TOML), "--out", str(Path(tmp) / "run"),
                        "--workers", str(workers)], check=True)
        return time.perf_counter() - start


def main() -> None:
    """Print the figures against their targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=200_000, help="base size of the cell")
    ap.add_argument("--days", type=int, default=180, help="days of the cell")
    ap.add_argument("--experiment", action="store_true",
                    help="also time learning.toml with 2 workers (about 20 minutes or more)")
    args = ap.parse_args()
    cell = causal_cell(args.customers, args.days)
    ok = "ok" if cell["wall_s"] <= CELL_TARGET_S else "MISSED"
    print(f"causal_lints, {args.customers:,} customers x {args.days} days: "
          f"{cell['wall_s']:.0f} s (world {cell['world_s']:.0f} s, policy "
          f"{cell['policy_s']:.0f} s; true incremental margin "
          f"{cell['true_incremental_margin']:,.0f}); target <= {CELL_TARGET_S:.0f} s: {ok}")
    if args.experiment:
        wall = learning_experiment()
        ok = "ok" if wall <= EXPERIMENT_TARGET_S else "MISSED"
        print(f"learning.toml, 2 workers: {wall / 60:.1f} min; target <= "
              f"{EXPERIMENT_TARGET_S / 60:.0f} min: {ok}")


if __name__ == "__main__":
    main()
