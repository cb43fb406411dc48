"""A record of the files a result holds (bytes and SHA-256 each), to tell whole from damaged.

A result written whole can still lose a file later (deleted, truncated, overwritten by a
full disk or a copy gone wrong). The writer records each file's size and digest beside it;
a reader that trusts the result only when `intact` holds reruns or refuses the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

CHUNK = 1 << 20


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def record(directory: Path, names: Iterable[str]) -> dict[str, dict[str, object]]:
    """{name: {"bytes": size, "sha256": hex}} of the named files in `directory`."""
    directory = Path(directory)
    return {name: {"bytes": (directory / name).stat().st_size,
                   "sha256": digest(directory / name)} for name in names}


def intact(directory: Path, files: Mapping[str, Mapping[str, object]]) -> bool:
    """Every recorded file is in `directory`, readable, with its recorded size and digest."""
    directory = Path(directory)
    try:
        for name, want in files.items():
            path = directory / name
            if not path.is_file() or path.stat().st_size != want["bytes"] \
                    or digest(path) != want["sha256"]:
                return False
    except (OSError, KeyError, TypeError, AttributeError):
        return False
    return True
