"""`nbasim ope`: estimate a target policy's value from a decision log, write ope.json and a plot.

The log is a run's `decisions.parquet` (see `experiments.run.layout`) or any CSV / Parquet file
with a column of actions (integers 0..n_actions-1), rewards and logged propensities, and
optionally context features (`context_cols`; default every `x_*` column; none is allowed:
the reward model then learns a mean per action).

n_actions is, in this order: the `n_actions` argument; for a run's log (it has the columns
scenario, policy, seed, day, customer) the size of its action catalog (`sim.actions.
build_catalog` on the offers and channels of the run's scenario when a config.toml is found
beside the log or up to four folders above it, else the full catalog); otherwise the largest
logged action + 1.

Targets:

- `uniform`: every action 0..n_actions-1 with probability 1 / n_actions;
- `action:K`: always action K;
- `policy:NAME[:k=v,...]`: a policy from the registry (values read as JSON when they parse,
  e.g. `policy:linucb:alpha=0.5,explore=0.1`), trained with one `update` on the first
  half of the log and evaluated on the second half (`split="rows"`: by row order; `"day"`:
  the first half of the distinct days, from the `day` column). A run's log gives the policy
  its catalog's action features; an external log one-hot features (n_actions x n_actions).
  Its action distribution is the policy's `action_dist` when it has one (Vowpal Wabbit);
  otherwise `policy_draws` calls of `act` (eligible=None): each drawn action's pscore is its
  exact probability, and the mass not yet seen is spread evenly over the actions not drawn,
  which is exact for deterministic, epsilon-greedy and uniform-floor policies and an
  approximation otherwise (Thompson sampling);
- `file:PATH`: per-row probabilities, a .npy (n, n_actions) array or a Parquet / CSV file of
  n_actions numeric columns, one row per log row after filtering (columns beyond n_actions
  must hold no mass; fewer columns mean 0 on the missing actions).

The reward model (for dm, dr, sndr, switch_dr) is `experiments.ope.fit_reward_model` fitted
on the rows being evaluated, cross-fitted over `folds` folds when `folds` > 1. Everything is
checked before anything is written; a bad input raises `OPEError` and writes nothing.
"""


from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nbasim.experiments import ope
from nbasim.experiments.ope import log as ope_log
from nbasim.experiments.ope import targets
from nbasim.experiments.ope.inputs import OPEError
from nbasim.experiments.store.atomic import (
    json_safe,
    remove_leftovers,
    staged_dir,
    temporary_dir,
    write_json,
)

OUTPUT_FILES = ("ope.json", "ope.png")
MAX_BOOTSTRAP = 10_000
"""The most bootstrap resamples (as an [ope] table allows): each holds a row per estimator."""


