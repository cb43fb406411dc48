"""`nbasim ope`: estimate a target policy's value from a decision log, write ope.json and a plot.

The log is a run's `decisions.parquet` (see `experiments.layout`) or any CSV / Parquet file
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
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from nbasim.experiments import ope
from nbasim.experiments.atomic import json_safe, staged_dir, write_json
from nbasim.experiments.ope import OPEError

RUN_LOG_COLUMNS = ("scenario", "policy", "seed", "day", "customer")
"""Columns that mark a run's decisions.parquet."""

OUTPUT_FILES = ("ope.json", "ope.png")

_CHUNK_FLOATS = 1 << 21  # (rows x n_actions) floats per chunk of the reduction


def ope_command(log: Path | str, action_col: str = "action", reward_col: str = "reward",
                pscore_col: str = "pscore", context_cols: Sequence[str] | None = None,
                target: str = "uniform", estimators: Sequence[str] | None = None,
                out: Path | str | None = None, n_bootstrap: int = 200,
                clip: float | None = None, seed: int = 0, *, tau: float = ope.DEFAULT_TAU,
                n_actions: int | None = None, scenario: str | None = None,
                logging_policy: str | None = None, log_seed: int | None = None,
                split: str = "rows", folds: int = 1, lam: float = 1.0,
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
        lam: ridge penalty of the reward model.
        policy_draws: `act` calls that estimate a policy's distribution without `action_dist`.
        results_root: root of the default output directory.

    Returns:
        (result, out_dir): result is what ope.json holds, plus "log", "target", "n_actions",
        "settings" and "split"; `render(result)` shows it.

    Raises:
        OPEError: a bad option, file, column or value, naming it; nothing is written then.
    """
    names = ope.check_estimators(estimators)
    _check_options(n_bootstrap, clip, tau, split, folds, lam, policy_draws, n_actions)
    kind, arg = parse_target(target)
    log = Path(log)
    table = read_log(log)
    table = filter_log(table, scenario=scenario, logging_policy=logging_policy,
                       log_seed=log_seed)
    for name in (action_col, reward_col, pscore_col):
        _require(table, name, log)
    cols = _context_columns(table, context_cols, log)
    action = _actions(table, action_col)
    reward = ope.check_rewards(_floats(table, reward_col, log))
    pscore = ope.check_pscores(_floats(table, pscore_col, log))
    contexts = _contexts(table, cols, log)
    run_log = all(c in table.column_names for c in RUN_LOG_COLUMNS)
    catalog_features = _catalog_features(log, table) if run_log else None
    k = _n_actions(n_actions, action, catalog_features)
    if catalog_features is not None and catalog_features.shape[0] != k:
        catalog_features = None  # an explicit n_actions overrides the catalog's size

    n = action.size
    evaluate_rows = np.arange(n)
    split_info = None
    if kind == "uniform":
        dist_fn = _uniform_dist(k)
    elif kind == "action":
        dist_fn = _action_dist(arg, k)
    elif kind == "file":
        dist_fn = _file_dist(arg, n, k)
    else:
        train, evaluate_rows = _split(table, split, n)
        split_info = {"by": split, "train_rows": int(train.size),
                      "evaluate_rows": int(evaluate_rows.size)}
        dist_fn = _policy_dist(arg, k, catalog_features, contexts, action, reward, pscore,
                               train, seed, policy_draws)

    x, a, r, p = (contexts[evaluate_rows], action[evaluate_rows], reward[evaluate_rows],
                  pscore[evaluate_rows])
    models = None
    if any(e in ope.MODEL_BASED for e in names):
        models = ope.cross_fit(x, a, r, k, folds=folds, seed=seed, lam=lam)
    terms, unseen = reduce_terms(x, a, r, p, dist_fn, models, k)
    body = ope.evaluate_terms(terms, names, clip=clip, tau=tau, n_bootstrap=n_bootstrap,
                              seed=seed, unseen_mass=unseen)
    result = {"log": str(log), "target": target, "n_actions": k, **body,
              "settings": {"estimators": list(names), "n_bootstrap": n_bootstrap,
                           "level": ope.LEVEL, "clip": clip,
                           "tau": tau if math.isfinite(tau) else None, "seed": seed,
                           "context_cols": cols, "reward_model": {"kind": "ridge per action",
                                                                  "lam": lam, "folds": folds},
                           "filters": {"scenario": scenario, "policy": logging_policy,
                                       "seed": log_seed}},
              "split": split_info}
    out_dir = Path(out) if out is not None else \
        Path(results_root) / "ope" / f"{_slug(log.stem)}-{_slug(target)}"
    result = json_safe(result)
    _write(out_dir, result)
    return result, out_dir


# --- options and targets ---------------------------------------------------------------------


def _check_options(n_bootstrap: int, clip: float | None, tau: float, split: str, folds: int,
                   lam: float, policy_draws: int, n_actions: int | None) -> None:
    def is_int(v: object) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if not is_int(n_bootstrap) or n_bootstrap < 0:
        raise OPEError(f"n_bootstrap = {n_bootstrap!r}: expected an integer >= 0 (0: no "
                       "intervals)")
    if clip is not None and not (isinstance(clip, int | float) and 0 < clip < math.inf):
        raise OPEError(f"clip = {clip!r}: expected None (no clipping) or a weight > 0")
    if not (isinstance(tau, int | float) and tau > 0):
        raise OPEError(f"tau = {tau!r}: expected a weight threshold > 0 (inf: plain DR)")
    if split not in ("rows", "day"):
        raise OPEError(f"split = {split!r}: allowed: rows, day")
    if not is_int(folds) or folds < 1:
        raise OPEError(f"folds = {folds!r}: expected an integer >= 1 (1: no cross-fitting)")
    if not (isinstance(lam, int | float) and lam > 0):
        raise OPEError(f"lam = {lam!r}: expected a ridge penalty > 0")
    if not is_int(policy_draws) or policy_draws < 1:
        raise OPEError(f"policy_draws = {policy_draws!r}: expected an integer >= 1")
    if n_actions is not None and (not is_int(n_actions) or n_actions < 1):
        raise OPEError(f"n_actions = {n_actions!r}: expected an integer >= 1")


def parse_target(target: str) -> tuple[str, object]:
    """Split a target spec into its kind and argument.

    Returns:
        ("uniform", None), ("action", K), ("policy", (name, params)) or ("file", Path).

    Raises:
        OPEError: a spec of none of the allowed forms.
    """
    allowed = "allowed: uniform, action:K, policy:NAME[:k=v,...], file:PATH"
    spec = str(target).strip()
    if spec == "uniform":
        return "uniform", None
    kind, _, rest = spec.partition(":")
    if kind == "action":
        if not re.fullmatch(r"-?\d+", rest):
            raise OPEError(f"target {target!r}: action:K needs an integer K; {allowed}")
        return "action", int(rest)
    if kind == "file" and rest:
        return "file", Path(rest)
    if kind == "policy" and rest:
        from nbasim.sim.scenarios import parse_value

        name, _, text = rest.partition(":")
        params = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise OPEError(f"target {target!r}: policy parameter {item!r}: expected k=v")
            params[key.strip()] = parse_value(value.strip())
        return "policy", (name.strip(), params)
    raise OPEError(f"target {target!r}: {allowed}")


# --- reading the log -------------------------------------------------------------------------


def read_log(path: Path) -> pa.Table:
    """Read a CSV or Parquet log.

    Raises:
        OPEError: no such file, another suffix, or a file that does not parse.
    """
    if not path.is_file():
        raise OPEError(f"log {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix == ".csv":
            return pv.read_csv(path)
    except (pa.ArrowException, OSError) as err:
        raise OPEError(f"log {path}: cannot be read as {suffix[1:]}: {err}") from None
    raise OPEError(f"log {path}: suffix {suffix or '(none)'!r}: allowed: .csv, .parquet")


def filter_log(table: pa.Table, *, scenario: str | None = None,
               logging_policy: str | None = None, log_seed: int | None = None) -> pa.Table:
    """Keep the rows of one scenario, logging policy and/or seed.

    Raises:
        OPEError: a filter on a column the log lacks, or a filter that keeps no row (naming
            the values found).
    """
    for col, value in (("scenario", scenario), ("policy", logging_policy), ("seed", log_seed)):
        if value is None:
            continue
        if col not in table.column_names:
            raise OPEError(f"filter {col} = {value!r}: the log has no column {col!r}; columns "
                           f"found: {', '.join(table.column_names)}")
        column = table.column(col)
        found = sorted({str(v) for v in pc.unique(column).to_pylist()})
        keep = pc.equal(pc.cast(column, pa.string()), str(value))
        table = table.filter(keep)
        if table.num_rows == 0:
            raise OPEError(f"filter {col} = {value!r}: no row matches; values found: "
                           f"{', '.join(found[:20])}")
    return table


def _require(table: pa.Table, name: str, log: Path) -> None:
    if name not in table.column_names:
        raise OPEError(f"log {log}: no column {name!r}; columns found: "
                       f"{', '.join(table.column_names)}")


def _context_columns(table: pa.Table, context_cols: Sequence[str] | None,
                     log: Path) -> list[str]:
    if context_cols is None:
        return [c for c in table.column_names if c.startswith("x_")]
    cols = list(context_cols)
    for c in cols:
        _require(table, c, log)
    return cols


def _floats(table: pa.Table, name: str, log: Path) -> np.ndarray:
    col = table.column(name)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
            or pa.types.is_boolean(col.type) or pa.types.is_null(col.type)):
        raise OPEError(f"column {name!r} has type {col.type}: expected numbers")
    v = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(v, dtype=np.float64)  # nulls come out as NaN


def _actions(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        i = int(np.flatnonzero(np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False)))[0])
        raise OPEError(f"action column {name!r}: row {i} is missing; every row needs an "
                       "action (an integer from 0)")
    if pa.types.is_integer(col.type):
        a = np.asarray(col.to_numpy(), dtype=np.int64)
    elif pa.types.is_floating(col.type):
        v = np.asarray(col.to_numpy(), dtype=np.float64)
        bad = ~np.isfinite(v) | (v != np.round(v))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise OPEError(f"action column {name!r}: row {i} holds {v[i].item()!r}; actions "
                           "must be integers from 0")
        a = v.astype(np.int64)
    else:
        raise OPEError(f"action column {name!r} has type {col.type}: expected integers from 0")
    if a.size and a.min() < 0:
        i = int(np.flatnonzero(a < 0)[0])
        raise OPEError(f"action column {name!r}: row {i} holds {a[i]}; actions must be "
                       "integers from 0")
    if a.size == 0:
        raise OPEError("the log has no rows: an estimate needs at least one logged round")
    return a


def _contexts(table: pa.Table, cols: list[str], log: Path) -> np.ndarray:
    x = np.empty((table.num_rows, len(cols)))
    for j, c in enumerate(cols):
        x[:, j] = _floats(table, c, log)
    if x.size and not np.isfinite(x).all():
        j = int(np.flatnonzero(~np.isfinite(x).all(axis=0))[0])
        i = int(np.flatnonzero(~np.isfinite(x[:, j]))[0])
        raise OPEError(f"context column {cols[j]!r}: row {i} is missing or not finite; "
                       "contexts must be finite numbers")
    return x


def _n_actions(n_actions: int | None, action: np.ndarray,
               catalog: np.ndarray | None) -> int:
    top = int(action.max())
    if n_actions is not None:
        if top >= n_actions:
            raise OPEError(f"n_actions = {n_actions}: the log holds action {top}; allowed: "
                           f"n_actions > {top}")
        return int(n_actions)
    if catalog is not None:
        if top >= catalog.shape[0]:
            raise OPEError(f"the log holds action {top}, but its run's catalog has "
                           f"{catalog.shape[0]} actions (0..{catalog.shape[0] - 1})")
        return int(catalog.shape[0])
    return top + 1


def _catalog_features(log: Path, table: pa.Table) -> np.ndarray:
    """(n_actions, dim_action) features of a run log's catalog (see the module docstring)."""
    from nbasim.sim.actions import build_catalog

    config = next((d / "config.toml" for d in [log.parent, *list(log.parent.parents)[:4]]
                   if (d / "config.toml").is_file()), None)
    if config is not None:
        try:
            from nbasim.experiments.config import load, variant_world
            from nbasim.sim.scenarios import get_scenario

            cfg = load(config)
            labels = {str(s) for s in pc.unique(table.column("scenario")).to_pylist()}
            kinds = {(tuple(p.offers), tuple(p.channels))
                     for p in (get_scenario(v.scenario, variant_world(v, cfg.days)[0])
                               for v in cfg.scenarios if v.label in labels)}
        except (ValueError, OSError) as err:  # a config the catalog cannot be read from
            raise OPEError(f"log {log}: its run's {config} cannot be read ({err}); fix it, or "
                           "move the log away from it to use the full catalog") from None
        if len(kinds) > 1:
            raise OPEError(f"log {log}: its scenarios {sorted(labels)} have different action "
                           "catalogs; choose one with the scenario filter")
        if kinds:
            offers, channels = kinds.pop()
            return np.asarray(build_catalog(offers, channels).features, dtype=np.float64)
    return np.asarray(build_catalog().features, dtype=np.float64)


# --- targets ---------------------------------------------------------------------------------


DistFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(rows of the evaluated part, their contexts) -> (len(rows), n_actions) action_dist."""


def _uniform_dist(k: int) -> DistFn:
    return lambda rows, x: np.full((rows.size, k), 1.0 / k)


def _action_dist(target: int, k: int) -> DistFn:
    if not 0 <= target < k:
        raise OPEError(f"target action:{target}: the log can only express actions 0 to {k - 1} "
                       f"(n_actions = {k})")

    def dist(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        d = np.zeros((rows.size, k))
        d[:, target] = 1.0
        return d
    return dist


def _file_dist(path: Path, n: int, k: int) -> DistFn:
    if not path.is_file():
        raise OPEError(f"target file {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            d = np.load(path, allow_pickle=False)
        elif suffix in (".parquet", ".pq", ".csv"):
            t = pq.read_table(path) if suffix != ".csv" else pv.read_csv(path)
            bad = [c for c, f in zip(t.column_names, t.schema, strict=True)
                   if not (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))]
            if bad:
                raise OPEError(f"target file {path}: columns {bad} are not numeric; expected "
                               "one probability column per action")
            d = np.column_stack([pc.cast(t.column(c), pa.float64()).to_numpy(
                zero_copy_only=False) for c in t.column_names]) if t.num_columns else \
                np.zeros((t.num_rows, 0))
        else:
            raise OPEError(f"target file {path}: suffix {suffix or '(none)'!r}: allowed: .npy, "
                           ".parquet, .csv")
    except (OSError, ValueError, pa.ArrowException) as err:
        if isinstance(err, OPEError):
            raise
        raise OPEError(f"target file {path}: cannot be read: {err}") from None
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != n or d.shape[1] < 1:
        raise OPEError(f"target file {path}: shape {d.shape}; expected ({n}, n_actions): one "
                       "row per log row (after filtering), one column per action")
    if d.shape[1] > k:
        extra = d[:, k:]
        if not (extra == 0).all():
            col = k + int(np.flatnonzero((extra != 0).any(axis=0))[0])
            raise OPEError(f"target file {path}: puts probability on action {col}, which the "
                           f"log cannot express (its actions are 0 to {k - 1}); set n_actions "
                           "if the logger could take it")
        d = d[:, :k]
    elif d.shape[1] < k:
        d = np.hstack([d, np.zeros((n, k - d.shape[1]))])
    try:
        ope.check_action_dist(d, n)
    except OPEError as err:
        raise OPEError(f"target file {path}: {err}") from None
    return lambda rows, x: d[rows]


def _split(table: pa.Table, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, evaluated rows) of a policy target."""
    if split == "rows":
        if n < 2:
            raise OPEError(f"target policy: the log has {n} row; training and evaluating need "
                           "at least 2")
        return np.arange(n // 2), np.arange(n // 2, n)
    if "day" not in table.column_names:
        raise OPEError(f"split = 'day': the log has no column 'day'; columns found: "
                       f"{', '.join(table.column_names)}; allowed: rows")
    day = _floats(table, "day", Path("log"))
    days = np.unique(day[np.isfinite(day)])
    if days.size < 2:
        raise OPEError(f"split = 'day': the log holds {days.size} distinct day; the split needs "
                       "at least 2 (or use split = 'rows')")
    cut = days[days.size // 2]
    return np.flatnonzero(day < cut), np.flatnonzero(~(day < cut))


def _policy_dist(spec: tuple[str, dict], k: int, catalog: np.ndarray | None,
                 contexts: np.ndarray, action: np.ndarray, reward: np.ndarray,
                 pscore: np.ndarray, train: np.ndarray, seed: int, draws: int) -> DistFn:
    from nbasim import policies

    name, params = spec
    if k < 2:
        raise OPEError(f"target policy:{name}: policies need at least 2 actions; the log has "
                       f"n_actions = {k}")
    feats = catalog if catalog is not None else np.eye(k)
    x = contexts if contexts.shape[1] else np.ones((contexts.shape[0], 1))
    try:
        if policies.policy_class(name).needs_truth:
            raise OPEError(f"target policy:{name}: it acts on the true margins, which a log "
                           "does not hold")
        policy = policies.make(name, action_features=feats, dim_context=x.shape[1], seed=seed,
                               **params)
        if train.size:
            policy.update(x[train], action[train], reward[train], pscore[train])
    except policies.PolicyError as err:
        raise OPEError(f"target policy:{name}: {err}") from None

    def dist(rows: np.ndarray, _: np.ndarray) -> np.ndarray:
        return policy_action_dist(policy, x[rows], draws)
    return dist


def policy_action_dist(policy: object, contexts: np.ndarray, draws: int = 32) -> np.ndarray:
    """A policy's (n, n_actions) action distribution, exact where the policy can say.

    `policy.action_dist(contexts)` when it exists; otherwise `draws` calls of `act`, each
    drawn action taking its pscore as its exact probability, the remaining mass spread evenly
    over the actions never drawn in that row (exact for deterministic, epsilon-greedy and
    uniform-floor policies; an approximation for Thompson sampling). Stops early once every
    row's drawn actions hold all its mass.
    """
    if hasattr(policy, "action_dist"):
        d = np.asarray(policy.action_dist(contexts), dtype=np.float64)
        return d / d.sum(axis=1, keepdims=True)
    n, k = contexts.shape[0], policy.n_actions
    known = np.zeros((n, k))
    rows = np.arange(n)
    for _ in range(draws):
        a, p = policy.act(contexts)
        known[rows, a] = p
        if (known.sum(axis=1) >= 1 - 1e-9).all():
            break
    left = np.clip(1.0 - known.sum(axis=1), 0.0, None)
    unseen = known == 0
    n_unseen = unseen.sum(axis=1)
    share = np.divide(left, n_unseen, out=np.zeros(n), where=n_unseen > 0)
    d = known + unseen * share[:, None]
    return d / d.sum(axis=1, keepdims=True)


# --- reduction, output ------------------------------------------------------------------------


def reduce_terms(x: np.ndarray, a: np.ndarray, r: np.ndarray, p: np.ndarray, dist_fn: DistFn,
            models: tuple[list, np.ndarray] | None, k: int) -> tuple[ope.Terms, float]:
    """Per-row terms and the mean unseen target mass, chunk by chunk over the rows."""
    n = a.size
    t_ps = np.empty(n)
    q_logged = np.empty(n) if models else None
    q_target = np.empty(n) if models else None
    unseen = 0.0
    seen = np.zeros(k, dtype=bool)
    seen[a] = True
    step = max(1, _CHUNK_FLOATS // k)
    for s in range(0, n, step):
        rows = np.arange(s, min(s + step, n))
        d = ope.check_action_dist(dist_fn(rows, x[rows]), rows.size)
        q = ope.predict_folds(models[0], models[1][rows], x[rows]) if models else None
        t, ql, qt = ope.model_terms(a[rows], d, q)
        t_ps[rows] = t
        if models:
            q_logged[rows], q_target[rows] = ql, qt
        unseen += float(d[:, ~seen].sum())
    return ope.Terms(r, p, t_ps, q_logged, q_target), unseen / n


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-.") or "log"


def _write(out_dir: Path, result: dict) -> None:
    """ope.json and ope.png, staged and renamed into place together.

    A new directory, or one that holds only an earlier ope.json and ope.png, is staged whole
    (`experiments.atomic.staged_dir`). An existing directory that holds other files too (a
    run directory, say) keeps them: both files are written to a hidden folder inside it and
    then renamed into place, the plot first.
    """
    import os
    import shutil
    import tempfile

    if out_dir.exists() and not out_dir.is_dir():
        raise OPEError(f"out {out_dir}: exists and is not a directory")
    data = result
    others = [f.name for f in out_dir.iterdir() if f.name not in OUTPUT_FILES] \
        if out_dir.is_dir() else []
    if not others:
        with staged_dir(out_dir) as stage:
            write_json(stage / "ope.json", data)
            plot(data, stage / "ope.png")
        return
    stage = Path(tempfile.mkdtemp(prefix=".ope.", dir=out_dir))
    try:
        write_json(stage / "ope.json", data)
        plot(data, stage / "ope.png")
        for name in ("ope.png", "ope.json"):
            os.chmod(stage / name, 0o644)
            os.replace(stage / name, out_dir / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
