"""Speed of the off-policy estimators: IPS, SNIPS and DR over 10M logged rounds, under 10 s.

A seeded synthetic log of 10,000,000 rounds over 5 actions (rewards, logged pscores, the
target's probability of each logged action, and for DR the (n, 5) target distribution and
reward-model predictions) is built in memory; `experiments.ope.ips`, `snips` and
`doubly_robust` are each timed on it (best of `--repeat` calls, inputs validated as in normal
use), next to a plain numpy IPS, `np.mean(target_pscore / pscore * reward)`, measured in the
same run. The target is the sum of the three estimators' times. Figures are printed as a
table and appended as a JSON line to `benchmarks/results/bench_ope.jsonl`. Run from the
repository root: `python benchmarks/bench_ope.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from nbasim.experiments import ope

RESULTS = Path(__file__).resolve().parent / "results" / "bench_ope.jsonl"
N_ROUNDS, N_ACTIONS, SEED = 10_000_000, 5, 0
TARGET_SECONDS = 10.0


def make_log(rng: np.random.Generator, n: int, k: int) -> dict[str, np.ndarray]:
    """A synthetic log: per-row logger and target distributions, a logged action, rewards."""
    logger = rng.dirichlet(np.ones(k), size=n // 1000 + 1)[rng.integers(0, n // 1000 + 1, n)]
    logger = 0.9 * logger + 0.1 / k  # no pscore below 0.02
    target = rng.dirichlet(np.ones(k), size=n // 1000 + 1)[rng.integers(0, n // 1000 + 1, n)]
    cum = logger.cumsum(axis=1)
    action = np.minimum((cum < rng.random(n)[:, None]).sum(axis=1), k - 1)
    rows = np.arange(n)
    q_hat = rng.random((n, k))
    reward = (rng.random(n) < q_hat[rows, action]).astype(np.float64)
    return {"reward": reward, "action": action, "pscore": logger[rows, action],
            "target_pscore": target[rows, action], "action_dist": target, "q_hat": q_hat}


def _best(fn, repeat: int) -> tuple[float, float]:
    """(best seconds, value) over `repeat` calls."""
    best, value = np.inf, np.nan
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def main(argv: list[str] | None = None) -> int:
    """Build the log, time each estimator and the numpy reference, print and record.

    Returns:
        0 when IPS + SNIPS + DR take under the target, 1 otherwise.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=N_ROUNDS, help="logged rounds (10M)")
    parser.add_argument("--repeat", type=int, default=3, help="calls per estimator (best of)")
    parser.add_argument("--no-record", action="store_true", help="do not append to results")
    args = parser.parse_args(argv)
    log = make_log(np.random.default_rng(SEED), args.rounds, N_ACTIONS)
    r, a, p, t = log["reward"], log["action"], log["pscore"], log["target_pscore"]
    pi, q = log["action_dist"], log["q_hat"]
    rows = [
        ("numpy IPS (reference)", lambda: float(np.mean(t / p * r))),
        ("ips", lambda: ope.ips(r, p, t)),
        ("snips", lambda: ope.snips(r, p, t)),
        ("dr", lambda: ope.doubly_robust(r, a, p, pi, q)),
    ]
    times = {}
    print(f"Off-policy estimators over {args.rounds:,} rounds, {N_ACTIONS} actions "
          f"(best of {args.repeat})")
    print(f"{'estimator':<24}{'seconds':>10}{'rounds/s':>16}{'vs numpy IPS':>14}")
    for name, fn in rows:
        seconds, value = _best(fn, args.repeat)
        times[name] = seconds
        ratio = times["numpy IPS (reference)"] / seconds
        print(f"{name:<24}{seconds:>10.3f}{args.rounds / seconds:>16,.0f}{ratio:>13.2f}x"
              f"   value {value:.5f}")
    total = times["ips"] + times["snips"] + times["dr"]
    met = total <= TARGET_SECONDS
    figure = f"OPE IPS + SNIPS + DR over {args.rounds:,} rounds (s)"
    print(f"{figure}: {total:.2f} (target < {TARGET_SECONDS:.0f}) {'met' if met else 'MISSED'}")
    if not args.no_record:
        RESULTS.parent.mkdir(exist_ok=True)
        line = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                            "python": platform.python_version(), "numpy": np.__version__},
                "mode": "full", "figure": figure, "value": total, "target": TARGET_SECONDS,
                "rounds_per_s": {k: args.rounds / v for k, v in times.items()},
                "note": f"{N_ACTIONS} actions", "met": met}
        with RESULTS.open("a") as f:
            f.write(json.dumps(line) + "\n")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
