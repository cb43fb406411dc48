"""Worker processes that exit when the process that started them dies.

A local worker waits on its task queue; when the main process is killed (`kill -9`, the OOM
killer), nothing closes that queue, so without a watcher the worker waits for ever, holding
its memory. `watch_parent` is the initializer of every worker pool: on Linux it asks the
kernel to send the worker SIGKILL when its parent dies (`prctl(PR_SET_PDEATHSIG)`); elsewhere,
or if that call fails, a daemon thread polls `os.getppid()` once a second and exits the
worker when the parent is gone. A worker holds no result of its own (cells are written by the
main process), so killing it loses nothing that a rerun does not compute again.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
"""prctl option: the signal a process receives when the thread that forked it dies."""

POLL_S = 1.0
"""Seconds between two looks at the parent's pid, where the kernel cannot be asked."""


def watch_parent(parent: int) -> None:
    """Make this worker exit when `parent` (the pid that started it) is gone.

    The pool forks its workers from the thread that submits the cells, which lives as long as
    the pool (`experiments.run.sweep`), so the kernel's signal comes only when the process
    dies. The pid is checked once after asking, in case the parent died before.

    Args:
        parent: the pid of the main process, read there before the pool starts.
    """
    if not _kernel_watch():
        threading.Thread(target=_poll, args=(parent,), name="parent-watch",
                         daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _kernel_watch() -> bool:
    """Ask Linux for SIGKILL on the parent's death; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _poll(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os._exit(1)
