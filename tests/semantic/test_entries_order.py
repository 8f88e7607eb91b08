"""Per-image confusion entries: each image's nonzero cells, in (row, column) order, with their pixels.

The pass puts an image's cells in order in one of three ways, by the size of the matrix and the
number of cells touched: a bitmap of a small matrix's cells (many touched), a sort of the touched
keys (few touched in a large matrix), or a sort of a hash map's entries (matrices above a million
cells). Each is checked here against numpy's count of the same arrays.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np
import pytest

import fastpq.semantic as S


def _maps(k: int, distinct: int, noise: float, seed: int, n: int = 3) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Ground truth of 8x8 blocks of `distinct` classes out of k, and predictions with `noise` of
    their pixels replaced by random classes."""
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if k <= 256 else np.uint16
    gts, preds = [], []
    for _ in range(n):
        classes = rng.choice(k, size=distinct, replace=False)
        g = np.kron(rng.choice(classes, size=(6, 9)), np.ones((8, 8), np.int64)).astype(dtype)
        p = np.where(rng.random(g.shape) < noise, rng.integers(0, k, g.shape), g).astype(dtype)
        gts.append(g)
        preds.append(p)
    return gts, preds


def _oracle(g: np.ndarray, p: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = np.bincount(g.astype(np.int64).ravel() * k + p.astype(np.int64).ravel(), minlength=k * k).reshape(k, k)
    rows, cols = np.nonzero(m)  # row-major: (row, column) order
    return rows, cols, m[rows, cols]


@pytest.mark.parametrize("k, distinct, noise", [
    (19, 6, 0.3),       # small matrix, many of its cells touched: the bitmap
    (250, 5, 0.2),      # 8-bit labels, noisy: the bitmap
    (700, 4, 0.002),    # 490,000 cells, a handful touched: the sort of the touched keys
    (700, 40, 0.5),     # the same matrix with thousands touched: the bitmap
    (1100, 8, 0.3),     # 1,210,000 cells: the hash map
])
def test_entries_are_each_images_cells_in_order(k: int, distinct: int, noise: float) -> None:
    gts, preds = _maps(k, distinct, noise, seed=k + distinct)
    r = S.evaluate(gts, preds, num_classes=k)
    offsets, rows, cols, counts = r.state.entries()
    assert len(offsets) == len(gts) + 1
    for i, (g, p) in enumerate(zip(gts, preds)):
        s = slice(int(offsets[i]), int(offsets[i + 1]))
        want = _oracle(g, p, k)
        assert len(want[0]) > 0
        for got, expected in zip((rows[s], cols[s], counts[s]), want):
            np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(r.confusion, sum(np.bincount(g.astype(np.int64).ravel() * k + p.ravel(),
                                                               minlength=k * k).reshape(k, k)
                                                   for g, p in zip(gts, preds)))
