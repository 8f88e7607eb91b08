"""torchmetrics-equal panoptic quality: ``panoptic_quality`` and ``modified_panoptic_quality``.

Drop-ins for ``torchmetrics.functional.detection.panoptic_quality`` and
``modified_panoptic_quality`` (torchmetrics 1.x, checked against 1.9 with torch 2.13 CPU) that give
the same numbers, bit for bit, from numpy code and fastpq's C++ joint histogram
(``fastpq._core.joint_histogram``) instead of torch's ``unique`` over pixel rows and a Python loop.

These are torchmetrics' rules, which are *not* panopticapi's (use :func:`fastpq.evaluate` or
:class:`fastpq.PanopticQuality` for those):

* Inputs are (category, instance) pair maps of shape ``(B, *spatial, 2)``. The first axis is
  always the batch axis and every other axis but the last is flattened, so a ``(H, W, 2)`` map is
  scored, as by torchmetrics, as ``H`` one-row images: give ``(1, H, W, 2)`` for one image.
  Segments are never matched across images of a batch.
* The instance id of a pixel whose category is in ``stuffs`` is ignored (each stuff category is
  one segment per image). Pixels whose category is in neither ``things`` nor ``stuffs`` are void:
  always in the target; in the predictions only with ``allow_unknown_preds_category=True``, which
  otherwise raises ``ValueError("Unknown categories found: ...")``. There is no crowd.
* A predicted and a target segment of the same category match when their IoU is > 0.5, with
  ``union = |p| - |p ∩ target void| + |t| - |prediction void ∩ t| - |p ∩ t|``: void is taken out
  on *both* sides (panopticapi takes out only the target's void).
* A target segment left unmatched is a false negative unless more than half of it is predicted
  void; a predicted segment left unmatched is a false positive unless more than half of it lies on
  target void (ratios compared with 0.5 in float32, as torchmetrics does).
* Modified PQ (PQ-dagger, Porzi et al., "Seamless Scene Segmentation"): things as above; for a
  stuff category, every (prediction, target) pair of that category with IoU > 0 adds its IoU, the
  number of target segments of that category is the TP count, and no FP / FN is counted, so its
  PQ is the IoU sum over the number of target segments.
* Per class: ``sq = iou_sum / tp`` (0 without TP), ``rq = tp / (tp + fp/2 + fn/2)`` (0 when the
  denominator is 0), ``pq = sq * rq``. A class with no segment at all has pq = sq = rq = 0 in the
  per-class output and is left out of the averages; with no such class at all the averages are NaN.
  Classes are ordered things first, then stuffs, each numerically sorted.

Where torchmetrics computes in float32 (torch's default dtype; float64 if ``torch.set_default_dtype``
made it so, and then so does this module), so does this module, so that every output equals
torchmetrics' exactly, not only to 1e-12:

* each IoU is ``float32(intersection) / float32(union)`` (torch divides two int64 tensors into the
  default float dtype); the match test ``iou > 0.5`` and the void-ratio tests use those float32
  values. The IoU sums are float64 sums of the float32 IoUs, added in torchmetrics' order (per
  image by (prediction colour, target colour), then image by image). (For images of fewer than
  2^24 pixels the float32 rounding never changes a match or void test, but it does change the IoU
  values, by up to 3e-8 each.)
* ``rq`` per class is float32: ``tp + 0.5 * fp + 0.5 * fn`` and ``tp / denominator`` are float32
  operations; ``pq = sq * rq`` is float64 of that float32 ``rq``.
* the average ``rq`` is a float32 mean; the average ``pq`` and ``sq`` are float64 means. A mean is
  torch's CPU sum (a cascade of 4 interleaved accumulators over 32-byte vectors, then the lanes)
  divided by the count. With torch tensors as inputs the final step runs in torch itself; with
  numpy inputs it is reproduced in numpy (checked against torch 2.13's AVX2 and AVX-512 CPU
  kernels, which both reduce over 32-byte vectors).

How: for each image, the (category, instance) pairs of each side usually fit 24-bit ids as they
are (``(category - min) * instance_span + (instance - min)``); the pixels are then counted by
``fastpq._core.joint_histogram`` in one pass, and void (unknown categories) and stuff (instance
ids ignored) are folded afterwards on the histogram's entries, which are few. When the values
spread too wide, each pixel's colour is first normalised to a dense id. The matching then runs on
the histogram with numpy.

Inputs and outputs: ``preds`` and ``target`` may be torch tensors (any device; moved to the CPU
for counting) or numpy arrays, of an integer type (or floats holding integers). If either is a
torch tensor the result is a float64 torch tensor on ``preds``' device, as torchmetrics returns;
otherwise a float64 numpy array of the same shape (0-d for a single value). This module never
imports torch: it uses torch only when it is handed torch tensors (or to read its default dtype
when something else imported it).

Differences from torchmetrics: numpy arrays are accepted where torchmetrics raises ``TypeError``;
maps of narrow types (uint8) are widened to int64 first, where torchmetrics raises ``RuntimeError``
when its void colour ``(max category + 1, 0)`` overflows them (uint8 maps with category 255 in
``things`` or ``stuffs``); float maps must hold integers (``ValueError`` otherwise).

To accumulate over batches like the ``PanopticQuality`` / ``ModifiedPanopticQuality`` modules,
add up :func:`panoptic_quality_stats` of each batch and finish with :func:`panoptic_quality_compute`.
"""

