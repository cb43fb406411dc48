"""Tutorial: your RFM playbook against a bandit, on the same customers, over seeds."""

# %% [markdown]
# # Your RFM playbook against a bandit
#
# The question most teams bring: does a learning policy beat the rules we use today? This
# runs the control (`no_action`), an RFM playbook, a LinUCB bandit and the oracle on the same
# customers (common random numbers), over several seeds, and compares them on the uplift over
# a holdout and on the true incremental margin that only a simulator knows.

# %%
import os
import tempfile
from pathlib import Path

from nbasim.experiments.results.compare import rank, render_ranking
from nbasim.experiments.results.summary import load_summary
from nbasim.experiments.run import config, sweep

SMALL = os.environ.get("NBASIM_TUTORIAL_SMALL") == "1"

# %% [markdown]
# An experiment is a config: the world, its size, the seeds, the holdout and the policies
# with their parameters. The playbook's segment-to-offer table is editable (`playbook`).

# %%
cfg = config.parse({
    "name": "playbook_vs_bandit",
    "customers": 400 if SMALL else 5_000,
    "days": 10 if SMALL else 60,
    "seeds": [0, 1] if SMALL else [0, 1, 2],
    "holdout": 0.1,
    "baseline": "rfm_playbook",
    "scenarios": [{"label": "dry_cleaning", "scenario": "dry_cleaning_chain"}],
    "policies": [
        {"label": "no_action"},
        {"label": "rfm_playbook", "params": {"playbook": {
            "at_risk": {"offer": "win_back", "channel": "email"},
            "champions": {"offer": "loyalty_x2", "channel": "push"}}}},
        {"label": "linucb", "params": {"alpha": 1.0, "explore": 0.05}},
        {"label": "oracle"},
    ],
})

# %% [markdown]
# Run every (policy, seed) cell; `workers=2` runs cells in two processes with results
# identical to one. The run directory holds the summary, daily tables, the decision log,
# plots and `report.html`.

# %%
out = Path(tempfile.mkdtemp()) / "run"
run_dir = sweep.run(cfg, out, workers=1 if SMALL else 2)
print("report:", run_dir / "report.html")

# %% [markdown]
# Rank the policies: each metric's mean over seeds with its 95 % interval, and the
# difference against the playbook paired seed by seed (which cancels the holdout's luck).

# %%
summary = load_summary(run_dir / "summary.json")
ranking = rank(summary, by="true_incremental_margin")
from rich.console import Console  # noqa: E402

Console(width=160).print(render_ranking(ranking))

# %% [markdown]
# How to read it: `incremental_margin` is what you would measure in the field, margin over
# the holdout; `true_incremental_margin` is the expected value of what was sent, known only
# here. The oracle bounds what any policy could reach on these customers.
