"""Panoptic quality over maps in memory: an evaluator with update / merge / compute.

One engine, two front doors: the same C++ histogram and matching as the file path. Given the
maps and segments of a COCO panoptic dataset, updated in its GT JSON order, ``compute()``
equals ``pq_compute`` exactly.
"""

from __future__ import annotations

import collections.abc
import threading
from typing import Any, Dict, List, Mapping, Sequence, Union

import numpy as np

from .. import _core
from ..io.dataset import Categories, SegmentTables, TableBuilder
from ..errors import AnnotationError, ImageSizeMismatchError, LimitExceededError
from ..io.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SEGMENTS_PER_IMAGE
from .evaluation import _failure_to_error, _image_rows
from .results import PanopticResult

Segments = Sequence[Mapping[str, Any]]
MAX_ID = (1 << 24) - 1  # the largest id a panoptic PNG can hold


# Element types the engine reads directly, without a converted copy.
_DIRECT_TYPES = {np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.int32, np.int64, np.uint64)}


def to_id_maps(maps: Any, what: str) -> "tuple[np.ndarray, bool]":
    """Turns id maps (H, W) / (N, H, W) or uint8 RGB(A) maps (H, W, 3) / (N, H, W, 3) into a
    C-contiguous, aligned (N, H, W) integer array, and says whether the input was a batch (had the N axis).

    Anything with the array protocol is accepted, CPU torch tensors included. Id maps of the
    common integer types are passed on without a copy; the engine checks that ids lie in
    [0, 2^24), the range a panoptic PNG can hold. A uint8 array whose last axis is 3 or 4 long is
    read as RGB(A): ``R + 256*G + 65536*B``.
    """
    array = np.asarray(maps)
    if array.dtype == np.uint8 and array.ndim in (3, 4) and array.shape[-1] in (3, 4):
        rgb = array[..., :3].astype(np.uint32)
        array = rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16)
    elif not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
        raise AnnotationError(f"{what} must hold integer ids or uint8 RGB, not {array.dtype}")
    if array.ndim not in (2, 3):
        raise AnnotationError(f"{what} must have shape (H, W) or (N, H, W), or (..., 3) for RGB; got {array.shape}")
    batch = array.ndim == 3
    dtype = array.dtype if array.dtype in _DIRECT_TYPES else np.dtype(np.int64)
    return np.require(array, dtype, ("C", "A")).reshape((-1,) + array.shape[-2:]), batch