from __future__ import annotations

from typing import Any, Collection

import numpy as np

from .torchmetrics_finish import Stats, _finish, _to_numpy, _torch_device
from .torchmetrics_image import (_CategoryTable, _image_histogram, _image_stats, _parse_categories, _unknown_pairs,
                                 _validate_inputs)

__all__ = ["panoptic_quality", "modified_panoptic_quality", "panoptic_quality_stats", "panoptic_quality_compute"]


# ---------------------------------------------------------------------------
# Public API


def panoptic_quality(preds: Any, target: Any, things: Collection[int], stuffs: Collection[int],
                     allow_unknown_preds_category: bool = False, return_sq_and_rq: bool = False,
                     return_per_class: bool = False) -> Any:
    """Panoptic quality exactly as ``torchmetrics.functional.detection.panoptic_quality`` computes it.

    Args:
        preds: predicted (category, instance) pairs, ``(B, *spatial, 2)`` (torch tensor or numpy).
        target: ground-truth pairs of the same shape.
        things: category ids of countable things (a collection of ``int``).
        stuffs: category ids of stuff (instance ids ignored).
        allow_unknown_preds_category: treat predicted categories in neither set as void instead of
            raising ``ValueError``.
        return_sq_and_rq: also return segmentation and recognition quality.
        return_per_class: per-class values instead of the average over classes that have segments.

    Returns:
        float64, like torchmetrics: the average PQ (0-d); ``[pq, sq, rq]`` averages (shape (3,));
        per-class PQ (shape (1, C)); or per-class ``[pq, sq, rq]`` rows (shape (C, 3)), classes
        ordered things then stuffs, each sorted. A torch tensor if ``preds`` or ``target`` is one,
        else a numpy array.

    Raises the errors torchmetrics raises (``TypeError`` / ``ValueError``, same messages) for bad
    categories, mismatched or malformed shapes and unknown predicted categories.
    """
    torch_device = _torch_device(preds, target)
    stats = panoptic_quality_stats(preds, target, things, stuffs, allow_unknown_preds_category)
    return _finish(stats, return_sq_and_rq, return_per_class, torch_device)


def modified_panoptic_quality(preds: Any, target: Any, things: Collection[int], stuffs: Collection[int],
                              allow_unknown_preds_category: bool = False) -> Any:
    """Modified panoptic quality (PQ-dagger) exactly as torchmetrics' ``modified_panoptic_quality``.

    Things are scored as in :func:`panoptic_quality`; a stuff category scores the sum of the IoUs of
    its (prediction, target) pairs with IoU > 0 over its number of target segments, with no false
    positive or negative. Returns the float64 average over classes (0-d), a torch tensor if
    ``preds`` or ``target`` is one, else a numpy array. Arguments and errors as
    :func:`panoptic_quality`.
    """
    torch_device = _torch_device(preds, target)
    stats = panoptic_quality_stats(preds, target, things, stuffs, allow_unknown_preds_category, modified=True)
    return _finish(stats, False, False, torch_device)


