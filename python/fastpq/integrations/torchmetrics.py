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

import sys
import warnings
from typing import Any, Collection, List, Optional, Set, Tuple

import numpy as np

from .. import _core

__all__ = ["panoptic_quality", "modified_panoptic_quality", "panoptic_quality_stats", "panoptic_quality_compute"]

Stats = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

_MAX_ID = (1 << 24) - 1  # ids of fastpq's joint histogram lie in [0, 2^24)
_LUT_SPAN = 1 << 16  # categories spanning at most this many values are looked up in a table


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


# ---------------------------------------------------------------------------
# Checks, as torchmetrics makes them


def _parse_categories(things: Collection[int], stuffs: Collection[int]) -> Tuple[Set[int], Set[int]]:
    """torchmetrics' ``_parse_categories``: the same warnings, errors and messages."""
    things_parsed = set(things)
    if len(things_parsed) < len(things):
        warnings.warn("The provided `things` categories contained duplicates, which have been removed.",
                      UserWarning, stacklevel=3)
    stuffs_parsed = set(stuffs)
    if len(stuffs_parsed) < len(stuffs):
        warnings.warn("The provided `stuffs` categories contained duplicates, which have been removed.",
                      UserWarning, stacklevel=3)
    if not all(isinstance(val, int) for val in things_parsed):
        raise TypeError(f"Expected argument `things` to contain `int` categories, but got {things}")
    if not all(isinstance(val, int) for val in stuffs_parsed):
        raise TypeError(f"Expected argument `stuffs` to contain `int` categories, but got {stuffs}")
    if things_parsed & stuffs_parsed:
        raise ValueError(
            f"Expected arguments `things` and `stuffs` to have distinct keys, but got {things} and {stuffs}")
    if not (things_parsed | stuffs_parsed):
        raise ValueError("At least one of `things` and `stuffs` must be non-empty.")
    return things_parsed, stuffs_parsed


def _validate_inputs(preds: Any, target: Any) -> Tuple[np.ndarray, np.ndarray]:
    """torchmetrics' ``_validate_inputs`` (numpy arrays accepted too); returns both maps as int64 numpy arrays."""
    for name, value in (("preds", preds), ("target", target)):
        if not (isinstance(value, np.ndarray) or _is_torch_tensor(value)):
            raise TypeError(f"Expected argument `{name}` to be of type `torch.Tensor` (or a numpy array), "
                            f"but got {type(value)}")
    if tuple(preds.shape) != tuple(target.shape):
        raise ValueError(
            f"Expected argument `preds` and `target` to have the same shape, but got {preds.shape} and {target.shape}")
    if len(preds.shape) < 3:
        raise ValueError(
            f"Expected argument `preds` to have at least one spatial dimension (B, *spatial_dims, 2), got {preds.shape}")
    if preds.shape[-1] != 2:
        raise ValueError(
            "Expected argument `preds` to have exactly 2 channels in the last dimension (category, instance), "
            f"got {preds.shape} instead")
    return _as_int64(preds, "preds"), _as_int64(target, "target")


def _as_int64(value: Any, name: str) -> np.ndarray:
    array = np.asarray(_to_numpy(value))
    if array.dtype == np.int64:
        return array
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        if array.dtype == np.uint64 and array.size and int(array.max()) > np.iinfo(np.int64).max:
            raise ValueError(f"`{name}` holds values beyond the int64 range")
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array).all() and bool(np.all(array == np.floor(array)))
        if not finite or (array.size and np.abs(array).max() >= 2.0 ** 63):
            raise ValueError(f"`{name}` must hold integer category and instance ids")
        return array.astype(np.int64)
    raise TypeError(f"`{name}` must hold integer category and instance ids, not {array.dtype}")


