"""The linear algebra of the ridge models behind the numpy bandits and the causal learners.

Sufficient statistics grouped by action (`grouped_stats`) and over Kronecker features
(`kron_stats`), inverse Cholesky roots (`inverse_root`), rank-k inverse updates (`woodbury`)
and quadratic forms x' M x of many rows and matrices at once (`PairProducts`).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.linalg import lapack

# Pair products are multiplied as a sparse matrix while at most 1 / SPARSE_PAIRS of them are
# non-zero (the sparse product is about six times slower per non-zero than the dense one).
SPARSE_PAIRS = 8


def woodbury(inverses: np.ndarray, blocks: list[np.ndarray]) -> np.ndarray:
    """(A + X' X)^-1 of each A^-1 in `inverses` (s, d, d) and its new rows X (k, d) in `blocks`.

    By the Woodbury identity, (A + X' X)^-1 = A^-1 - U (I_k + X U)^-1 U' with U = A^-1 X'
    (A^-1 symmetric), the k x k system solved through its Cholesky factor. The blocks are
    padded with rows of zeros to the longest, which change neither A nor the result.
    """
    x = np.zeros((len(blocks), max(len(b) for b in blocks), inverses.shape[1]))
    for i, b in enumerate(blocks):
        x[i, :len(b)] = b
    # Batched products run through BLAS only on contiguous operands, hence the copies.
    u_t = np.matmul(x, inverses)                                          # U' (s, k, d)
    inner = np.eye(x.shape[1]) + np.matmul(u_t, np.ascontiguousarray(x.transpose(0, 2, 1)))
    half = np.linalg.solve(np.linalg.cholesky(inner), u_t)                # L^-1 U'
    return inverses - np.matmul(np.ascontiguousarray(half.transpose(0, 2, 1)), half)


def outer_products(feats: np.ndarray) -> np.ndarray:
    """(K, m m) f_a f_a' of each action's features, flattened."""
    return np.einsum("kj,kl->kjl", feats, feats).reshape(feats.shape[0], -1)


def kron_stats(xt: np.ndarray, actions: np.ndarray, rewards: np.ndarray, feats: np.ndarray,
               outer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phi' Phi and Phi' r of a batch for phi(x, a) = x~ (x) f~_a, grouped by action.

    Args:
        xt: (n, d) x~.
        actions: (n,) rows of `feats`.
        rewards: (n,).
        feats: (K, m) f~.
        outer: `outer_products(feats)`.

    Returns:
        (d m, d m) sum_a X_a' X_a (x) f_a f_a' and (d m,) sum_a (X_a' r_a) (x) f_a.
    """
    d, m = xt.shape[1], feats.shape[1]
    touched, grams, moments, _ = grouped_stats(xt, actions, rewards)
    # sum_a G_a (x) f_a f_a', built as one product over the touched actions.
    delta = grams.reshape(len(touched), d * d).T @ outer[touched]
    gram = delta.reshape(d, d, m, m).transpose(0, 2, 1, 3).reshape(d * m, d * m)
    return gram, (moments.T @ feats[touched]).reshape(-1)


def kron_scores(xt: np.ndarray, draw: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """(n, S, K) x~' W_s f~_a of every row, sample and action; `draw` is (d, m, S)."""
    n, s = xt.shape[0], draw.shape[2]
    xw = (xt @ draw.reshape(xt.shape[1], -1)).reshape(n, feats.shape[1], s)
    return xw.transpose(0, 2, 1) @ feats.T


def inverse_root(gram: np.ndarray) -> np.ndarray:
    """L^-1 of the Cholesky factor L of each SPD matrix in `gram` (..., d, d), lower triangular.

    A^-1 = L^-T L^-1, so L^-T is the Cholesky-type factor of A^-1 through which normal draws
    with covariance A^-1 are taken; two LAPACK calls per matrix, about half the cost of a
    general inverse.
    """
    chol = np.linalg.cholesky(gram)
    flat = chol.reshape(-1, *chol.shape[-2:])
    out = np.empty_like(flat)
    for i, c in enumerate(flat):
        out[i], info = lapack.dtrtri(c, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"triangular inverse failed (info {info})")
    return out.reshape(chol.shape)


def grouped_stats(xt: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per action present in the batch: X_a' X_a, X_a' r_a and the rows X_a.

    Returns:
        touched (u,) actions, grams (u, d, d), moments (u, d) and the u blocks X_a (n_a, d).
    """
    order = np.argsort(actions, kind="stable")
    d = xt.shape[1]
    # [x, r] sorted by action: one product per action gives X_a' X_a and X_a' r_a together.
    xr = np.empty((len(order), d + 1))
    xr[:, :d] = xt[order]
    xr[:, d] = rewards[order]
    counts = np.bincount(actions)
    touched = np.flatnonzero(counts)
    ends = np.cumsum(counts[touched])
    grams = np.empty((len(touched), d, d))
    moments = np.empty((len(touched), d))
    blocks = []
    start = 0
    for i, end in enumerate(ends):
        block = xr[start:end]
        prod = block[:, :d].T @ block
        grams[i] = prod[:, :d]
        moments[i] = prod[:, d]
        blocks.append(block[:, :d])
        start = end
    return touched, grams, moments, blocks


class PairProducts:
    """The quadratic form x' M x as a product: sum over i <= j of x_i x_j c_ij M_ij.

    With c_ij = 2 off the diagonal (M symmetric), the (n, d (d + 1) / 2) pair products of the
    rows times the (d (d + 1) / 2, K) coefficients of K matrices give every form at once: one
    matrix product with a long inner dimension, instead of K products R_a x whose (n, K d)
    result must be squared and summed. In float32, four times faster than float64 roots; the
    relative error of a width's variance stayed under 1e-3 with 300,000 rows per action
    (5e-4 on the width, far below the statistical noise the width measures).

    Contexts are often sparse (one-hot segments, stages, stores and categories; counts that
    are mostly 0: a quickstart row has 28 non-zero features of 102), and the pair products
    of a row with m non-zeros have only m (m + 1) / 2 non-zeros. While they fill at most
    1 / SPARSE_PAIRS of the columns, `forms` multiplies them as a sparse matrix (the
    quickstart's, 8 % filled: a quarter less time than the dense product); denser rows take
    the dense product.

    Args:
        dim: length of x (d).
    """

    def __init__(self, dim: int):
        self.rows, self.cols = np.triu_indices(dim)
        self.starts = np.concatenate([[0], np.cumsum(np.arange(dim, 0, -1))])
        self.double = np.where(self.rows == self.cols, 1.0, 2.0)

    def coefficients(self, matrices: np.ndarray) -> np.ndarray:
        """(..., d (d + 1) / 2) float32 c_ij M_ij of symmetric matrices (..., d, d)."""
        return (matrices[..., self.rows, self.cols] * self.double).astype(np.float32)

    def of(self, x: np.ndarray) -> np.ndarray:
        """(n, d (d + 1) / 2) float32 x_i x_j, i <= j, of rows x (n, d).

        Built column block by column block in the transposed layout, where each block is a
        contiguous product of whole rows of x', and returned as its transposed view: three
        times faster than writing short row segments at d = 21.
        """
        xt = np.ascontiguousarray(x.T, dtype=np.float32)
        out = np.empty((self.starts[-1], x.shape[0]), dtype=np.float32)
        for i in range(x.shape[1]):
            np.multiply(xt[i:i + 1], xt[i:], out=out[self.starts[i]:self.starts[i + 1]])
        return out.T

    def sparse_of(self, x: np.ndarray) -> sparse.csr_matrix:
        """`of(x)` as a float32 CSR matrix, built from the non-zeros of x alone.

        Each non-zero x_i of a row pairs with itself and the row's later non-zeros x_j
        (j > i), in the order of the pair columns (i, then j), so the indices come sorted.
        """
        rows, cols = np.nonzero(x)
        values = x[rows, cols].astype(np.float32)
        per_row = np.bincount(rows, minlength=x.shape[0])
        row_start = np.concatenate([[0], np.cumsum(per_row)])
        partners = per_row[rows] - (np.arange(rows.size) - row_start[rows])  # itself + later
        left = np.repeat(np.arange(rows.size), partners)
        first = np.cumsum(partners) - partners
        right = left + np.arange(left.size) - np.repeat(first, partners)
        columns = self.starts[cols[left]] + cols[right] - cols[left]
        indptr = np.concatenate([[0], np.cumsum(per_row * (per_row + 1) // 2)])
        return sparse.csr_matrix((values[left] * values[right], columns, indptr),
                                 shape=(x.shape[0], self.starts[-1]))

    def forms(self, x: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
        """(n, K) float64 x' M_a x of rows x (n, d), from `coefficients` (d (d + 1) / 2, K)."""
        per_row = np.count_nonzero(x) / max(x.shape[0], 1)   # mean non-zeros of a row
        if per_row * (per_row + 1) * SPARSE_PAIRS <= 2 * self.starts[-1]:
            return (self.sparse_of(x) @ coefficients).astype(np.float64)
        return (self.of(x) @ coefficients).astype(np.float64)


def f32(stack: np.ndarray) -> np.ndarray:
    """Contiguous float32 copy of the matrices that feed the confidence width.

    float32 halves the cost of the widest product of `act`; it only enters the exploration
    bonus, where 1e-7 relative error is far below the statistical noise. The product is a
    stacked one (one small product per action), which stays on one thread, so its time does
    not depend on what else runs on the machine.
    """
    return np.ascontiguousarray(stack, dtype=np.float32)
