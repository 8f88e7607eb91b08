"""fastpq.PanopticQuality: maps in memory give exactly the file path's numbers."""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import fastpq
from fastpq import _core
from fastpq.synthetic import id_to_rgb

from conftest import assert_results_close, assert_results_equal, run_reference_single_process

Image = Tuple[Any, np.ndarray, np.ndarray, list, list]


def load_images(paths) -> Tuple[Dict[str, Any], List[Image]]:
    """GT JSON and, in GT order, (image id, gt ids, pred ids, gt segments, pred segments)."""
    gt = json.loads(Path(paths.gt_json).read_text())
    pred = json.loads(Path(paths.pred_json).read_text())
    pred_of = {a["image_id"]: a for a in pred["annotations"]}
    images = []
    for a in gt["annotations"]:
        p = pred_of[a["image_id"]]
        images.append((a["image_id"], _core.read_png_ids(str(Path(paths.gt_folder) / a["file_name"])),
                       _core.read_png_ids(str(Path(paths.pred_folder) / p["file_name"])), a["segments_info"],
                       p["segments_info"]))
    return gt, images


def scored(categories, images, **options) -> fastpq.PanopticQuality:
    evaluator = fastpq.PanopticQuality(categories, **options)
    for image_id, g, p, gs, ps in images:
        evaluator.update(g, p, gs, ps, image_id=image_id)
    return evaluator


@pytest.mark.parametrize("dataset", ["coco_like", "cityscapes_like"])
def test_equals_the_file_path_and_panopticapi_exactly(dataset, request):
    paths = request.getfixturevalue(dataset)
    gt, images = load_images(paths)
    result = scored(gt["categories"], images).compute()
    assert_results_equal(result.to_dict(), fastpq.evaluate(paths.gt_json, paths.pred_json).to_dict())
    assert_results_equal(result.to_dict(), run_reference_single_process(paths.gt_json, paths.pred_json))


def test_batches_rgb_maps_and_workers_give_the_same_sums(coco_like):
    gt, images = load_images(coco_like)
    expected = scored(gt["categories"], images).compute()
    batched = fastpq.PanopticQuality(gt["categories"], workers=2)
    for start in range(0, len(images), 5):
        part = images[start:start + 5]
        batched.update(np.stack([id_to_rgb(i[1]) for i in part]), np.stack([id_to_rgb(i[2]) for i in part]),
                       [i[3] for i in part], [i[4] for i in part], image_id=[i[0] for i in part])
    assert batched.compute().to_dict() == expected.to_dict()
    assert batched.images == len(images)


def test_merge_pickle_and_add(coco_like):
    gt, images = load_images(coco_like)
    whole = scored(gt["categories"], images).compute().to_dict()
    first = scored(gt["categories"], images[:5])
    second = scored(gt["categories"], images[5:])
    restored = pickle.loads(pickle.dumps(first))
    assert_results_close((restored + second).compute().to_dict(), whole)
    assert_results_close(first.merge(second).compute().to_dict(), whole)
    assert first.images == len(images)


def test_reset_forgets(coco_like):
    gt, images = load_images(coco_like)
    evaluator = scored(gt["categories"], images)
    evaluator.reset()
    assert evaluator.images == 0
    assert all(c.tp == c.fp == c.fn == 0 for c in evaluator.compute().classes)


