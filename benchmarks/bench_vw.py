"""Speed of the `vw` policy against the raw pylibvw loop, side by side (`make bench`).

The task is the anchor task of the performance checks, rebuilt here with the same
construction: 10 offers with 6 features, contexts of 20 standard normals, P(reward = 1 | x, a)
= sigmoid(x Theta A[a] + bias[a]), rewards drawn with common random numbers. Rows:

- raw: the reference loop that drives pylibvw directly (text of each round parsed once,
  `predict_multi`, `learn_multi`, `_finish_example_multi_ex`), the lowest-overhead way to
  use VW from Python without reusing examples;
- ours: `policies.make("vw", ...)` driven through `act` and `update`, batch size 1 and 1,000.

Target (issue 13): ours >= 0.8x the decisions/s of raw for both epsilon 0.1 and squarecb,
batch 1, at a mean reward within 0.03 of it. Each figure is the best of `--reps` runs, the
variants interleaved.

Run `python benchmarks/bench_vw.py --help`.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import pylibvw
import vowpalwabbit
from anchor_task import Task  # noqa: E402  (benchmarks/ is the script's folder)

from nbasim import policies

EXPLORATION_ARGS = {
    "epsilon": "--cb_explore_adf --epsilon 0.1",
    "squarecb": "--cb_explore_adf --squarecb",
    "cover": "--cb_explore_adf --cover 4",
}
OURS_PARAMS = {
    "epsilon": {"exploration": "epsilon", "explore": 0.1},
    "squarecb": {"exploration": "squarecb"},
    "cover": {"exploration": "cover", "cover": 4},
}
TARGET = 0.8


def _sample(pmf: list[float], u: float) -> int:
    c = 0.0
    for i, p in enumerate(pmf):
        c += p
        if u < c:
            return i
    return len(pmf) - 1


def run_raw(task: Task, args: str, n: int) -> tuple[float, float]:
    """The reference loop over pylibvw; returns (decisions/s, mean reward)."""
    vw = vowpalwabbit.Workspace(args + " -q ca --quiet")
    acts = "\n".join(f"|a a{k} " + " ".join(f"f{j}:{task.A[k, j]:.5f}" for j in range(task.M))
                     for k in range(task.K))
    x_all, p_all, u_all = task.X, task.P, task.U
    rnd = random.Random(1)  # the reference's own sampler, kept as it is
    parse, predict, learn = vw._parse, pylibvw.vw.predict_multi, pylibvw.vw.learn_multi
    finish = pylibvw.vw._finish_example_multi_ex
    cb = vowpalwabbit.LabelType.CONTEXTUAL_BANDIT.value
    total = 0.0
    start = time.perf_counter()
    for t in range(n):
        s = ("shared |c " + " ".join([f"{i}:{v:.5f}" for i, v in enumerate(x_all[t].tolist())])
             + "\n" + acts)
        ex = parse(s)
        predict(vw, ex)
        pmf = ex[0].get_action_scores()
        a = _sample(pmf, rnd.random())
        r = 1.0 if u_all[t] < p_all[t, a] else 0.0
        ex[a + 1].set_label_string(vw, f"0:{-r}:{pmf[a]}", cb)
        learn(vw, ex)
        finish(vw, ex)
        total += r
    rate = n / (time.perf_counter() - start)
    vw.finish()
    return rate, total / n


def run_ours(task: Task, params: dict, n: int, batch: int) -> tuple[float, float]:
    """`policies.make("vw")` through act and update; returns (decisions/s, mean reward)."""
    policy = policies.make("vw", action_features=task.A, dim_context=task.D, seed=0, **params)
    total = 0.0
    start = time.perf_counter()
    for s in range(0, n, batch):
        x = task.X[s:s + batch]
        a, ps = policy.act(x)
        r = task.R[np.arange(s, s + len(x)), a]
        policy.update(x, a, r, ps)
        total += r.sum()
    rate = n / (time.perf_counter() - start)
    policy.close()
    return rate, total / n


def main() -> None:
    """Measure every row, print the table and the ratio against the target."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30_000,
                    help="decisions per run (default 30,000, as the acceptance check)")
    ap.add_argument("--reps", type=int, default=3, help="runs per row; the best is kept")
    args = ap.parse_args()
    task = Task(seed=0, n_rounds=max(args.rounds, 100_000))
    n = args.rounds
    rows = {
        "raw pylibvw, epsilon 0.1, batch 1": lambda: run_raw(task, EXPLORATION_ARGS["epsilon"],
                                                             n),
        "ours vw, epsilon 0.1, batch 1": lambda: run_ours(task, OURS_PARAMS["epsilon"], n, 1),
        "raw pylibvw, squarecb, batch 1": lambda: run_raw(task, EXPLORATION_ARGS["squarecb"],
                                                          n),
        "ours vw, squarecb, batch 1": lambda: run_ours(task, OURS_PARAMS["squarecb"], n, 1),
        "raw pylibvw, cover 4, batch 1": lambda: run_raw(task, EXPLORATION_ARGS["cover"], n),
        "ours vw, cover 4, batch 1": lambda: run_ours(task, OURS_PARAMS["cover"], n, 1),
        "ours vw, epsilon 0.1, batch 1,000": lambda: run_ours(task, OURS_PARAMS["epsilon"], n,
                                                              1000),
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.reps):
        for name, fn in rows.items():
            rate, reward = fn()
            if name not in best or rate > best[name][0]:
                best[name] = (rate, reward)
    print(f"vw {vowpalwabbit.__version__}, anchor task, {n:,} decisions per run, best of "
          f"{args.reps} (oracle mean reward {task.oracle_mean:.3f}, uniform "
          f"{task.uniform_mean:.3f})")
    print(f"{'variant':<36}{'decisions/s':>14}{'mean reward':>14}")
    for name, (rate, reward) in best.items():
        print(f"{name:<36}{rate:>14,.0f}{reward:>14.3f}")
    for label in ("epsilon 0.1", "squarecb", "cover 4"):
        raw_rate, raw_reward = best[f"raw pylibvw, {label}, batch 1"]
        rate, reward = best[f"ours vw, {label}, batch 1"]
        print(f"{label}: ours / raw = {rate / raw_rate:.2f}, reward difference "
              f"{reward - raw_reward:+.3f}")
    for label in ("epsilon 0.1", "squarecb"):
        raw_rate, raw_reward = best[f"raw pylibvw, {label}, batch 1"]
        rate, reward = best[f"ours vw, {label}, batch 1"]
        met = rate >= TARGET * raw_rate and reward >= raw_reward - 0.03
        print(f"target: ours ({label}, batch 1) >= {TARGET}x raw and reward within 0.03: "
              f"ratio {rate / raw_rate:.2f}, {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
