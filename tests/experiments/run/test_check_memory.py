"""The runner's memory check counts one world per worker at once, and ulimit -v per process."""

from __future__ import annotations

import pytest

from nbasim.experiments.run import config, sweep
from nbasim.sim import memory
from nbasim.sim.params import ParameterError

GIB = 2**30
CFG = config.parse({"name": "mem", "customers": 1_000_000, "days": 5, "seeds": [0, 1, 2],
                    "policies": [{"label": "no_action"}]})


@pytest.mark.parametrize(("bound", "workers", "match"), [
    # 1,000,000 x 300 B = 0.28 GiB a world, plus 0.19 GiB resident and 0.5 GiB address space.
    (memory.Headroom(GIB, "cgroup"), 2, None),  # 2 x 0.47 = 0.93 GiB fits in 1 GiB
    (memory.Headroom(GIB, "cgroup"), 3,
     r"customers = 1,000,000 in 3 worlds at once \(--workers 3\): needs about 1\.40 GiB, more "
     r"than the 1\.00 GiB .* \(cgroup\)"),
    (memory.Headroom(GIB, "ulimit -v", per_process=True), 3, None),  # 0.78 GiB each
    (memory.Headroom(GIB // 2, "ulimit -v", per_process=True), 3,
     r"needs about 0\.78 GiB in each of its processes, more than the 0\.50 GiB"),
])
def test_workers_at_once_against_the_bound(bound, workers, match, monkeypatch):
    """Together against the machine or cgroup; each worker alone against ulimit -v."""
    monkeypatch.setattr(memory, "bounds", lambda **_: [bound])
    if match is None:
        sweep.check_memory(CFG, workers, "local")
    else:
        with pytest.raises(ParameterError, match=match):
            sweep.check_memory(CFG, workers, "local")
