"""Short-row helpers: the bits numpy gives for (n, k) arrays, from (k, n) ones."""

from __future__ import annotations

import numpy as np
import pytest

from nbasim.sim import arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 4, 6, 7, 8, 12, 32])
def test_row_sums_are_numpys_row_sums_bit_for_bit(k, dtype):
    """Sums in order below 8 terms, pairwise from 8: each row as `sum(axis=1)` adds it."""
    rng = np.random.default_rng(k)
    # Magnitudes from 1e-8 to 1e8, so that the order of the additions shows in the bits.
    a = (rng.random((5000, k)) * 10.0 ** rng.integers(-8, 9, (5000, k))).astype(dtype)
    got = arrays.row_sums(np.ascontiguousarray(a.T))
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, a.sum(axis=1))


def test_columns_turns_gathered_rows_around():
    """columns(column, rows) is column[rows].T, C-contiguous."""
    column = np.arange(40, dtype=np.float32).reshape(10, 4)
    got = arrays.columns(column, np.array([7, 2, 2]))
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, column[[7, 2, 2]].T)
