"""The memory check measures what this process may still use, and refuses before the work.

Before, it compared 300 bytes a customer with the machine's total RAM: a run in a container
with a 1 GiB limit, or under `ulimit -v`, passed the check and was killed half-way.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from nbasim.sim import memory
from nbasim.sim.params import ParameterError

GIB = 2**30
MIB = 2**20


def fake_system(root: Path, cgroup_line: str, files: dict[str, str],
                available_kib: int = 16 * 2**20, vm_size_kib: int = 400 * 1024) -> dict:
    """A /proc and a cgroup mount under `root`; the keyword arguments of `memory.headroom`."""
    proc = root / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: 33554432 kB\nMemAvailable: {available_kib} kB\n")
    (proc / "self" / "cgroup").write_text(cgroup_line + "\n")
    (proc / "self" / "status").write_text(f"Name: python\nVmSize: {vm_size_kib} kB\n")
    for name, text in files.items():
        (root / "cgroup" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "cgroup" / name).write_text(text)
    return {"proc": proc, "cgroup_root": root / "cgroup"}


CASES = {
    # name: (cgroup line, files, address limit, headroom bytes, source)
    "no limit: available memory": (
        "0::/job", {"job/memory.max": "max", "job/memory.current": "0"}, None,
        16 * GIB, r"16\.00 GiB available on this machine"),
    "cgroup v2: 1 GiB less 256 MiB used": (
        "0::/job", {"job/memory.max": str(GIB), "job/memory.current": str(256 * MIB),
                    "job/memory.stat": "anon 1\ninactive_file 0\n"}, None,
        768 * MIB, r"cgroup memory\.max 1\.00 GiB, of which 0\.25 GiB in use"),
    "cgroup v2: page cache it can drop does not count": (
        "0::/job", {"job/memory.max": str(GIB), "job/memory.current": str(512 * MIB),
                    "job/memory.stat": f"anon 1\ninactive_file {256 * MIB}\n"}, None,
        768 * MIB, r"of which 0\.25 GiB in use"),
    "cgroup v1 in a container (its own path not mounted)": (
        "4:memory:/docker/abc", {"memory/memory.limit_in_bytes": str(2 * GIB),
                                 "memory/memory.usage_in_bytes": str(GIB)}, None,
        GIB, r"cgroup memory\.limit_in_bytes 2\.00 GiB"),
    "cgroup v1 without a limit": (
        "4:memory:/", {"memory/memory.limit_in_bytes": "9223372036854771712",
                       "memory/memory.usage_in_bytes": str(GIB)}, None,
        16 * GIB, r"available on this machine"),
    "ulimit -v 2 GiB, 400 MiB held": (
        "0::/", {}, 2 * GIB, 2 * GIB - 400 * MIB,
        r"ulimit -v 2\.00 GiB, of which 0\.39 GiB already in use"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_headroom_is_the_tightest_bound(case, tmp_path):
    """Each source alone, and the smallest wins; the source is named."""
    line, files, limit, expected, source = CASES[case]
    room = memory.headroom(**fake_system(tmp_path, line, files), address_limit=limit)
    assert room.bytes == expected
    assert re.search(source, room.source), room.source


def test_check_fits_refuses_naming_the_work_and_the_limit(tmp_path):
    """600 MB of customers in a 512 MiB cgroup: a ParameterError with both figures."""
    where = fake_system(tmp_path, "0::/job", {"job/memory.max": str(512 * MIB),
                                               "job/memory.current": "0"})
    memory.check_fits(500 * MIB, "customers = 1,747,626", **where)
    with pytest.raises(ParameterError, match=r"customers = 2,000,000: needs about 0\.56 GiB, "
                                             r"more than the 0\.50 GiB this process may use "
                                             r"\(cgroup memory\.max 0\.50 GiB"):
        memory.check_fits(600_000_000, "customers = 2,000,000", **where)


def test_ulimit_binds_each_worker_and_the_cgroup_all_of_them(tmp_path):
    """Two workers of 0.6 GiB: each fits a 1 GiB ulimit; together they overflow a 1 GiB cgroup."""
    where = fake_system(tmp_path, "0::/job", {"job/memory.max": str(GIB),
                                               "job/memory.current": "0"}, vm_size_kib=0)
    memory.check_fits(int(1.2 * GIB), "two", per_process=int(0.6 * GIB), **(
        where | {"cgroup_root": tmp_path / "none"}), address_limit=GIB)
    with pytest.raises(ParameterError, match=r"two: needs about 1\.20 GiB, more than "
                                             r"the 1\.00 GiB .*\(cgroup memory\.max"):
        memory.check_fits(int(1.2 * GIB), "two", per_process=int(0.6 * GIB), **where,
                          address_limit=GIB)
    with pytest.raises(ParameterError, match=r"one: needs about 1\.10 GiB in each of its "
                                             r"processes, more than the 1\.00 GiB"):
        memory.check_fits(int(1.2 * GIB), "one", per_process=int(1.1 * GIB),
                          each=" in each of its processes", **(
            where | {"cgroup_root": tmp_path / "none"}), address_limit=GIB)


CONFIG = """\
name = "big"
customers = 2000000
days = 5
seeds = [0]
baseline = "no_action"

[[policies]]
label = "no_action"
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_run_that_cannot_fit_under_ulimit_v_is_refused_before_it_starts(tmp_path):
    """`ulimit -v 1 GiB` and 2,000,000 customers: exit 2, no --out.

    The world's 0.56 GiB plus a cell's 0.5 GiB (`sweep.CELL_ADDRESS_SPACE`) against what is
    left of 1 GiB of address space.
    """
    (tmp_path / "big.toml").write_text(CONFIG)
    out = tmp_path / "run"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))

    done = subprocess.run(
        [sys.executable, "-c", "from nbasim.experiments.cli.app import main; main()", "run",
         str(tmp_path / "big.toml"), "--out", str(out)], preexec_fn=limit,
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "300"})
    message = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr[-3000:]
    assert "customers = 2,000,000: needs about 1.06 GiB, more than the" in message, \
        message
    assert "(ulimit -v 1.00 GiB, of which" in message, message
    assert "Traceback" not in done.stderr
    assert not out.exists()
