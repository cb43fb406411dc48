"""One run at a time per run directory; a run that died leaves no lock behind.

Before, two `nbasim run` on one --out each computed every cell and collided on the staging
renames.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.store import lock

TOML = """\
name = "locked"
customers = 3000
days = 60
seeds = [0, 1]
baseline = "no_action"

[[policies]]
label = "no_action"

[[policies]]
label = "random"
"""


def _holder(run_dir: Path, timeout: float = 120) -> dict:
    """The record in the run's lock file, once a run has written it."""
    path = run_dir / lock.LOCK_FILE
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.1)
    raise AssertionError(f"{path} never named its holder")


def _waited(condition, timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.1)
    return condition()


def test_a_second_run_exits_2_naming_the_first_and_a_killed_run_holds_nothing(tmp_path):
    """A run on an --out that a live run holds exits 2 naming its pid, host and start time.

    It changes nothing there. Once the first run is killed (-9), the same command runs and
    finishes the run.
    """
    config = tmp_path / "locked.toml"
    config.write_text(TOML)
    run_dir = tmp_path / "run"
    argv = ["run", str(config), "--out", str(run_dir)]
    first = subprocess.Popen(
        [sys.executable, "-c", "from nbasim.experiments.cli.app import main; main()", *argv],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    try:
        holder = _holder(run_dir)
        assert _waited(lambda: (run_dir / "config.toml").is_file())
        assert holder["pid"] == first.pid
        stamp = (run_dir / "config.toml").stat()
        second = CliRunner().invoke(app, argv)
        assert first.poll() is None, "the first run ended before the second started"
        assert second.exit_code == 2, second.output
        message = " ".join(second.output.split())
        assert re.search(rf"another nbasim process is writing there \(pid {first.pid} on host "
                         rf"{re.escape(socket.gethostname())}, started "
                         r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", message), message
        assert "Traceback" not in second.output
        assert (run_dir / "config.toml").stat().st_mtime_ns == stamp.st_mtime_ns
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    third = CliRunner().invoke(app, argv)
    assert third.exit_code == 0, third.output
    assert (run_dir / "summary.json").is_file()


def test_the_lock_is_reentrant_within_a_process_and_released_by_the_last_release(tmp_path):
    """Two acquires in one process, two releases; then another process may take it."""
    probe = ("import sys; from nbasim.experiments.store import lock; "
             "lock.acquire(sys.argv[1]); print('ok')")

    def other_process() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", probe, str(tmp_path)],
                              capture_output=True, text=True)

    lock.acquire(tmp_path)
    lock.acquire(tmp_path)
    lock.release(tmp_path)
    refused = other_process()
    assert refused.returncode != 0 and "DirectoryLocked" in refused.stderr
    assert f"pid {os.getpid()} on host" in refused.stderr
    lock.release(tmp_path)
    assert other_process().stdout.strip() == "ok"