def ope_command(log: Path | str, action_col: str = "action", reward_col: str = "reward",
                pscore_col: str = "pscore", context_cols: Sequence[str] | None = None,
                target: str = "uniform", estimators: Sequence[str] | None = None,
                out: Path | str | None = None, n_bootstrap: int = 200,
                clip: float | None = None, seed: int = 0, *, tau: float = ope.DEFAULT_TAU,
                n_actions: int | None = None, scenario: str | None = None,
                logging_policy: str | None = None, log_seed: int | None = None,
                split: str = "rows", folds: int = 1, l2: float = 1.0,
                policy_draws: int = 32,
                results_root: Path | str = "results") -> tuple[dict, Path]:
    """Estimate `target`'s value from a log; write DIR/ope.json and DIR/ope.png.

    Args:
        log: a CSV or Parquet decision log.
        action_col: column of logged actions (integers from 0).
        reward_col: column of rewards.
        pscore_col: column of the logger's propensities, in (0, 1].
        context_cols: context feature columns (None: every `x_*` column; [] : none).
        target: `uniform`, `action:K`, `policy:NAME[:k=v,...]` or `file:PATH`.
        estimators: names from `experiments.ope.ESTIMATORS` (None: all).
        out: results directory (None: `<results_root>/ope/<log stem>-<target>`).
        n_bootstrap: bootstrap resamples for the 95 % intervals (0: none).
        clip: largest importance weight, or None.
        seed: seed of the bootstrap, the cross-fitting folds and a target policy.
        tau: switch-DR threshold.
        n_actions: number of actions (see the module docstring for the default).
        scenario: keep only rows of this scenario label (a run's log).
        logging_policy: keep only rows logged by this policy label (a run's log).
        log_seed: keep only rows of this seed (a run's log).
        split: `rows` or `day`, how a `policy:` target's training half is chosen.
        folds: reward-model cross-fitting folds (1: none).
        l2: ridge penalty of the reward model.
        policy_draws: `act` calls that estimate a policy's distribution without `action_dist`.
        results_root: root of the default output directory.

    Returns:
        (result, out_dir): result is what ope.json holds, plus "log", "target", "n_actions",
        "settings" and "split"; `render(result)` shows it.

    Raises:
        OPEError: a bad option, file, column or value, naming it; nothing is written then.
    """
    names = ope.check_estimators(estimators)
    _check_options(n_bootstrap, clip, tau, split, folds, l2, policy_draws, n_actions, seed)
    kind, arg = targets.parse_target(target)
    log = Path(log)
    out_dir = Path(out) if out is not None else \
        Path(results_root) / "ope" / f"{_slug(log.stem)}-{_slug(target)}"
    _check_out(out_dir)
    table = ope_log.read_log(log)
    table = ope_log.filter_log(table, scenario=scenario, logging_policy=logging_policy,
                       log_seed=log_seed)
    for name in (action_col, reward_col, pscore_col):
        ope_log.require_column(table, name, log)
    cols = ope_log.context_columns(table, context_cols, log)
    action = ope_log.action_column(table, action_col)
    reward = ope.check_rewards(ope_log.float_column(table, reward_col, log))
    pscore = ope.check_pscores(ope_log.float_column(table, pscore_col, log))
    contexts = ope_log.context_matrix(table, cols, log)
    run_log = all(c in table.column_names for c in ope_log.RUN_LOG_COLUMNS)
    catalog_features = ope_log.catalog_features(log, table) if run_log else None
    k = ope_log.count_actions(n_actions, action, catalog_features)
    if catalog_features is not None and catalog_features.shape[0] != k:
        catalog_features = None  # an explicit n_actions overrides the catalog's size

    n = action.size
    evaluate_rows = np.arange(n)
    split_info = None
    if kind == "uniform":
        dist_fn = targets.uniform_target(k)
    elif kind == "action":
        dist_fn = targets.action_target(arg, k)
    elif kind == "file":
        dist_fn = targets.file_target(arg, n, k)
    else:
        train, evaluate_rows = targets.split_rows(table, split, n)
        split_info = {"by": split, "train_rows": int(train.size),
                      "evaluate_rows": int(evaluate_rows.size)}
        dist_fn = targets.policy_target(arg, k, catalog_features, contexts, action, reward, pscore,
                               train, seed, policy_draws)

    x, a, r, p = (contexts[evaluate_rows], action[evaluate_rows], reward[evaluate_rows],
                  pscore[evaluate_rows])
    models = None
    if any(e in ope.MODEL_BASED for e in names):
        models = ope.cross_fit(x, a, r, k, folds=folds, seed=seed, l2=l2)
    terms, unseen = targets.reduce_terms(x, a, r, p, dist_fn, models, k)
    body = ope.evaluate_terms(terms, names, clip=clip, tau=tau, n_bootstrap=n_bootstrap,
                              seed=seed, unseen_mass=unseen)
    result = {"log": str(log), "target": target, "n_actions": k, **body,
              "settings": {"estimators": list(names), "n_bootstrap": n_bootstrap,
                           "level": ope.LEVEL, "clip": clip,
                           "tau": tau if math.isfinite(tau) else None, "seed": seed,
                           "context_cols": cols, "reward_model": {"kind": "ridge per action",
                                                                  "l2": l2, "folds": folds},
                           "filters": {"scenario": scenario, "policy": logging_policy,
                                       "seed": log_seed}},
              "split": split_info}
    result = json_safe(result)
    _write(out_dir, result)
    return result, out_dir


# --- options and targets ---------------------------------------------------------------------


def _check_options(n_bootstrap: int, clip: float | None, tau: float, split: str, folds: int,
                   l2: float, policy_draws: int, n_actions: int | None, seed: int) -> None:
    def is_int(v: object) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if not is_int(n_bootstrap) or not 0 <= n_bootstrap <= MAX_BOOTSTRAP:
        raise OPEError(f"n_bootstrap = {n_bootstrap!r}: expected an integer from 0 (no "
                       f"intervals) to {MAX_BOOTSTRAP:,}")
    if not is_int(seed) or seed < 0:
        raise OPEError(f"seed = {seed!r}: expected an integer >= 0")
    if clip is not None and not (isinstance(clip, int | float) and 0 < clip < math.inf):
        raise OPEError(f"clip = {clip!r}: expected None (no clipping) or a weight > 0")
    if not (isinstance(tau, int | float) and tau > 0):
        raise OPEError(f"tau = {tau!r}: expected a weight threshold > 0 (inf: plain DR)")
    if split not in ("rows", "day"):
        raise OPEError(f"split = {split!r}: allowed: rows, day")
    if not is_int(folds) or folds < 1:
        raise OPEError(f"folds = {folds!r}: expected an integer >= 1 (1: no cross-fitting)")
    if not (isinstance(l2, int | float) and l2 > 0):
        raise OPEError(f"l2 = {l2!r}: expected a ridge penalty > 0")
    if not is_int(policy_draws) or policy_draws < 1:
        raise OPEError(f"policy_draws = {policy_draws!r}: expected an integer >= 1")
    if n_actions is not None and (not is_int(n_actions) or n_actions < 1):
        raise OPEError(f"n_actions = {n_actions!r}: expected an integer >= 1")



