"""What an experiment run writes, file by file.

This is the contract between the runner, `report`, `compare` and `check` (which read files
only, never live objects).

`results/<experiment>/<run-id>/`:

- `config.toml`: the config as run, plus `[versions]` of the packages.
- `summary.json`::

    {"experiment": str, "run_id": str, "baseline": GROUP, "seeds": [int, ...],
     "metrics": {METRIC: {"label": str, "better": "higher" | "lower" | "none", "unit": str}},
     "groups": {GROUP: {
         "policy": str, "scenario": str, "n_seeds": int,
         "role": "myopic oracle" | "long-term oracle",               # oracles only
         "metrics": {METRIC: {"mean": float, "ci": [lo, hi], "per_seed": [float, ...]}},
         "vs_baseline": {METRIC: {"mean": float, "ci": [lo, hi]}},   # paired by seed; {} for
                                                                     # the baseline itself
         "timing": {"world_s": float, "policy_s": float}}}}          # mean seconds per cell

  A GROUP is one policy on one scenario variant, over seeds: the policy's label, or
  "<policy> @ <scenario>" when the config has several scenario variants. `ci` is the 95 %
  t-interval of the mean over seeds ([mean, mean] for one seed). A metric that a group cannot
  have (regret without the myopic `oracle` in the config, regret_ltv without `oracle_ltv`) is
  left out of its "metrics".
- `daily.parquet`: one row per (scenario, policy, seed, day) with `DAILY_COLUMNS`.
- `decisions.parquet`: one row per decision (every eligible customer of every day) with
  `DECISION_COLUMNS`, then the context as `x_<feature name>` float32 columns.
- `migration.parquet`: (scenario, policy, seed, from_segment, to_segment, customers): the RFM
  segment of each treated customer present at the start against their segment at the end.
- `segments.parquet`: (scenario, policy, seed, segment, treated_customers, treated_margin,
  holdout_customers, holdout_margin, sent, cost, uplift): per RFM segment at the start, the
  run's margin of treated and holdout customers and the uplift of the treated over the
  holdout's rate (`experiments.run.cell._segments`).
- `channels.parquet`: (scenario, policy, seed, channel, `CHANNEL_COLUMNS`): per channel, the
  run's messages sent and their outcomes (`experiments.run.cell._channels`).
- `scores.parquet`: (scenario, policy, seed, `experiments.run.scoring.SCORE_COLUMNS`): for a
  policy that ranks customers, its score of each customer eligible on the last decision day
  and the true incremental margin of the action it would send them (no file when no policy
  of the run ranks).
- `slots.parquet`: (scenario, policy, seed, `experiments.run.slots.SLOT_COLUMNS`): with
  `slate_size` > 1, per slot of the slates, the messages that showed an offer there, the
  redemptions it took and their share of the cell's; the decision log then also holds, for
  slots 2..K, `action_<j>` and `pscore_<j>` (given the slots before), and `redeemed_slot`
  (`experiments.run.slots`). No file without slates.
- `moments.parquet`: with `epochs = "moments"`, (scenario, policy, seed,
  `experiments.run.moments.MOMENT_COLUMNS`): per kind of decision moment and channel, what was
  sent and what it added; the decision log then also holds each decision's `moment`.
- `plots/*.png` and `report.html` (rebuilt by `nbasim report RUN_DIR` from the files above).
- `cells/<scenario>/<policy>/seed-<k>/`: each cell's own tables and `cell.json` (figures,
  timing, and the size and SHA-256 of each table), kept so that a rerun of an interrupted
  sweep skips finished cells; a cell whose files are not all there and whole runs again
  (`experiments.run.cell_files`).
- `.nbasim.lock`: the run's lock (`experiments.store.lock`): while a run, or `ope-validate`,
  writes in the directory it holds an `flock` on this file, which names it (pid, host, start
  time); a second run on the same directory exits 2 naming the holder. A killed run's lock
  is released by the kernel; the file stays.
"""

from __future__ import annotations

KEYS = ("scenario", "policy", "seed")
"""Columns that identify a cell in every table."""

