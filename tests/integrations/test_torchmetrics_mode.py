"""fastpq.functional: torchmetrics' panoptic_quality / modified_panoptic_quality, number for number.

Every result is compared with torchmetrics (functional and the PanopticQuality /
ModifiedPanopticQuality modules) for exact equality: same shape, float64, same bits (NaN where
torchmetrics gives NaN). torchmetrics computes IoUs, rq and the rq average in float32; fastpq
reproduces those float32 operations, so nothing needs a tolerance.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import List, Tuple

import numpy as np
import pytest
import torch
import torchmetrics
from torchmetrics.functional.detection import modified_panoptic_quality as tm_modified_panoptic_quality
from torchmetrics.functional.detection import panoptic_quality as tm_panoptic_quality

from fastpq import functional as fpq
from fastpq.integrations.torchmetrics_finish import _torch_mean
from fastpq import synthetic

F32 = np.float32
SPEC = synthetic.DatasetSpec("torchmetrics", 40, 56, 12, 6)  # things 1 2 3 4 6 7, stuffs 11 .. 21
THINGS = set(SPEC.thing_ids)
STUFFS = set(SPEC.stuff_ids)
VOID_CATEGORY = 0  # in neither set: void in the target (and in the predictions when allowed)
UNKNOWN_CATEGORY = 99
FLAGS = [dict(), dict(return_sq_and_rq=True), dict(return_per_class=True),
         dict(return_sq_and_rq=True, return_per_class=True)]


# ---------------------------------------------------------------------------
# Helpers


def to_pairs(id_map: np.ndarray, segments: List[dict], rng: np.random.Generator, unknown_prob: float,
             small_instances: bool) -> np.ndarray:
    """(H, W, 2) int64 (category, instance) map of a synthetic panoptic image.

    Things get instance ids 1, 2, ... (``small_instances``) or keep their large random segment
    ids (< 2^24); stuff pixels get several instance ids per segment (torchmetrics must ignore
    them); id 0 and ids the segments do not list are void (category 0); with ``unknown_prob`` a
    segment's category is replaced by an unknown one.
    """
    ids, inverse = np.unique(id_map, return_inverse=True)
    category_of = {int(s["id"]): int(s["category_id"]) for s in segments}
    cats = np.array([category_of.get(int(i), VOID_CATEGORY) for i in ids], dtype=np.int64)
    unknown = rng.random(len(cats)) < unknown_prob
    cats[unknown & (cats != VOID_CATEGORY)] = UNKNOWN_CATEGORY
    category = cats[inverse.reshape(id_map.shape)]
    instance = inverse.reshape(id_map.shape).astype(np.int64) if small_instances else id_map.astype(np.int64)
    rows = np.arange(id_map.shape[0])[:, None] // 7
    stuff = np.isin(category, list(STUFFS))
    instance = np.where(stuff, instance + (3 if small_instances else 1000) * (rows % 3), instance)
    return np.stack([category, instance], axis=-1)


def scene_batch(seed: int, batch: int, unknown_prob: float = 0.0, small_instances: bool = True
                ) -> Tuple[np.ndarray, np.ndarray]:
    """(preds, target), each (batch, H, W, 2): synthetic scenes and their perturbed predictions."""
    rng = np.random.default_rng(seed)
    preds, target = [], []
    for i in range(batch):
        image = synthetic.generate_image(SPEC, i, seed)
        target.append(to_pairs(image.gt_id_map, image.gt_segments, rng, 0.0, small_instances))
        preds.append(to_pairs(image.pred_id_map, image.pred_segments, rng, unknown_prob, small_instances))
    return np.stack(preds), np.stack(target)


def reference(preds: np.ndarray, target: np.ndarray, modified: bool = False, **kwargs) -> np.ndarray:
    """torchmetrics' result as a numpy array."""
    fn = tm_modified_panoptic_quality if modified else tm_panoptic_quality
    out = fn(torch.from_numpy(preds), torch.from_numpy(target), **kwargs)
    assert out.dtype == torch.float64
    return out.numpy()


