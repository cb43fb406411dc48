"""A cell's files under the run directory: written whole, and trusted only while whole.

`cells/<scenario>/<policy>/seed-<k>/` holds the cell's tables (`<table>.parquet`) and
`cell.json`: its keys, figures, timing and `files`, the size and SHA-256 of each table
(`experiments.store.manifest`). A cell is finished only when cell.json parses, lists every
table a cell of its policy always has (`required_tables`) and every file it lists is there
with its size and digest; a resumed sweep runs any other cell again, so a cell whose file
was deleted, truncated or corrupted, or that an earlier version wrote without a table this
one writes, is recomputed, never dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

from nbasim.experiments.run.cell import Cell, CellResult
from nbasim.experiments.store import atomic, manifest

TABLES = ("daily", "decisions", "migration", "segments", "channels", "scores", "slots",
          "moments")
"""A cell's tables (`experiments.run.layout`); a table with no columns is not written (the
decision log with `decision_log = "none"`, the scores of a policy that does not rank, the
slots of a run without slates, the moments of a run by days)."""
ALWAYS = ("daily", "migration", "segments", "channels")
"""Tables every cell writes."""
INFO = "cell.json"


def required_tables(cell: Cell) -> tuple[str, ...]:
    """The tables a finished cell of this policy has: `ALWAYS`, and `scores` if it ranks."""
    return ALWAYS + (("scores",) if cell.ranks else ())


def write_cell(run_dir: Path, cell: Cell, result: CellResult) -> None:
    """Write one cell's files whole (a staged directory renamed into place)."""
    with atomic.staged_dir(Path(run_dir) / cell.path()) as stage:
        names = []
        for name in TABLES:
            columns = getattr(result, name)
            if columns:
                atomic.write_parquet(stage / f"{name}.parquet", columns)
                names.append(f"{name}.parquet")
        atomic.write_json(stage / INFO, {
            "scenario": cell.scenario.label, "policy": cell.policy.label, "seed": cell.seed,
            "figures": result.figures, "timing": result.timing,
            "files": manifest.record(stage, names)})


def read_info(run_dir: Path, cell: Cell, verify: bool = True) -> dict | None:
    """The cell's cell.json when the cell is finished (see the module docstring), else None.

    With `verify` False, the files it lists are only looked for, not read (a sweep that has
    just checked or written them).
    """
    folder = Path(run_dir) / cell.path()
    try:
        info = json.loads((folder / INFO).read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(info, dict) and isinstance(info.get("files"), dict)
            and isinstance(info.get("figures"), dict) and isinstance(info.get("timing"), dict)
            and [info.get("scenario"), info.get("policy"), info.get("seed")] == list(cell.key)
            and all(f"{t}.parquet" in info["files"] for t in required_tables(cell))):
        return None
    if not verify:
        return info if all((folder / f).is_file() for f in info["files"]) else None
    return info if manifest.intact(folder, info["files"]) else None


def finished(run_dir: Path, cell: Cell) -> bool:
    """The cell's files are all there and whole."""
    return read_info(run_dir, cell) is not None


def table_path(run_dir: Path, cell: Cell, info: dict, name: str) -> Path | None:
    """Path of the cell's `name` table, or None when the cell has none (e.g. no decision log)."""
    file = f"{name}.parquet"
    return Path(run_dir) / cell.path() / file if file in info["files"] else None
