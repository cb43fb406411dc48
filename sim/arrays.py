"""Array helpers for short rows: the bits numpy gives, computed with long inner loops.

numpy runs an operation on an (n, k) array row by row when k is short (a few channels or
categories), paying a call per row. These helpers turn such arrays around, (k, n), so each
operation runs once over all n, and keep the results bit for bit.
"""

from __future__ import annotations

import numpy as np


def columns(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows `rows` of an (N, k) state column, turned around: (k, n), C-contiguous."""
    return np.ascontiguousarray(np.take(column, rows, axis=0).T)


def count_up(table: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Add 1 to the uint8 counts table[rows, cols] (distinct pairs), which stop at 255.

    Through the flat index rows x k + cols of the (N, k) table; returns that index.
    """
    flat, at = table.reshape(-1), rows * table.shape[1] + cols
    flat[at] = np.minimum(flat[at], 254) + 1
    return at


def row_sums(terms: np.ndarray) -> np.ndarray:
    """Sum over k of a (k, n) array, as `terms.T.sum(axis=1)` gives it, bit for bit.

    numpy adds a row of fewer than 8 numbers in order, and a longer one pairwise; in order, the
    sum runs column by column over all n at once.
    """
    if terms.shape[0] >= 8:
        return np.ascontiguousarray(terms.T).sum(axis=1)
    out = terms[0].copy()
    for t in terms[1:]:
        out += t
    return out


def joined(blocks: list[tuple]) -> tuple:
    """Blocks of aligned results (arrays, or dataclasses of arrays) joined end to end."""
    if len(blocks) == 1:
        return blocks[0]
    out = []
    for parts in zip(*blocks, strict=True):
        if isinstance(parts[0], np.ndarray):
            out.append(np.concatenate(parts))
        else:
            out.append(type(parts[0])(**{k: np.concatenate([vars(p)[k] for p in parts])
                                         for k in vars(parts[0])}))
    return tuple(out)


def put_grid(out: np.ndarray, part: slice, cols: slice, grid: np.ndarray) -> None:
    """Write a customers-last grid, (..., m), into rows `part` and columns `cols` of `out`."""
    m = grid.shape[-1]
    out[part, cols] = grid.reshape(-1, m).T
