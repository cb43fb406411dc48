"""Experiments: configs, runs, metrics, reports and the `nbasim` command line."""
