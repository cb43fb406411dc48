"""The experiment report: `plots/*.png` and one self-contained `report.html` per run directory.

`build_report(run_dir)` reads only the files a run wrote (see `experiments.run.layout`):
`summary.json` (required), `config.toml`, `daily.parquet`, `decisions.parquet` and
`migration.parquet` (each optional; what is missing is left out of the report with a note).
Only the Parquet columns the figures need are read. The page embeds its plots as base64 PNG
and its CSS inline, so it can be mailed or archived alone; it holds no timestamp, so the same
run directory always gives the same bytes.

Plots (in `plots/`): `ranking.png`, `uplift.png`, `learning.png`, `active.png`, `spend.png`,
`migration.png`, `action_mix.png`, `scale.png` (scenario variants of two or more sizes),
`timing.png` (each only when its inputs exist).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nbasim.experiments.results.report.draw import draw
from nbasim.experiments.results.report.load import load_run
from nbasim.experiments.results.report.page import render_html
from nbasim.experiments.store import atomic

OTHER_PLOTS = ("ope_validate.png",)
"""Plots that other commands write into `plots/` (`nbasim ope-validate`), kept when the report
replaces the folder."""


def build_report(run_dir: Path) -> Path:
    """Read a run directory's files and (re)write its `plots/*.png` and `report.html`.

    Everything is read and drawn in memory first; then `plots/` is replaced as a whole (staged
    and renamed, with the `OTHER_PLOTS` other commands wrote there carried over) and
    `report.html` is written to a temporary name and renamed, so a failure leaves the earlier
    files as they were.

    Args:
        run_dir: a results directory, `results/<experiment>/<run-id>/`.

    Returns:
        The path of `report.html`.

    Raises:
        ResultsError: summary.json is missing or malformed, or a file does not parse; the
            message names the file. Nothing is written then.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    figures = draw(run)
    page = render_html(run, figures)
    plots = run_dir / "plots"
    with atomic.staged_dir(plots) as stage:
        for name, data in figures.items():
            (stage / f"{name}.png").write_bytes(data)
        for name in OTHER_PLOTS:  # not the report's: carried over into the new plots/
            if (plots / name).is_file():
                shutil.copy2(plots / name, stage / name)
    target = run_dir / "report.html"
    atomic.write_text(target, page)
    return target
