"""Speed of `nbasim calibrate`: 1M transactions of 100k customers, end to end, under 30 s.

A seeded BG/NBD log (100,000 customers joining over two years, string ids, amounts from
Gamma-Gamma, trimmed to exactly 1,000,000 rows) is written as a CSV to a temporary directory;
`experiments.data.calibrate.calibrate` then reads it, merges same-day purchases, fits BG/NBD and
Gamma-Gamma with standard errors, runs the holdout checks (the last 13 weeks) and writes
`calibration.json` and the PNGs. The figure is printed with its target and appended as a JSON
line to `benchmarks/results/bench_calibrate.jsonl`. Run from the repository root:
`python benchmarks/bench_calibrate.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

from nbasim.experiments.data.calibrate import calibrate

RESULTS = Path(__file__).resolve().parent / "results" / "bench_calibrate.jsonl"
N_CUSTOMERS, N_ROWS, SPAN_DAYS, SEED = 100_000, 1_000_000, 730, 1
BGNBD_PER_WEEK = (3.0, 10.0, 0.6, 15.0)  # r, alpha, a, b: about 10 purchases a customer
GAMMA_GAMMA = (6.25, 3.74, 15.44)  # p, q, v (Fader, Hardie and Lee 2005, CDNOW)
TARGET_SECONDS = 30.0


def make_log(rng: np.random.Generator, n_customers: int = N_CUSTOMERS,
             n_rows: int = N_ROWS) -> pa.Table:
    """A BG/NBD transaction log of exactly `n_rows` rows (customer, date, amount).

    Rows beyond `n_rows` are dropped at random, which thins purchases: the fitted parameters
    are near, not at, the generating ones (this file measures speed, not recovery).
    """
    r, alpha, a, b = BGNBD_PER_WEEK
    p, q, v = GAMMA_GAMMA
    first = rng.integers(0, SPAN_DAYS, n_customers)
    age = SPAN_DAYS - first  # days of observation after the first purchase
    lam = rng.gamma(r, 1.0 / alpha, n_customers) / 7.0
    m = rng.poisson(lam * age)
    x = np.minimum(m, rng.geometric(rng.beta(a, b, n_customers)))  # repeats before dropout
    counts = x + 1
    cust = np.repeat(np.arange(n_customers), counts)
    # The first purchase at offset 0; repeats at the first x of m uniform times in (0, age).
    u = rng.random(cust.size)
    rank = np.arange(cust.size) - np.repeat(np.cumsum(counts) - counts, counts)
    span = np.repeat(age * rng.beta(np.maximum(x, 1), np.maximum(m - x, 0) + 1), counts)
    offset = np.where(rank == 0, 0, np.floor(span * u)).astype(np.int64)
    day = np.repeat(first, counts) + offset
    nu = np.repeat(rng.gamma(q, 1.0 / v, n_customers), counts)
    amount = np.round(rng.gamma(p, 1.0, cust.size) / nu, 2)
    keep = np.sort(rng.permutation(cust.size)[:n_rows]) if cust.size > n_rows else None
    if keep is None:
        raise RuntimeError(f"the generator made {cust.size} rows, fewer than {n_rows}")
    ids = pa.array(cust[keep]).cast(pa.string())
    dates = (np.datetime64("2023-01-01") + day[keep]).astype("datetime64[D]")
    return pa.table({"customer": pa.compute.binary_join_element_wise("C", ids, ""),
                     "date": pa.array(dates).cast(pa.string()), "amount": amount[keep]})


def main(argv: list[str] | None = None) -> int:
    """Generate the log, time `calibrate` end to end, print and record the figure.

    Returns:
        0 when the target is met, 1 otherwise.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=N_ROWS, help="transactions (1,000,000)")
    parser.add_argument("--customers", type=int, default=N_CUSTOMERS, help="(100,000)")
    parser.add_argument("--no-record", action="store_true", help="do not append to results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.csv"
        table = make_log(np.random.default_rng(SEED), args.customers, args.rows)
        pv.write_csv(table, path)
        end = str(np.datetime64("2023-01-01") + SPAN_DAYS - 92)
        t0 = time.perf_counter()
        result, _ = calibrate(path, "customer", "date", "amount", end=end,
                              out=Path(tmp) / "out")
        seconds = time.perf_counter() - t0
    met = seconds <= TARGET_SECONDS
    figure = (f"nbasim calibrate, {args.rows:,} transactions of {args.customers:,} customers "
              "(s)")
    print(f"{figure}: {seconds:.2f} (target < {TARGET_SECONDS:.0f}) {'met' if met else 'MISSED'}")
    bg = result["bgnbd"]
    print(f"  BG/NBD r={bg['r']:.3f} alpha={bg['alpha']:.2f} a={bg['a']:.3f} b={bg['b']:.2f} "
          f"(generated {BGNBD_PER_WEEK}); {result['counts']['customers']:,} customers, "
          f"{result['counts']['purchase_days']:,} customer-days")
    if not args.no_record:
        RESULTS.parent.mkdir(exist_ok=True)
        line = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                            "python": platform.python_version(), "numpy": np.__version__},
                "mode": "full", "figure": figure, "value": seconds, "target": TARGET_SECONDS,
                "note": "", "met": met}
        with RESULTS.open("a") as f:
            f.write(json.dumps(line) + "\n")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
