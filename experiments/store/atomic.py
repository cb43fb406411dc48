"""Results written whole or not at all: a run directory is staged, then renamed into place.

A write that the system refuses (a full disk, a read-only directory) raises `WriteError`,
naming the path and the reason, and leaves no half file: `writing` turns the `OSError` into
it, and `check_writable` finds a directory that cannot be written before the work starts.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

from nbasim.errors import NbasimError
from nbasim.sim.params import ParameterError

_HINTS = {errno.ENOSPC: "the disk is full; free some space and run the same command again",
          errno.EDQUOT: "the disk quota is used up; free some space and run the same command "
                        "again",
          errno.EACCES: "no permission to write there; choose a writable directory",
          errno.EPERM: "no permission to write there; choose a writable directory",
          errno.EROFS: "the file system is read-only; choose a writable directory"}


class WriteError(NbasimError):
    """A result that could not be written (disk full, read-only): nothing half-written is left."""


def write_failure(err: OSError, where: Path) -> WriteError:
    """A `WriteError` for `err`: the path written, the system's reason and what to do."""
    path = err.filename or where
    hint = _HINTS.get(err.errno, "check the path and the disk")
    return WriteError(f"cannot write {path}: {err.strerror or err}; {hint}")


@contextlib.contextmanager
def writing(where: Path) -> Iterator[None]:
    """Turn an `OSError` raised while writing under `where` into a `WriteError`."""
    try:
        yield
    except OSError as err:
        raise write_failure(err, Path(where)) from None


def check_writable(directory: Path) -> None:
    """Create and remove a probe file in `directory`, before any work needs to write there.

    Raises:
        WriteError: the directory cannot be written (read-only, no permission, full).
    """
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise write_failure(err, Path(directory)) from None


@contextlib.contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield an empty sibling directory; on success it replaces `final`, on error it vanishes.

    Nothing appears at `final` until every file is written; an earlier result at `final` is
    replaced only once the new one is complete. The stage is `.<final name>.<random>` and is
    locked while this process writes it (`temporary_dir`); the unlocked ones a killed process
    left beside `final` are removed first (`remove_leftovers`).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final.parent, (f".{final.name}.",))
    with temporary_dir(final.parent, f".{final.name}.") as stage:
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private; results are not
        yield stage
        if final.exists():  # the earlier result goes into a locked folder, removed with it
            with temporary_dir(final.parent, f".{final.name}.") as trash:
                final.rename(trash / final.name)
                stage.rename(final)
        else:
            stage.rename(final)


@contextlib.contextmanager
def temporary_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A new folder `parent/<prefix><random>`, locked while the block runs, then removed.

    The lock (an `flock` on the folder) tells a live writer's folder from one a killed process
    left behind: `remove_leftovers` removes only folders and files nobody holds.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def remove_leftovers(directory: Path, prefixes: tuple[str, ...]) -> int:
    """Remove what killed writers left in `directory`: names starting with one of `prefixes`.

    Staging folders and temporary files are locked by their writer while it lives
    (`temporary_dir`, `write_text`), so an entry that can be locked now is a leftover; one
    that cannot is in use and stays.

    Returns:
        How many entries were removed.
    """
    try:
        entries = [p for p in Path(directory).iterdir() if p.name.startswith(prefixes)]
    except OSError:  # no such folder (yet), or not one
        return 0
    removed = 0
    for entry in entries:
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        except OSError:  # held by a live writer, or not ours to remove
            pass
        finally:
            os.close(fd)
    return removed


def check_target(out: Path, marker: str, what: str, replaced: str = "an earlier result",
                 error: type[Exception] = ParameterError,
                 foreign: tuple[str, ...] = ()) -> None:
    """Refuse an output directory that a command must not replace whole.

    A file is refused, and so is a path under a file; so is a non-empty directory that does
    not hold `marker` (what the command writes) or that holds one of `foreign` (what another
    command writes there).

    Args:
        out: the output directory.
        marker: a file the command writes in every result.
        what: the result, for the message ("an nbasim calibration").
        replaced: what a rerun replaces, for the message.
        error: the exception to raise (the command's bad-input error).
        foreign: names that mark another command's result.

    Raises:
        error: naming the path and why.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise error(f"out = '{out}': is a file; give a directory for the results")
    blocked = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise error(f"out = '{out}': '{blocked}' is a file, not a directory; give a directory "
                    "for the results")
    earlier = (out / marker).is_file() and not any((out / f).exists() for f in foreign)
    if out.is_dir() and any(out.iterdir()) and not earlier:
        raise error(f"out = '{out}': holds files that are not {what}; give a new or empty "
                    f"directory ({replaced} is replaced)")


def write_parquet(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    """Write numpy columns as one Parquet table; NaN (no value) is written as null."""
    pq.write_table(pa.table({k: _arrow(np.asarray(v)) for k, v in columns.items()}), path)


def _arrow(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        if missing.any():
            return pa.array(values, mask=missing)
    return pa.array(values)


def write_json(path: Path, data: object) -> None:
    """Write strict JSON: numpy scalars and arrays as plain numbers and lists, NaN as null."""
    path.write_text(json_text(data))


def json_text(data: object) -> str:
    """`data` as strict JSON text (see `write_json`)."""
    plain = json.loads(json.dumps(data, default=_plain))
    return json.dumps(json_safe(plain), indent=2, allow_nan=False) + "\n"


def json_safe(obj: object) -> object:
    """`obj` with NaN and infinite floats as None (JSON has neither)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float | np.floating) and not np.isfinite(obj):
        return None
    return obj


def write_text(path: Path, text: str) -> None:
    """Write a text file whole: a temporary sibling renamed into place (removed on failure).

    The temporary file, `.<name>.<random>`, is locked until it is renamed, so that
    `remove_leftovers` leaves it alone; the ones a killed writer left are removed first.
    """
    remove_leftovers(path.parent, (f".{path.name}.",))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(os.dup(fd), "w") as f:  # the lock stays with `fd` until the end
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_toml(path: Path, data: Mapping[str, object]) -> None:
    """Write a TOML document (None values are dropped: TOML has no null)."""
    path.write_text(tomli_w.dumps(drop_none(json.loads(json.dumps(data, default=_plain)))))


def _plain(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def drop_none(obj: object) -> object:
    """The object with None values left out of every dict (TOML has no null)."""
    if isinstance(obj, dict):
        return {k: drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [drop_none(v) for v in obj]
    return obj
