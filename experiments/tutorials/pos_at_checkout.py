"""Tutorial: point-of-sale offers against messages at the same checkout moments."""

# %% [markdown]
# # An offer at the till, or a message?
#
# A scenario that lists "pos" among its channels lets `NextBestAction-v0` show an offer at a
# store's till when a customer checks out (`nbasim.sim.pos`): it can add a line to the basket
# being bought, costs only the discount on that line, needs no consent and is no contact.
# At the same moment a marketer could instead send a message. Which pays, and how much?
#
# The simulator knows the true incremental margin of every action (`truth="margins"`), so
# the question has an exact answer: play the myopic oracle restricted to pos offers, to
# messages, and to both, at every checkout of the same world (same seed, no action anywhere
# else), and add up the true incremental margin of what each sent.

# %%
import os

import gymnasium
import numpy as np

import nbasim  # noqa: F401  (registers the environments)
from nbasim.sim.params import CHANNELS

SMALL = os.environ.get("NBASIM_TUTORIAL_SMALL") == "1"
CUSTOMERS, DAYS, SEEDS = (2_000, 5, (0,)) if SMALL else (20_000, 60, (0, 1, 2))
OPTIONS = {"scenario": "retail_chain", "customers": CUSTOMERS, "days": DAYS,
           "truth": "margins", "overrides": {"channels": [*CHANNELS, "pos"]}}


# %% [markdown]
# One episode: at a checkout, the eligible action of highest true incremental margin among
# the allowed ones (pos, messages or both), if it is positive; no action elsewhere. A
# message the contact policy stops is refused by the world and earns nothing.

# %%
def play(allowed: str, seed: int) -> dict:
    """Totals of the checkout oracle restricted to `allowed` ("pos", "messages", "both")."""
    env = gymnasium.make("nbasim/NextBestAction-v0", **OPTIONS)
    u = env.unwrapped
    pos = np.array(u.action_table["channel"]) == "pos"
    keep = {"pos": pos, "messages": ~pos, "both": np.ones_like(pos)}[allowed].copy()
    keep[0] = True
    offers = np.array(u.action_table["offer"])
    out = {"checkouts": 0, "sent": 0, "margin": 0.0, "cost": 0.0, "reward": 0.0, "offers": {}}
    _, info = env.reset(seed=seed)
    while info["next"]["moment"] is not None:
        action = 0
        if info["next"]["moment"] == "checkout":
            out["checkouts"] += 1
            gain = np.where(u.action_mask() & keep, info["next"]["true_margins"], -np.inf)
            gain[0] = 0.0
            action = int(gain.argmax())
        _, reward, _, truncated, info = env.step(action)
        if info["sent"]:
            out["sent"] += 1
            out["margin"] += info["true_incremental_margin"]
            out["cost"] += info["cost"]
            out["reward"] += reward
            kind = f"{offers[action]} ({'pos' if pos[action] else 'message'})"
            out["offers"][kind] = out["offers"].get(kind, 0) + 1
        if truncated:
            break
    return out


# %%
results = {allowed: [play(allowed, s) for s in SEEDS] for allowed in ("pos", "messages", "both")}
print(f"retail_chain, {CUSTOMERS:,} customers, {DAYS} days, seeds {SEEDS}: per seed, the "
      "true incremental margin of what the checkout oracle sent")
for allowed, runs in results.items():
    m = np.array([r["margin"] for r in runs])
    print(f"  {allowed:>8}: margin {m.mean():9,.1f} (seeds {', '.join(f'{x:,.1f}' for x in m)})"
          f"; sent {np.mean([r['sent'] for r in runs]):,.0f} of "
          f"{np.mean([r['checkouts'] for r in runs]):,.0f} checkouts; cost "
          f"{np.mean([r['cost'] for r in runs]):,.1f}; reward "
          f"{np.mean([r['reward'] for r in runs]):,.1f}")
mix: dict[str, int] = {}
for r in results["both"]:
    for k, v in r["offers"].items():
        mix[k] = mix.get(k, 0) + v
print("  what the oracle over both sends at checkouts:",
      ", ".join(f"{k} {v}" for k, v in sorted(mix.items(), key=lambda kv: -kv[1])[:8]))
