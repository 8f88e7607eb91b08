"""The per-image pass of fastpq.functional: torchmetrics' input checks, (category, instance) pairs
encoded to the joint histogram's ids, and one image's matches and sums, as
``_panoptic_quality_update_sample`` makes them."""

from __future__ import annotations

import sys
import warnings
from typing import Any, Collection, List, Optional, Set, Tuple

import numpy as np

from .. import _core

from .torchmetrics_finish import Stats, _default_float, _is_torch_tensor, _to_numpy

_MAX_ID = (1 << 24) - 1  # ids of fastpq's joint histogram lie in [0, 2^24)
_LUT_SPAN = 1 << 16  # categories spanning at most this many values are looked up in a table


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