def test_concurrent_updates_add_up(coco_like):
    gt, images = load_images(coco_like)
    whole = scored(gt["categories"], images).compute()
    shared = fastpq.PanopticQuality(gt["categories"])
    threads = [threading.Thread(target=lambda part=images[k::4]: [shared.update(*i[1:], image_id=i[0]) for i in part])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [(c.tp, c.fp, c.fn) for c in shared.compute().classes] == [(c.tp, c.fp, c.fn) for c in whole.classes]
    assert_results_close(shared.compute().to_dict(), whole.to_dict())


def test_per_image_rows_sum_to_the_totals(coco_like):
    gt, images = load_images(coco_like)
    result = scored(gt["categories"], images, per_image=True).compute()
    for c in result.classes:
        rows = [r for r in result.per_image if r["category_id"] == c.category_id]
        assert (sum(r["tp"] for r in rows), sum(r["fp"] for r in rows), sum(r["fn"] for r in rows)) == (c.tp, c.fp, c.fn)
    assert {r["image_id"] for r in result.per_image} <= {i[0] for i in images}


TWO_CATEGORIES = [{"id": 1, "isthing": 1, "name": "a"}, {"id": 2, "isthing": 0, "name": "b"}]


def _two_segments() -> "Tuple[np.ndarray, np.ndarray, fastpq.PanopticQuality]":
    """Thing 7 (12 pixels) left of stuff 9 (12 pixels) in a 4x6 map, one of 7's pixels predicted as 9;
    and an evaluator that scored them with plain segments_info lists."""
    gt = np.zeros((4, 6), np.int64)
    gt[:, :3], gt[:, 3:] = 7, 9
    pred = gt.copy()
    pred[0, 2] = 9
    plain = fastpq.PanopticQuality(TWO_CATEGORIES)
    plain.update(gt, pred, [{"id": 7, "category_id": 1, "iscrowd": 0, "area": 12},
                            {"id": 9, "category_id": 2, "iscrowd": 0, "area": 12}],
                 [{"id": 7, "category_id": 1}, {"id": 9, "category_id": 2}])
    return gt, pred, plain


def test_missing_areas_are_counted_from_the_map():
    gt, pred, with_area = _two_segments()
    without = fastpq.PanopticQuality(TWO_CATEGORIES)
    without.update(gt, pred, [{"id": 7, "category_id": 1, "iscrowd": 0}, {"id": 9, "category_id": 2, "iscrowd": 0}],
                   [{"id": 7, "category_id": 1}, {"id": 9, "category_id": 2}])
    assert without.compute().to_dict() == with_area.compute().to_dict()
    # By hand: thing 7 has 12 GT pixels, 11 predicted, all inside: IoU 11/12; stuff 9: 13 predicted, 12 GT: 12/13.
    classes = {c.category_id: c for c in without.compute().classes}
    assert classes[1].iou == pytest.approx(11 / 12, abs=1e-15) and classes[2].iou == pytest.approx(12 / 13, abs=1e-15)


def test_errors_name_the_image():
    categories = [{"id": 1, "isthing": 1}]
    evaluator = fastpq.PanopticQuality(categories)
    ids = np.full((3, 3), 5, np.int32)
    with pytest.raises(fastpq.SegmentMismatchError, match="In the image with ID 42 segment with ID 5 is presented in PNG"):
        evaluator.update(ids, ids, [{"id": 5, "category_id": 1, "iscrowd": 0}], [], image_id=42)
    with pytest.raises(fastpq.ImageSizeMismatchError):
        evaluator.update(ids, ids[:2], [], [])
    with pytest.raises(fastpq.AnnotationError, match="In the image with ID 7: id map holds id 16777216, outside"):
        evaluator.update(ids, np.full((3, 3), 1 << 24, np.int64), [], [], image_id=7)
    with pytest.raises(fastpq.AnnotationError, match="id map holds id -1, outside"):
        evaluator.update(np.full((3, 3), -1, np.int64), ids, [], [])
    with pytest.raises(fastpq.AnnotationError, match="id map holds id 4294967301, outside"):
        evaluator.update(ids, np.full((3, 3), (1 << 32) + 5, np.uint64), [], [])
    with pytest.raises(fastpq.AnnotationError, match="one segments_info list per image"):
        evaluator.update(np.stack([ids, ids]), np.stack([ids, ids]), [[]], [[], []])
    with pytest.raises(fastpq.AnnotationError):
        evaluator.update(ids.astype(np.float32), ids, [], [])
    for area in (0, -1.5, float("nan")):  # the IoU union 9 + area - 9 is zero, negative or NaN
        with pytest.raises(fastpq.AnnotationError, match="ID 3 ground-truth segment with ID 5 .* zero, negative or NaN"):
            evaluator.update(ids, ids, [{"id": 5, "category_id": 1, "iscrowd": 0, "area": area}],
                             [{"id": 5, "category_id": 1}], image_id=3)
    assert evaluator.images == 0  # nothing half-counted


def test_pair_maps_derive_their_segments():
    """(category, instance) maps: thing pairs are segments, stuff is one segment per category,
    unknown categories are void."""
    categories = [{"id": 1, "isthing": 1}, {"id": 2, "isthing": 0}]
    gt = np.zeros((4, 6, 2), np.int64)
    gt[:, :3], gt[:, 3:], gt[0, :] = [1, 0], [2, 5], [9, 9]  # row 0: category 9 is unknown, so void
    pred = gt.copy()
    pred[:, 3:, 1] = 7  # another stuff instance id: still the same stuff segment
    pred[1, 2] = [2, 0]
    evaluator = fastpq.PanopticQuality(categories)
    evaluator.update(gt, pred)
    classes = {c.category_id: c for c in evaluator.compute().classes}
    # By hand: thing GT 9 px (rows 1-3, cols 0-2), predicted 8 of them and nothing else: 8/9.
    # Stuff GT 9 px, predicted those 9 plus one: 9/10.
    assert (classes[1].tp, classes[1].fp, classes[1].fn) == (1, 0, 0)
    assert classes[1].iou == pytest.approx(8 / 9, abs=1e-15) and classes[2].iou == pytest.approx(9 / 10, abs=1e-15)
    # The same scene as id maps with segments gives the same result.
    ids_gt = np.where(gt[..., 0] == 1, 1, np.where(gt[..., 0] == 2, 2, 0))
    ids_pred = np.where(pred[..., 0] == 1, 1, np.where(pred[..., 0] == 2, 2, 0))
    by_ids = fastpq.PanopticQuality(categories)
    by_ids.update(ids_gt, ids_pred, [{"id": 1, "category_id": 1, "iscrowd": 0}, {"id": 2, "category_id": 2, "iscrowd": 0}],
                  [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 2}])
    assert by_ids.compute().to_dict() == evaluator.compute().to_dict()
    batch = fastpq.PanopticQuality(categories)
    batch.update(np.stack([gt, gt]), np.stack([pred, pred]))
    assert [c.tp for c in batch.compute().classes] == [2, 2]
    # Instance ids are compared whole: 1 and 1 + 2^32 are two things.
    wide = np.zeros((2, 4, 2), np.int64)
    wide[0], wide[1] = [1, 1], [1, 1 + (1 << 32)]
    two = fastpq.PanopticQuality(categories)
    two.update(wide, wide)
    assert [c.tp for c in two.compute().classes] == [2, 0]