class PanopticQuality:
    """Panoptic quality accumulated over images given as arrays.

    Args:
        categories: the COCO panoptic category list (dicts with ``id`` and ``isthing``).
        workers: threads scoring a batch in parallel; 0 uses every core.
        per_image: also keep per-image, per-category sums (``compute().per_image``).
        max_pixels: images with more pixels (height x width) are refused with LimitExceededError
            before anything is copied, as files are (an array view can claim any size).

    ``update`` is safe to call from several threads: each update holds a lock while the engine
    (which releases the GIL and is parallel over the batch) continues the running sums, so the
    sums are those of one pass in update order. The state is only per-category sums (plus the
    per-image rows when asked for): it pickles, and ``merge`` / ``+`` add states up, for example
    from other processes (then equal to one pass within rounding, 1e-12).
    """

    def __init__(self, categories: Sequence[Mapping[str, Any]], *, workers: int = 0, per_image: bool = False,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self.max_pixels = max_pixels
        self.categories = [dict(c) for c in categories]
        self._index = Categories.from_json({"categories": self.categories}, "the category list")
        self.workers = workers
        self.per_image = per_image
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forgets every update."""
        k = len(self._index)
        self._tp: List[int] = [0] * k
        self._fp: List[int] = [0] * k
        self._fn: List[int] = [0] * k
        self._iou: List[float] = [0.0] * k
        self._rows: List[Dict[str, Any]] = []
        self._images = 0

    @property
    def images(self) -> int:
        """Number of images scored so far."""
        return self._images

    def update(self, gt: Any, pred: Any, gt_segments: Union[Segments, Sequence[Segments], None] = None,
               pred_segments: Union[Segments, Sequence[Segments], None] = None,
               image_id: Union[Any, Sequence[Any], None] = None) -> None:
        """Scores one image (maps (H, W) or (H, W, 3)) or a batch ((N, H, W) or (N, H, W, 3)).

        ``gt_segments`` / ``pred_segments`` are COCO ``segments_info`` lists, one per image for a
        batch: ``id`` and ``category_id``, for the ground truth also ``iscrowd`` and ``area``
        (counted from the map when absent). ``image_id`` names the image(s) in errors and per-image
        rows; by default the running image number.

        Without segments, the maps are (category, instance) pair maps, (H, W, 2) for one image or
        (N, H, W, 2) for a batch, the layout torchmetrics takes: each pair of a thing category is a
        segment, each stuff category one segment whatever its instance ids, pixels of categories
        not in the list are void (in both maps), and nothing is crowd. The matching stays
        panopticapi's; for torchmetrics' own rules use :mod:`fastpq.functional`.
        """
        pairs = gt_segments is None and pred_segments is None
        for maps, what in ((gt, "ground-truth"), (pred, "prediction")):
            _check_pixels(maps, what, self.max_pixels, pairs)
        if gt_segments is None and pred_segments is None:
            gt, gt_segments = self._from_pairs(gt, "the ground-truth map", ground_truth=True)
            pred, pred_segments = self._from_pairs(pred, "the prediction map", ground_truth=False)
        gt_maps, batch = to_id_maps(gt, "the ground-truth map")
        pred_maps, _ = to_id_maps(pred, "the prediction map")
        n = gt_maps.shape[0]
        if pred_maps.shape != gt_maps.shape:
            raise ImageSizeMismatchError(f"ground-truth maps {tuple(gt_maps.shape)} and prediction maps "
                                         f"{tuple(pred_maps.shape)} differ in shape (N, H, W)")
        gt_lists = _per_image(gt_segments, n, batch, "gt_segments")
        pred_lists = _per_image(pred_segments, n, batch, "pred_segments")
        with self._lock:
            ids = _image_ids(image_id, n, batch, self._images)
            part = _tables(ids, gt_lists, pred_lists, gt_maps, self._index)
            out = _core.evaluate_id_maps(
                gt_maps, pred_maps, part.gt_offsets, part.gt_ids, part.gt_categories, part.gt_iscrowd,
                part.gt_areas, part.pred_offsets, part.pred_ids, part.pred_categories, len(self._index),
                workers=self.workers, keep_images=self.per_image, initial_tp=self._tp, initial_fp=self._fp,
                initial_fn=self._fn, initial_iou=self._iou)
            failure = out["failure"]
            if failure is not None:
                if failure["kind"] == "file":  # for maps in memory: an id outside the panoptic range
                    image = part.image_ids[failure["image_index"]]
                    raise AnnotationError(f"In the image with ID {image}: {failure['message']}", image_id=image)
                raise _failure_to_error(failure, part)
            self._tp, self._fp, self._fn, self._iou = out["tp"], out["fp"], out["fn"], out["iou"]
            if self.per_image:
                self._rows.extend(_image_rows(out["images"], part, self._index))
            self._images += n

    def _from_pairs(self, maps: Any, what: str, ground_truth: bool) -> "tuple[np.ndarray, Any]":
        """Id maps and segments_info lists from (category, instance) pair maps."""
        pairs = np.asarray(maps)
        if not (pairs.ndim in (3, 4) and pairs.shape[-1] == 2 and np.issubdtype(pairs.dtype, np.integer)):
            raise AnnotationError(f"{what}: without gt_segments and pred_segments the maps must be integer "
                                  f"(category, instance) pair maps of shape (H, W, 2) or (N, H, W, 2), not "
                                  f"{pairs.dtype} {pairs.shape}")
        single = pairs.ndim == 3
        pairs = pairs.reshape((-1,) + pairs.shape[-3:]).astype(np.int64)
        ids = np.zeros(pairs.shape[:3], np.uint32)
        infos = []
        for i in range(pairs.shape[0]):
            ids[i], segments = self._segments_of_pairs(pairs[i], ground_truth)
            infos.append(segments)
        return (ids[0], infos[0]) if single else (ids, infos)

    def _segments_of_pairs(self, pairs: np.ndarray, ground_truth: bool) -> "tuple[np.ndarray, list]":
        category, instance = pairs[..., 0], pairs[..., 1]
        known = np.isin(category, np.asarray(self._index.ids, dtype=np.int64))
        thing_ids = np.asarray([c for c in self._index.ids if self._index.isthing(c)], dtype=np.int64)
        instance = np.where(np.isin(category, thing_ids), instance, 0)  # stuff: one segment per category
        id_map = np.zeros(category.shape, np.uint32)
        segments = []
        if known.any():
            # Unique (category, instance) rows, compared whole: no packing that could collide.
            kept = np.stack([category[known], instance[known]], axis=1)
            uniques, inverse, counts = np.unique(kept, axis=0, return_inverse=True, return_counts=True)
            if len(uniques) > MAX_ID:
                raise AnnotationError("more segments in one image than a panoptic map can hold (2^24 - 1)")
            id_map[known] = inverse.reshape(-1).astype(np.uint32) + 1
            for k, (cat, _) in enumerate(uniques.tolist()):
                segment = {"id": k + 1, "category_id": cat}
                if ground_truth:
                    segment.update(iscrowd=0, area=int(counts[k]))
                segments.append(segment)
        return id_map, segments

    def compute(self) -> PanopticResult:
        """The result so far: the same object as :func:`fastpq.evaluate` returns."""
        with self._lock:
            return PanopticResult.from_totals(self._index, self._tp, self._fp, self._fn, self._iou,
                                              per_image=list(self._rows) if self.per_image else None)

    def merge(self, other: "PanopticQuality") -> "PanopticQuality":
        """Adds another evaluator's state (same categories) to this one; returns self."""
        if [c["id"] for c in other.categories] != [c["id"] for c in self.categories]:
            raise ValueError("cannot merge evaluators with different category lists")
        state = other.__getstate__()
        with self._lock:
            self._tp = [a + b for a, b in zip(self._tp, state["tp"])]
            self._fp = [a + b for a, b in zip(self._fp, state["fp"])]
            self._fn = [a + b for a, b in zip(self._fn, state["fn"])]
            self._iou = [a + b for a, b in zip(self._iou, state["iou"])]
            self._rows.extend(state["rows"])
            self._images += state["images"]
        return self

    def __add__(self, other: "PanopticQuality") -> "PanopticQuality":
        total = PanopticQuality(self.categories, workers=self.workers, per_image=self.per_image,
                                max_pixels=self.max_pixels)
        return total.merge(self).merge(other)

    def __getstate__(self) -> Dict[str, Any]:
        with self._lock:
            return {"categories": self.categories, "workers": self.workers, "per_image": self.per_image,
                    "max_pixels": self.max_pixels,
                    "tp": list(self._tp), "fp": list(self._fp), "fn": list(self._fn), "iou": list(self._iou),
                    "rows": list(self._rows), "images": self._images}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["categories"], workers=state["workers"], per_image=state["per_image"],
                      max_pixels=state.get("max_pixels", DEFAULT_MAX_PIXELS))
        self._tp, self._fp, self._fn, self._iou = state["tp"], state["fp"], state["fn"], state["iou"]
        self._rows = list(state["rows"])
        self._images = state["images"]