def _unknown_pairs(original: Any, flat: np.ndarray, unknown: np.ndarray) -> Any:
    """The (category, instance) pairs torchmetrics lists in its unknown-category error."""
    if _is_torch_tensor(original):
        torch = sys.modules["torch"]
        pairs = original.detach().cpu().reshape(flat.shape)
        return pairs[torch.from_numpy(unknown)]
    return np.asarray(original).reshape(flat.shape)[unknown]


# ---------------------------------------------------------------------------
# Encoding (category, instance) pairs to the histogram's ids


class _CategoryTable:
    """Known categories: code 0 for void, 1 + index in sorted(things ∪ stuffs) otherwise."""

    def __init__(self, thing_ids: List[int], stuff_ids: List[int]):
        self.sorted_ids = np.array(sorted(thing_ids + stuff_ids), dtype=np.int64)
        n = len(self.sorted_ids)
        # per code (0 = void): continuous class id (torchmetrics' order), stuff or thing
        self.class_of_code = np.full(n + 1, -1, dtype=np.int64)
        self.stuff_of_code = np.zeros(n + 1, dtype=bool)
        continuous = {c: i for i, c in enumerate(thing_ids)}
        continuous.update({c: len(thing_ids) + i for i, c in enumerate(stuff_ids)})
        stuff = set(stuff_ids)
        for code, cat in enumerate(self.sorted_ids.tolist(), start=1):
            self.class_of_code[code] = continuous[cat]
            self.stuff_of_code[code] = cat in stuff
        self.thing_of_code = ~self.stuff_of_code
        self.thing_of_code[0] = False
        self.code_dtype = np.uint8 if n < 255 else np.int64
        self.low = int(self.sorted_ids[0])
        span = int(self.sorted_ids[-1]) - self.low + 1
        self.lut: Optional[np.ndarray] = None
        if span <= _LUT_SPAN:
            # index category - (low - 1), clipped to [0, span + 1]: both ends are void
            self.lut = np.zeros(span + 2, dtype=self.code_dtype)
            self.lut[self.sorted_ids - self.low + 1] = np.arange(1, n + 1)

    def codes(self, categories: np.ndarray) -> np.ndarray:
        """Category code of each pixel (0 for categories in neither set), uint8 when they fit."""
        if self.lut is not None:
            index = np.clip(categories, self.low - 1, self.low + len(self.lut) - 2)
            np.subtract(index, self.low - 1, out=index)
            return self.lut[index]
        index = np.searchsorted(self.sorted_ids, categories)
        found = self.sorted_ids[np.minimum(index, len(self.sorted_ids) - 1)] == categories
        return np.where(found, index + 1, 0).astype(self.code_dtype)


