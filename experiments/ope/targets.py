"""Targets of off-policy evaluation, and the reduction of a log to per-row terms.

A target gives the distribution a policy puts on each logged row's actions; `reduce_terms`
turns a log and a target into the estimators' `Terms`, chunk by chunk. The forms of a
target (`parse_target`) are listed in `experiments.ope.command`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from nbasim.experiments.ope.estimators import Terms, model_terms
from nbasim.experiments.ope.inputs import OPEError, check_action_dist
from nbasim.experiments.ope.log import float_column
from nbasim.experiments.ope.reward_model import predict_folds

_CHUNK_FLOATS = 1 << 21  # (rows x n_actions) floats per chunk of the reduction


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



DistFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(rows of the evaluated part, their contexts) -> (len(rows), n_actions) action_dist."""


def uniform_target(k: int) -> DistFn:
    """The uniform target over `k` actions."""
    return lambda rows, x: np.full((rows.size, k), 1.0 / k)


def action_target(target: int, k: int) -> DistFn:
    """The target that always takes action `target`."""
    if not 0 <= target < k:
        raise OPEError(f"target action:{target}: the log can only express actions 0 to {k - 1} "
                       f"(n_actions = {k})")

    def dist(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        d = np.zeros((rows.size, k))
        d[:, target] = 1.0
        return d
    return dist


def file_target(path: Path, n: int, k: int) -> DistFn:
    """The target read from a file of per-row probabilities."""
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
        check_action_dist(d, n)
    except OPEError as err:
        raise OPEError(f"target file {path}: {err}") from None
    return lambda rows, x: d[rows]


def split_rows(table: pa.Table, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, evaluated rows) of a policy target."""
    if split == "rows":
        if n < 2:
            raise OPEError(f"target policy: the log has {n} row; training and evaluating need "
                           "at least 2")
        return np.arange(n // 2), np.arange(n // 2, n)
    if "day" not in table.column_names:
        raise OPEError(f"split = 'day': the log has no column 'day'; columns found: "
                       f"{', '.join(table.column_names)}; allowed: rows")
    day = float_column(table, "day", Path("log"))
    days = np.unique(day[np.isfinite(day)])
    if days.size < 2:
        raise OPEError(f"split = 'day': the log holds {days.size} distinct day; the split needs "
                       "at least 2 (or use split = 'rows')")
    cut = days[days.size // 2]
    return np.flatnonzero(day < cut), np.flatnonzero(~(day < cut))


def policy_target(spec: tuple[str, dict], k: int, catalog: np.ndarray | None,
                 contexts: np.ndarray, action: np.ndarray, reward: np.ndarray,
                 pscore: np.ndarray, train: np.ndarray, seed: int, draws: int) -> DistFn:
    """A registry policy trained on the `train` rows, as a target."""
    from nbasim import policies

    name, params = spec
    if k < 2:
        raise OPEError(f"target policy:{name}: policies need at least 2 actions; the log has "
                       f"n_actions = {k}")
    feats = catalog if catalog is not None else np.eye(k)
    x = contexts if contexts.shape[1] else np.ones((contexts.shape[0], 1))
    try:
        if policies.policy_class(name).needs_truth:
            raise OPEError(f"target policy:{name}: it acts on the true margins or values, "
                           "which a log does not hold")
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



def reduce_terms(x: np.ndarray, a: np.ndarray, r: np.ndarray, p: np.ndarray, dist_fn: DistFn,
            models: tuple[list, np.ndarray] | None, k: int) -> tuple[Terms, float]:
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
        d = check_action_dist(dist_fn(rows, x[rows]), rows.size)
        q = predict_folds(models[0], models[1][rows], x[rows]) if models else None
        t, ql, qt = model_terms(a[rows], d, q)
        t_ps[rows] = t
        if models:
            q_logged[rows], q_target[rows] = ql, qt
        unseen += float(d[:, ~seen].sum())
    return Terms(r, p, t_ps, q_logged, q_target), unseen / n
