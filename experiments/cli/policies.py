"""`nbasim policies`: the policies a config can name."""

from __future__ import annotations

from rich.table import Table

from nbasim.experiments.cli.console import out_console


def list_policies() -> None:
    """List the policies with a line each (use their names in experiment configs)."""
    from nbasim import policies

    table = Table("policy", "description", title="Policies")
    for key, desc in policies.available().items():
        table.add_row(key, desc)
    out_console.print(table)
