"""Bad paths and failed writes get a named error, exit 2, and leave nothing half-written.

Each of these used to end in a traceback: a config path that is a directory or not UTF-8,
`--out` that is a file, `check --update --baseline` on a directory, a missing calibration
file, a read-only output directory (found only after the work) and a full disk.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nbasim.experiments.cli.app import app
from nbasim.experiments.store import atomic

TOML = 'name = "named"\ncustomers = 300\ndays = 4\nseeds = [0]\n[[policies]]\nlabel = "random"\n'


def invoke(*args: str):
    """The CLI in this process (so a test can monkeypatch what it calls)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


@pytest.fixture
def home(tmp_path) -> Path:
    """A folder with good and bad configs, a file and an empty folder.

    calibrated.toml names a calibration file that does not exist.
    """
    (tmp_path / "good.toml").write_text(TOML)
    (tmp_path / "latin1.toml").write_bytes(TOML.replace("named", "caf\xe9").encode("latin-1"))
    (tmp_path / "a_file").write_text("not a folder\n")
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "calibrated.toml").write_text(
        TOML + '[[scenarios]]\nlabel = "mine"\ncalibration = "no_such/calibration.json"\n')
    return tmp_path


@pytest.mark.parametrize(("args", "match"), [
    (["run", "{home}/a_folder"], r"config .*a_folder: is a directory; give a TOML file"),
    # 'name = "caf' is 11 bytes (0 to 10), so the Latin-1 e-acute is byte 11.
    (["run", "{home}/latin1.toml"], r"latin1\.toml: not UTF-8 text \(byte 11 is b'\\xe9'\); "
                                    r"save it as UTF-8"),
    (["run", "{home}/good.toml", "--out", "{home}/a_file"],
     r"--out .*a_file: is a file; give a directory for the run"),
    (["run", "{home}/good.toml", "--out", "{home}/a_file/run"],
     r"cannot write .*a_file/run: Not a directory"),
    (["check", "{home}", "--update", "--baseline", "{home}/a_folder"],
     r"--baseline .*a_folder: is a directory; give the baseline's file"),
    (["run", "{home}/calibrated.toml", "--out", "{home}/run"],
     r"scenarios\[mine\]\.calibration = 'no_such/calibration\.json': .*no such file"),
])
def test_bad_paths_are_named_and_nothing_is_written(args, match, home):
    """Exit 2, the message names the path and what is allowed, no file changes."""
    before = tree(home)
    result = invoke(*(a.format(home=home) for a in args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert re.search(match, " ".join(result.output.split())), result.output
    assert tree(home) == before


def test_a_read_only_output_directory_is_found_before_the_work(home, monkeypatch):
    """The probe in `prepare` fails (as in a read-only folder): exit 2 before any cell runs.

    The tests may run as root, whom permissions do not stop, so the refusal is planted in
    the probe's `mkstemp`; `test_a_real_read_only_directory` checks the real thing.
    """
    out = home / "run"

    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    ran = []
    monkeypatch.setattr("nbasim.experiments.run.sweep.run_cell",
                        lambda *a: ran.append(a))
    result = invoke("run", home / "good.toml", "--out", out)
    assert result.exit_code == 2, result.output
    assert "Permission denied; no permission to write there" in result.output
    assert not out.exists() and ran == []


# Run `nbasim` without the capabilities that let root write where permissions forbid it
# (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), dropped from this thread's effective set by capset(2);
# it stops, saying so, if it can still write there, so the test cannot pass without a real
# refusal.
AS_PLAIN_USER = """\
import ctypes, os, sys, tempfile
libc = ctypes.CDLL(None, use_errno=True)
class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]
header, data = Header(0x20080522, 0), (Data * 2)()
if libc.capget(ctypes.byref(header), data) != 0:
    sys.exit(f"capget: {os.strerror(ctypes.get_errno())}")
data[0].effective &= ~((1 << 1) | (1 << 2))
if libc.capset(ctypes.byref(header), data) != 0:
    sys.exit(f"capset: {os.strerror(ctypes.get_errno())}")
try:
    fd, name = tempfile.mkstemp(dir=sys.argv[-1])
except PermissionError:
    pass
else:
    os.close(fd)
    os.unlink(name)
    sys.exit("the capabilities were not dropped: this process can write in a read-only folder")
from nbasim.experiments.cli.app import main
main()
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX modes, capset(2)")
def test_a_real_read_only_directory(home):
    """A --out folder with mode 555: exit 2 naming the folder, nothing written, no traceback.

    Root writes anywhere, so the command runs in a process that has dropped the capabilities
    that allow it (as root, the tests' usual user, in CI too; a plain user has none to drop):
    the folder's mode alone stops it, as it stops any other user.
    """
    out = home / "run"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = subprocess.run([sys.executable, "-c", AS_PLAIN_USER, "run",
                                 str(home / "good.toml"), "--out", str(out)],
                                capture_output=True, text=True,
                                env={**os.environ, "COLUMNS": "200"}, timeout=120)
    finally:
        out.chmod(0o755)
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert re.search(rf"cannot write {re.escape(str(out))}\S*: Permission denied; no "
                     "permission to write there", message), message
    assert "Traceback" not in result.stderr
    assert list(out.iterdir()) == []


def _full_disk_after(n_bytes: int):
    """A write that puts `n_bytes` in the file, then fails as a full disk does."""
    def write(table, where, *args, **kwargs):
        Path(where).write_bytes(b"PAR1" + bytes(n_bytes))
        raise OSError(errno.ENOSPC, "No space left on device", str(where))
    return write


def test_a_full_disk_while_writing_a_cell_is_named_and_leaves_no_half_file(home, monkeypatch):
    """ENOSPC in the middle of a cell's Parquet file: exit 2, no cell, no staging folder.

    Once there is space again, the same command runs the cell and finishes.
    """
    out = home / "run"
    with monkeypatch.context() as m:
        m.setattr(atomic.pq, "write_table", _full_disk_after(1000))
        result = invoke("run", home / "good.toml", "--out", out)
    assert result.exit_code == 2, result.output
    assert "No space left on device; the disk is full" in result.output
    assert "Traceback" not in result.output
    assert sorted(tree(out)) == [".nbasim.lock", "cells", "cells/base", "cells/base/random",
                                 "config.toml"]
    result = invoke("run", home / "good.toml", "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file()


def test_write_text_leaves_no_temporary_file_on_a_full_disk(tmp_path, monkeypatch):
    """On ENOSPC `write_text` removes its temporary file; the error names the path.

    The report page, the baseline and config.toml are written by `write_text`.
    """
    real = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[: len(text) // 2])
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: Full(real(fd, mode)))
    with pytest.raises(atomic.WriteError, match=r"report\.html: No space left on device; the "
                                                r"disk is full"):
        with atomic.writing(tmp_path / "report.html"):
            atomic.write_text(tmp_path / "report.html", "x" * 1000)
    assert list(tmp_path.iterdir()) == []
