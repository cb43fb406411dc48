"""Speed and mean reward of the numpy bandits on the anchor task (`make bench`).

The anchor task (the construction of the acceptance reference `common.Task`, rebuilt here):
10 actions with 6 features each, 20 standard-normal context features, logistic reward
P(r = 1 | x, a) = sigmoid(x' Theta A[a] + bias[a]), 100,000 rounds, common random numbers (one
uniform per round, so every learner sees the same noise for the same round and action).

Side by side in one run, batches of 1,000 (act, then update):
- `policies.make("linucb", ...)` (per action) against a plain numpy batched LinUCB (the
  reference loop of the acceptance anchors, copied below) and MABWiser's batched LinUCB.
  Targets: ours >= the numpy reference and >= 3x MABWiser, mean reward within 0.02.
- every numpy policy (epsilon_greedy, linucb, lints; per_action and shared): decisions/s and
  mean reward, with the oracle and uniform means;
- the cost of input validation in `Policy.act`/`update` at batch 1,000.

Run `python benchmarks/bench_policies.py --help`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
from anchor_task import D, K, M, Task  # noqa: E402  (benchmarks/ is the script's folder)

from nbasim import policies

BATCH = 1000


def linucb_batched(task: Task, batch: int = 1000, alpha: float = 1.0,
                   lam: float = 1.0) -> float:
    """Plain numpy batched LinUCB, the reference loop (copied from the acceptance anchors)."""
    k, d, n = task.K, task.D, task.n
    x_all, r_all = task.X, task.R
    gram = np.tile(lam * np.eye(d), (k, 1, 1))
    b = np.zeros((k, d))
    inv = np.linalg.inv(gram)
    theta = np.zeros((k, d))
    tot = 0.0
    rows = np.arange(batch)
    for s in range(0, n, batch):
        xb = x_all[s:s + batch]                                   # (B, D)
        mean = xb @ theta.T                                       # (B, K)
        xa = np.matmul(xb, inv)                                   # (K, B, D)
        var = np.einsum("kbd,bd->bk", xa, xb)                     # x' A_k^-1 x
        a = np.argmax(mean + alpha * np.sqrt(var), axis=1)
        r = r_all[s + rows, a]
        tot += r.sum()
        for j in range(k):                                        # A_k += X_k' X_k
            m = a == j
            xk = xb[m]
            gram[j] += xk.T @ xk
            b[j] += r[m] @ xk
        inv = np.linalg.inv(gram)                                 # once per batch
        theta = np.einsum("kde,ke->kd", inv, b)
    return tot / n


def ours(task: Task, name: str, raw: bool = False, **params: object) -> tuple[float, float]:
    """Decisions/s and mean reward of a registered policy, batches of 1,000.

    With `raw`, call the policy's own `act`/`update` (`__wrapped__`, under the input checks
    `Policy` adds) on pre-validated arrays: the difference to the normal path is what input
    validation costs.
    """
    policy = policies.make(name, action_features=task.A, dim_context=task.D, seed=0, **params)
    own_act, own_update = type(policy).act.__wrapped__, type(policy).update.__wrapped__
    tot = 0.0
    start = time.perf_counter()
    for s in range(0, task.n, BATCH):
        x = task.X[s:s + BATCH]
        rows = np.arange(s, s + len(x))
        if raw:
            a, p = own_act(policy, x, None)
            r = task.R[rows, a]
            own_update(policy, x, a, r, p)
        else:
            a, p = policy.act(x)
            r = task.R[rows, a]
            policy.update(x, a, r, p)
        tot += r.sum()
    return task.n / (time.perf_counter() - start), tot / task.n


def reference(task: Task) -> tuple[float, float]:
    """Decisions/s and mean reward of the numpy reference LinUCB."""
    start = time.perf_counter()
    mean = linucb_batched(task)
    return task.n / (time.perf_counter() - start), mean


def mabwiser_linucb(task: Task) -> tuple[float, float]:
    """Decisions/s and mean reward of MABWiser's LinUCB driven in batches of 1,000."""
    from mabwiser.mab import MAB, LearningPolicy

    mab = MAB(arms=list(range(task.K)), learning_policy=LearningPolicy.LinUCB(alpha=1.0),
              seed=7)
    mab.fit(task.log_a[:100], task.log_r[:100], task.X[:100])
    rows = np.arange(BATCH)
    tot = 0.0
    start = time.perf_counter()
    for s in range(0, task.n, BATCH):
        xb = task.X[s:s + BATCH]
        ab = np.asarray(mab.predict(xb))
        rb = task.R[s + rows, ab]
        mab.partial_fit(ab, rb, xb)
        tot += rb.sum()
    return task.n / (time.perf_counter() - start), tot / task.n


def best(fn: Callable[[], tuple[float, float]], reps: int) -> tuple[float, float]:
    """The fastest of `reps` runs (speed, mean reward)."""
    return max((fn() for _ in range(reps)), key=lambda v: v[0])


def main() -> int:
    """Run the comparison and print one line per measurement; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100_000, help="rounds of the task")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (best is kept)")
    args = parser.parse_args()
    task = Task(seed=0, n_rounds=args.rounds)
    print(f"anchor task: {task.n:,} rounds, {K} actions x {M} features, {D} context features; "
          f"oracle mean {task.oracle_mean:.4f}, uniform mean {task.uniform_mean:.4f}")

    # Interleave ours and the reference, so both see the same machine load.
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "ref": [], "raw": []}
    for _ in range(args.reps):
        runs["ref"].append(reference(task))
        runs["ours"].append(ours(task, "linucb"))
        runs["raw"].append(ours(task, "linucb", raw=True))
    lin, lin_r = max(runs["ours"], key=lambda v: v[0])
    ref, ref_r = max(runs["ref"], key=lambda v: v[0])
    raw, _ = max(runs["raw"], key=lambda v: v[0])
    print(f"linucb (per action)     {lin:>12,.0f} decisions/s  mean reward {lin_r:.4f}")
    print(f"numpy reference LinUCB  {ref:>12,.0f} decisions/s  mean reward {ref_r:.4f}  "
          f"(ours / reference {lin / ref:.2f}, target >= 1)")
    print(f"validation overhead: act/update {lin:,.0f}/s vs _act/_update {raw:,.0f}/s "
          f"({100 * (raw / lin - 1):+.1f}%)")
    ok = lin >= ref and lin_r >= ref_r - 0.02
    try:
        import mabwiser  # noqa: F401
    except ImportError:
        print("MABWiser: not installed, skipped (pip install mabwiser, or "
              "pip install -e '.[bench]')")
    else:
        mw, mw_r = best(lambda: mabwiser_linucb(task), args.reps)
        print(f"MABWiser LinUCB         {mw:>12,.0f} decisions/s  mean reward {mw_r:.4f}  "
              f"(ours / MABWiser {lin / mw:.1f}, target >= 3)")
        ok &= lin >= 3 * mw and lin_r >= mw_r - 0.02

    print("all numpy policies, batches of 1,000:")
    for name in ("epsilon_greedy", "linucb", "lints"):
        for model in ("per_action", "shared"):
            speed, mean = best(lambda n=name, m=model: ours(task, n, model=m), args.reps)
            print(f"  {name:15s} {model:10s} {speed:>12,.0f} decisions/s  mean reward {mean:.4f}")
    print(f"  {'oracle':26s} {'':>12s}               mean reward {task.oracle_mean:.4f}")
    print(f"  {'uniform':26s} {'':>12s}               mean reward {task.uniform_mean:.4f}")
    print("policy speed targets met" if ok else "policy speed targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