def _image_histogram(pred: np.ndarray, target: np.ndarray, plane: Tuple[int, int],
                     categories: _CategoryTable) -> Tuple[Tuple[np.ndarray, np.ndarray, np.ndarray], Any, Any, bool]:
    """The joint histogram of one image's colours, torchmetrics' way: void (categories in neither
    set) is colour id 0, a stuff's instance id is ignored, and colour ids follow the order of the
    (category, instance) colours. Also the category code of each colour id, per side, and whether
    the prediction holds an unknown category.

    Usually the raw (category, instance) pairs fit 24-bit ids: then the pixels are counted as they
    are and void and stuff are folded on the histogram's entries, which are few. Otherwise each
    pixel's colour is normalised first (``_encode``)."""
    raw_pred, raw_target = _raw_ids(pred), _raw_ids(target)
    if raw_pred is not None and raw_target is not None:
        g, p, counts = _core.joint_histogram(raw_target[0].reshape(plane), raw_pred[0].reshape(plane))
        g_distinct, g_index = np.unique(g, return_inverse=True)
        p_distinct, p_index = np.unique(p, return_inverse=True)
        g_colour, gt_decoder, _ = _colours(g_distinct, raw_target[1], categories)
        p_colour, pred_decoder, pred_unknown = _colours(p_distinct, raw_pred[1], categories)
        # entries of raw pairs that fold onto the same pair of colours are added up
        keys = g_colour[g_index] * len(pred_decoder) + p_colour[p_index]
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        merged = np.zeros(len(unique_keys), dtype=np.int64)
        np.add.at(merged, inverse, counts.astype(np.int64))
        return (unique_keys // len(pred_decoder), unique_keys % len(pred_decoder), merged), \
            gt_decoder, pred_decoder, pred_unknown
    pred_codes = categories.codes(pred[:, 0])
    pred_ids, pred_decoder = _encode(pred_codes, pred[:, 1], categories)
    gt_ids, gt_decoder = _encode(categories.codes(target[:, 0]), target[:, 1], categories)
    hist = _core.joint_histogram(gt_ids.reshape(plane), pred_ids.reshape(plane))
    return hist, gt_decoder, pred_decoder, not pred_codes.all()


def _raw_ids(pairs: np.ndarray) -> Optional[Tuple[np.ndarray, Tuple[int, int, int]]]:
    """Injective uint32 ids < 2^24 of the raw (category, instance) pairs of one image's (N, 2)
    pixels, ``(category - c_lo) * i_span + (instance - i_lo)``, and ``(c_lo, i_lo, i_span)``; None
    when the values spread too wide for that."""
    low, high = int(pairs.min()), int(pairs.max())
    if low >= 0 and (high + 1) ** 2 <= _MAX_ID + 1:
        c_lo, i_lo, i_span = 0, 0, high + 1
    else:
        category, instance = pairs[:, 0], pairs[:, 1]
        c_lo, i_lo = int(category.min()), int(instance.min())
        i_span = int(instance.max()) - i_lo + 1
        if (int(category.max()) - c_lo + 1) * i_span > _MAX_ID + 1:
            return None
    ids = pairs[:, 0] * i_span  # int64 arithmetic wraps around, but the final ids are exact
    ids += pairs[:, 1]
    offset = (c_lo * i_span + i_lo + (1 << 63)) % (1 << 64) - (1 << 63)
    if offset:
        ids -= np.int64(offset)
    return ids.astype(np.uint32), (c_lo, i_lo, i_span)


def _colours(raw: np.ndarray, decoder: Tuple[int, int, int], categories: _CategoryTable
             ) -> Tuple[np.ndarray, np.ndarray, bool]:
    """For the distinct raw ids of one side: the colour id of each (0 for void, then in (category,
    instance) order, stuff instances set to 0), the category code of each colour id, and whether
    any raw id has an unknown category."""
    c_lo, i_lo, i_span = decoder
    raw = raw.astype(np.int64)
    code = categories.codes(raw // i_span + c_lo)
    instance = np.where(categories.thing_of_code[code], raw % i_span + i_lo, 0)
    order = np.lexsort((instance, code))
    c, v = code[order], instance[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (v[1:] != v[:-1])
    void_first = bool(c[0] == 0)
    colour = np.empty(len(order), dtype=np.int64)
    colour[order] = np.cumsum(new) - (1 if void_first else 0)
    code_of_colour = c[new] if void_first else np.concatenate([[0], c[new]])
    return colour, np.asarray(code_of_colour, dtype=np.int64), void_first


def _encode(codes: np.ndarray, instances: np.ndarray, categories: _CategoryTable) -> Tuple[np.ndarray, Any]:
    """uint32 ids in [0, 2^24) of one image's pixels, 0 for void, ordered like the (category,
    instance) colours (stuff instance ids set to 0 first, as torchmetrics does), and how to get
    back the category code of an id: an int ``span`` (code = id // span) or an array indexed by id."""
    thing = categories.thing_of_code[codes]
    low = min(int(np.min(instances, where=thing, initial=0)), 0)
    span = int(np.max(instances, where=thing, initial=0)) - low + 1
    n_codes = len(categories.class_of_code)
    if n_codes * span <= _MAX_ID + 1:
        # id = code * span + (instance - low), a stuff's instance taken as 0; void (code 0) is 0
        base = np.arange(n_codes, dtype=np.int64) * span - low
        base[0] = 0
        ids = base[codes]
        np.add(ids, instances, out=ids, where=thing)
        return ids.astype(np.uint32), span
    live = codes != 0
    codes = codes.astype(np.int64)
    inst = np.where(thing, instances, 0)
    if n_codes * span < (1 << 62):
        keys = np.where(live, codes * span + (inst - low), -1)
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        void_first = bool(unique_keys[0] == -1)
        ids = inverse.reshape(codes.shape) + (0 if void_first else 1)
        key_codes = np.where(unique_keys >= 0, unique_keys // span, 0)
        id_code = key_codes if void_first else np.concatenate([[0], key_codes])
    else:  # instance ids spanning nearly the whole int64 range: rank (code, instance) pairs by sorting
        order = np.lexsort((inst, codes))
        c, v = codes[order], inst[order]
        new = np.ones(len(order), dtype=bool)
        new[1:] = (c[1:] != c[:-1]) | (v[1:] != v[:-1])
        void_first = bool(c[0] == 0)
        ids = np.empty(len(order), dtype=np.int64)
        ids[order] = np.cumsum(new) - (1 if void_first else 0)
        id_code = c[new] if void_first else np.concatenate([[0], c[new]])
    if len(id_code) - 1 > _MAX_ID:
        raise ValueError("more than 2^24 - 1 distinct (category, instance) pairs in one image")
    return ids.astype(np.uint32), np.asarray(id_code, dtype=np.int64)


def _code_of(ids: np.ndarray, decoder: Any) -> np.ndarray:
    """Category codes of histogram ids, given ``_encode``'s decoder."""
    if isinstance(decoder, int):
        return ids // decoder
    return decoder[ids]


# ---------------------------------------------------------------------------
# One image: torchmetrics' _panoptic_quality_update_sample on the joint histogram


def _image_stats(hist: Tuple[np.ndarray, np.ndarray, np.ndarray], gt_decoder: Any, pred_decoder: Any,
                 categories: _CategoryTable, n_classes: int, modified: bool) -> Stats:
    g, p, counts = hist
    g = g.astype(np.int64)
    p = p.astype(np.int64)
    counts = counts.astype(np.int64)
    iou_sum = np.zeros(n_classes, dtype=np.float64)
    tp = np.zeros(n_classes, dtype=np.int32)
    fp = np.zeros(n_classes, dtype=np.int32)
    fn = np.zeros(n_classes, dtype=np.int32)

    # segments of each side: areas and the part lying on the other side's void
    gt_segments, gt_index = np.unique(g, return_inverse=True)
    pred_segments, pred_index = np.unique(p, return_inverse=True)
    gt_area = np.bincount(gt_index, weights=counts, minlength=len(gt_segments)).astype(np.int64)
    pred_area = np.bincount(pred_index, weights=counts, minlength=len(pred_segments)).astype(np.int64)
    gt_on_void = np.bincount(gt_index, weights=np.where(p == 0, counts, 0), minlength=len(gt_segments)).astype(np.int64)
    pred_on_void = np.bincount(pred_index, weights=np.where(g == 0, counts, 0),
                               minlength=len(pred_segments)).astype(np.int64)

    # candidate pairs: both non-void, same category
    g_code = _code_of(g, gt_decoder)
    p_code = _code_of(p, pred_decoder)
    same = (g != 0) & (p != 0) & (g_code == p_code)
    gi, pi, inter = gt_index[same], pred_index[same], counts[same]
    union = pred_area[pi] - pred_on_void[pi] + gt_area[gi] - gt_on_void[gi] - inter
    real = _default_float()
    iou = inter.astype(real) / union.astype(real)  # torch: int64 / int64 -> the default dtype, float32
    code = g_code[same]
    cls = categories.class_of_code[code]
    stuff_pair = categories.stuff_of_code[code] & modified  # modified PQ's rule for stuff
    matched = np.where(stuff_pair, iou > 0, iou > real(0.5))

    # IoU sums in torchmetrics' order: pairs sorted by (pred colour, target colour)
    order = np.lexsort((g[same], p[same]))
    order = order[matched[order]]
    np.add.at(iou_sum, cls[order], iou[order].astype(np.float64))
    thing_match = matched & ~stuff_pair
    np.add.at(tp, cls[thing_match], 1)

    gt_matched = np.zeros(len(gt_segments), dtype=bool)
    gt_matched[gi[thing_match]] = True
    pred_matched = np.zeros(len(pred_segments), dtype=bool)
    pred_matched[pi[thing_match]] = True

    gt_segment_code = _code_of(gt_segments, gt_decoder)
    gt_cls = categories.class_of_code[gt_segment_code]
    gt_stuff = categories.stuff_of_code[gt_segment_code] & modified
    live_gt = gt_segments != 0
    mostly_predicted = (gt_on_void.astype(real) / gt_area.astype(real)) <= real(0.5)
    np.add.at(fn, gt_cls[live_gt & ~gt_matched & mostly_predicted & ~gt_stuff], 1)
    if modified:
        np.add.at(tp, gt_cls[live_gt & gt_stuff], 1)  # the number of target stuff segments

    pred_segment_code = _code_of(pred_segments, pred_decoder)
    pred_cls = categories.class_of_code[pred_segment_code]
    pred_stuff = categories.stuff_of_code[pred_segment_code] & modified
    live_pred = pred_segments != 0
    mostly_labelled = (pred_on_void.astype(real) / pred_area.astype(real)) <= real(0.5)
    np.add.at(fp, pred_cls[live_pred & ~pred_matched & mostly_labelled & ~pred_stuff], 1)
    return iou_sum, tp, fp, fn


# ---------------------------------------------------------------------------
# Final step, in torchmetrics' dtypes


def _finish(stats: Stats, return_sq_and_rq: bool, return_per_class: bool, torch_device: Any) -> Any:
    if torch_device is not None:
        return _finish_torch(stats, return_sq_and_rq, return_per_class, torch_device)
    iou_sum, tp, fp, fn = stats
    real = _default_float()  # float32 unless torch's default dtype is float64
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.where(tp > 0, iou_sum / tp, 0.0)
        denominator = (tp.astype(real) + real(0.5) * fp.astype(real)) + real(0.5) * fn.astype(real)
        rq = np.where(denominator > 0, tp.astype(real) / denominator, real(0.0)).astype(real)
    pq = sq * rq.astype(np.float64)
    if return_per_class:
        if return_sq_and_rq:
            return np.stack((pq, sq, rq.astype(np.float64)), axis=-1)
        return pq.reshape(1, -1)
    present = denominator > 0
    pq_avg = _torch_mean(pq[present])
    if return_sq_and_rq:
        return np.array([pq_avg, _torch_mean(sq[present]), float(_torch_mean(rq[present]))], dtype=np.float64)
    return np.asarray(pq_avg, dtype=np.float64)


def _finish_torch(stats: Stats, return_sq_and_rq: bool, return_per_class: bool, device: Any) -> Any:
    """torchmetrics' ``_panoptic_quality_compute`` and output selection, verbatim, in torch."""
    torch = sys.modules["torch"]
    iou_sum = torch.from_numpy(np.ascontiguousarray(stats[0], dtype=np.float64))
    true_positives, false_positives, false_negatives = (
        torch.from_numpy(np.ascontiguousarray(s, dtype=np.int32)) for s in stats[1:])
    sq = torch.where(true_positives > 0.0, iou_sum / true_positives, 0.0)
    denominator = true_positives + 0.5 * false_positives + 0.5 * false_negatives
    rq = torch.where(denominator > 0.0, true_positives / denominator, 0.0)
    pq = sq * rq
    if return_per_class:
        out = torch.stack((pq, sq, rq), dim=-1) if return_sq_and_rq else pq.view(1, -1)
    else:
        pq_avg = torch.mean(pq[denominator > 0])
        out = pq_avg
        if return_sq_and_rq:
            out = torch.stack((pq_avg, torch.mean(sq[denominator > 0]), torch.mean(rq[denominator > 0])), dim=0)
    return out.to(device)


def _torch_mean(values: np.ndarray) -> Any:
    """``torch.mean`` of a 1-D float32 / float64 CPU tensor, bit for bit: torch's sum, then / n."""
    dtype = values.dtype.type
    if not len(values):
        # torch divides its sum 0 by the count 0 at run time: the machine's default NaN, whose
        # sign bit is set on x86 (-NaN); numpy's np.nan is +NaN, which differs in its bytes.
        with np.errstate(invalid="ignore"):
            return dtype(dtype(0) / dtype(0))
    return dtype(_torch_sum(values) / dtype(len(values)))


def _torch_sum(x: np.ndarray) -> Any:
    """torch's CPU sum of a contiguous 1-D float tensor (aten/native/cpu/SumKernel.cpp, cascade_sum):
    over 32-byte vectors when there are enough elements (4 interleaved vector accumulators, then
    the scalar tail, then the lanes), else over scalars with 4 interleaved accumulators."""
    dtype = x.dtype.type
    width = 32 // x.dtype.itemsize
    n = len(x)
    if n >= width:
        whole = n // width
        lanes = _row_sum(x[:whole * width].reshape(whole, width), np.zeros(width, dtype=x.dtype))
        total = dtype(0)
        for k in range(whole * width, n):
            total = dtype(total + x[k])
        for k in range(width):
            total = dtype(total + lanes[k])
        return total
    return _row_sum(x, dtype(0))


def _row_sum(rows: np.ndarray, zero: Any) -> Any:
    """torch's ``row_sum``: ``multi_row_sum`` with 4 interleaved accumulators, then the tail."""
    def fresh() -> Any:
        return zero.copy() if isinstance(zero, np.ndarray) else zero

    n = len(rows)
    ilp, levels = 4, 4
    size = n // ilp
    level_power = max(4, (0 if size <= 1 else (size - 1).bit_length()) // levels)
    level_step = 1 << level_power
    level_mask = level_step - 1
    acc = [[fresh() for _ in range(ilp)] for _ in range(levels)]
    i = 0
    while i + level_step <= size:
        for _ in range(level_step):
            for k in range(ilp):
                acc[0][k] = acc[0][k] + rows[i * ilp + k]
            i += 1
        for j in range(1, levels):
            for k in range(ilp):
                acc[j][k] = acc[j][k] + acc[j - 1][k]
                acc[j - 1][k] = fresh()
            if i & (level_mask << (j * level_power)):
                break
    while i < size:
        for k in range(ilp):
            acc[0][k] = acc[0][k] + rows[i * ilp + k]
        i += 1
    for j in range(1, levels):
        for k in range(ilp):
            acc[0][k] = acc[0][k] + acc[j][k]
    partial = acc[0]
    for t in range(size * ilp, n):
        partial[0] = partial[0] + rows[t]
    for k in range(1, ilp):
        partial[0] = partial[0] + partial[k]
    return partial[0]


# ---------------------------------------------------------------------------
# torch, only when given


def _default_float() -> Any:
    """numpy's type for torch's default float dtype: float64 if torch is imported and its default
    dtype is float64, else float32 (torch's default; float16 / bfloat16 defaults are not followed)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_default_dtype() == torch.float64:
        return np.float64
    return np.float32


def _is_torch_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _torch_device(*values: Any) -> Any:
    """The device of the first torch tensor among ``values``, or None when there is none."""
    for value in values:
        if _is_torch_tensor(value):
            return value.device
    return None


def _to_numpy(value: Any) -> Any:
    if _is_torch_tensor(value):
        return value.detach().cpu().numpy()
    return value