def _check_pixels(maps: Any, what: str, max_pixels: int, pairs: bool) -> None:
    """Refuses maps whose images have more than `max_pixels` pixels, from their shape alone (read as
    to_id_maps and the pair-map path read it), before anything is copied."""
    shape = getattr(maps, "shape", None)
    if shape is None or len(shape) < 2:
        return  # nested lists are already as large as they claim; other shapes are refused later
    shape = tuple(int(v) for v in shape)
    rgb = getattr(maps, "dtype", None) == np.uint8 and len(shape) in (3, 4) and shape[-1] in (3, 4)
    height, width = shape[-3:-1] if (pairs or rgb) and len(shape) >= 3 else shape[-2:]
    if height * width > max_pixels:
        raise LimitExceededError(f"the {what} map is {height}x{width} = {height * width} pixels, more than "
                                 f"max_pixels = {max_pixels}")


def _per_image(segments: Any, n: int, batch: bool, what: str) -> List[Segments]:
    """One segments_info list per image."""
    if segments is None:
        raise AnnotationError(f"{what} is needed with id maps (only pair maps come without segments): the "
                              "segments_info of each image (id, category_id, ...)")
    if not batch:
        return [segments]
    lists = list(segments)
    if len(lists) != n:
        raise AnnotationError(f"{what} must hold one segments_info list per image: {n} images, {len(lists)} lists")
    return lists


def _image_ids(image_id: Any, n: int, batch: bool, first: int) -> List[Any]:
    if image_id is None:
        return list(range(first, first + n))
    if not batch:
        return [image_id]
    ids = list(image_id)
    if len(ids) != n:
        raise AnnotationError(f"image_id must hold one id per image: {n} images, {len(ids)} ids")
    return ids


def _tables(ids: List[Any], gt_lists: List[Segments], pred_lists: List[Segments], gt_maps: np.ndarray,
            categories: Categories) -> SegmentTables:
    """The segment tables of a batch: read in one C++ pass when every segment is a plain dict of
    plain values, else by TableBuilder, which also counts missing areas and names what is wrong."""
    gt_files = [f"<ground-truth map of image {i}>" for i in ids]
    pred_files = [f"<prediction map of image {i}>" for i in ids]
    columns = _core.segment_lists(gt_lists, pred_lists, categories.index, DEFAULT_MAX_SEGMENTS_PER_IMAGE)
    if columns is not None:
        return SegmentTables(gt_files, pred_files, ids, *columns, [{"segments_info": s} for s in pred_lists])
    builder = TableBuilder(categories)
    for i, image_id in enumerate(ids):
        builder.add(image_id, gt_files[i], pred_files[i], {"segments_info": _with_areas(gt_lists[i], gt_maps[i])},
                    {"segments_info": pred_lists[i]})
    return builder.build()


def _with_areas(segments: Segments, gt_map: np.ndarray) -> Segments:
    """The segments, with `area` counted from the map where the dict has none."""
    # type() first: isinstance against the typing alias goes through the ABC machinery per segment.
    if all((type(s) is dict or isinstance(s, collections.abc.Mapping)) and "area" in s for s in segments):
        return segments
    ids, counts = np.unique(gt_map, return_counts=True)
    area_of = dict(zip(ids.tolist(), counts.tolist()))
    return [s if not isinstance(s, Mapping) or "area" in s else {**s, "area": area_of.get(s.get("id"), 0)}
            for s in segments]
