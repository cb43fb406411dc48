"""The experiment report of a run directory: `plots/*.png` and one `report.html`."""

from nbasim.experiments.results.report.build import build_report

__all__ = ["build_report"]