def test_id_maps_need_segments_and_narrow_id_batches_stay_id_maps():
    categories = [{"id": 1, "isthing": 1}]
    ids = np.ones((3, 4, 2), np.int64)  # three 4x2 id maps, not a pair map
    evaluator = fastpq.PanopticQuality(categories)
    segments = [[{"id": 1, "category_id": 1, "iscrowd": 0}]] * 3
    evaluator.update(ids, ids, segments, [[{"id": 1, "category_id": 1}]] * 3)
    assert evaluator.compute().classes[0].tp == 3
    with pytest.raises(fastpq.AnnotationError, match="only pair maps come without segments"):
        evaluator.update(ids, ids, segments, None)
    with pytest.raises(fastpq.AnnotationError, match="pair maps of shape"):
        evaluator.update(np.ones((4, 5), np.int64), np.ones((4, 5), np.int64))


def _histogram_oracle(gt: np.ndarray, pred: np.ndarray):
    keys, counts = np.unique(gt.astype(np.uint64) * (1 << 24) + pred.astype(np.uint64), return_counts=True)
    return (keys >> 24).astype(np.uint32), (keys & 0xFFFFFF).astype(np.uint32), counts.astype(np.uint64)


@pytest.mark.parametrize("width", list(range(1, 41)) + [333])
def test_joint_histogram_equals_np_unique(width):
    rng = np.random.default_rng(width)
    for values in (3, 50):  # long runs and many boundaries; noise
        gt = rng.integers(0, values, (7, width)).astype(np.uint32)
        gt = np.repeat(gt, 3, axis=1)[:, :width] if values == 3 else gt  # runs across SIMD lanes
        pred = rng.integers(0, values, (7, width)).astype(np.uint32)
        pred[3] = pred[2]  # a repeated row
        gt[3] = gt[2]
        for got, expected in zip(_core.joint_histogram(gt, pred), _histogram_oracle(gt, pred)):
            np.testing.assert_array_equal(got, expected)


