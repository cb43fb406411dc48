"""Worker processes exit when the main process dies, even by `kill -9`.

Before, `nbasim run --workers 2` killed with SIGKILL left both workers alive (130 MB each)
for as long as anyone looked: they waited on a task queue that nobody would close.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOML = """\
name = "orphans"
customers = 3000
days = 90
seeds = [0, 1, 2]
baseline = "no_action"

[[policies]]
label = "no_action"

[[policies]]
label = "random"
"""

# The command line, run either as is (the kernel's parent-death signal) or with the kernel's
# watch made unavailable (the polling thread that other systems get).
DRIVERS = {
    "prctl": "from nbasim.experiments.cli.app import main; main()",
    "polling": "from nbasim.experiments.run import orphans; orphans._kernel_watch = lambda: False; "
               "from nbasim.experiments.cli.app import main; main()",
}


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("driver", list(DRIVERS))
def test_workers_exit_when_the_main_process_is_killed(driver, tmp_path):
    """A `kill -9` of `nbasim run --workers 2` mid-sweep: both workers are gone within seconds."""
    (tmp_path / "orphans.toml").write_text(TOML)
    argv = [sys.executable, "-c", f"import sys; sys.argv[0] = 'nbasim'; {DRIVERS[driver]}",
            "run", str(tmp_path / "orphans.toml"), "--workers", "2", "--out",
            str(tmp_path / "run")]
    main = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    workers: list[int] = []
    try:
        assert _wait(lambda: len(_children(main.pid)) >= 2, 120), "the workers never started"
        workers = _children(main.pid)
        time.sleep(1.0)  # the workers are into their first cells
        assert all(_alive(w) for w in workers)
        os.kill(main.pid, signal.SIGKILL)
        main.wait(timeout=30)
        assert _wait(lambda: not any(_alive(w) for w in workers), 15), \
            f"workers {[w for w in workers if _alive(w)]} outlived their parent"
    finally:
        for pid in [main.pid, *workers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