def assert_same(actual, expected) -> None:
    """Same shape, float64 and the same bits (NaN for NaN)."""
    if isinstance(actual, torch.Tensor):
        assert actual.dtype == torch.float64
        actual = actual.numpy()
    assert isinstance(actual, np.ndarray) and actual.dtype == np.float64
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert np.array_equal(actual, expected, equal_nan=True), (actual.tolist(), expected.tolist())


def check_both_input_kinds(preds: np.ndarray, target: np.ndarray, modified: bool = False, **kwargs) -> np.ndarray:
    """fastpq on numpy and on torch inputs equals torchmetrics; returns the result."""
    expected = reference(preds, target, modified, **kwargs)
    fn = fpq.modified_panoptic_quality if modified else fpq.panoptic_quality
    from_numpy = fn(preds, target, **kwargs)
    assert isinstance(from_numpy, np.ndarray)
    assert_same(from_numpy, expected)
    from_torch = fn(torch.from_numpy(preds), torch.from_numpy(target), **kwargs)
    assert isinstance(from_torch, torch.Tensor)
    assert_same(from_torch, expected)
    return expected


def pairs(*pixels: Tuple[int, int]) -> np.ndarray:
    """One image of one row, (1, 1, n, 2), from (category, instance) pixels."""
    return np.array(pixels, dtype=np.int64).reshape(1, 1, -1, 2)


# ---------------------------------------------------------------------------
# Synthetic scenes against torchmetrics


@pytest.mark.parametrize("small_instances", [True, False], ids=["small_instance_ids", "large_instance_ids"])
@pytest.mark.parametrize("flags", FLAGS, ids=["pq", "pq_sq_rq", "per_class", "per_class_sq_rq"])
def test_realistic_batches_equal_torchmetrics(flags, small_instances):
    preds, target = scene_batch(seed=1, batch=6, unknown_prob=0.1, small_instances=small_instances)
    assert (preds[..., 0] == UNKNOWN_CATEGORY).any() and (target[..., 0] == VOID_CATEGORY).any()
    check_both_input_kinds(preds, target, things=THINGS, stuffs=STUFFS, allow_unknown_preds_category=True, **flags)
    known = np.isin(preds[..., :1], list(THINGS | STUFFS))
    known_preds = np.where(known, preds, np.array([11, 0]))
    check_both_input_kinds(known_preds, target, things=THINGS, stuffs=STUFFS, **flags)


def test_modified_pq_equals_torchmetrics():
    for seed, small_instances in ((2, True), (3, False)):
        preds, target = scene_batch(seed=seed, batch=5, unknown_prob=0.1, small_instances=small_instances)
        check_both_input_kinds(preds, target, modified=True, things=THINGS, stuffs=STUFFS,
                               allow_unknown_preds_category=True)
    # stuff-only and thing-only category sets
    check_both_input_kinds(preds, target, modified=True, things=set(), stuffs=STUFFS,
                           allow_unknown_preds_category=True)
    check_both_input_kinds(preds, target, modified=True, things=THINGS, stuffs=set(),
                           allow_unknown_preds_category=True)


def test_category_subsets_and_lists():
    """Categories given as lists, subsets that turn many pixels void, ids in an odd order."""
    preds, target = scene_batch(seed=4, batch=4)
    for things, stuffs in (([7, 1, 3], [21, 11]), ([2], [13, 15, 17, 19]), ([1, 2, 3, 4, 6, 7, 1000], [11, 5000])):
        for flags in FLAGS:
            check_both_input_kinds(preds, target, things=things, stuffs=stuffs, allow_unknown_preds_category=True,
                                   **flags)