def panoptic_quality_stats(preds: Any, target: Any, things: Collection[int], stuffs: Collection[int],
                           allow_unknown_preds_category: bool = False, modified: bool = False) -> Stats:
    """The per-class sums torchmetrics' ``PanopticQuality.update`` adds to its state for one batch.

    Returns numpy ``(iou_sum, true_positives, false_positives, false_negatives)``: float64 and
    int32 arrays of length ``len(things) + len(stuffs)``, things then stuffs, each sorted. With
    ``modified=True``, ``ModifiedPanopticQuality``'s: for stuff classes the IoU sum of all pairs
    with IoU > 0 and the number of target segments in place of true positives. Sums of several
    batches (added element-wise, batch by batch) equal the module's state after those updates;
    :func:`panoptic_quality_compute` turns them into its ``compute()``.
    """
    things_set, stuffs_set = _parse_categories(things, stuffs)
    preds_array, target_array = _validate_inputs(preds, target)
    thing_ids = sorted(things_set)
    stuff_ids = sorted(stuffs_set)
    categories = _CategoryTable(thing_ids, stuff_ids)
    n_classes = len(thing_ids) + len(stuff_ids)

    batch = preds_array.shape[0]
    spatial = preds_array.shape[1:-1]
    points = int(np.prod(spatial, dtype=np.int64))
    rows = int(np.prod(spatial[:-1], dtype=np.int64)) if len(spatial) > 1 else 1
    plane = (rows, points // rows if rows else 0)  # any 2-D shape of the points gives the same histogram
    preds_flat = preds_array.reshape(batch, points, 2)
    target_flat = target_array.reshape(batch, points, 2)

    iou_sum = np.zeros(n_classes, dtype=np.float64)
    tp = np.zeros(n_classes, dtype=np.int32)
    fp = np.zeros(n_classes, dtype=np.int32)
    fn = np.zeros(n_classes, dtype=np.int32)
    if points == 0:
        return iou_sum, tp, fp, fn
    for b in range(batch):
        hist, gt_decoder, pred_decoder, pred_unknown = _image_histogram(preds_flat[b], target_flat[b], plane,
                                                                        categories)
        if pred_unknown and not allow_unknown_preds_category:
            unknown = np.stack([categories.codes(preds_flat[i, :, 0]) == 0 for i in range(batch)])
            raise ValueError(f"Unknown categories found: {_unknown_pairs(preds, preds_flat, unknown)}")
        image = _image_stats(hist, gt_decoder, pred_decoder, categories, n_classes, modified)
        iou_sum += image[0]
        tp += image[1]
        fp += image[2]
        fn += image[3]
    return iou_sum, tp, fp, fn


def panoptic_quality_compute(iou_sum: Any, true_positives: Any, false_positives: Any, false_negatives: Any,
                             return_sq_and_rq: bool = False, return_per_class: bool = False) -> Any:
    """torchmetrics' final step (``_panoptic_quality_compute`` and the output selection) on per-class sums.

    Takes what :func:`panoptic_quality_stats` returns (or the sums over several batches). For
    ``ModifiedPanopticQuality`` use the defaults (it returns only the average). Returns what
    :func:`panoptic_quality` returns for the same flags: torch tensors if the sums are torch
    tensors, numpy arrays otherwise.
    """
    device = _torch_device(iou_sum, true_positives)
    stats = tuple(np.asarray(_to_numpy(x)) for x in (iou_sum, true_positives, false_positives, false_negatives))
    stats = (stats[0].astype(np.float64), *(s.astype(np.int32) for s in stats[1:]))
    return _finish(stats, return_sq_and_rq, return_per_class, device)  # type: ignore[arg-type]