def test_joint_histogram_refuses_ids_beyond_24_bits():
    ids = np.zeros((2, 9), np.uint32)
    ids[1, 8] = 1 << 24
    with pytest.raises(_core.FormatError, match="id map holds id 16777216"):
        _core.joint_histogram(ids, np.zeros_like(ids))


@pytest.mark.parametrize("shape, dtype, with_segments", [
    ((100_000, 100_000), np.uint32, True),          # one id map
    ((2, 100_000, 100_000), np.int64, True),        # a batch of id maps
    ((100_000, 100_000, 3), np.uint8, True),        # RGB
    ((100_000, 100_000, 2), np.int64, False),       # (category, instance) pairs
])
def test_a_zero_stride_giant_is_refused_before_any_copy(shape, dtype, with_segments):
    """An array view can claim any size for free: it is held to max_pixels, as a PNG file is, with a
    FastPQError before numpy is asked for the memory (which would raise MemoryError, or worse)."""
    from numpy.lib.stride_tricks import as_strided

    from fastpq.errors import LimitExceededError

    giant = as_strided(np.zeros(1, dtype), shape=shape, strides=(0,) * len(shape))
    metric = fastpq.PanopticQuality([{"id": 1, "isthing": 1, "name": "a"}])
    segments = ([], []) if with_segments else ()
    with pytest.raises(LimitExceededError, match="100000x100000"):
        metric.update(giant, giant, *segments)
    small = fastpq.PanopticQuality([{"id": 1, "isthing": 1, "name": "a"}], max_pixels=99)
    with pytest.raises(LimitExceededError, match="10x10 = 100 pixels"):
        small.update(np.zeros((10, 10), np.uint32), np.zeros((10, 10), np.uint32), [], [])
    small.update(np.zeros((9, 11), np.uint32), np.zeros((9, 11), np.uint32), [], [])  # 99 pixels: fine


def _table_builder_columns(gt_lists, pred_lists, categories):
    """TableBuilder's columns for the lists, as the in-memory path builds them without the C++ reader."""
    from fastpq.io.dataset import TableBuilder

    builder = TableBuilder(categories)
    for i, (g, p) in enumerate(zip(gt_lists, pred_lists)):
        builder.add(i, "gt", "pred", {"segments_info": g}, {"segments_info": p})
    t = builder.build()
    return (t.gt_offsets, t.gt_ids, t.gt_categories, t.gt_iscrowd, t.gt_areas, t.pred_offsets, t.pred_ids,
            t.pred_categories)


PLAIN_GT = [{"id": 3, "category_id": 1, "iscrowd": 0, "area": 10}, {"id": 9, "category_id": 2, "iscrowd": 1,
                                                                     "area": 2.5}]
