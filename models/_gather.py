"""Graph pieces that keep a model's gradient in compiled code.

Without an external BLAS, PyTensor evaluates matrix products and indexing by several
integer arrays in Python, once per gradient evaluation: in a NUTS run of a few thousand
iterations that is most of the time. The same quantities written with elementwise
operations, sums and one-dimensional takes compile to C.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

__all__ = ["affine", "group_sums", "matrix_cells"]


def matrix_cells(
    matrix: pt.TensorVariable, rows: np.ndarray, columns: np.ndarray, n_columns: int
) -> pt.TensorVariable:
    """``matrix[rows, columns]`` for a 2-D ``matrix`` with ``n_columns`` columns, as a 1-D
    take from its flattened values: element ``rows[i] * n_columns + columns[i]``."""
    flat = np.asarray(rows, dtype=np.int64) * int(n_columns) + np.asarray(columns, dtype=np.int64)
    return matrix.reshape((-1,))[flat]


def group_sums(values: pt.TensorVariable, groups: np.ndarray, n_groups: int) -> pt.TensorVariable:
    """Sum of ``values[i]`` over the i with ``groups[i] == g``, for g = 0..n_groups-1 (a
    one-hot matrix times the values, as an elementwise product and a row sum)."""
    membership = (np.asarray(groups)[None, :] == np.arange(n_groups)[:, None]).astype(float)
    return (membership * values[None, :]).sum(axis=1)


def affine(mean: np.ndarray, cholesky: np.ndarray, z: pt.TensorVariable) -> pt.TensorVariable:
    """``mean + z @ cholesky.T`` over the last dim of ``z``:
    x_j = m_j + sum_i L[j, i] z_i, as an elementwise product and a sum."""
    factor = np.asarray(cholesky, dtype=float)
    return pt.as_tensor(np.asarray(mean, dtype=float)) + (z[..., None, :] * factor).sum(axis=-1)
