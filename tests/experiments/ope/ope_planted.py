"""A planted logging problem shared by the OPE tests, whose target value is exact.

4 equally likely contexts, 3 actions; Bernoulli rewards with means Q_TRUE; the logger MU and
the target PI_T are fixed tables. The target's value is exact:
V = mean_x sum_a PI_T[x, a] Q_TRUE[x, a].
"""

from __future__ import annotations

import numpy as np

Q_TRUE = np.array([[0.1, 0.5, 0.3], [0.6, 0.2, 0.4], [0.3, 0.3, 0.9], [0.05, 0.7, 0.2]])
MU = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4]])
PI_T = np.array([[0.0, 1.0, 0.0], [0.8, 0.1, 0.1], [0.1, 0.0, 0.9], [0.2, 0.6, 0.2]])
V_TRUE = float((PI_T * Q_TRUE).sum(axis=1).mean())


def planted_log(rng: np.random.Generator, n: int, noisy: bool = True):
    """A log of `n` rows from the logger: contexts, actions, rewards and pscores."""
    x = rng.integers(0, 4, n)
    cum = MU[x].cumsum(axis=1)
    a = (cum < rng.random(n)[:, None]).sum(axis=1)
    mean = Q_TRUE[x, a]
    r = (rng.random(n) < mean).astype(float) if noisy else mean
    return x, a, r, MU[x, a]
