"""`nbasim ope`: a target policy's value estimated from a decision log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nbasim.experiments.cli.console import err_console, fail, out_console


def ope_cmd(
    log: Annotated[Path, typer.Argument(help="A decision log: a run's decisions.parquet, or a "
                                             "CSV/Parquet with action, reward and propensity.")],
    target: Annotated[str, typer.Option(
        help="Policy to evaluate: uniform, action:K, policy:NAME[:k=v,...] (trained on the "
             "first half of the log, evaluated on the rest) or file:PATH (per-row action "
             "probabilities).")] = "uniform",
    action_col: Annotated[str, typer.Option(help="Column of the logged actions.")] = "action",
    reward_col: Annotated[str, typer.Option(help="Column of the rewards.")] = "reward",
    pscore_col: Annotated[str, typer.Option(help="Column of the logger's propensities.")]
    = "pscore",
    context_cols: Annotated[list[str] | None, typer.Option(
        help="Context column (repeatable; default: every x_* column).")] = None,
    estimators: Annotated[list[str] | None, typer.Option(
        help="Estimator (repeatable: dm, ips, snips, dr, sndr, switch_dr; default: all).")]
    = None,
    clip: Annotated[float | None, typer.Option(help="Largest importance weight.")] = None,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the 95 % "
                                                  "intervals (0: none).")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and of a target policy.")]
    = 0,
    logging_policy: Annotated[str | None, typer.Option(
        help="A run's log: keep the rows of this policy label.")] = None,
    log_seed: Annotated[int | None, typer.Option(help="A run's log: keep this seed.")] = None,
    scenario: Annotated[str | None, typer.Option(
        help="A run's log: keep this scenario label.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Results directory \\[default: results/ope/<log stem>-<target>].")] = None,
) -> None:
    """Estimate a policy's value from logged decisions (DM, IPS, SNIPS, DR, SNDR, switch-DR)."""
    from nbasim.experiments.ope import command as ope_mod

    names = [e for item in estimators or () for e in item.split(",") if e] or None
    try:
        with err_console.status("estimating"):
            result, out_dir = ope_mod.ope_command(
                log, action_col, reward_col, pscore_col, context_cols=context_cols,
                target=target, estimators=names, out=out, n_bootstrap=n_bootstrap, clip=clip,
                seed=seed, scenario=scenario, logging_policy=logging_policy,
                log_seed=log_seed)
    except ValueError as err:
        raise fail(str(err)) from None
    out_console.print(ope_mod.render(result))
    out_console.print(f"results in {out_dir / 'ope.json'}")
