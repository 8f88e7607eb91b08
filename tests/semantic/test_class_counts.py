"""Per-image class tables (``SemanticState.per_image_class_counts``, computed in C++) against a numpy
oracle of their definition, and the C++ entry point's refusals of entries out of range (a state
unpickled from elsewhere reaches it)."""

from __future__ import annotations

import numpy as np
import pytest

from fastpq import _core


def _oracle(offsets, rows, cols, counts, row_k, col_k, k, allowed):
    """Per image and class: tp, gt, pred by the definition, one entry at a time."""
    n = len(offsets) - 1
    tp, gt, pred = (np.zeros((n, k), np.int64) for _ in range(3))
    for i in range(n):
        for e in range(offsets[i], offsets[i + 1]):
            r, c, count = row_k[rows[e]], col_k[cols[e]], counts[e]
            if r < k:
                gt[i, r] += count
                if r == c:
                    tp[i, r] += count
            if c < k and (allowed is None or allowed[rows[e]]):
                pred[i, c] += count
    return tp, gt, pred


def _random_entries(rng, n_images, n_rows, n_cols):
    sizes = rng.integers(0, 30, n_images)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    e = int(offsets[-1])
    return (offsets, rng.integers(0, n_rows, e), rng.integers(0, n_cols, e),
            rng.integers(1, 1 << 40, e).astype(np.int64))


@pytest.mark.parametrize("seed", range(6))
def test_class_tables_equal_the_definition(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = int(rng.integers(1, 12)), int(rng.integers(1, 12))
    k = int(rng.integers(1, min(n_rows, n_cols) + 1))
    offsets, rows, cols, counts = _random_entries(rng, int(rng.integers(0, 9)), n_rows, n_cols)
    # Classes map to some rows and columns; the others (and the spare last column) are class k.
    row_k = np.full(n_rows, k, np.int64)
    row_k[rng.choice(n_rows, k, replace=False)] = np.arange(k)
    col_k = np.full(n_cols + 1, k, np.int64)
    col_k[rng.choice(n_cols, k, replace=False)] = np.arange(k)
    for allowed in (None, rng.random(n_rows) < 0.5):
        got = _core.per_image_class_counts(offsets, rows, cols, counts, row_k, col_k, k, allowed)
        want = _oracle(offsets, rows, cols, counts, row_k, col_k, k, allowed)
        for g, w in zip(got, want):
            assert g.dtype == np.int64 and g.shape == w.shape
            assert np.array_equal(g, w)


def test_an_evaluation_s_tables_sum_to_its_confusion():
    import fastpq.semantic as S

    rng = np.random.default_rng(3)
    gts = [rng.integers(0, 5, (9, 13)).astype(np.uint8) for _ in range(4)]
    preds = [rng.integers(0, 5, (9, 13)).astype(np.uint8) for _ in range(4)]
    r = S.evaluate(gts, preds, preset="mmseg", num_classes=5)
    classes = np.arange(5)
    tp, gt, pred = r.state.per_image_class_counts(classes, classes)
    m = r.confusion.astype(np.int64)
    assert np.array_equal(tp.sum(0), np.diag(m)) and np.array_equal(gt.sum(0), m.sum(1))
    assert np.array_equal(pred.sum(0), m.sum(0))
    for i in range(4):
        cm = np.bincount(gts[i].ravel().astype(np.int64) * 5 + preds[i].ravel(), minlength=25).reshape(5, 5)
        assert np.array_equal(tp[i], np.diag(cm)) and np.array_equal(gt[i], cm.sum(1))
    tp2, gt2, pred2 = r.state.per_image_class_counts(classes, classes, np.array([0, 2]))
    assert np.array_equal(pred2.sum(0), m[[0, 2]].sum(0)) and np.array_equal(gt2, gt)


def _args(**change):
    args = dict(offsets=np.array([0, 2], np.int64), rows=np.array([0, 1]), cols=np.array([1, 0]),
                counts=np.array([5, 6]), row_class=np.array([0, 1]), col_class=np.array([0, 1, 2]), k=2,
                counted_rows=None)
    args.update(change)
    return args


@pytest.mark.parametrize("change, message", [
    ({"rows": np.array([0, 2])}, "row 2, outside"),
    ({"rows": np.array([-1, 0])}, "row -1, outside"),
    ({"cols": np.array([3, 0])}, "column 3, outside"),
    ({"row_class": np.array([0, 3])}, "row 1 has class 3"),
    ({"col_class": np.array([0, -1, 2])}, "column 1 has class -1"),
    ({"offsets": np.array([0, 3])}, "offsets must run from 0"),
    ({"offsets": np.array([1, 2])}, "offsets must run from 0"),
    ({"offsets": np.array([0, 2, 1, 2])}, "must not decrease"),
    ({"offsets": np.zeros(0, np.int64)}, "at least one value"),
    ({"counts": np.array([5])}, "differ in length"),
    ({"counted_rows": np.array([True])}, "one flag per row"),
    ({"rows": np.zeros((1, 2), np.int64)}, "1-D arrays"),
])
def test_entries_out_of_range_are_refused(change, message):
    with pytest.raises(ValueError, match=message):  # a usage error, as for any bad argument
        _core.per_image_class_counts(**_args(**change))
    tp, gt, pred = _core.per_image_class_counts(**_args())
    assert tp.tolist() == [[0, 0]] and gt.tolist() == [[5, 6]] and pred.tolist() == [[6, 5]]
