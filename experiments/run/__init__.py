"""Running experiments: configs, cells, the sweep, what a run writes and its metrics."""
