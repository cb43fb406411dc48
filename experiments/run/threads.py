"""One BLAS thread per process, so a result does not depend on how a BLAS splits its sums.

Cells run single-threaded; parallelism comes from worker processes. The limits are
environment variables that a BLAS library reads when it loads, so they bind the processes
started after `single_threaded_blas` is called (Ray workers, spawned processes) and this
process only if numpy was not imported yet. The runner and the `nbasim` command call it when
they start; importing a module never does.
"""

from __future__ import annotations

import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that cap the threads of OpenBLAS, OpenMP and MKL."""


def single_threaded_blas() -> None:
    """Set each of `THREAD_VARIABLES` to 1 unless the user has set it."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
