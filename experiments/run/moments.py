"""A cell that plays NextBestAction-v0 (`epochs = "moments"`): each decision when it happens.

The day's moments come in time order: customers turning at-risk at 00:00, the daily campaign,
each checkout at its till (where point-of-sale offers can be shown, `sim.pos`) and each
abandoned cart. The policy is asked once per moment for all its customers
(`envs.episode.steps(per_moment=True)`) and learns from the moment's rewards when it ends.

The cell's tables have the daily layout, so the report, `compare` and `check` read them as
any run's: the row of day d holds the decisions of day d, the purchases of day d + 1 (when
what was sent on day d lands, as in CampaignDay-v0) and the lines that point-of-sale offers
added to day d's baskets. Day d is closed when the world simulates day d + 1; the last day's
decisions have no next day within the run, so their messages' purchases land after it. The
decision log adds each decision's `moment`, and `moments.parquet` gives, per moment and
channel, what was sent and what it added (`MOMENT_COLUMNS`): where point-of-sale offers and
messages pay, at the same checkouts. A ranking (scores.parquet) is not taken in this mode.
"""

from __future__ import annotations

import numpy as np

from nbasim.envs.episode import Step, steps
from nbasim.experiments.run import slots
from nbasim.experiments.run.cell import Cell, CellResult, begin, day_row, finish
from nbasim.experiments.run.config import ExperimentConfig
from nbasim.sim.calendar import KINDS
from nbasim.sim.constraints import REASONS, Ledger
from nbasim.sim.params import ACTION_CHANNELS
from nbasim.sim.response import Realized

MOMENT_COLUMNS = {
    "scenario": "scenario variant label", "policy": "policy label", "seed": "seed",
    "moment": "kind of decision moment (at_risk, campaign, checkout, cart_abandoned)",
    "channel": "channel of what was sent (pos: shown at the till)",
    "decisions": "decisions taken at moments of this kind (the same on each channel's row)",
    "sent": "actions sent on this channel at these moments",
    "conversions": "attributed conversions (pos: lines taken at the till)",
    "cost": "money spent: message prices plus discounts redeemed",
    "attributed_margin": "margin of the attributed conversions net of discounts",
    "true_incremental_margin": "true expected incremental margin of what was sent",
    "true_incremental_value": "true expected incremental value of what was sent",
}
"""moments.parquet columns (one row per cell, moment kind and channel) and what each holds."""
MOMENT_FIELDS = tuple(MOMENT_COLUMNS)[5:]
MOMENT_MONEY = ("cost", "attributed_margin", "true_incremental_margin", "true_incremental_value")
"""Of `MOMENT_FIELDS`, those in money (the others are counts)."""
REALIZED = tuple(Realized.__dataclass_fields__)
_TX = ("customer", "amount", "margin", "first")


def run_moments(cfg: ExperimentConfig, cell: Cell) -> CellResult:
    """Run one cell in NextBestAction-v0 to the horizon (module docstring)."""
    run = begin(cfg, cell)
    env, c = run.env, run.env.campaign
    cat, k = c.actions, env.options.slate_size
    by_slot = slots.SlotCounts(k) if k > 1 else None
    by_moment = np.zeros((len(KINDS), len(ACTION_CHANNELS), len(MOMENT_FIELDS)))
    days = _Days(c, cfg)
    daily: list[dict] = []
    log: list[dict] = []
    for step in steps(env, run.policy, start=run.reset, per_moment=True):
        run.policy_s += step.policy_seconds
        part = _part(step)
        _count(by_moment, KINDS.index(step.info["moment"]), part, cat)
        if by_slot is not None:
            by_slot.add(part)
        days.add(step.info["day"], part)
        entry = {"day": np.full(step.rows.size, step.info["day"], dtype=np.int64),
                 "customer": step.rows, "segment": step.obs.segment,
                 "moment": np.full(step.rows.size, step.info["moment"]),
                 "action": step.actions, "pscore": step.pscores, "sent": part["sent"],
                 "reason": part["reason"], "reward": part["rewards"],
                 "true_incremental_margin": part["true_incremental_margin"]}
        if cfg.decision_log == "full":
            entry["x"] = step.contexts
        if by_slot is not None:
            entry.update(slots.log_columns(step.slates, step.slate_pscores, part))
        if cfg.decision_log != "none":
            log.append(entry)
        for info in step.info["decisions"]:
            for outcome in info["outcomes"]:  # day e simulated: day e - 1 is over
                daily.append(days.close(outcome["day"] - 1, outcome, run.acc))
    daily += [days.close(d, None, run.acc) for d in sorted(days.open)]
    return finish(run, cell, daily, log, by_slot,
                  moments=_moment_table(by_moment, bool(cat.pos.any())))


