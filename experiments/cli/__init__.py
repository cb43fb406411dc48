"""The `nbasim` command line: the typer app (`cli.app`) and one module per command.

`main`, the console script, imports the app itself, so that a Ctrl-C while the commands load
ends like one while they work: exit code 130, a line, no traceback.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C (128 + SIGINT, as shells report it)."""


def main() -> None:
    """Entry point of the `nbasim` console script (`app.main` inside a Ctrl-C guard).

    Every command writes its files whole (staged, then renamed), so a Ctrl-C leaves what was
    there before or the new file, never half of one; `nbasim run` says which cells are kept.
    """
    try:
        from nbasim.experiments.cli.app import main as run_app

        run_app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: nothing half-written is left; run the command again\n")
        raise SystemExit(INTERRUPTED) from None


__all__ = ["INTERRUPTED", "main"]
