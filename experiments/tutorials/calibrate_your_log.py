"""Tutorial: calibrate the world to a transaction log and run a campaign on it."""

# %% [markdown]
# # Calibrate the world to your transaction log
#
# From a log of (customer, date, amount) nbasim fits the BG/NBD purchase-and-dropout model and
# the Gamma-Gamma spend model by maximum likelihood, checks the fit on a holdout period, and
# builds a simulated base with the same purchase rates, dropout, spend and age structure. Here
# the "real" log is simulated, so we can see the fit recover what made it; point `LOG` at
# your own CSV or Parquet file instead.

# %%
import os
import tempfile
from pathlib import Path

import gymnasium
import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

import nbasim
from nbasim import policies
from nbasim.experiments.data.calibrate import calibrate, scenario_from_calibration
from nbasim.experiments.run.simulate import SimulationSpec, simulate

SMALL = os.environ.get("NBASIM_TUTORIAL_SMALL") == "1"
work = Path(tempfile.mkdtemp())

# %% [markdown]
# A stand-in for your log: one year of a retail chain's purchases.

# %%
spec = SimulationSpec(scenario="retail_chain", customers=800 if SMALL else 20_000,
                      days=120 if SMALL else 365, seed=7, transactions=True)
tx = simulate(spec).transactions
LOG = work / "transactions.csv"
pv.write_csv(pa.table({"id": tx["customer_id"], "date": tx["date"], "amount": tx["amount"]}),
             LOG)
print(f"{len(tx['amount']):,} purchases by {len(np.unique(tx['customer_id'])):,} customers")

# %% [markdown]
# Fit, keeping the last 8 weeks as a holdout for the checks (predicted against actual
# repeat purchases). `calibration.json` and the check plots go to `out`.

# %%
last = np.datetime64(tx["date"].max(), "D")
result, out = calibrate(LOG, customer_col="id", date_col="date", amount_col="amount",
                        end=str(last - 56), out=work / "calibration")
bgnbd = result["bgnbd"]
print("BG/NBD:", {k: round(bgnbd[k], 3) for k in ("r", "alpha", "a", "b")},
      "converged" if bgnbd["converged"] else "NOT converged")
print("plots:", result["plots"])

# %% [markdown]
# The calibrated base as a world: overrides on top of a scenario (its stores, catalog and
# response model stay) and the base's size. Any env or experiment takes them; here one
# month of a blanket e-mail against doing nothing on that base.

# %%
overrides, customers = scenario_from_calibration(out / "calibration.json", "retail_chain",
                                                 days=30)
env = gymnasium.make("nbasim/CampaignDay-v0", scenario="retail_chain", overrides=overrides,
                     customers=customers, days=10 if SMALL else 30)
u = env.unwrapped
control = policies.make("no_action", action_features=u.action_features,
                        dim_context=len(u.feature_names), seed=0)
blanket = policies.make("blanket", action_features=u.action_features,
                        dim_context=len(u.feature_names), seed=0,
                        action_table=u.action_table, offer="discount_10", channel="email")
for name, policy in (("no_action", control), ("blanket", blanket)):
    print(name, nbasim.run_episode(env, policy, seed=0))