def _part(step: Step) -> dict:
    """One moment's decisions as arrays, in the layout of CampaignDay-v0's `info["decisions"]`.

    Truth and realized fields are aligned with the decisions sent; "rewards", "cost" and
    "true_incremental_margin" are per decision (0 where nothing was sent).
    """
    infos = step.info["decisions"]
    n = len(infos)
    sent = np.fromiter((i["sent"] for i in infos), bool, n)
    done = [i for i in infos if i["sent"]]
    real = {f: np.array([i["realized"][f] for i in done]) for f in REALIZED}  # (float if none)
    lines = [i["lines"] for i in infos if i["lines"] is not None]
    out = {"rows": step.rows, "actions": step.actions, "sent": sent,
           "reason": np.array([REASONS.index(i["rejected"]) if i["rejected"] else 0
                               for i in infos], dtype=np.int8),
           "rewards": step.learned[0][1],
           "cost": np.fromiter((i["cost"] for i in infos), float, n),
           "true_incremental_margin": np.fromiter((i["true_incremental_margin"] for i in infos),
                                                  float, n),
           "true_incremental_value": np.fromiter((i["true_incremental_value"] for i in infos),
                                                 float, n),
           "realized": real, "lines": lines}
    out["truth"] = {"incremental_margin": out["true_incremental_margin"][sent]}
    if step.slates is not None:
        out["slates"] = step.slates
        out["slot"] = np.array([i["slot"] for i in done], dtype=np.int64)
    return out


def _count(table: np.ndarray, kind: int, part: dict, cat) -> None:
    """Add a moment's decisions to its kind's rows of the per-moment table (`MOMENT_FIELDS`)."""
    sent, real = part["sent"], part["realized"]
    channel = cat.channel[part["actions"][sent]].astype(np.int64)
    table[kind, :, 0] += sent.size
    for j, values in enumerate((np.ones(channel.size), real["converted"],
                                part["cost"][sent], real["attributed_margin"],
                                part["true_incremental_margin"][sent],
                                part["true_incremental_value"][sent]), start=1):
        table[kind, :, j] += np.bincount(channel, np.asarray(values, dtype=np.float64),
                                         minlength=len(ACTION_CHANNELS))


def _moment_table(table: np.ndarray, pos: bool) -> dict[str, np.ndarray]:
    """moments.parquet's columns after the cell's keys: a row per moment kind and channel."""
    n_ch = len(ACTION_CHANNELS) if pos else len(ACTION_CHANNELS) - 1
    kind, ch = np.divmod(np.arange(len(KINDS) * n_ch), n_ch)
    out = {"moment": np.array(KINDS)[kind], "channel": np.array(ACTION_CHANNELS)[ch]}
    for j, field in enumerate(MOMENT_FIELDS):
        values = table[kind, ch, j]
        out[field] = values if field in MOMENT_MONEY else values.astype(np.int64)
    return out


class _Days:
    """Each open day's moments, until the world simulates the next day and closes it."""

    def __init__(self, campaign, cfg: ExperimentConfig):
        self.c, self.cfg = campaign, cfg
        self.open: dict[int, list[dict]] = {}
        self.ledger = Ledger()  # the budget period's spend, kept as the world's own ledger

    def add(self, day: int, part: dict) -> None:
        """Keep a moment's decisions with its day's."""
        self.open.setdefault(day, []).append(part)

    def close(self, day: int, outcome: dict | None, acc) -> dict:
        """Day `day`'s daily row (`cell.day_row`), with the next day's outcome (None: none)."""
        c, parts = self.c, self.open.pop(day, [])
        w = c.world
        join = (lambda key: np.concatenate([p[key] for p in parts])) if parts else (
            lambda key: np.zeros(0))
        sent, margin = join("sent").astype(bool), join("true_incremental_margin")
        dec = {"actions": join("actions").astype(np.int64), "sent": sent,
               "reason": join("reason").astype(np.int8),
               "truth": {"incremental_margin": margin[sent]},
               "realized": {f: np.concatenate([p["realized"][f] for p in parts])
                            if parts else np.zeros(0) for f in REALIZED}}
        cost = float(join("cost").sum())
        self.ledger.roll(day, self.cfg.budget_period_days)
        self.ledger.spent += cost
        info = {"day": day, "sent": int(sent.sum()), "cost": cost,
                "true_incremental_margin": float(margin.sum()),
                "true_incremental_value": float(join("true_incremental_value").sum())}
        out = _with_lines(outcome, [tx for p in parts for tx in p["lines"]], day, w)
        budget = c.budget(day)
        row = day_row(info, float(join("rewards").sum()), dec, out, c, acc,
                      join("rows").astype(np.int64), budget, c.actions)
        row["budget_left"] = np.nan if budget is None else budget - self.ledger.spent
        return row


def _with_lines(outcome: dict | None, lines: list[dict], day: int, world) -> dict:
    """The outcome closing a day (none after the last: no purchases), plus its pos lines.

    A line adds spend and margin to a basket already counted: not a purchase, so it is kept
    apart as "lines" (`cell.day_row` adds it to revenue and margin).
    """
    if outcome is None:
        empty = {k: np.zeros(0, dtype=bool if k == "first" else np.int64 if k == "customer"
                             else float) for k in _TX}
        outcome = {"day": day + 1, "transactions": empty, "churned": np.zeros(0, np.int64),
                   "n_present": world.n_present}
    cols = {k: np.concatenate([tx[k] for tx in lines]) if lines else np.zeros(0)
            for k in ("customer", "amount", "margin")}
    return {**outcome, "lines": {**cols, "customer": cols["customer"].astype(np.int64)}}
