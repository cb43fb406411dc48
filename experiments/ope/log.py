"""Reading a decision log for off-policy evaluation.

The log is a run's decisions.parquet or any CSV or Parquet file of actions, rewards,
propensities and optional contexts. Every reader checks what it reads and raises `OPEError`
naming the file, column and row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from nbasim.experiments.ope.inputs import OPEError

RUN_LOG_COLUMNS = ("scenario", "policy", "seed", "day", "customer")
"""Columns that mark a run's decisions.parquet."""

MAX_ACTIONS = 100_000
"""The most actions a log without a catalog may imply (its top action + 1): the estimators
hold an (n, n_actions) matrix, so an id such as 2**40 is a broken value, not a catalog."""

TEXT_COLUMNS = ("scenario", "policy", "customer")
"""Columns of a CSV log read as text, never as numbers, so that ids keep their digits."""




def read_log(path: Path) -> pa.Table:
    """Read a CSV or Parquet log.

    Raises:
        OPEError: no such file, a directory, another suffix, or a file that does not parse.
    """
    if path.is_dir():
        raise OPEError(f"log {path}: is a directory; give a decision log file (.csv or "
                       ".parquet), e.g. a run's decisions.parquet")
    if not path.is_file():
        raise OPEError(f"log {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix == ".csv":  # names and ids as written: policy "007", customer "00001"
            return pv.read_csv(path, convert_options=pv.ConvertOptions(
                column_types=dict.fromkeys(TEXT_COLUMNS, pa.string())))
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


def require_column(table: pa.Table, name: str, log: Path) -> None:
    """Raise `OPEError` naming the columns found when the log lacks `name`."""
    if name not in table.column_names:
        raise OPEError(f"log {log}: no column {name!r}; columns found: "
                       f"{', '.join(table.column_names)}")


def context_columns(table: pa.Table, context_cols: Sequence[str] | None,
                     log: Path) -> list[str]:
    """The context columns: `context_cols` (each checked), else every `x_*`."""
    if context_cols is None:
        return [c for c in table.column_names if c.startswith("x_")]
    cols = list(context_cols)
    for c in cols:
        require_column(table, c, log)
    return cols


def float_column(table: pa.Table, name: str, log: Path) -> np.ndarray:
    """A numeric column as (n,) float64, nulls as NaN."""
    col = table.column(name)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
            or pa.types.is_boolean(col.type) or pa.types.is_null(col.type)):
        raise OPEError(f"column {name!r} has type {col.type}: expected numbers")
    v = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(v, dtype=np.float64)  # nulls come out as NaN


def action_column(table: pa.Table, name: str) -> np.ndarray:
    """The logged actions as (n,) int64, integers from 0."""
    col = table.column(name)
    if len(col) == 0:  # before the type: a CSV of a header alone has columns of type null
        raise OPEError("the log has no rows: an estimate needs at least one logged round")
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
    return a


def context_matrix(table: pa.Table, cols: list[str], log: Path) -> np.ndarray:
    """The context columns as (n, dim_context) float64, all finite."""
    x = np.empty((table.num_rows, len(cols)))
    for j, c in enumerate(cols):
        x[:, j] = float_column(table, c, log)
    if x.size and not np.isfinite(x).all():
        j = int(np.flatnonzero(~np.isfinite(x).all(axis=0))[0])
        i = int(np.flatnonzero(~np.isfinite(x[:, j]))[0])
        raise OPEError(f"context column {cols[j]!r}: row {i} is missing or not finite; "
                       "contexts must be finite numbers")
    return x


def count_actions(n_actions: int | None, action: np.ndarray,
               catalog: np.ndarray | None) -> int:
    """n_actions: the argument, else the catalog's size, else top action + 1.

    Raises:
        OPEError: an action at or beyond n_actions or the catalog's size, or (without either)
            an action of `MAX_ACTIONS` or more.
    """
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
    if top >= MAX_ACTIONS:
        raise OPEError(f"the log holds action {top}: actions are indices 0..K-1 into a catalog "
                       f"of K actions, allowed K up to {MAX_ACTIONS:,} (each row gets a "
                       "probability per action)")
    return top + 1


def catalog_features(log: Path, table: pa.Table) -> np.ndarray:
    """(n_actions, dim_action) features of a run log's catalog (see the module docstring)."""
    from nbasim.sim.actions import build_catalog, catalog_for

    config = next((d / "config.toml" for d in [log.parent, *list(log.parent.parents)[:4]]
                   if (d / "config.toml").is_file()), None)
    if config is not None:
        try:
            from nbasim.experiments.run.config import load, variant_world
            from nbasim.sim.scenarios import get_scenario

            cfg = load(config)
            labels = {str(s) for s in pc.unique(table.column("scenario")).to_pylist()}
            features = [np.asarray(catalog_for(get_scenario(
                v.scenario, variant_world(v, cfg.days)[0])).features, dtype=np.float64)
                for v in cfg.scenarios if v.label in labels]  # offers, channels and targets
            kinds = {(f.shape, f.tobytes()): f for f in features}
        except (ValueError, OSError) as err:  # a config the catalog cannot be read from
            raise OPEError(f"log {log}: its run's {config} cannot be read ({err}); fix it, or "
                           "move the log away from it to use the full catalog") from None
        if len(kinds) > 1:
            raise OPEError(f"log {log}: its scenarios {sorted(labels)} have different action "
                           "catalogs; choose one with the scenario filter")
        if kinds:
            return kinds.popitem()[1]
    return np.asarray(build_catalog().features, dtype=np.float64)
