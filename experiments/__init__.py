"""Experiments: configs, the runner, metrics, reports and the `nbasim` command line.

One subpackage per job:

- `run`: configs, cells, the sweep over them, the files a run writes and its metrics;
- `store`: files written whole or not at all;
- `results`: reading a run's summary, statistics across seeds, `check`, `compare`, the report;
- `data`: transaction logs, calibration to them, campaign-test lifts and RFM reports;
- `ope`: off-policy estimators, their reward model, targets and validation;
- `cli`: the `nbasim` command line, one module per command.
"""
