"""One cell of an experiment: one policy on one scenario variant and one seed, day by day.

The env is reset with the cell's seed, so every policy on that seed faces the same customers
and the same organic draws (common random numbers); the policy draws from its own stream,
derived from the seed and its label. Each day: the eligible customers' contexts and consent
masks go to the policy, its actions to the world, the rewards back to the policy; the cell
records daily figures, every decision, the messages and their outcomes per channel and, at
the end, segment migration and per-customer totals by segment; a policy that ranks customers
(`experiments.run.scoring`) also gives its ranking of the last decision day, with the truth.
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from nbasim import policies
from nbasim.envs.campaign_day import CampaignDayEnv
from nbasim.envs.episode import steps, truth_option
from nbasim.envs.next_best_action import NextBestActionEnv
from nbasim.envs.setup import CampaignSettings
from nbasim.experiments.run import covariate, cuped, scoring, slots
from nbasim.experiments.run.config import (
    ExperimentConfig,
    PolicySpec,
    ScenarioVariant,
    objective_of,
    variant_world,
)
from nbasim.experiments.run.layout import CHANNEL_FIELDS, CHANNEL_MONEY
from nbasim.sim import lifecycle, rfm
from nbasim.sim.params import ACTION_CHANNELS, CHANNELS

ACTIVE_STAGES = (lifecycle.NEW, lifecycle.ACTIVE, lifecycle.REACTIVATED)


@dataclass(frozen=True)
class Cell:
    """Which policy, world variant and seed (and the config's decision epochs)."""

    scenario: ScenarioVariant
    policy: PolicySpec
    seed: int
    epochs: str = "daily"

    @property
    def ranks(self) -> bool:
        """The cell gives its policy's ranking of customers (`scoring`; days only)."""
        return self.epochs == "daily" and self.policy.name in scoring.SCORERS

    @property
    def key(self) -> tuple[str, str, int]:
        """(scenario label, policy label, seed)."""
        return self.scenario.label, self.policy.label, self.seed

    def path(self) -> str:
        """Relative directory of the cell's files."""
        return f"cells/{self.scenario.label}/{self.policy.label}/seed-{self.seed}"


@dataclass
class CellResult:
    """What a cell produced: tables as column dicts, run-level figures and timing."""

    daily: dict[str, np.ndarray]
    decisions: dict[str, np.ndarray]
    migration: dict[str, np.ndarray]
    segments: dict[str, np.ndarray]
    figures: dict[str, float]
    timing: dict[str, float]
    channels: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    scores: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    slots: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    moments: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def policy_seed(seed: int, label: str) -> int:
    """The policy's own seed: a function of the cell's seed and the policy's label only."""
    return int(np.random.SeedSequence([seed, zlib.crc32(label.encode())]).generate_state(1)[0])


def make_env(cfg: ExperimentConfig, variant: ScenarioVariant, truth: bool | str,
             policy: PolicySpec | None = None) -> CampaignDayEnv | NextBestActionEnv:
    """The env of a variant with the config's population, rules and objective.

    CampaignDay-v0, or NextBestAction-v0 with `epochs = "moments"`. The objective is the first
    set of: the policy's own (`objective` in its spec), its class's (`causal_*` learn
    "uplift_opened"), the variant's, the config's. A policy whose params give `top_k = K > 1`
    has slates of K in its cells (`slate_size`). `truth` is the env option of that name
    (`envs.setup.EnvOptions.truth`): which truth grids the env hands over.
    """
    overrides, calibrated = variant_world(variant, cfg.days)
    settings = {k: getattr(cfg, k) for k in CampaignSettings.model_fields}
    settings["objective"] = objective_of(cfg, variant, policy)
    if policy is not None and policy.slate_size > 1:
        settings["slate_size"] = policy.slate_size
    customers = calibrated or variant.customers or cfg.customers
    env = NextBestActionEnv if cfg.epochs == "moments" else CampaignDayEnv
    return env(scenario=variant.scenario, overrides=overrides, shocks=variant.shocks,
               customers=customers, days=cfg.days, truth=truth, **settings)


def make_policy(spec: PolicySpec, env: CampaignDayEnv, seed: int, days: int) -> policies.Policy:
    """Build a policy for an env.

    Names of contexts and actions go to the policies that take them; a `budget` wraps the
    policy in pacing over the run's decision days.
    """
    fields = policies.policy_class(spec.name).Params.model_fields
    params = dict(spec.params)
    if "context_names" in fields:
        params.setdefault("context_names", env.feature_names)
    if "action_table" in fields:
        params.setdefault("action_table", env.action_table)
    if "top_k" in fields and env.options.slate_size > 1:  # fill the env's slates
        params.setdefault("top_k", env.options.slate_size)
    policy = policies.make(spec.name, action_features=env.action_features,
                           dim_context=len(env.feature_names), seed=seed, **params)
    if spec.budget is not None:
        policy = policies.paced(policy, spec.budget, action_costs=action_cost_bounds(env),
                                horizon=days - 1, seed=seed)
    return policy


def action_cost_bounds(env: CampaignDayEnv) -> np.ndarray:
    """An upper bound of each action's cost, for pacing.

    The channel's price plus the discount of the largest expected basket of any customer of
    the run (newcomers included) on the day of the highest spend level.
    """
    w, c = env.world, env.campaign
    spend = w.mods.spend
    top = float(w.basket(np.arange(w.pop.n_customers)).max()) * float(
        spend.max() / spend[w.today])
    price = np.where(c.actions.channel >= 0, np.asarray(w.params.response.channel_price)[
        np.maximum(c.actions.channel, 0)], 0.0)
    return price + c.actions.discount * top


def run_cell(cfg: ExperimentConfig, cell: Cell) -> CellResult:
    """Run one cell to the horizon and return its tables and figures.

    `epochs = "moments"` plays NextBestAction-v0 (`experiments.run.moments`); else a day a step.
    """
    if cfg.epochs == "moments":
        from nbasim.experiments.run.moments import run_moments

        return run_moments(cfg, cell)
    run = begin(cfg, cell)
    env, policy, acc = run.env, run.policy, run.acc
    c = env.campaign
    by_slot = slots.SlotCounts(env.options.slate_size) if env.options.slate_size > 1 else None
    # A policy that ranks customers is asked for its ranking on the last decision day
    # (`scoring`): the env is wrapped to keep each morning's observation.
    ranks = cell.ranks
    played = scoring.LastObservation(env) if ranks else env
    scores: dict[str, np.ndarray] = {}
    daily: list[dict] = []
    log: list[dict] = []
    cat = c.actions
    entries: dict[int, dict] = {}  # the log entry of each day, until its reward is known
    for step in steps(played, policy, start=run.reset):
        info, rows = step.info, step.rows
        dec, out = info["decisions"], info["outcome"]
        entry = {"day": np.full(rows.size, info["day"], dtype=np.int64),
                 "customer": rows, "segment": step.obs["segment"][rows],
                 "action": step.actions, "pscore": step.pscores,
                 "sent": dec["sent"], "reason": dec["reason"],
                 "reward": np.full(rows.size, np.nan),
                 "true_incremental_margin": _on_sent(dec["sent"],
                                                     dec["truth"]["incremental_margin"])}
        if cfg.decision_log == "full":
            entry["x"] = step.contexts
        if by_slot is not None:
            entry.update(slots.log_columns(step.slates, step.slate_pscores, dec))
            by_slot.add(dec)
        entries[info["day"]] = entry
        for day, rewards in step.learned:  # today's rewards, or the windows that closed today
            entries.pop(day)["reward"] = rewards
        run.policy_s += step.policy_seconds
        daily.append(day_row(info, step.reward, dec, out, c, acc, rows, c.budget(info["day"]),
                             cat))
        if cfg.decision_log != "none":
            log.append(entry)
        if ranks and info["day"] == cfg.days - 3:  # the env is at the last decision day
            model = policy if cell.policy.budget is None else policy.policy  # unpaced
            scores = scoring.snapshot(env, played.obs, model, cell.policy.name)
    return finish(run, cell, daily, log, by_slot, scores=scores)


@dataclass
class Run:
    """A cell under way: its env (reset), policy, accumulators and what it started from."""

    env: Any
    policy: policies.Policy
    acc: Accumulators
    reset: tuple[Any, dict]
    start_rows: np.ndarray
    start_segment: np.ndarray
    alive_at_start: np.ndarray
    started: float
    policy_s: float = 0.0


def begin(cfg: ExperimentConfig, cell: Cell) -> Run:
    """Build and reset a cell's env, its policy, and the accumulators with the CUPED covariate."""
    started = time.perf_counter()
    # Only the truth grid the policy reads (the oracles'), since it costs most of their day.
    truth = truth_option(policies.policy_class(cell.policy.name))
    env = make_env(cfg, cell.scenario, truth, cell.policy)
    reset = env.reset(seed=cell.seed)
    w = env.world
    policy = make_policy(cell.policy, env, policy_seed(cell.seed, cell.policy.label), cfg.days)
    start_rows = np.arange(w.n_present)
    acc = Accumulators(env.options.customers)
    # The CUPED covariate, from the history at the first decision (before any contact).
    n = env.options.customers
    pop = w.pop
    acc.covariate = covariate.history_covariates(
        pop.join_day[:n], pop.frequency[:n], pop.monetary[:n], pop.last_purchase_day[:n],
        np.arange(n) < w.n_present, w.day, cfg.days - w.day,
        last_category=pop.last_category[:n], n_categories=w.catalog.n_categories,
        stage=pop.stage[:n], visits_primary=pop.visits_primary[:n],
        cart_value=pop.cart_value[:n])
    # Newcomers' rows are zeros, so these moments serve every day's present prefix.
    acc.moments = cuped.gram(acc.covariate)
    return Run(env, policy, acc, reset, start_rows, w.pop.segment[start_rows].copy(),
               w.pop.alive[start_rows].copy(), started)


def finish(run: Run, cell: Cell, daily: list[dict], log: list[dict],
           by_slot: slots.SlotCounts | None, **tables: dict[str, np.ndarray]) -> CellResult:
    """The cell's tables and figures once its env reached the horizon."""
    env, acc, start_rows = run.env, run.acc, run.start_rows
    w, c = env.world, env.campaign
    total_s = time.perf_counter() - run.started
    treated = ~c.holdout[:w.n_present]
    return CellResult(
        daily=_columns(daily),
        decisions=decision_table(log, env, *(np.array(env.action_table[k]) for k in (
            "offer", "channel", "target"))),
        migration=migration(run.start_segment, w.pop.segment[start_rows], treated[start_rows]),
        segments=segments(run.start_segment, acc, c.holdout[start_rows], start_rows),
        figures=figures(daily, acc, env, treated, start_rows, run.alive_at_start,
                        cell.policy.budget),
        timing={"world_s": total_s - run.policy_s, "policy_s": run.policy_s},
        channels=channels(acc, bool(c.actions.pos.any())),
        slots=by_slot.table() if by_slot is not None else {}, **tables)


class Accumulators:
    """Per-customer totals over the run."""

    def __init__(self, n: int):
        self.margin = np.zeros(n)
        self.cost = np.zeros(n)
        self.sent = np.zeros(n, dtype=np.int64)
        self.first_day = np.full(n, -1, dtype=np.int64)
        self.second_day = np.full(n, -1, dtype=np.int64)
        self.covariate = np.zeros((n, len(covariate.BASE_NAMES)))
        self.moments = cuped.gram(self.covariate)
        self.adjustment = 0.0  # CUPED's adjustment of the uplift so far
        self.channels = np.zeros((len(CHANNEL_FIELDS), len(ACTION_CHANNELS)))  # field, channel


def _on_sent(sent: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(sent.size)
    out[sent] = values
    return out


def day_row(info: dict, reward: float, dec, out, c, acc: Accumulators, rows: np.ndarray,
             budget: float | None, cat) -> dict:
    """The daily figures of one step (see `experiments.run.layout.DAILY_COLUMNS`)."""
    w = c.world
    tx, real, sent = out["transactions"], dec["realized"], dec["sent"]
    held = c.holdout[tx["customer"]]
    to = rows[sent]
    channel = cat.channel[dec["actions"][sent]].astype(np.int64)
    message = channel < len(CHANNELS)  # (else an offer shown at the till, `sim.pos`: no
    # message, so not opened, clicked or unsubscribed from)
    np.add.at(acc.margin, tx["customer"], tx["margin"])
    lines = out.get("lines")  # what pos offers added to the baskets at the till (moments)
    if lines is not None:
        np.add.at(acc.margin, lines["customer"], lines["margin"])
    np.add.at(acc.cost, to, real["price"] + real["discount_cost"])
    np.add.at(acc.sent, to, 1)
    # First and second purchases of newcomers (a first purchase is flagged by the world).
    day = out["day"]
    first = tx["customer"][tx["first"]]
    acc.first_day[first] = day
    again = tx["customer"][~tx["first"]]
    need = again[(acc.first_day[again] >= 0) & (acc.first_day[again] < day)
                 & (acc.second_day[again] < 0)]
    acc.second_day[need] = day
    here = out["n_present"]
    holdout_n = int(c.holdout[:here].sum())
    treated_n = here - holdout_n
    margin = float(tx["margin"][~held].sum())
    revenue = float(tx["amount"][~held].sum())
    if lines is not None:  # (the holdout is never shown one)
        margin += float(lines["margin"].sum())
        revenue += float(lines["amount"].sum())
    holdout_margin = float(tx["margin"][held].sum())
    cost = info["cost"]
    rate = holdout_margin / holdout_n if holdout_n else 0.0
    raw = margin - cost - treated_n * rate
    # CUPED on each present customer's margin so far: today's share of the adjustment.
    adjustment = cuped.adjustment(acc.margin[:here], acc.covariate[:here], ~c.holdout[:here],
                                  acc.moments)
    adjusted = raw - (adjustment - acc.adjustment)
    acc.adjustment = adjustment
    died = out["churned"][~c.holdout[out["churned"]]]
    alive = w.pop.alive[:here] & ~c.holdout[:here]
    row = {"day": info["day"], "eligible": rows.size, "sent": info["sent"], "cost": cost,
           "reward": reward,
           "true_incremental_margin": info["true_incremental_margin"],
           "true_incremental_value": info["true_incremental_value"],
           "n_treated": treated_n, "n_holdout": holdout_n,
           "purchases": int((~held).sum()), "revenue": revenue,
           "margin": margin, "holdout_purchases": int(held.sum()),
           "holdout_revenue": float(tx["amount"][held].sum()), "holdout_margin": holdout_margin,
           "uplift": adjusted, "uplift_raw": raw, "churned": int(died.size),
           "active": int(alive.sum()), "opens": int(real["opened"][message].sum()),
           "clicks": int(real["clicked"][message].sum()),
           "unsubscribes": int(real["unsubscribed"][message].sum())}
    per_channel = {"sent": np.ones(channel.size), "opens": real["opened"],
                   "clicks": real["clicked"], "conversions": real["converted"],
                   "unsubscribes": real["unsubscribed"],
                   "cost": real["price"] + real["discount_cost"],
                   "attributed_margin": real["attributed_margin"],
                   "true_incremental_margin": dec["truth"]["incremental_margin"]}
    for i, field in enumerate(CHANNEL_FIELDS):
        acc.channels[i] += np.bincount(channel, np.asarray(per_channel[field], dtype=np.float64),
                                       minlength=len(ACTION_CHANNELS))
    for k, name in enumerate(CHANNELS):
        on = channel == k
        row[f"sent_{name}"] = int(on.sum())
        row[f"opens_{name}"] = int(real["opened"][on].sum())
        row[f"clicks_{name}"] = int(real["clicked"][on].sum())
        row[f"unsubscribes_{name}"] = int(real["unsubscribed"][on].sum())
    till = ~message
    row["sent_pos"], row["lines_pos"] = int(till.sum()), int(real["converted"][till].sum())
    row["budget"] = np.nan if budget is None else budget
    row["budget_left"] = np.nan if budget is None else budget - c.ledger.spent
    return row


def figures(daily: list[dict], acc: Accumulators, env: CampaignDayEnv, treated: np.ndarray,
             start_rows: np.ndarray, alive_at_start: np.ndarray,
             paced_budget: float | None) -> dict[str, float]:
    """Run-level figures of the cell (the metrics of `experiments.run.metrics`).

    Budget used is spend over the policy's own pacing budget when it has one, else over the
    world's budget for all the run's periods.
    """
    w, c = env.world, env.campaign
    total = {k: float(sum(d[k] for d in daily)) for k in (
        "uplift", "uplift_raw", "true_incremental_margin", "true_incremental_value", "cost",
        "purchases", "revenue", "sent", "sent_pos", "opens", "clicks", "unsubscribes")}
    n_treated = max(int(treated.sum()), 1)
    here = np.arange(w.n_present)
    alive_end = w.pop.alive[here] & treated
    base = treated[start_rows] & alive_at_start
    stayed = w.pop.alive[start_rows] & base
    active = np.isin(w.pop.stage[here], ACTIVE_STAGES) & treated
    value = c.expected_value(here[alive_end])
    second = acc.second_day >= 0
    budget = env.options.budget
    figures = {
        "incremental_margin": total["uplift"],
        "incremental_margin_raw": total["uplift_raw"],
        "true_incremental_margin": total["true_incremental_margin"],
        "true_incremental_value": total["true_incremental_value"],
        "conversion": total["purchases"] / n_treated,
        "revenue": total["revenue"],
        "average_check": total["revenue"] / total["purchases"] if total["purchases"] else 0.0,
        "churn_rate": 1.0 - stayed.sum() / max(int(base.sum()), 1),
        "active_end": float(active.sum()),
        "clv": float(value.mean()) if value.size else 0.0,
        "spend": total["cost"],
        "contacts_per_customer": (total["sent"] - total["sent_pos"]) / n_treated,
        "opens_per_customer": total["opens"] / n_treated,
        "clicks_per_customer": total["clicks"] / n_treated,
        "unsubscribes_per_customer": total["unsubscribes"] / n_treated,
    }
    if total["cost"] > 0:
        figures["roi"] = total["uplift"] / total["cost"]
    if paced_budget is not None:
        figures["budget_used"] = total["cost"] / paced_budget if paced_budget else 0.0
    elif budget is not None:
        periods = -(-(env.options.days - 1) // env.options.budget_period_days)
        figures["budget_used"] = total["cost"] / (budget * periods) if budget else 0.0
    if second.any():
        figures["days_to_second_purchase"] = float(
            (acc.second_day[second] - acc.first_day[second]).mean())
    return figures


def _columns(rows: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.array([r[k] for r in rows]) for k in rows[0]} if rows else {}


def decision_table(log: list[dict], env: CampaignDayEnv, offer_names: np.ndarray,
                    channel_names: np.ndarray, target_names: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """The decision log as columns (see `experiments.run.layout.DECISION_COLUMNS`)."""
    if not log:
        return {}
    from nbasim.sim.constraints import REASONS

    cat = {k: np.concatenate([e[k] for e in log]) for k in log[0] if k != "x"}
    out = {"day": cat["day"], "customer": cat["customer"],
           "segment": np.array(rfm.SEGMENTS)[cat["segment"]], "action": cat["action"],
           "offer": offer_names[cat["action"]], "channel": channel_names[cat["action"]],
           "target": target_names[cat["action"]],
           "pscore": cat["pscore"], "sent": cat["sent"],
           "rejected": np.where(cat["reason"] > 0, np.array(REASONS)[cat["reason"]], ""),
           "reward": cat["reward"], "true_incremental_margin": cat["true_incremental_margin"],
           **{k: v for k, v in cat.items() if k.startswith(slots.LOG_PREFIXES)}}
    if "moment" in cat:  # (epochs = "moments")
        out["moment"] = cat["moment"]
    if "x" in log[0]:
        x = np.concatenate([e["x"] for e in log])
        for j, name in enumerate(env.feature_names):
            out[f"x_{name}"] = x[:, j]
    return out


def migration(before: np.ndarray, after: np.ndarray, treated: np.ndarray) -> dict:
    """Counts of treated customers by (segment at start, segment at end)."""
    k = len(rfm.SEGMENTS)
    counts = np.bincount(before[treated].astype(np.int64) * k + after[treated], minlength=k * k)
    names = np.array(rfm.SEGMENTS)
    grid = np.arange(k * k)
    return {"from_segment": names[grid // k], "to_segment": names[grid % k],
            "customers": counts}


def channels(acc: Accumulators, pos: bool = False) -> dict[str, np.ndarray]:
    """Per channel, the run's messages sent and their outcomes (`layout.CHANNEL_COLUMNS`).

    With `pos` (a catalog with point-of-sale offers) a "pos" row follows the message channels.
    """
    k = len(ACTION_CHANNELS) if pos else len(CHANNELS)
    out: dict[str, np.ndarray] = {"channel": np.array(ACTION_CHANNELS[:k])}
    for i, field in enumerate(CHANNEL_FIELDS):
        values = acc.channels[i, :k]
        out[field] = values if field in CHANNEL_MONEY else values.astype(np.int64)
    return out


def segments(segment: np.ndarray, acc: Accumulators, holdout: np.ndarray,
              rows: np.ndarray) -> dict:
    """Per start segment: treated and holdout customers, their margin, cost and uplift."""
    k = len(rfm.SEGMENTS)
    seg = segment.astype(np.int64)
    out: dict[str, list] = {"segment": list(rfm.SEGMENTS)}
    for name, mask in (("treated", ~holdout), ("holdout", holdout)):
        out[f"{name}_customers"] = np.bincount(seg[mask], minlength=k)
        out[f"{name}_margin"] = np.bincount(seg[mask], acc.margin[rows][mask], minlength=k)
    out["sent"] = np.bincount(seg[~holdout], acc.sent[rows][~holdout], minlength=k)
    out["cost"] = np.bincount(seg[~holdout], acc.cost[rows][~holdout], minlength=k)
    rate = np.divide(out["holdout_margin"], out["holdout_customers"],
                     out=np.zeros(k), where=out["holdout_customers"] > 0)
    out["uplift"] = out["treated_margin"] - out["cost"] - out["treated_customers"] * rate
    return {key: np.asarray(v) for key, v in out.items()}