PLAIN_PRED = [{"id": 4, "category_id": 2}, {"id": 1, "category_id": 77}]
# Each case: (gt segments, pred segments, whether the C++ reader takes them). Where it declines,
# the Python builder reads them (or names the error); where it takes them, its columns must equal
# the builder's, value and type.
SEGMENT_LIST_CASES = {
    "plain": (PLAIN_GT, PLAIN_PRED, True),
    "empty": ([], [], True),
    "unknown category is -1": ([{"id": 1, "category_id": 99, "iscrowd": 0, "area": 1}], [], True),
    "str category": ([{"id": 1, "category_id": "x", "iscrowd": 0, "area": 1}], [{"id": 2, "category_id": "y"}], True),
    "crowd True, 1.0, 2, -1, 2**70": ([{"id": k + 1, "category_id": 1, "iscrowd": v, "area": 1}
                                       for k, v in enumerate([True, 1.0, 2, -1, 2 ** 70, False, 0.5])], [], True),
    "extreme ids": ([{"id": -(2 ** 63 - 1), "category_id": 1, "iscrowd": 0, "area": 1},
                     {"id": 2 ** 63 - 1, "category_id": 1, "iscrowd": 0, "area": 1}], [{"id": 0, "category_id": 1}],
                    True),
    "large int area": ([{"id": 1, "category_id": 1, "iscrowd": 0, "area": 2 ** 60 + 1}], [], True),
    "an id twice": ([dict(PLAIN_GT[0]), dict(PLAIN_GT[0], category_id=2)], [], False),
    "an id twice in the prediction": ([], [{"id": 1, "category_id": 1}, {"id": 1, "category_id": 2}], False),
    "float category": ([{"id": 1, "category_id": 1.0, "iscrowd": 0, "area": 1}], [], False),
    "bool id": ([], [{"id": True, "category_id": 1}], False),
    "numpy id": ([], [{"id": np.int64(5), "category_id": 1}], False),
    "numpy area": ([{"id": 1, "category_id": 1, "iscrowd": 0, "area": np.float32(1.5)}], [], False),
    "numpy crowd": ([{"id": 1, "category_id": 1, "iscrowd": np.int64(1), "area": 1}], [], False),
    "str crowd": ([{"id": 1, "category_id": 1, "iscrowd": "1", "area": 1}], [], False),
    "tuple of segments": ((dict(PLAIN_GT[0]),), [], False),
    "a tuple segment": ([], [("id", 1)], False),
    "missing area": ([{"id": 1, "category_id": 1, "iscrowd": 0}], [], False),
    "missing iscrowd": ([{"id": 1, "category_id": 1, "area": 1}], [], False),
    "id beyond int64": ([], [{"id": 2 ** 63, "category_id": 1}], False),
    "id -2**63": ([], [{"id": -(2 ** 63), "category_id": 1}], False),
    "int area beyond float": ([{"id": 1, "category_id": 1, "iscrowd": 0, "area": 10 ** 400}], [], False),
    "too many segments": ([], [{"id": k, "category_id": 1} for k in range(1, 10)], False),
}


@pytest.mark.parametrize("case", sorted(SEGMENT_LIST_CASES))
def test_the_cpp_segment_reader_equals_the_table_builder(case):
    from fastpq.io.dataset import Categories

    gt, pred, taken = SEGMENT_LIST_CASES[case]
    categories = Categories.from_json({"categories": [{"id": 1, "isthing": 1}, {"id": 2, "isthing": 0},
                                                      {"id": "x", "isthing": 0}, {"id": 77, "isthing": 1}]}, "t")
    gt_lists, pred_lists = [PLAIN_GT, list(gt)] if isinstance(gt, list) else [PLAIN_GT, gt], [PLAIN_PRED, pred]
    columns = _core.segment_lists(gt_lists, pred_lists, categories.index, 8)
    assert (columns is not None) == taken
    if columns is None:
        return
    expected = _table_builder_columns(gt_lists, pred_lists, categories)
    assert [list(c) for c in columns] == [list(c) for c in expected]
    assert [[type(v) for v in c] for c in columns] == [[type(v) for v in c] for c in expected]


