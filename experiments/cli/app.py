"""The `nbasim` typer app: every command, registered from its own module, and `main`."""

from __future__ import annotations

import typer

from nbasim.experiments.cli import (
    calibrate,
    calibrate_campaign,
    check,
    compare,
    ope,
    ope_validate,
    policies,
    report,
    rfm,
    run,
    scenarios,
    simulate,
)
from nbasim.experiments.run.threads import single_threaded_blas

app = typer.Typer(
    help="nbasim: a simulator for Next Best Action marketing.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

app.command()(simulate.simulate)
app.command("scenarios")(scenarios.list_scenarios)
app.command("run")(run.run_experiment)
app.command("check")(check.check_run)
app.command("compare")(compare.compare_runs)
app.command("report")(report.report_run)
app.command("calibrate")(calibrate.calibrate_cmd)
app.command("calibrate-campaign")(calibrate_campaign.calibrate_campaign_cmd)
app.command("ope")(ope.ope_cmd)
app.command("ope-validate")(ope_validate.ope_validate_cmd)
app.command("rfm")(rfm.rfm_command)
app.command("policies")(policies.list_policies)


def main() -> None:
    """Entry point of the `nbasim` console script: one BLAS thread per process, then the app."""
    single_threaded_blas()
    app()
