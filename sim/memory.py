"""How much memory this process may still use, and a check that refuses a world too big for it.

The bound is the smallest of what applies (each measured when asked, so it tracks other jobs):

- the memory the kernel reports available (`MemAvailable` in /proc/meminfo: free memory plus
  caches it can drop), or the machine's RAM where that is not reported;
- the process's cgroup limit less what the cgroup already uses (v2: `memory.max` and
  `memory.current`; v1: `memory.limit_in_bytes` and `memory.usage_in_bytes`), as in a
  container or a CI job;
- the address-space limit (`ulimit -v`, RLIMIT_AS) less the address space the process holds.

A run that cannot fit is refused before it starts, with the figures, rather than killed by the
kernel half-way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nbasim.sim.param_types import ParameterError

_UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a number near 2**63


@dataclass(frozen=True)
class Headroom:
    """Bytes that may still be taken, and what sets the bound.

    `per_process`: the bound holds each process alone (`ulimit -v`), not all of them together
    (the machine, the cgroup).
    """

    bytes: int
    source: str
    per_process: bool = False


def bounds(proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup"),
           address_limit: int | None = None) -> list[Headroom]:
    """Every bound above that applies.

    Args:
        proc: where /proc is (a copy in tests).
        cgroup_root: where the cgroup file systems are mounted.
        address_limit: RLIMIT_AS in bytes (None: this process's own).
    """
    return [_available(proc), *_cgroup(proc, cgroup_root),
            *_address_space(proc, address_limit)]


def headroom(**where) -> Headroom:
    """The tightest of `bounds(**where)`."""
    return min(bounds(**where), key=lambda h: h.bytes)


def check_fits(need: int, what: str, per_process: int | None = None, each: str = "",
               **where) -> None:
    """Refuse work that needs more than any bound allows.

    Args:
        need: bytes the work needs at its peak, over all its processes.
        what: the work in the user's terms, for the message ("customers = 2,000,000").
        per_process: address space one of its processes needs (None: `need`), held against
            `ulimit -v`, which binds each process alone.
        each: said after that figure in the message (" in each of its processes").
        **where: passed to `bounds` (tests).

    Raises:
        ParameterError: naming `what`, the bytes needed, the bytes free and what bounds them.
    """
    for room in sorted(bounds(**where), key=lambda h: h.bytes):
        wanted = (need if per_process is None else per_process) if room.per_process else need
        if wanted > room.bytes:
            raise ParameterError(
                f"{what}: needs about {_gib(wanted)}{each if room.per_process else ''}, "
                f"more than the {_gib(room.bytes)} this process may use ({room.source}); use "
                "fewer customers or workers, or free memory")


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _available(proc: Path) -> Headroom:
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                kib = int(line.split()[1])
                return Headroom(kib * 1024, f"{_gib(kib * 1024)} available on this machine")
    except (OSError, ValueError, IndexError):
        pass
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return Headroom(total, f"this machine's RAM, {_gib(total)}")


def _cgroup(proc: Path, root: Path) -> list[Headroom]:
    """The cgroup limit less its use, for each cgroup of this process that has a limit."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        rel = path.lstrip("/")
        if controllers == "":  # v2
            files = [(root / rel, "memory.max", "memory.current"),
                     (root, "memory.max", "memory.current")]
        elif "memory" in controllers.split(","):  # v1
            files = [(root / "memory" / rel, "memory.limit_in_bytes", "memory.usage_in_bytes"),
                     (root / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes")]
        else:
            continue
        for folder, limit_file, usage_file in files:
            limit, usage = _read_int(folder / limit_file), _read_int(folder / usage_file)
            if limit is None:
                continue
            if limit < _UNLIMITED:  # use net of the page cache the kernel can drop
                used = max((usage or 0) - _inactive_file(folder), 0)
                found.append(Headroom(max(limit - used, 0),
                                      f"cgroup {limit_file} {_gib(limit)}, of which "
                                      f"{_gib(used)} in use"))
            break
    return found


def _address_space(proc: Path, limit: int | None) -> list[Headroom]:
    """RLIMIT_AS less the address space this process holds (VmSize)."""
    if limit is None:
        try:
            import resource
        except ImportError:  # not a Unix
            return []
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return []
    if limit < 0 or limit >= _UNLIMITED:
        return []
    held = 0
    try:
        for line in (proc / "self" / "status").read_text().splitlines():
            if line.startswith("VmSize:"):
                held = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return [Headroom(max(limit - held, 0), f"ulimit -v {_gib(limit)}, of which {_gib(held)} "
                                           "already in use", per_process=True)]


def _inactive_file(folder: Path) -> int:
    """Bytes of inactive page cache in the cgroup (v2 "inactive_file", v1 "total_...")."""
    try:
        for line in (folder / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key in ("inactive_file", "total_inactive_file"):
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return _UNLIMITED
    try:
        return int(text)
    except ValueError:
        return None
