"""Speed of the two environments with a uniformly random policy (`make bench`).

- `CampaignDay-v0` at 1M customers: a simulated day (the observation, the random actions for
  every eligible customer, the rules, the response and the next organic day) against the
  organic day of the same world, side by side and interleaved day by day (target: at most
  3x); with the messages sent per day, since the cost beyond the organic day grows with them.
- `NextBestAction-v0` through `gymnasium.make` (default wrappers), random actions: steps per
  second (target: at least 30,000).
- The oracles' truth at 50,000 customers: a `CampaignDay-v0` day with option `truth` True
  (both grids), "values" (what oracle_ltv reads) and "margins" (oracle) against the same
  world's day without it, side by side, no action sent (no target; the grids are most of an
  oracle's day).

Run `python benchmarks/bench_envs.py --help`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium
import numpy as np

from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World


def campaign_day_ratio(customers: int, days: int = 5) -> tuple[float, float, float]:
    """Median seconds of an env day and of an organic day of the same world, median sends.

    The two alternate day by day (an env day, then an organic day), so that a machine
    shared with other work slows both alike.
    """
    env = gymnasium.make("nbasim/CampaignDay-v0", customers=customers, days=days + 2).unwrapped
    env.reset(seed=0)
    world = World(get_scenario("dry_cleaning_chain"), customers, days + 2, 0)
    world.step()
    rng = np.random.default_rng(0)
    env_times, organic, sent = [], [], []
    for _ in range(days):
        action = rng.integers(0, env.n_actions, customers)
        start = time.perf_counter()
        info = env.step(action)[-1]
        env_times.append(time.perf_counter() - start)
        sent.append(info["sent"])
        start = time.perf_counter()
        world.step()
        organic.append(time.perf_counter() - start)
    return statistics.median(env_times), statistics.median(organic), statistics.median(sent)


def nba_steps_per_second(steps: int) -> float:
    """Random-policy steps per second of NextBestAction-v0 made with gymnasium.make."""
    env = gymnasium.make("nbasim/NextBestAction-v0")
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def truth_day_seconds(customers: int, days: int = 5) -> dict[str, float]:
    """Median seconds of an env day with each option `truth` ("False": without), same world.

    The envs step side by side through the same days, with no action sent (so the worlds
    stay the same), a few warm-up days first.
    """
    options = (False, True, "values", "margins")
    envs = [gymnasium.make("nbasim/CampaignDay-v0", customers=customers, days=days + 12,
                           truth=t).unwrapped for t in options]
    action = np.zeros(customers, dtype=np.int64)
    times: dict[object, list[float]] = {t: [] for t in options}
    for env in envs:
        env.reset(seed=0)
    for day in range(days + 10):
        for t, env in zip(options, envs, strict=True):
            start = time.perf_counter()
            env.step(action)
            if day >= 10:
                times[t].append(time.perf_counter() - start)
    return {str(t): statistics.median(times[t]) for t in options}


def main() -> None:
    """Measure and print each figure with its target."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000,
                    help="customers of the CampaignDay run (default 1,000,000)")
    ap.add_argument("--steps", type=int, default=20_000,
                    help="NextBestAction steps to time (default 20,000)")
    ap.add_argument("--truth-customers", type=int, default=50_000,
                    help="customers of the truth-grid runs (default 50,000)")
    args = ap.parse_args()
    env_day, organic, sent = campaign_day_ratio(args.customers)
    ratio = env_day / organic
    print(f"CampaignDay-v0 at {args.customers:,}: env day {env_day * 1000:.0f} ms "
          f"({sent:,.0f} messages sent), organic day {organic * 1000:.1f} ms, ratio {ratio:.1f} "
          "(target <= 3): "
          f"{'met' if ratio <= 3 else 'NOT met'}")
    rate = nba_steps_per_second(args.steps)
    print(f"NextBestAction-v0: {rate:,.0f} steps/s (target >= 30,000): "
          f"{'met' if rate >= 30_000 else 'NOT met'}")
    days = truth_day_seconds(args.truth_customers)
    plain = days.pop("False")
    print(f"CampaignDay-v0 at {args.truth_customers:,}, no action: day without truth "
          f"{plain * 1000:.0f} ms; with option truth " + ", ".join(
              f"{k} {v * 1000:.0f} ms ({v / plain:.0f}x)" for k, v in days.items()))


if __name__ == "__main__":
    main()