def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-.") or "log"


def _check_out(out_dir: Path) -> None:
    """Refuse an output directory that is a file or lies under one, before any work."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OPEError(f"out {out_dir}: exists and is not a directory")
    blocked = next((p for p in out_dir.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise OPEError(f"out {out_dir}: '{blocked}' is a file, not a directory; give a "
                       "directory for the results")


def _write(out_dir: Path, result: dict) -> None:
    """ope.json and ope.png, staged and renamed into place together.

    A new directory, or one that holds only an earlier ope.json and ope.png, is staged whole
    (`experiments.store.atomic.staged_dir`). An existing directory that holds other files too (a
    run directory, say) keeps them: both files are written to a hidden folder inside it and
    then renamed into place, the plot first.
    """
    import os

    _check_out(out_dir)
    data = result
    others = [f.name for f in out_dir.iterdir() if f.name not in OUTPUT_FILES] \
        if out_dir.is_dir() else []
    if not others:
        with staged_dir(out_dir) as stage:
            write_json(stage / "ope.json", data)
            plot(data, stage / "ope.png")
        return
    remove_leftovers(out_dir, (".ope.",))  # a killed earlier write's
    with temporary_dir(out_dir, ".ope.") as stage:
        write_json(stage / "ope.json", data)
        plot(data, stage / "ope.png")
        for name in ("ope.png", "ope.json"):
            os.chmod(stage / name, 0o644)
            os.replace(stage / name, out_dir / name)


def plot(result: dict, path: Path) -> Path:
    """Draw each estimate with its 95 % interval (horizontal bars), from a result dict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est = result["estimates"]
    names = list(est)
    values = np.array([np.nan if est[e]["value"] is None else est[e]["value"] for e in names])
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(names) + 1.6), constrained_layout=True)
    y = np.arange(len(names))[::-1]
    for yi, e, v in zip(y, names, values, strict=True):
        ci = est[e]["ci"]
        if ci is not None and all(c is not None and math.isfinite(c) for c in ci):
            ax.plot(ci, [yi, yi], color="tab:blue", lw=3, alpha=0.5)
        ax.plot([v], [yi], "o", color="tab:blue")
        ax.annotate(f"{v:.4g}", (v, yi), textcoords="offset points", xytext=(0, 7),
                    ha="center", fontsize=8)
    ax.set_yticks(y, [e.upper().replace("_", "-") for e in names])
    diag = result["diagnostics"]
    ax.set_title(f"Estimated value of {result['target']} ({diag['n_rounds']:,} rounds, "
                 f"ESS {diag['ess']:,.0f})", fontsize=10)
    ax.set_xlabel("value per round (bars: 95 % bootstrap interval)")
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render(result: dict):
    """A rich renderable of a result: the estimates with intervals, then the diagnostics."""
    from rich.console import Group
    from rich.table import Table

    est = Table(title=f"Off-policy estimates of {result['target']}", title_justify="left")
    est.add_column("estimator")
    est.add_column("value", justify="right")
    est.add_column("95 % interval", justify="right")
    def num(v: float | None) -> str:
        return "n/a" if v is None or not math.isfinite(v) else f"{v:.4g}"

    for e, v in result["estimates"].items():
        ci = v["ci"]
        est.add_row(e, num(v["value"]), "" if ci is None else f"[{num(ci[0])}, {num(ci[1])}]")
    d = result["diagnostics"]
    diag = Table(title="Diagnostics", title_justify="left", show_header=False)
    diag.add_column("name")
    diag.add_column("value", justify="right")
    labels = {"n_rounds": "rounds", "ess": "effective sample size", "ess_share": "ESS / rounds",
              "max_weight": "largest weight", "mean_weight": "mean weight (about 1 if covered)",
              "zero_weight_share": "rows the target would not take",
              "clipped_share": "rows clipped", "over_tau_share": "rows over tau (switch-DR)",
              "unseen_target_mass": "target mass on actions never logged"}
    for key, label in labels.items():
        v = d.get(key)
        if v is None:
            continue
        diag.add_row(label, f"{v:,}" if isinstance(v, int) else num(v))
    if result.get("split"):
        s = result["split"]
        diag.add_row("policy trained on / evaluated on",
                     f"{s['train_rows']:,} / {s['evaluate_rows']:,} rows (by {s['by']})")
    return Group(est, diag)
