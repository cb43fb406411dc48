"""One writer at a time per results directory: an `flock` on its `.nbasim.lock` file.

Two runs on one `--out` would each compute every cell and collide on the staging renames. A
run takes an exclusive, non-blocking `fcntl.flock` on `LOCK_FILE` in its directory before it
writes there, and writes who holds it (pid, host, start time) into the file; a second run
finds the lock taken and gets `DirectoryLocked`, naming the holder. The kernel drops the lock
when the holding process dies however it dies (even `kill -9`), so a crashed run never blocks
the next one; the file itself stays (removing it could let two runs lock two different files).

The lock is re-entrant within a process (the runner's `prepare` takes it and `execute` still
holds it); each `acquire` is matched by a `release`, and the process's end releases it too.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nbasim.errors import NbasimError

LOCK_FILE = ".nbasim.lock"
"""The lock file's name, inside the directory it guards."""


class DirectoryLocked(NbasimError):
    """Another process is writing in the directory: the message names it."""


@dataclass
class _Held:
    fd: int
    count: int
    pid: int


_HELD: dict[Path, _Held] = {}


def acquire(directory: Path, option: str = "--out") -> None:
    """Take the directory's lock (it must exist), or raise at once if another process has it.

    Args:
        directory: the directory guarded.
        option: how the user named it, for the message.

    Raises:
        DirectoryLocked: another process holds the lock; the message says which (pid, host,
            start time).
        OSError: the lock file cannot be created (a read-only directory, say).
    """
    key = Path(directory).resolve()
    path = key / LOCK_FILE
    held = _HELD.get(key)
    if held is not None and held.pid == os.getpid() and _same_file(held.fd, path):
        held.count += 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _describe(fd)
        os.close(fd)
        raise DirectoryLocked(
            f"{option} {directory}: another nbasim process is writing there ({holder}); wait "
            "for it to finish, or choose another directory") from None
    except BaseException:
        os.close(fd)
        raise
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    _HELD[key] = _Held(fd, 1, os.getpid())


def release(directory: Path) -> None:
    """Give back one `acquire` of this process; the last one unlocks the directory."""
    key = Path(directory).resolve()
    held = _HELD.get(key)
    if held is None or held.pid != os.getpid():
        return
    held.count -= 1
    if held.count <= 0:
        del _HELD[key]
        with contextlib.suppress(OSError):
            fcntl.flock(held.fd, fcntl.LOCK_UN)
        os.close(held.fd)


@contextlib.contextmanager
def holding(directory: Path, option: str = "--out") -> Iterator[None]:
    """Hold the directory's lock for the block (see `acquire`)."""
    acquire(directory, option)
    try:
        yield
    finally:
        release(directory)


def _same_file(fd: int, path: Path) -> bool:
    """The open lock is still the file at `path` (not one deleted and made again)."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _describe(fd: int) -> str:
    """The holder the lock file names: 'pid 123 on host h, started 2026-...'."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode())
        return f"pid {record['pid']} on host {record['host']}, started {record['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not yet written its name"