def test_modules_over_several_batches_equal_summed_stats():
    """PanopticQuality / ModifiedPanopticQuality over batches: state and compute() from summed stats."""
    from torchmetrics.detection import ModifiedPanopticQuality, PanopticQuality

    batches = [scene_batch(seed=10 + k, batch=3, unknown_prob=0.05) for k in range(4)]
    for modified in (False, True):
        modules = [ModifiedPanopticQuality(THINGS, STUFFS, allow_unknown_preds_category=True)] if modified else [
            PanopticQuality(THINGS, STUFFS, allow_unknown_preds_category=True, **flags) for flags in FLAGS]
        totals = None
        for preds, target in batches:
            for module in modules:
                module.update(torch.from_numpy(preds), torch.from_numpy(target))
            stats = fpq.panoptic_quality_stats(preds, target, THINGS, STUFFS, allow_unknown_preds_category=True,
                                               modified=modified)
            assert stats[0].dtype == np.float64 and all(s.dtype == np.int32 for s in stats[1:])
            totals = stats if totals is None else tuple(a + b for a, b in zip(totals, stats))
        module = modules[0]
        for ours, state in zip(totals, (module.iou_sum, module.true_positives, module.false_positives,
                                        module.false_negatives)):
            assert np.array_equal(ours, state.numpy())
        flag_sets = [dict()] if modified else FLAGS
        for module, flags in zip(modules, flag_sets):
            expected = module.compute().numpy()
            assert_same(fpq.panoptic_quality_compute(*totals, **flags), expected)
            assert_same(fpq.panoptic_quality_compute(*(torch.from_numpy(t) for t in totals), **flags), expected)


def test_batch_equals_sum_of_single_images():
    preds, target = scene_batch(seed=5, batch=4, unknown_prob=0.1)
    whole = fpq.panoptic_quality_stats(preds, target, THINGS, STUFFS, True)
    parts = [fpq.panoptic_quality_stats(preds[i:i + 1], target[i:i + 1], THINGS, STUFFS, True) for i in range(4)]
    summed = tuple(sum(p[k] for p in parts[1:]) + parts[0][k] for k in range(4))
    for a, b in zip(whole, summed):
        assert np.array_equal(a, b)


def test_other_layouts_dtypes_and_instance_ranges():
    preds, target = scene_batch(seed=6, batch=3, unknown_prob=0.1)
    kwargs = dict(things=THINGS, stuffs=STUFFS, allow_unknown_preds_category=True, return_sq_and_rq=True,
                  return_per_class=True)
    # (B, N, 2) point clouds and (B, D, H, W, 2) volumes: every axis but the first and last is flattened
    check_both_input_kinds(preds.reshape(3, -1, 2), target.reshape(3, -1, 2), **kwargs)
    check_both_input_kinds(preds.reshape(3, 4, 10, 56, 2), target.reshape(3, 4, 10, 56, 2), **kwargs)
    # a (H, W, 2) map is H one-row images, as torchmetrics has it
    check_both_input_kinds(preds[0], target[0], **kwargs)
    # narrow and float types
    check_both_input_kinds(preds.astype(np.int32), target.astype(np.int32), **kwargs)
    expected = reference(preds, target, **kwargs)
    assert_same(fpq.panoptic_quality(preds.astype(np.float64), target.astype(np.float32), **kwargs), expected)
    # small instance ids (fastpq counts the raw pairs), negative ones, huge ones (fastpq normalises
    # each pixel first: direct, np.unique-ranked and sort-ranked encodings)
    for transform in (lambda x: x % 5, lambda x: x % 7 - 3, lambda x: x * (1 << 30) - (1 << 40),
                      lambda x: x * (1 << 56) - (1 << 62)):
        p, t = preds.copy(), target.copy()
        p[..., 1], t[..., 1] = transform(p[..., 1]), transform(t[..., 1])
        check_both_input_kinds(p, t, **kwargs)
    # many categories, spread over a wide range (no lookup table), negative ones included
    wide = {c: c * 10**9 - 5 * 10**9 for c in THINGS | STUFFS | {VOID_CATEGORY, UNKNOWN_CATEGORY}}
    remap = np.vectorize(wide.get)
    p, t = preds.copy(), target.copy()
    p[..., 0], t[..., 0] = remap(p[..., 0]), remap(t[..., 0])
    check_both_input_kinds(p, t, things={wide[c] for c in THINGS}, stuffs={wide[c] for c in STUFFS},
                           allow_unknown_preds_category=True, return_per_class=True)
    with pytest.raises(ValueError, match="integer"):
        fpq.panoptic_quality(preds + 0.5, target, **kwargs)