DAILY_COLUMNS = {
    "scenario": "scenario variant label", "policy": "policy label", "seed": "seed",
    "day": "simulated day",
    "eligible": "customers a message could reach today",
    "sent": "actions sent: messages, and point-of-sale offers shown",
    "cost": "money spent: message prices plus discounts redeemed",
    "reward": "the step's reward under the objective (margin, ltv; window: the windows that "
              "closed today)",
    "true_incremental_margin": "true expected incremental margin of what was sent",
    "true_incremental_value": "true expected incremental value of what was sent: the margin "
                              "net of the future value it moved (`nbasim.sim.long_term`)",
    "n_treated": "present customers outside the holdout",
    "n_holdout": "present customers in the holdout",
    "purchases": "purchases by treated customers", "revenue": "their spend",
    "margin": "their margin, net of discounts redeemed",
    "holdout_purchases": "purchases by holdout customers", "holdout_revenue": "their spend",
    "holdout_margin": "their margin",
    "uplift": "incremental margin over the holdout, regression-adjusted (CUPED, "
              "`experiments.run.cuped`): the cumulative adjusted uplift's change today",
    "uplift_raw": "incremental margin over the holdout, raw: treated profit minus what the "
                  "treated would have made at the holdout's rate per customer",
    "churned": "treated customers who died today", "active": "treated customers alive at the "
                                                              "end of the day",
    "opens": "messages opened", "clicks": "messages clicked",
    "unsubscribes": "unsubscribes",
    **{f"sent_{c}": f"messages sent by {c}" for c in ("email", "sms", "push", "phone")},
    **{f"opens_{c}": f"messages opened by {c}" for c in ("email", "sms", "push", "phone")},
    **{f"clicks_{c}": f"messages clicked by {c}" for c in ("email", "sms", "push", "phone")},
    **{f"unsubscribes_{c}": f"unsubscribes from {c}" for c in ("email", "sms", "push",
                                                                "phone")},
    "budget": "budget of the period (NaN: none)", "budget_left": "budget left after today",
    "sent_pos": "point-of-sale offers shown at the till (`epochs = 'moments'`; they count in "
                "`sent`, not in the contacts)",
    "lines_pos": "lines they added to the baskets (their spend and margin count in revenue "
                 "and margin, not in purchases)",
}
"""daily.parquet columns and what each holds."""

DECISION_COLUMNS = {
    "scenario": "scenario variant label", "policy": "policy label", "seed": "seed",
    "day": "simulated day", "customer": "customer row", "segment": "RFM segment name",
    "action": "action index", "offer": "offer name", "channel": "channel name (none)",
    "target": "category or store the offer names (none)",
    "pscore": "probability with which the policy chose the action",
    "sent": "the action went out", "rejected": "rule that stopped it ('' if none)",
    "reward": "attributed margin minus cost (plus value change with objective ltv; with "
              "objective window, the customer's margin over the window minus cost)",
    "true_incremental_margin": "true expected incremental margin (0 if not sent)",
}
"""decisions.parquet columns (then `x_<feature>` context columns) and what each holds."""

CHANNEL_COLUMNS = {
    "scenario": "scenario variant label", "policy": "policy label", "seed": "seed",
    "channel": "channel name", "sent": "messages sent", "opens": "messages opened",
    "clicks": "messages clicked",
    "conversions": "attributed conversions: purchases within the window after an open",
    "unsubscribes": "unsubscribes", "cost": "money spent: message prices plus discounts redeemed",
    "attributed_margin": "margin of the attributed conversions net of discounts (what a CRM "
                         "credits the messages with)",
    "true_incremental_margin": "true expected incremental margin of the messages sent",
}
"""channels.parquet columns (one row per cell and channel) and what each holds."""
CHANNEL_FIELDS = tuple(CHANNEL_COLUMNS)[4:]
"""What a cell counts per channel over its run: the channels.parquet columns after its keys."""
CHANNEL_MONEY = ("cost", "attributed_margin", "true_incremental_margin")
"""Of `CHANNEL_FIELDS`, those in money (the others are counts)."""
