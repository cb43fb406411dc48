"""One BLAS thread per process, so a result does not depend on how a BLAS splits its sums.

Cells run single-threaded; parallelism comes from worker processes. The limits are
environment variables that a BLAS library reads when it loads, so they bind the processes
started after `single_threaded_blas` is called (Ray workers, spawned processes); in this
process, and so in forked workers, threadpoolctl sets the limit of the libraries already
loaded. The runner and the `nbasim` command call it when they start; importing a module
never does.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that cap the threads of OpenBLAS, OpenMP and MKL."""


def single_threaded_blas() -> None:
    """One BLAS thread here and in processes started later.

    Sets each of `THREAD_VARIABLES` to 1 unless the user has set it (for processes started
    later), and limits the BLAS libraries already loaded in this process to one thread with
    threadpoolctl (numpy is loaded before any of our code runs, so environment variables come
    too late for this process).
    """
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    threadpool_limits(limits=1, user_api="blas")
