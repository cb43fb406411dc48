"""Per-customer uniforms of a day: common random numbers that no other customer can shift.

After the one exponential draw per customer, a day needs a few more draws for the customers
who act (a purchase's hour, store, category and amount; a cart's value and hour; the dropout
after a purchase). Drawn one after another from a stream, they would depend on who else acts
that day, so a policy that changes one customer's purchase would change every other
customer's draws. Instead the day's generator draws one key, and each customer's uniforms
are that key expanded by a counter-based mixer (SplitMix64's finalizer over the key, the row
and the use): the same customer on the same day gets the same uniforms whatever happens to
anyone else.
"""

from __future__ import annotations

import numpy as np

HOUR, STORE, ONLINE, CATEGORY, AMOUNT, DROPOUT, CART_AMOUNT, CART_HOUR = range(8)
"""Uses of a customer's uniforms (columns of `uniforms`)."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def uniforms(key: int, rows: np.ndarray, use: int) -> np.ndarray:
    """Uniforms in (0, 1) of customers `rows` for one use, from the day's `key`.

    Args:
        key: the day's key, drawn from the day's generator (0 <= key < 2**63).
        rows: (m,) customer rows (< 2**48).
        use: which draw (0-255), one of the constants above.

    Returns:
        (m,) float64, each a function of (key, row, use) alone.
    """
    with np.errstate(over="ignore"):
        z = (np.asarray(rows, dtype=np.uint64) << np.uint64(8)) | np.uint64(use)
        z = z + np.uint64(key) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53
