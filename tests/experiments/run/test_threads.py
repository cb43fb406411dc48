"""One BLAS thread per process: set when the runner or the CLI starts, never on import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nbasim.experiments.run.threads import THREAD_VARIABLES, single_threaded_blas


def test_sets_one_thread_and_keeps_what_the_user_chose(monkeypatch):
    """Unset variables become "1"; a value the user exported stays."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    single_threaded_blas()
    assert {name: os.environ[name] for name in THREAD_VARIABLES} == {
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "1"}


@pytest.mark.parametrize("module", ["nbasim.experiments", "nbasim.experiments.cli",
                                    "nbasim.experiments.run.sweep"])
def test_importing_sets_no_environment_variable(module):
    """Importing the experiments, the CLI or the runner leaves the environment as it was."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    code = (f"import os, {module}; "
            f"print([n for n in {THREAD_VARIABLES!r} if n in os.environ])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_limits_the_blas_already_loaded_in_this_process():
    """Numpy's BLAS, loaded before the call, runs on one thread after it."""
    code = ("import numpy, threadpoolctl; "
            "from nbasim.experiments.run.threads import single_threaded_blas; "
            "single_threaded_blas(); "
            "print({i['num_threads'] for i in threadpoolctl.threadpool_info() "
            "if i['user_api'] == 'blas'})")
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "{1}"