def test_empty_inputs():
    empty = np.zeros((2, 0, 2), dtype=np.int64)
    check_both_input_kinds(empty, empty, things={1}, stuffs={2}, return_per_class=True, return_sq_and_rq=True)
    check_both_input_kinds(empty, empty, things={1}, stuffs={2})
    none = np.zeros((0, 3, 2), dtype=np.int64)
    check_both_input_kinds(none, none, things={1}, stuffs={2}, return_sq_and_rq=True)


# ---------------------------------------------------------------------------
# Hand-computed cases


def test_void_is_taken_out_of_the_union_on_both_sides_and_ious_are_float32():
    # target: thing (1, 1) on pixels 0-5, void (category 0) on pixels 6-7.
    # preds:  (1, 1) on 0-3 and 6, void on 4, stuff (2, 0) on 5 and 7.
    # thing 1: |p| = 5 of which 1 on target void, |t| = 6 of which 1 predicted void, |p ∩ t| = 4:
    #   union = 5 - 1 + 6 - 1 - 4 = 5, IoU = 4/5 in float32 = 0.800000011920928955078125 > 0.5: TP.
    #   (panopticapi's union, 5 + 6 - 4 - 1 = 6, would give 2/3.)
    # stuff 2: 2 pixels, 1 on target void: 1/2 <= 0.5, so a false positive; no target segment.
    # per class [pq, sq, rq]: thing 1 [0.8f, 0.8f, 1], stuff 2 [0, 0, 0] (denominator 0.5 > 0).
    target = pairs((1, 1), (1, 1), (1, 1), (1, 1), (1, 1), (1, 1), (0, 0), (0, 0))
    preds = pairs((1, 1), (1, 1), (1, 1), (1, 1), (0, 0), (2, 0), (1, 1), (2, 0))
    iou = float(F32(4) / F32(5))
    assert iou == 0.800000011920928955078125
    kwargs = dict(things={1}, stuffs={2}, allow_unknown_preds_category=True)
    result = check_both_input_kinds(preds, target, **kwargs, return_per_class=True, return_sq_and_rq=True)
    assert_same(result, [[iou, iou, 1.0], [0.0, 0.0, 0.0]])
    assert_same(check_both_input_kinds(preds, target, **kwargs), iou / 2)
    assert_same(check_both_input_kinds(preds, target, **kwargs, return_sq_and_rq=True), [iou / 2, iou / 2, 0.5])


