"""Results written whole or not at all: a run directory is staged, then renamed into place.

A write that the system refuses (a full disk, a read-only directory) raises `WriteError`,
naming the path and the reason, and leaves no half file: `writing` turns the `OSError` into
it, and `check_writable` finds a directory that cannot be written before the work starts.
"""

from __future__ import annotations

import contextlib
import errno
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
    replaced only once the new one is complete.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private; results are not
    try:
        yield stage
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{stage.name.rsplit('.', 1)[-1]}")
            final.rename(old)
        stage.rename(final)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def check_target(out: Path, marker: str, what: str, replaced: str = "an earlier result",
                 error: type[Exception] = ParameterError,
                 foreign: tuple[str, ...] = ()) -> None:
    """Refuse an output directory that a command must not replace whole.

    A file is refused; so is a non-empty directory that does not hold `marker` (what the
    command writes) or that holds one of `foreign` (what another command writes there).

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
    """Write a text file whole: a temporary sibling renamed into place (removed on failure)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
