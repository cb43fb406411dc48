"""Tutorial: register a scenario and a shock, then stress-test a strategy under them."""

# %% [markdown]
# # Add your own scenario and shock
#
# A scenario is a named set of world parameters (population, stores, catalog, channels,
# response); a shock changes some of them for a while. Register yours, and every env, config
# and command finds them by name. Then stress-test a strategy: how does the playbook hold up
# when a competitor's campaign hits?

# %%
import os
import tempfile
from pathlib import Path

import numpy as np

from nbasim.experiments.results.summary import load_summary
from nbasim.experiments.run import config, sweep
from nbasim.sim.scenarios import get_scenario, register_scenario
from nbasim.sim.shocks import DayModifiers, Shock, register_shock

SMALL = os.environ.get("NBASIM_TUTORIAL_SMALL") == "1"

# %% [markdown]
# A scenario from an existing one with some fields changed: a dry-cleaning chain in a town
# where customers buy less often and churn faster. `nbasim scenarios dry_cleaning_chain`
# lists every field with its range and source.

# %%
base = get_scenario("dry_cleaning_chain").model_dump()
base.update(churn_base=base["churn_base"] * 1.5, bgnbd_alpha=base["bgnbd_alpha"] * 1.3,
            description="a dry-cleaning chain in a town that buys less and churns faster")
register_scenario("small_town_cleaners", base)

# %% [markdown]
# A shock is a frozen, validated class with an `apply` that folds it into the day modifiers
# (purchase rate, spend, churn hazard, channel affinity and delivery, budget) on its days.

# %%
class NewCompetitor(Shock):
    """A competitor opens: fewer purchases and more churn while it advertises."""

    rate_drop: float = 0.2
    """Share by which the purchase rate falls."""
    churn_rise: float = 2.0
    """Factor on the churn hazard."""

    def apply(self, mods: DayModifiers, on: np.ndarray) -> None:
        """Lower the purchase rate and raise churn on the shock's days."""
        mods.rate[on] *= 1 - self.rate_drop
        mods.churn[on] *= self.churn_rise


register_shock("new_competitor", NewCompetitor)

# %% [markdown]
# Stress test: the playbook and the control, with and without the shock from day 5.

# %%
days = 12 if SMALL else 60
cfg = config.parse({
    "name": "stress", "customers": 400 if SMALL else 5_000, "days": days, "seeds": [0, 1],
    "scenarios": [{"label": "calm", "scenario": "small_town_cleaners"},
                  {"label": "competitor", "scenario": "small_town_cleaners",
                   "shocks": ["new_competitor:start_day=5,rate_drop=0.3"]}],
    "policies": [{"label": "no_action"}, {"label": "rfm_playbook"}]})
run_dir = sweep.run(cfg, Path(tempfile.mkdtemp()) / "run")
for group in load_summary(run_dir / "summary.json")["groups"].values():
    m = group["metrics"]
    print(f"{group['scenario']:>10} {group['policy']:>12}: churn rate "
          f"{m['churn_rate']['mean']:.3f}, true incremental margin "
          f"{m['true_incremental_margin']['mean']:.1f}")
