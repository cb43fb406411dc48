"""The runner: every (scenario, policy, seed) cell of a config, then the run's files.

Cells run in this process (`workers=1`), in local worker processes, or on a Ray cluster; each
cell depends on nothing but the config and its seed, and cells are gathered in config order,
so the results are the same bit for bit whatever the executor or the number of workers. Each
finished cell is written at once to `cells/...` under the run directory, so an interrupted
sweep, rerun, skips the cells already done. At the end the cells are gathered into the run's
tables and summary (see `experiments.run.layout`), and the report is built from those files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from nbasim.experiments.results import stats
from nbasim.experiments.run import cell_files, orphans, preflight, versions
from nbasim.experiments.run.cell import Cell, CellResult, run_cell
from nbasim.experiments.run.cell_files import TABLES, write_cell
from nbasim.experiments.run.config import ExperimentConfig
from nbasim.experiments.run.metrics import METRICS, ORACLE_ROLES, definitions
from nbasim.experiments.run.threads import single_threaded_blas
from nbasim.experiments.store import atomic, lock
from nbasim.sim import memory
from nbasim.sim.offer_rules import OFFER_RULE_KEYS
from nbasim.sim.params import ParameterError
from nbasim.sim.world import BYTES_PER_CUSTOMER

EXECUTORS = ("local", "ray")
CELL_MEMORY = 192 * 2**20
"""Resident bytes a cell's process takes besides its world's state, with margin: the code, the
env, the policy and the day's buffers (a worker of the quickstart holds about 130 MB)."""
CELL_ADDRESS_SPACE = 512 * 2**20
"""Address space a cell's process reserves besides its world's state, for `ulimit -v` (0.4 GiB
of VmSize measured between the start of a run and its first world at 2,000,000 customers)."""
LEFTOVERS = {".": (".gather-", ".probe-", ".config.toml.", ".summary.json.", ".report.html.",
                   ".plots.", ".ope_validate.json."),
             "plots": (".ope_validate.png.",)}
"""What a killed run leaves in a run directory (and in its plots/), by the start of the name:
staging folders and temporary files. A cell's own (`.seed-<k>.`) are in its folder."""


def run_id(cfg: ExperimentConfig) -> str:
    """A name for the run that only the config decides (so a rerun finds its cells).

    A config without a currency label hashes as before the label existed, so its runs keep
    their ids and directories.
    """
    digest = hashlib.sha1(cfg.model_dump_json(exclude=_unset_labels(cfg) | {"out"}).encode()
                          ).hexdigest()[:10]
    return f"{cfg.name}-{digest}"


def _unset_labels(cfg: ExperimentConfig) -> set[str]:
    """Keys left empty that came after runs had ids: kept out of the run id and config.toml.

    A config without a currency label or contact rules per segment and offer, or without
    slates (`slate_size` 1, whose runs `slate_continuation` cannot change), hashes as before
    those keys existed, so its runs keep their ids and directories.
    """
    slates = ("slate_size", "slate_continuation") if cfg.slate_size == 1 else ()
    return {k for k in ("currency", *OFFER_RULE_KEYS) if not getattr(cfg, k)} | set(slates)


def cells(cfg: ExperimentConfig) -> list[Cell]:
    """Every cell, in config order: scenarios, then policies, then seeds."""
    return [Cell(s, p, seed, cfg.epochs) for s in cfg.scenarios for p in cfg.policies
            for seed in cfg.seeds]


