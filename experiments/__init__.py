"""Experiments: configs, the runner, metrics, reports and the `nbasim` command line.

Cells run single-threaded (parallelism comes from worker processes), so a result does not
depend on how a BLAS library splits its sums across threads; the limits below take effect
when this package is imported before numpy, as the `nbasim` command does.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
