"""`nbasim ope-validate`: off-policy estimators measured against the truth the simulator knows.

The config's cells are run as an experiment (so every target also runs on-policy, on the same
seeds and customers). Then, per seed, each target's value is estimated from the behaviour
policy's decision log alone, and compared with two truths from the target's own run:

- the per-decision value: the mean reward per decision (attributed margin minus cost), which
  is what the estimators estimate;
- the long-term value per decision: the target's total profit from treated customers (margin
  minus cost, churn and lost purchases included) minus that of `no_action` on the same seed,
  per decision of the target. Per-decision rewards miss what contact does later (fatigue,
  sleeping dogs, unsubscribes, churn), so an estimator can be right about the first and
  confidently wrong about the second.

Per target and estimator: the mean estimate, bias, RMSE and the coverage of the 95 % interval
over seeds, against each truth. Written to `<run>/ope_validate.json` and
`<run>/plots/ope_validate.png`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nbasim.experiments import ope
from nbasim.experiments.ope import targets
from nbasim.experiments.run import sweep
from nbasim.experiments.run.cell import make_env, make_policy, policy_seed
from nbasim.experiments.run.config import ExperimentConfig
from nbasim.experiments.store import atomic
from nbasim.sim.params import ACTION_CHANNELS, CHANNELS, ParameterError


def check(cfg: ExperimentConfig) -> None:
    """Refuse a config that `validate` cannot validate, before anything is run or written.

    Raises:
        ParameterError: the config has no `[ope]` table, an unknown or repeated estimator, no
            `no_action` policy, several scenario variants, decisions by moments, targets that
            learn, or keeps no contexts in its decision log.
    """
    spec = cfg.ope
    if spec is None:
        raise ParameterError("ope-validate: the config needs an [ope] table with behaviour and "
                             "targets")
    names = list(spec.estimators)
    if not names or len(set(names)) != len(names) or set(names) - set(ope.ESTIMATORS):
        raise ParameterError(f"ope-validate: [ope] estimators = {names}: allowed "
                             f"{', '.join(ope.ESTIMATORS)}, at least one, no repeats")
    control = [p.label for p in cfg.policies if p.name == "no_action"]
    if not control:
        raise ParameterError("ope-validate: the config needs a no_action policy (the long-term "
                             "value is measured against it)")
    if len(cfg.scenarios) != 1:
        raise ParameterError(f"ope-validate: the config has {len(cfg.scenarios)} scenario "
                             "variants; it validates one at a time")
    if cfg.epochs != "daily":
        raise ParameterError(f"ope-validate: epochs = {cfg.epochs!r}: allowed 'daily' (the "
                             "estimators replay a day's decisions by CampaignDay-v0)")
    from nbasim import policies

    learners = [t for t in spec.targets
                if not issubclass(policies.policy_class(_spec(cfg, t).name), policies.Fixed)]
    if learners:
        raise ParameterError(f"ope-validate: targets {learners} learn as they run, so the policy "
                             "run on-policy is not the one the log can evaluate; use targets "
                             "that do not learn (blanket, rfm_playbook, no_action, random...)")
    if cfg.decision_log != "full":
        raise ParameterError("ope-validate: decision_log must be 'full' (the estimators need the "
                             "contexts)")


def validate(cfg: ExperimentConfig, run_dir, workers: int = 1, on_cell=None) -> dict:
    """Run the config's cells, estimate each target from the behaviour log, score the estimates.

    Everything (`check`, then the options and policies in `sweep.prepare`) is checked before
    anything is written.

    Raises:
        ParameterError: see `check` and `sweep.prepare`; nothing is written then.
    """
    check(cfg)
    todo = sweep.prepare(cfg, run_dir, workers=workers)  # locks run_dir until the end
    try:
        sweep.execute(cfg, run_dir, todo, workers=workers, on_cell=on_cell)
        return _estimate(cfg, Path(run_dir))
    finally:
        sweep.release(run_dir)


def _estimate(cfg: ExperimentConfig, run_dir: Path) -> dict:
    """Estimate each target from the behaviour log of a finished run; write the results."""
    spec = cfg.ope
    control = [p.label for p in cfg.policies if p.name == "no_action"]
    table = pq.read_table(run_dir / "decisions.parquet")
    daily = pq.read_table(run_dir / "daily.parquet", columns=["policy", "seed", "margin", "cost"])
    variant = cfg.scenarios[0]
    env = make_env(cfg, variant, truth=False)
    labels = {p.label: p for p in cfg.policies}
    rows = {}
    for seed in cfg.seeds:
        log = _rows(table, variant.label, spec.behaviour, seed)
        cols = [c for c in log.column_names if c.startswith("x_")]
        x = np.column_stack([log[c].to_numpy() for c in cols]).astype(np.float64)
        a = log["action"].to_numpy().astype(np.int64)
        r = log["reward"].to_numpy().astype(np.float64)
        p = log["pscore"].to_numpy().astype(np.float64)
        mask = _consent_mask(x, cols, env)
        models = ope.cross_fit(x, a, r, env.n_actions, folds=1, seed=seed)
        for target in spec.targets:
            policy = make_policy(labels[target], env,
                                 policy_seed(seed, labels[target].label), cfg.days)

            def dist(idx, xs, policy=policy, mask=mask):
                return targets.policy_action_dist(_Masked(policy, mask[idx]), xs)

            terms, unseen = targets.reduce_terms(x, a, r, p, dist, models, env.n_actions)
            est = ope.evaluate_terms(terms, spec.estimators, n_bootstrap=spec.n_bootstrap,
                                     seed=seed, unseen_mass=unseen)
            own = _rows(table, variant.label, target, seed)
            n_own = max(own.num_rows, 1)
            decision = float(np.sum(own["reward"].to_numpy()) / n_own)
            long_term = (_profit(daily, target, seed) - _profit(daily, control[0], seed)) / n_own
            rows.setdefault(target, []).append(
                {"seed": seed, "per_decision": decision, "long_term": long_term, **est})
    result = {"behaviour": spec.behaviour, "seeds": list(cfg.seeds),
              "targets": {t: _score(runs, spec.estimators) for t, runs in rows.items()},
              "runs": rows}
    atomic.write_text(run_dir / "ope_validate.json", atomic.json_text(result))
    _plot(result, run_dir / "plots" / "ope_validate.png")
    return result


def _spec(cfg: ExperimentConfig, label: str):
    return next(p for p in cfg.policies if p.label == label)


class _Masked:
    """A policy acting under fixed per-row eligibility (the consent the log's contexts show)."""

    def __init__(self, policy, mask: np.ndarray):
        self.policy, self.mask, self.n_actions = policy, mask, policy.n_actions

    def act(self, contexts: np.ndarray):
        """The policy's choice for each row, within the row's consent."""
        return self.policy.act(contexts, self.mask)


def _consent_mask(x: np.ndarray, cols: list[str], env) -> np.ndarray:
    """(n, n_actions) actions each logged row consents to, read from its context."""
    channel = np.array([ACTION_CHANNELS.index(c) if c != "none" else -1
                        for c in env.action_table["channel"]])
    consent = np.column_stack([x[:, cols.index(f"x_consent_{c}")] > 0.5 for c in CHANNELS]
                              + [np.zeros(x.shape[0], dtype=bool)])  # pos: never in a batch
    return (channel < 0)[None, :] | consent[:, np.maximum(channel, 0)]


def _rows(table, scenario: str, policy: str, seed: int):
    keep = pc.and_(pc.and_(pc.equal(table["scenario"], scenario),
                           pc.equal(table["policy"], policy)), pc.equal(table["seed"], seed))
    return table.filter(keep)


def _profit(daily, policy: str, seed: int) -> float:
    part = daily.filter(pc.and_(pc.equal(daily["policy"], policy), pc.equal(daily["seed"], seed)))
    return float(np.sum(part["margin"].to_numpy()) - np.sum(part["cost"].to_numpy()))


def _score(runs: list[dict], estimators) -> dict:
    """Per estimator: mean estimate, and bias, RMSE and coverage against each truth."""
    out = {"per_decision": float(np.mean([r["per_decision"] for r in runs])),
           "long_term": float(np.mean([r["long_term"] for r in runs])), "estimators": {}}
    for name in estimators:
        value = np.array([r["estimates"][name]["value"] for r in runs])
        ci = np.array([r["estimates"][name]["ci"] for r in runs], dtype=np.float64)
        row = {"mean": float(value.mean())}
        for truth in ("per_decision", "long_term"):
            t = np.array([r[truth] for r in runs])
            err = value - t
            row[truth] = {"bias": float(err.mean()), "rmse": float(np.sqrt((err ** 2).mean())),
                          "coverage": float(((ci[:, 0] <= t) & (t <= ci[:, 1])).mean())}
        out["estimators"][name] = row
    return out


def _plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(result["targets"])
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.6), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        t = result["targets"][target]
        names = list(t["estimators"])
        runs = result["runs"][target]
        for j, name in enumerate(names):
            values = [r["estimates"][name]["value"] for r in runs]
            ax.plot([j] * len(values), values, "o", alpha=0.5, color="tab:blue")
        ax.axhline(t["per_decision"], color="tab:green", label="on-policy, per decision")
        ax.axhline(t["long_term"], color="tab:red", ls="--", label="long-term, per decision")
        ax.set_xticks(range(len(names)), names, rotation=45)
        ax.set_title(f"target {target}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("value per decision (dots: seeds)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Estimates from {result['behaviour']}'s log against the truth")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