def check_options(workers: int, executor: str) -> None:
    """Refuse a number of workers below 1 or an unknown executor.

    Raises:
        ParameterError: naming the option, the value and what is allowed.
    """
    if executor not in EXECUTORS:
        raise ParameterError(f"--executor {executor!r}: allowed {', '.join(EXECUTORS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(f"--workers {workers!r}: must be an integer, at least 1")


def check_memory(cfg: ExperimentConfig, workers: int, executor: str) -> None:
    """Refuse a sweep whose worlds, as many at once as there are workers, cannot fit in memory.

    Each process running a cell needs its world (`BYTES_PER_CUSTOMER` a customer) plus
    `CELL_MEMORY`, held against the memory available and the cgroup's limit for all the
    workers together, and plus `CELL_ADDRESS_SPACE` against `ulimit -v` for each (`sim.memory`);
    on Ray the cells run elsewhere, so one is checked.

    Raises:
        ParameterError: naming the customers, the workers and the memory found.
    """
    customers = max(v.customers or cfg.customers for v in cfg.scenarios)
    at_once = 1 if executor == "ray" else min(workers, len(cells(cfg)))
    world = customers * BYTES_PER_CUSTOMER
    what = f"customers = {customers:,}" + (
        f" in {at_once} worlds at once (--workers {workers})" if at_once > 1 else "")
    memory.check_fits(at_once * (world + CELL_MEMORY), what,
                      per_process=world + CELL_ADDRESS_SPACE,
                      each=" in each of its processes" if at_once > 1 else "")


def prepare(cfg: ExperimentConfig, run_dir: Path, workers: int = 1,
            executor: str = "local") -> list[Cell]:
    """Claim `run_dir` for this config and return the cells still to run.

    Everything is checked before the first write: the options (`check_options`), the memory
    the worlds need (`check_memory`), every policy, built (`preflight.check_policies`), so
    that a bad one stops the sweep before any cell runs, and every directory the sweep
    will write in is probed, so that a read-only one stops it before the work rather than
    after. Then `run_dir` is created, locked (`experiments.store.lock`: one run at a time per
    directory) and config.toml written. The lock stays held, for `execute`, until `release`
    or the end of the process.

    Raises:
        ParameterError: a bad option, a policy that cannot be built, or `run_dir` is a file,
            holds a run of another config, or something that is not a run; nothing is
            written then.
        DirectoryLocked: another process is running in `run_dir` (the message names it);
            nothing is written then.
        WriteError: `run_dir` cannot be created or written (read-only, disk full); nothing is
            left behind then.
    """
    check_options(workers, executor)
    # Memory first: building the envs of a world too big (their spaces span every customer)
    # would fail before the check could name the figures.
    check_memory(cfg, workers, executor)
    preflight.check_policies(cfg)  # imports and builds what the cells use
    run_dir = Path(run_dir)
    stamp = run_dir / "config.toml"
    text = _config_toml(cfg)
    if run_dir.exists() and not run_dir.is_dir():
        raise ParameterError(f"--out {run_dir}: is a file; give a directory for the run (a new "
                             "one, or a run of this config to resume)")
    if run_dir.is_dir() and any(not _ours(p.name) for p in run_dir.iterdir()):
        if not stamp.is_file():
            raise ParameterError(f"--out {run_dir}: exists and is not an experiment run; "
                                 "choose another directory")
        try:
            earlier = stamp.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ParameterError(f"--out {run_dir}: its config.toml cannot be read ({err}); "
                                 "choose another directory") from None
        if _without_versions(earlier) != _without_versions(text):
            raise ParameterError(f"--out {run_dir}: holds a run of another config; choose "
                                 "another directory or delete it")
    made = [d for d in (run_dir, *run_dir.parents) if not d.exists()]
    made_lock = not (run_dir / lock.LOCK_FILE).exists()
    try:
        with atomic.writing(run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire(run_dir)
    except BaseException:
        _remove_empty(made)
        raise
    try:
        remove_leftovers(cfg, run_dir)
        todo = [c for c in cells(cfg) if not cell_files.finished(run_dir, c)]
        _probe(run_dir, todo)
        if not stamp.exists():
            with atomic.writing(run_dir):
                atomic.write_text(stamp, text)
    except BaseException:
        release(run_dir)
        if made_lock:  # what this call made: the lock file, then the folders left empty
            with contextlib.suppress(OSError):
                (run_dir / lock.LOCK_FILE).unlink()
        _remove_empty(made)
        raise
    return todo


def release(run_dir: Path) -> None:
    """Give back the lock on `run_dir` that `prepare` took."""
    lock.release(run_dir)


def remove_leftovers(cfg: ExperimentConfig, run_dir: Path) -> int:
    """Remove the staging folders and temporary files a killed run left in `run_dir`.

    Called under the run's lock, so nothing of a live run of ours is there to remove; an
    entry another process holds (`nbasim report`, say) stays (`atomic.remove_leftovers`).

    Returns:
        How many were removed.
    """
    removed = sum(atomic.remove_leftovers(run_dir / d, p) for d, p in LEFTOVERS.items())
    for cell in cells(cfg):
        folder = run_dir / cell.path()
        removed += atomic.remove_leftovers(folder.parent, (f".{folder.name}.", ".probe-"))
    return removed


def _ours(name: str) -> bool:
    """A name that the runner itself may leave in a run directory before its config.toml."""
    return name == lock.LOCK_FILE or name.startswith(LEFTOVERS["."])


def _probe(run_dir: Path, todo: list[Cell]) -> None:
    """Probe every directory the sweep writes in, so a read-only one stops it before the work."""
    dirs = {run_dir} | {d for d in (run_dir / "plots", run_dir / "cells") if d.is_dir()}
    for cell in todo:  # the folders a cell's staged directory is made and renamed in
        parent = (run_dir / cell.path()).parent
        while parent != run_dir:
            if parent.is_dir():
                dirs.add(parent)
            parent = parent.parent
    for d in sorted(dirs):
        atomic.check_writable(d)


def _remove_empty(dirs: list[Path]) -> None:
    """Remove the folders `dirs` (innermost first) while they are empty."""
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            return


def run(cfg: ExperimentConfig, run_dir: Path, workers: int = 1, executor: str = "local",
        address: str | None = None,
        on_cell: Callable[[Cell, CellResult], None] | None = None) -> Path:
    """Check and claim `run_dir` (`prepare`), then run what is missing (`execute`).

    Args:
        cfg: the validated config.
        run_dir: where the run lives (created; reused to resume).
        workers: local worker processes (1: run in this process).
        executor: "local" or "ray".
        address: Ray cluster address (None: start a local Ray).
        on_cell: called after each finished cell (progress).

    Returns:
        The run directory.

    Raises:
        ParameterError: see `prepare`; nothing is written then.
        WriteError: see `execute`.
    """
    todo = prepare(cfg, run_dir, workers, executor)
    try:
        return execute(cfg, run_dir, todo, workers, executor, address, on_cell)
    finally:
        release(run_dir)


def execute(cfg: ExperimentConfig, run_dir: Path, todo: list[Cell], workers: int = 1,
            executor: str = "local", address: str | None = None,
            on_cell: Callable[[Cell, CellResult], None] | None = None) -> Path:
    """Run the cells `todo` (from `prepare`), gather the run's files, build the report.

    Raises:
        WriteError: a file could not be written (a full disk, say); every cell written
            before stays whole, and a rerun resumes from them.
    """
    run_dir = Path(run_dir)
    single_threaded_blas()  # before any worker process starts
    for cell, result in _execute(cfg, todo, workers, executor, address):
        with atomic.writing(run_dir):  # a full disk: a named error, no half cell
            write_cell(run_dir, cell, result)
        if on_cell is not None:
            on_cell(cell, result)
    from nbasim.experiments.results.report import build_report

    with atomic.writing(run_dir):
        gather(cfg, run_dir)
        build_report(run_dir)
    return run_dir


def _execute(cfg: ExperimentConfig, todo: list[Cell], workers: int, executor: str,
             address: str | None) -> Iterator[tuple[Cell, CellResult]]:
    if executor == "ray":
        yield from _execute_ray(cfg, todo, address)
    elif workers == 1 or len(todo) <= 1:
        for cell in todo:
            yield cell, run_cell(cfg, cell)
    else:
        # workers exit if this process dies (a kill -9 would otherwise orphan them)
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                                 mp_context=get_context("fork"),
                                 initializer=orphans.watch_parent,
                                 initargs=(os.getpid(),)) as pool:
            futures = [(cell, pool.submit(run_cell, cfg, cell)) for cell in todo]
            for cell, future in futures:
                yield cell, future.result()


def _execute_ray(cfg: ExperimentConfig, todo: list[Cell],
                 address: str | None) -> Iterator[tuple[Cell, CellResult]]:
    try:
        import ray
    except ImportError:
        raise ParameterError("--executor ray needs Ray: pip install 'nbasim[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(run_cell)
        refs = [(cell, remote.remote(cfg, cell)) for cell in todo]
        for cell, ref in refs:
            yield cell, ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def gather(cfg: ExperimentConfig, run_dir: Path) -> dict:
    """Gather every cell into the run's tables and summary.json; return the summary."""
    run_dir = Path(run_dir)
    all_cells = cells(cfg)
    infos = [cell_files.read_info(run_dir, c, verify=False) for c in all_cells]
    broken = [c.path() for c, info in zip(all_cells, infos, strict=True) if info is None]
    if broken:
        raise ParameterError(f"run {run_dir}: cells {broken} are missing or damaged; rerun "
                             "the same config with the same --out to compute them again")
    summary = summarize(cfg, all_cells, infos, run_dir.name)
    with atomic.temporary_dir(run_dir, ".gather-") as stage:
        for name in TABLES:
            paths = [cell_files.table_path(run_dir, c, info, name)
                     for c, info in zip(all_cells, infos, strict=True)]
            _concatenate(all_cells, paths, stage / f"{name}.parquet")
        atomic.write_json(stage / "summary.json", summary)
        for path in sorted(stage.iterdir()):
            os.replace(path, run_dir / path.name)
    return summary


def _concatenate(all_cells: list[Cell], paths: list[Path | None], target: Path) -> None:
    """Write one table of every cell's file in `paths` (None: none), the cell's keys in front.

    Written cell by cell (a row group each), so memory holds one cell at a time. Cells whose
    tables have different columns (a policy with slates logs each slot, one without does not)
    are written under the union of their columns, missing ones as nulls.
    """
    present = [p for p in paths if p is not None]
    if not present:
        return
    schema = pa.unify_schemas([_read(pq.read_schema, p) for p in present])
    writer = None
    try:
        for cell, path in zip(all_cells, paths, strict=True):
            if path is None:
                continue
            table = _read(pq.read_table, path)
            n = table.num_rows
            for field in schema:
                if field.name not in table.column_names:
                    table = table.append_column(field, pa.nulls(n, field.type))
            table = table.select(schema.names)
            keys = {"scenario": pa.array([cell.scenario.label] * n, pa.string()),
                    "policy": pa.array([cell.policy.label] * n, pa.string()),
                    "seed": pa.array(np.full(n, cell.seed, dtype=np.int64))}
            for j, (k, v) in enumerate(keys.items()):
                table = table.add_column(j, k, v)
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _read(read, path: Path):
    """`read(path)` (a table or its schema), or a `ParameterError` naming the damaged file."""
    try:
        return read(path)
    except (pa.ArrowException, OSError) as err:
        raise ParameterError(f"cell file {path} cannot be read ({err}); rerun the same "
                             "config with the same --out to compute it again") from None


def summarize(cfg: ExperimentConfig, all_cells: list[Cell], infos: list[dict],
              name: str) -> dict:
    """summary.json (see `experiments.run.layout`).

    Per group, each metric's mean and 95 % interval over seeds, and the paired difference
    against the baseline group on the same scenario variant.
    """
    figures = {c.key: info["figures"] for c, info in zip(all_cells, infos, strict=True)}
    timing = {c.key: info["timing"] for c, info in zip(all_cells, infos, strict=True)}
    # regret: the myopic oracle's true margin on the same seed minus the policy's; regret_ltv:
    # the long-term oracle's true incremental value on the same seed minus the policy's.
    for oracle_name, metric, truth in (("oracle", "regret", "true_incremental_margin"),
                                       ("oracle_ltv", "regret_ltv", "true_incremental_value")):
        oracle = [p.label for p in cfg.policies if p.name == oracle_name]
        if oracle:
            for (scenario, _, seed), f in figures.items():
                f[metric] = figures[(scenario, oracle[0], seed)][truth] - f[truth]
    several = len(cfg.scenarios) > 1
    groups, per_seed = {}, {}
    for s in cfg.scenarios:
        for p in cfg.policies:
            label = f"{p.label} @ {s.label}" if several else p.label
            rows = [figures[(s.label, p.label, seed)] for seed in cfg.seeds]
            values = {m: [r[m] for r in rows] for m in METRICS if all(m in r for r in rows)}
            per_seed[label] = values
            times = [timing[(s.label, p.label, seed)] for seed in cfg.seeds]
            groups[label] = {
                "policy": p.label, "scenario": s.label, "n_seeds": len(cfg.seeds),
                **({"role": ORACLE_ROLES[p.name]} if p.name in ORACLE_ROLES else {}),
                "metrics": stats.summarize(values),
                "timing": {k: float(np.mean([t[k] for t in times])) for k in times[0]}}
    for s in cfg.scenarios:
        base = f"{cfg.baseline_label} @ {s.label}" if several else cfg.baseline_label
        for label, g in groups.items():
            if g["scenario"] == s.label:
                g["vs_baseline"] = {} if label == base else stats.vs_baseline(
                    per_seed[label], per_seed[base])
    return {"experiment": cfg.name, "run_id": name,
            "baseline": (f"{cfg.baseline_label} @ {cfg.scenarios[0].label}" if several
                         else cfg.baseline_label),
            "seeds": list(cfg.seeds), "metrics": definitions(), "groups": groups}


def _config_toml(cfg: ExperimentConfig) -> str:
    import tomli_w

    data = json.loads(cfg.model_dump_json(exclude=_unset_labels(cfg)))
    data["versions"] = versions.package_versions()
    return tomli_w.dumps(atomic.drop_none(data))


def _without_versions(text: str) -> str:
    return text.split("[versions]")[0]


