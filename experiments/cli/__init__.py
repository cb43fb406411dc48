"""The `nbasim` command line: the typer app and one module per command."""

from nbasim.experiments.cli.app import app, main

__all__ = ["app", "main"]