def test_segments_the_cpp_reader_declines_score_as_before():
    """Unusual segment values (numpy scalars, a float category id, a repeated id) go
    through the Python builder and give the same result as plain ones."""
    gt, pred, plain = _two_segments()
    odd = fastpq.PanopticQuality(TWO_CATEGORIES)
    odd.update(gt, pred, [{"id": 7, "category_id": 1.0, "iscrowd": np.uint8(0), "area": np.float64(12)},
                          {"id": 9, "category_id": 2, "iscrowd": False}],
               [{"id": 7, "category_id": np.int32(1)}, {"id": 9, "category_id": 2}])
    assert odd.compute().to_dict() == plain.compute().to_dict()
    # panopticapi's dict by id: a repeated id is one segment, the last entry's fields winning.
    repeated = fastpq.PanopticQuality(TWO_CATEGORIES)
    repeated.update(gt, pred, [{"id": 7, "category_id": 2, "iscrowd": 0, "area": 12},
                               {"id": 7, "category_id": 1, "iscrowd": 0, "area": 12},
                               {"id": 9, "category_id": 2, "iscrowd": 0, "area": 12}],
                    [{"id": 7, "category_id": 1}, {"id": 9, "category_id": 2}, {"id": 9, "category_id": 2}])
    assert repeated.compute().to_dict() == plain.compute().to_dict()


def test_class_results_made_by_the_fast_path_equal_the_constructors():
    import dataclasses

    from fastpq.panoptic.results import ClassResult

    values = (3, "car", True, 0.5, 0.75, 2 / 3, 2, 1, 1, 1.5)
    made, constructed = ClassResult._of(*values), ClassResult(*values)
    assert made == constructed and hash(made) == hash(constructed) and repr(made) == repr(constructed)
    assert dataclasses.asdict(made) == dataclasses.asdict(constructed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.pq = 1.0


def _unaligned(a: np.ndarray) -> np.ndarray:
    """The same values in an array at an odd address (numpy allows such views)."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    out = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype,layout,refused", [
    (np.uint16, _unaligned, "aligned"), (np.uint32, _unaligned, "aligned"), (np.int64, _unaligned, "aligned"),
    (">u2", np.asarray, "native byte order"), (">u4", np.asarray, "native byte order"),
    (">i8", np.asarray, "native byte order")], ids=["u2-unaligned", "u4-unaligned", "i8-unaligned",
                                                    "u2-big-endian", "u4-big-endian", "i8-big-endian"])
def test_odd_array_layouts_score_by_their_values(dtype, layout, refused):
    """Unaligned views and big-endian arrays hold the same ids as plain ones and score alike; the
    engine itself refuses them rather than read through a misaligned pointer or swapped bytes."""
    gt, pred, plain = _two_segments()
    segments = ([{"id": 7, "category_id": 1, "iscrowd": 0, "area": 12}, {"id": 9, "category_id": 2, "iscrowd": 0,
                                                                        "area": 12}],
                [{"id": 7, "category_id": 1}, {"id": 9, "category_id": 2}])
    odd = fastpq.PanopticQuality(TWO_CATEGORIES)
    odd.update(layout(gt.astype(dtype)), layout(pred.astype(dtype)), *segments)
    assert odd.compute().to_dict() == plain.compute().to_dict()
    with pytest.raises(ValueError, match=refused):
        _core.evaluate_id_maps(layout(gt.astype(dtype))[None], pred.astype(dtype)[None], [0, 0], [], [], [], [],
                               [0, 0], [], [], 2)


def test_empty_arrays_at_an_odd_address_are_not_refused():
    """numpy counts a zero-size array as aligned wherever it points, so none is refused as unaligned."""
    empty = np.frombuffer(bytes(17), np.uint32, count=0, offset=1).reshape(0, 3, 4)
    assert empty.flags.aligned and empty.ctypes.data % 4 == 1
    out = _core.evaluate_id_maps(empty, np.zeros((0, 3, 4), np.uint32), [0], [], [], [], [], [0], [], [], 2)
    assert out["tp"] == [0, 0] and out["failure"] is None
    lut = np.arange(3, dtype=np.int32)
    labels = np.frombuffer(bytes(17), np.int32, count=0, offset=1).reshape(0, 3)
    assert _core.semantic_confusion([labels], [np.zeros((0, 3), np.int32)], None, lut, lut, -2, -2, 3, 3)["pixels"] == 0