def test_mostly_void_segments_are_neither_false_negatives_nor_false_positives():
    kwargs = dict(things={1}, stuffs={2}, allow_unknown_preds_category=True, return_per_class=True,
                  return_sq_and_rq=True)
    # target (1, 1) on 4 pixels, 3 predicted void, 1 predicted (1, 7): union = 1 + 4 - 3 - 1 = 1, IoU 1: TP.
    target = pairs((1, 1), (1, 1), (1, 1), (1, 1))
    assert_same(check_both_input_kinds(pairs((5, 0), (5, 0), (5, 0), (1, 7)), target, **kwargs),
                [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    # 3 of 4 predicted void, 1 predicted stuff: 3/4 > 0.5, not a FN; the stuff is a FP.
    # thing 1 has no TP / FP / FN (left out of the average), stuff 2 has pq 0.
    preds = pairs((5, 0), (5, 0), (5, 0), (2, 0))
    assert_same(check_both_input_kinds(preds, target, **kwargs), [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert_same(check_both_input_kinds(preds, target, things={1}, stuffs={2}, allow_unknown_preds_category=True,
                                       return_sq_and_rq=True), [0.0, 0.0, 0.0])
    # predicted (1, 3) on 3 pixels, 2 of them on target void: not a FP. Target stuff (2, 0) under its
    # third pixel is unmatched: a FN. Only stuff 2 counts: average pq 0.
    preds = pairs((1, 3), (1, 3), (1, 3))
    target = pairs((0, 0), (0, 0), (2, 0))
    assert_same(check_both_input_kinds(preds, target, things={1}, stuffs={2}), 0.0)
    assert np.array_equal(fpq.panoptic_quality_stats(preds, target, {1}, {2})[1:], [[0, 0], [0, 0], [0, 1]])


def test_iou_of_one_half_is_no_match_and_stuff_instances_are_ignored():
    # stuff 2: target instances 5 and 9 on pixels 0-3, predicted instance 1 on 0-3: one segment each, IoU 1.
    # thing 1: target (1, 5) on 4-5 and (1, 9) on 6-7, predicted (1, 0) on 4-7: IoU 2/4 = 0.5 each, not
    #   > 0.5: 2 FN and 1 FP, rq = 0 / (0 + 0.5 + 1) = 0.
    target = pairs((2, 5), (2, 5), (2, 9), (2, 9), (1, 5), (1, 5), (1, 9), (1, 9))
    preds = pairs((2, 1), (2, 1), (2, 1), (2, 1), (1, 0), (1, 0), (1, 0), (1, 0))
    result = check_both_input_kinds(preds, target, things={1}, stuffs={2}, return_per_class=True,
                                    return_sq_and_rq=True)
    assert_same(result, [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert np.array_equal(fpq.panoptic_quality_stats(preds, target, {1}, {2})[1:], [[0, 1], [1, 0], [2, 0]])


def test_modified_pq_by_hand():
    # things {1}, stuffs {2, 3}; two images of 4 pixels.
    # image 0: target 2 2 2 3, preds 2 2 3 3: stuff 2 IoU 2/3 (float32), stuff 3 IoU 1/2; each adds
    #          its IoU (any IoU > 0 counts) and 1 target segment.
    # image 1: target 2 2 2 2, preds 3 3 3 3: stuff 2 adds a target segment; stuff FPs are not counted.
    # stuff 2: (2/3)f / 2 segments; stuff 3: 0.5 / 1; thing 1 absent. Average of the two.
    target = np.array([[[2, 0], [2, 0], [2, 0], [3, 0]], [[2, 0], [2, 0], [2, 0], [2, 0]]])
    preds = np.array([[[2, 0], [2, 0], [3, 0], [3, 0]], [[3, 0], [3, 0], [3, 0], [3, 0]]])
    two_thirds = float(F32(2) / F32(3))
    expected = (two_thirds / 2 + 0.5) / 2
    assert_same(check_both_input_kinds(preds, target, modified=True, things={1}, stuffs={2, 3}), expected)
    # Standard PQ on the same maps: stuff 2 TP (2/3 > 0.5) in image 0, FN in image 1:
    #   sq = (2/3)f, rq = 1 / 1.5 = (2/3)f; stuff 3: IoU 1/2 is no match, 1 FN + 2 FP: 0.
    assert_same(check_both_input_kinds(preds, target, things={1}, stuffs={2, 3}), two_thirds * two_thirds / 2)


def test_rq_is_float32_and_its_average_a_float32_mean():
    # thing 1: (1, 1) predicted right (IoU 1, TP); (1, 2) predicted stuff: a FN. sq 1, rq = 1 / 1.5 in float32.
    # stuff 2: |p| = 4, |t| = 3, |p ∩ t| = 3: IoU 3/4, TP. sq 0.75, rq 1.
    # Averages: pq = (rq1 * 1 + 0.75) / 2, sq = (1 + 0.75) / 2, and rq the float32 mean
    # float32(float32(1 + rq1) / 2), which is not the float64 mean of the same float32 values.
    target = pairs((1, 1), (1, 2), (2, 0), (2, 0), (2, 0))
    preds = pairs((1, 1), (2, 0), (2, 0), (2, 0), (2, 0))
    rq1 = F32(1) / F32(1.5)
    rq_avg = float((rq1 + F32(1)) / F32(2))
    assert rq_avg != (float(rq1) + 1) / 2
    result = check_both_input_kinds(preds, target, things={1}, stuffs={2}, return_sq_and_rq=True)
    assert_same(result, [(float(rq1) + 0.75) / 2, 0.875, rq_avg])
    per_class = check_both_input_kinds(preds, target, things={1}, stuffs={2}, return_sq_and_rq=True,
                                       return_per_class=True)
    assert_same(per_class, [[float(rq1), 1.0, float(rq1)], [0.75, 0.75, 1.0]])


def test_classes_without_segments_score_zero_and_no_class_gives_nan():
    # Only stuff 2 has segments: thing 1 and stuff 3 are 0 per class and left out of the average.
    target = pairs((2, 0), (2, 0))
    preds = pairs((2, 0), (2, 0))
    assert_same(check_both_input_kinds(preds, target, things={1}, stuffs={2, 3}, return_per_class=True),
                [[0.0, 1.0, 0.0]])
    assert_same(check_both_input_kinds(preds, target, things={1}, stuffs={2, 3}), 1.0)
    # Everything void: every average is NaN.
    void = pairs((0, 0), (0, 0))
    assert_same(check_both_input_kinds(void, void, things={1}, stuffs={2}, allow_unknown_preds_category=True,
                                       return_sq_and_rq=True), [np.nan] * 3)
    assert_same(check_both_input_kinds(void, void, modified=True, things={1}, stuffs={2},
                                       allow_unknown_preds_category=True), np.nan)


def test_hw2_map_is_a_batch_of_rows():
    # (2, 2, 2): row 0 is an image with a TP, row 1 one where (1, 0) covers 1 of 2 target pixels (IoU 0.5).
    preds = np.array([[[1, 0], [1, 0]], [[1, 0], [2, 0]]])
    target = np.array([[[1, 0], [1, 0]], [[1, 0], [1, 0]]])
    kwargs = dict(things={1}, stuffs={2}, return_per_class=True, return_sq_and_rq=True)
    # thing 1: TP (IoU 1) + FN + FP: [1 * 1 / 2, 1, 1/2]; stuff 2: one FP.
    assert_same(check_both_input_kinds(preds, target, **kwargs), [[0.5, 1.0, 0.5], [0.0, 0.0, 0.0]])
    # as one image: (1, 0) covers 3 of 4 target pixels, IoU 3/4.
    assert_same(check_both_input_kinds(preds[None], target[None], **kwargs), [[0.75, 0.75, 1.0], [0.0, 0.0, 0.0]])


# ---------------------------------------------------------------------------
# Errors and warnings, as torchmetrics raises them


def raised(fn, *args, **kwargs) -> BaseException:
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    return info.value


@pytest.mark.parametrize("modified", [False, True])
def test_errors_equal_torchmetrics(modified):
    ours = fpq.modified_panoptic_quality if modified else fpq.panoptic_quality
    theirs = tm_modified_panoptic_quality if modified else tm_panoptic_quality
    good = torch.zeros((1, 2, 2, 2), dtype=torch.int64) + torch.tensor([1, 0])
    unknown = good.clone()
    unknown[0, 1, 0] = torch.tensor([7, 3])
    unknown[0, 1, 1] = torch.tensor([8, 4])
    cases = [
        (good, good, {1}, {1}),                 # things and stuffs overlap
        (good, good, {1.0}, {2}),                # non-int category
        (good, good, {1}, {"2"}),
        (good, good, set(), set()),              # no category
        (good, good, {np.int64(1)}, {2}),        # numpy integers are not int for torchmetrics either
        (good, good[:, :1], {1}, {2}),           # shapes differ
        (good[0, 0], good[0, 0], {1}, {2}),      # fewer than 3 dimensions
        (good[..., :1], good[..., :1], {1}, {2}),  # not 2 channels
        (unknown, good, {1}, {2}),               # unknown predicted categories
    ]
    for preds, target, things, stuffs in cases:
        expected = raised(theirs, preds, target, things, stuffs)
        for p, t in ((preds, target), (preds.numpy(), target.numpy())):
            error = raised(ours, p, t, things, stuffs)
            assert type(error) is type(expected)
            if isinstance(p, torch.Tensor):
                assert str(error) == str(expected)
    # unknown target categories are void, never an error
    assert_same(ours(good, unknown, {1}, {2}), theirs(good, unknown, {1}, {2}).numpy())
    with pytest.raises(TypeError, match="torch.Tensor"):
        ours([[[1, 0]]], [[[1, 0]]], {1}, {2})


def test_unknown_category_message_lists_the_pairs():
    preds = np.array([[[[1, 0], [9, 3]], [[9, 4], [2, 5]]]])
    target = np.array([[[[1, 0], [1, 0]], [[1, 0], [2, 5]]]])
    with pytest.raises(ValueError) as info:
        fpq.panoptic_quality(preds, target, {1}, {2})
    assert str(info.value) == f"Unknown categories found: {np.array([[9, 3], [9, 4]])}"


def test_duplicate_categories_warn():
    preds = target = np.ones((1, 2, 2), dtype=np.int64)
    for fn in (fpq.panoptic_quality, tm_panoptic_quality):
        p, t = (torch.from_numpy(preds), torch.from_numpy(target)) if fn is tm_panoptic_quality else (preds, target)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn(p, t, [1, 1], [2, 2])
        messages = sorted(str(w.message) for w in caught if issubclass(w.category, UserWarning))
        assert messages == ["The provided `stuffs` categories contained duplicates, which have been removed.",
                            "The provided `things` categories contained duplicates, which have been removed."]


# ---------------------------------------------------------------------------
# Internals: torch's float sums, and torch kept out


def test_float_means_equal_torch_bit_for_bit():
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        for n in list(range(0, 140)) + [255, 256, 257, 1000, 4097]:
            values = (rng.random(n) * rng.choice([1e-3, 1.0, 1e3], n)).astype(dtype)
            expected = torch.from_numpy(values).mean().item()
            actual = float(_torch_mean(values))
            assert actual == expected or (np.isnan(actual) and np.isnan(expected)), (dtype, n)


def test_float64_default_dtype_is_followed():
    """With torch's default dtype float64, torchmetrics' IoUs and rq are float64: so are fastpq's."""
    preds, target = scene_batch(seed=8, batch=3, unknown_prob=0.1)
    kwargs = dict(things=THINGS, stuffs=STUFFS, allow_unknown_preds_category=True)
    as_float32 = fpq.panoptic_quality(preds, target, **kwargs, return_sq_and_rq=True)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for flags in FLAGS:
            check_both_input_kinds(preds, target, **kwargs, **flags)
        as_float64 = check_both_input_kinds(preds, target, **kwargs, return_sq_and_rq=True)
        assert as_float64[0] != as_float32[0] and abs(as_float64[0] - as_float32[0]) < 1e-6
        check_both_input_kinds(preds, target, modified=True, **kwargs)
    finally:
        torch.set_default_dtype(previous)


def test_numpy_inputs_do_not_import_torch():
    code = ("import sys, numpy as np, fastpq.functional as f\n"
            "x = np.ones((1, 3, 3, 2), dtype=np.int64)\n"
            "r = f.panoptic_quality(x, x, {1}, {2}, return_sq_and_rq=True)\n"
            "assert isinstance(r, np.ndarray) and r.tolist() == [1.0, 1.0, 1.0], r\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_outputs_keep_the_device_and_torchmetrics_version():
    x = torch.ones((1, 3, 3, 2), dtype=torch.int64)
    out = fpq.panoptic_quality(x, x, {1}, {2}, return_per_class=True)
    assert out.device == x.device and out.shape == (1, 2)
    assert torchmetrics.__version__  # the reference these tests were written against: 1.9
