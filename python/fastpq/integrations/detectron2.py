"""A detectron2-style panoptic evaluator on fastpq's engine, without importing detectron2.

:class:`PanopticEvaluator` has the ``reset`` / ``process`` / ``evaluate`` interface of detectron2's
``DatasetEvaluator`` and takes what detectron2's ``COCOPanopticEvaluator`` takes: model outputs whose
``"panoptic_seg"`` is ``(panoptic_seg, segments_info)``. Instead of writing every prediction as a PNG
and running panopticapi at the end, each image is scored in ``process`` against its ground-truth PNG
(looked up by ``image_id`` in the dataset's COCO panoptic JSON) and only per-category sums are kept.
``evaluate`` returns detectron2's dict, ``{"panoptic_seg": {"PQ", "SQ", "RQ", "PQ_th", ..., "RQ_st"}}``
in percent, with the values detectron2 (that is, panopticapi) computes.

The conversion of the outputs follows ``COCOPanopticEvaluator.process``:

* ``segments_info`` given: the map holds segment ids, 0 is void; -1 is also taken as void.
  A segment's ``category_id`` is converted from the model's contiguous id to the dataset's id
  through the thing or the stuff mapping, as its ``isthing`` says; without ``isthing`` (or without
  a mapping) the ``category_id`` is the dataset's already.
* ``segments_info`` None: the map holds ``category * label_divisor + instance`` and -1 for void;
  each label becomes a segment of id ``label + 1`` (0 is void).

Segment ids that do not fit a panoptic PNG (outside [0, 2^24)) are renumbered consistently in the
map and the segment list; ids are only labels, so the scores do not change.

Differences from detectron2's evaluator: nothing is written to disk; only the processed images are
scored (detectron2 hands panopticapi the whole ground-truth JSON, which raises "no prediction for
the image with id" for an image never processed; ask for that with ``require_all_images=True``);
an image processed twice is counted twice (panopticapi keeps the last); under ``torch.distributed``
the ranks exchange their per-category sums (a few numbers per category) instead of PNG bytes. A
category group with no segment has NaN scores instead of panopticapi's ZeroDivisionError.
"""

from __future__ import annotations

import logging
import operator
import os
import sys
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from ..io.dataset import Categories, _file_name, _hashable, default_folder, load_json
from ..errors import AnnotationError, AnnotationKeyError, MissingPredictionError, PngError, PngNotFoundError
from ..panoptic.inmemory import MAX_ID, PanopticQuality
from ..panoptic.evaluation import DEFAULT_MAX_PIXELS, PathLike
from ..panoptic.results import PanopticResult

__all__ = ["PanopticEvaluator", "to_dataset_segments", "detectron2_results"]

logger = logging.getLogger(__name__)

IdMapping = Mapping[Any, Any]


class PanopticEvaluator:
    """detectron2's ``COCOPanopticEvaluator``, scored in memory by fastpq.

    Args:
        panoptic_json: the dataset's COCO panoptic ground-truth JSON (detectron2's
            ``metadata.panoptic_json``).
        panoptic_root: its folder of PNGs (``metadata.panoptic_root``); by default the JSON path
            without ``.json``, as panopticapi.
        contiguous_to_dataset_id: the model's contiguous category id -> the dataset's category id,
            for things and stuff alike (detectron2's non-separated COCO panoptic metadata).
        thing_contiguous_to_dataset_id, stuff_contiguous_to_dataset_id: separate mappings, as
            detectron2's ``{thing,stuff}_dataset_id_to_contiguous_id`` inverted (they take precedence
            over ``contiguous_to_dataset_id``). Without any mapping, category ids are the dataset's.
        label_divisor: for outputs whose ``segments_info`` is None (``metadata.label_divisor``).
        require_all_images: ``evaluate`` raises, as panopticapi does in detectron2, when an image of
            the ground-truth JSON was never processed.
        workers, max_pixels: fastpq's engine threads for a batch, and its PNG size limit.

    ``evaluate`` gathers the per-category sums of every ``torch.distributed`` rank when a process
    group is initialized, and returns the results on rank 0 (None elsewhere), as detectron2 does.
    """

    def __init__(self, panoptic_json: PathLike, panoptic_root: Optional[PathLike] = None, *,
                 contiguous_to_dataset_id: Optional[IdMapping] = None,
                 thing_contiguous_to_dataset_id: Optional[IdMapping] = None,
                 stuff_contiguous_to_dataset_id: Optional[IdMapping] = None,
                 label_divisor: Optional[int] = None, require_all_images: bool = False, workers: int = 0,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.panoptic_json = os.fspath(panoptic_json)
        self.panoptic_root = (default_folder(self.panoptic_json) if panoptic_root is None
                              else os.fspath(panoptic_root))
        gt_json = load_json(self.panoptic_json, "ground-truth")
        self._categories = Categories.from_json(gt_json)
        self.categories: List[Dict[str, Any]] = [self._categories.info[c] for c in self._categories.ids]
        annotations = gt_json.get("annotations")
        if not isinstance(annotations, list):
            raise AnnotationKeyError("the ground-truth JSON has no 'annotations' list", file=self.panoptic_json)
        self._gt: Dict[Any, Mapping[str, Any]] = {}
        for ann in annotations:
            if not isinstance(ann, dict) or "image_id" not in ann:
                raise AnnotationKeyError("a ground-truth annotation has no 'image_id'", file=self.panoptic_json)
            self._gt[_hashable(ann["image_id"], "a ground-truth annotation's image_id")] = ann
        self._gt_order = [ann["image_id"] for ann in annotations]
        self.thing_contiguous_to_dataset_id = _mapping(thing_contiguous_to_dataset_id, contiguous_to_dataset_id)
        self.stuff_contiguous_to_dataset_id = _mapping(stuff_contiguous_to_dataset_id, contiguous_to_dataset_id)
        self.label_divisor = label_divisor
        self.require_all_images = require_all_images
        self.max_pixels = max_pixels
        self._pq = PanopticQuality(self.categories, workers=workers)
        self._processed: List[Any] = []

    @classmethod
    def from_metadata(cls, metadata: Any, **options: Any) -> "PanopticEvaluator":
        """From a detectron2 ``Metadata`` (or any object with the same attributes): ``panoptic_json``,
        ``panoptic_root``, ``thing_dataset_id_to_contiguous_id``, ``stuff_dataset_id_to_contiguous_id``
        and ``label_divisor``, the ones detectron2's ``COCOPanopticEvaluator`` reads."""
        things = getattr(metadata, "thing_dataset_id_to_contiguous_id", None)
        stuff = getattr(metadata, "stuff_dataset_id_to_contiguous_id", None)
        kwargs: Dict[str, Any] = {
            "thing_contiguous_to_dataset_id": None if things is None else {v: k for k, v in things.items()},
            "stuff_contiguous_to_dataset_id": None if stuff is None else {v: k for k, v in stuff.items()},
            "label_divisor": getattr(metadata, "label_divisor", None),
        }
        kwargs.update(options)
        return cls(metadata.panoptic_json, getattr(metadata, "panoptic_root", None), **kwargs)

    # -- detectron2's DatasetEvaluator interface ----------------------------------------------------

    def reset(self) -> None:
        """Forgets every processed image."""
        self._pq.reset()
        self._processed = []

    def process(self, inputs: Sequence[Mapping[str, Any]], outputs: Sequence[Mapping[str, Any]]) -> None:
        """Scores a batch: ``inputs[i]["image_id"]`` names the ground truth of ``outputs[i]["panoptic_seg"]``."""
        images = []
        for inp, out in zip(inputs, outputs):
            image_id = inp["image_id"]
            panoptic_seg, segments_info = out["panoptic_seg"]
            pred_map, pred_segments = to_dataset_segments(
                panoptic_seg, segments_info, self.thing_contiguous_to_dataset_id,
                self.stuff_contiguous_to_dataset_id, self.label_divisor, image_id=image_id)
            gt_ann = self._gt_annotation(image_id)
            if "segments_info" not in gt_ann:
                raise AnnotationKeyError(f"In the image with ID {image_id} the ground-truth annotation has no "
                                         "'segments_info'", image_id=image_id, file=self.panoptic_json)
            images.append((image_id, self._read_gt(image_id, gt_ann), pred_map, gt_ann["segments_info"],
                           pred_segments))
        if not images:
            return
        shape = images[0][1].shape
        if len(images) > 1 and all(g.shape == shape and p.shape == shape for _, g, p, _, _ in images):
            # One call for the batch: the engine scores its images in parallel.
            self._pq.update(np.stack([i[1] for i in images]), np.stack([i[2] for i in images]),
                            [i[3] for i in images], [i[4] for i in images], image_id=[i[0] for i in images])
            self._processed.extend(i[0] for i in images)
        else:
            for image_id, gt_map, pred_map, gt_segments, pred_segments in images:
                self._pq.update(gt_map, pred_map, gt_segments, pred_segments, image_id=image_id)
                self._processed.append(image_id)

    def evaluate(self) -> Optional["OrderedDict[str, Dict[str, float]]"]:
        """``{"panoptic_seg": {"PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"}}`` in
        percent, over every rank's images; None on ranks other than 0 under ``torch.distributed``."""
        result = self.compute()
        if result is None:
            return None
        logger.info("Panoptic Evaluation Results:\n%s", result.table())
        return detectron2_results(result)

    # -- beyond detectron2 --------------------------------------------------------------------------

    def compute(self) -> Optional[PanopticResult]:
        """The :class:`fastpq.PanopticResult` over every rank's images (None on ranks other than 0)."""
        states, main = _gather_states((self._pq.__getstate__(), self._processed))
        if not main:
            return None
        total = PanopticQuality(self.categories)
        processed: List[Any] = []
        for pq_state, images in states:
            part = PanopticQuality.__new__(PanopticQuality)
            part.__setstate__(pq_state)
            total.merge(part)
            processed.extend(images)
        if self.require_all_images:
            done = set(processed)
            for image_id in self._gt_order:
                if image_id not in done:
                    raise MissingPredictionError(f"no prediction for the image with id: {image_id}",
                                                 image_id=image_id)
        if not processed:
            logger.warning("PanopticEvaluator: no image was processed")
        return total.compute()

    @property
    def images(self) -> int:
        """Number of images processed on this rank since the last reset."""
        return len(self._processed)

    def _gt_annotation(self, image_id: Any) -> Mapping[str, Any]:
        try:
            return self._gt[image_id]
        except (KeyError, TypeError):
            raise AnnotationKeyError(f"the image with id {image_id!r} has no annotation in the ground-truth JSON "
                                     f"'{self.panoptic_json}'", image_id=image_id,
                                     file=self.panoptic_json) from None

    def _read_gt(self, image_id: Any, gt_ann: Mapping[str, Any]) -> np.ndarray:
        path = os.path.join(self.panoptic_root, _file_name(gt_ann, image_id, "ground-truth"))
        try:
            return _core.read_png_ids(path, max_pixels=self.max_pixels)
        except _core.FormatError as e:
            error_class = PngError if os.path.exists(path) else PngNotFoundError
            raise error_class(f"In the image with ID {image_id}: {e}", image_id=image_id, file=path) from None


def to_dataset_segments(panoptic_seg: Any, segments_info: Optional[Iterable[Mapping[str, Any]]],
                        thing_contiguous_to_dataset_id: Optional[IdMapping] = None,
                        stuff_contiguous_to_dataset_id: Optional[IdMapping] = None,
                        label_divisor: Optional[int] = None,
                        image_id: Any = None) -> Tuple[np.ndarray, List[Dict[str, Any]]]:
    """Converts one detectron2 ``(panoptic_seg, segments_info)`` output into a panoptic id map
    (uint32, 0 void, ids < 2^24) and a COCO ``segments_info`` list with dataset category ids."""
    ids = _as_numpy(panoptic_seg)
    if ids.ndim != 2 or not (np.issubdtype(ids.dtype, np.integer) or ids.dtype == np.bool_):
        raise AnnotationError(f"In the image with ID {image_id} panoptic_seg must be an (H, W) integer map, not "
                              f"{ids.dtype} {ids.shape}", image_id=image_id)
    ids = ids.astype(np.int64)
    segments: List[Dict[str, Any]] = []
    if segments_info is None:
        if label_divisor is None:
            raise AnnotationError("segments_info is None: the panoptic_seg map holds category * label_divisor + "
                                  "instance, so the evaluator needs label_divisor", image_id=image_id)
        things = set(thing_contiguous_to_dataset_id or ())
        for label in np.unique(ids).tolist():
            if label == -1:
                continue
            category = label // label_divisor
            isthing = category in things if thing_contiguous_to_dataset_id is not None else None
            segments.append({"id": label + 1, "category_id": category, "isthing": isthing})
        ids = ids + 1  # -1 (void) becomes 0, panopticapi's void
    else:
        ids[ids == -1] = 0
        for el in segments_info:
            segment = dict(el)
            if "id" in segment:
                segment["id"] = _integer(segment["id"])
            segments.append(segment)
    for segment in segments:
        isthing = segment.pop("isthing", None)
        if "category_id" not in segment:
            continue  # the engine names the segment in its error
        category = segment["category_id"] = _integer(segment["category_id"])
        mapping = thing_contiguous_to_dataset_id if isthing else stuff_contiguous_to_dataset_id
        if isthing is None or mapping is None:
            continue
        try:
            segment["category_id"] = mapping[category]
        except (KeyError, TypeError):
            raise AnnotationKeyError(
                f"In the image with ID {image_id} segment with ID {segment.get('id')} has contiguous "
                f"{'thing' if isthing else 'stuff'} category id {category!r}, which the "
                f"{'thing' if isthing else 'stuff'} mapping to dataset ids does not hold",
                image_id=image_id, segment_id=segment.get("id")) from None
    return _fit_ids(ids, segments), segments


def detectron2_results(result: PanopticResult) -> "OrderedDict[str, Dict[str, float]]":
    """detectron2's ``COCOPanopticEvaluator.evaluate`` dict, in percent, from a PanopticResult."""
    res: Dict[str, float] = {}
    for suffix, group in (("", "All"), ("_th", "Things"), ("_st", "Stuff")):
        g = result.groups[group]
        if g.n == 0:
            logger.warning("PanopticEvaluator: no category of the group '%s' has a segment; its scores are NaN",
                           group)
        res["PQ" + suffix] = 100 * g.pq
        res["SQ" + suffix] = 100 * g.sq
        res["RQ" + suffix] = 100 * g.rq
    order = ["PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"]
    return OrderedDict({"panoptic_seg": {key: res[key] for key in order}})


# ---------------------------------------------------------------------------------------------------


def _mapping(specific: Optional[IdMapping], shared: Optional[IdMapping]) -> Optional[Dict[Any, Any]]:
    chosen = specific if specific is not None else shared
    return None if chosen is None else {_integer(k): v for k, v in chosen.items()}


def _integer(value: Any) -> Any:
    """A Python int for numpy / torch integer scalars; other values unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        return value


def _as_numpy(array: Any) -> np.ndarray:
    """A numpy array from a numpy array, a (CPU or GPU) torch tensor or anything array-like."""
    if hasattr(array, "detach"):
        array = array.detach()
    if hasattr(array, "cpu"):
        array = array.cpu()
    if hasattr(array, "numpy"):
        array = array.numpy()
    return np.asarray(array)


def _fit_ids(ids: np.ndarray, segments: List[Dict[str, Any]]) -> np.ndarray:
    """The map as uint32; ids outside [0, 2^24) renumbered 1..m (map and segments alike), 0 kept as void."""
    listed = [s["id"] for s in segments if isinstance(s.get("id"), int) and not isinstance(s.get("id"), bool)]
    in_range = ids.size == 0 or (int(ids.min()) >= 0 and int(ids.max()) <= MAX_ID)
    if in_range and all(0 <= i <= MAX_ID for i in listed):
        return ids.astype(np.uint32)
    used = np.union1d(np.unique(ids), np.asarray(listed, dtype=np.int64))
    used = used[used != 0]
    if used.size > MAX_ID:
        raise AnnotationError(f"an image has {used.size} segment ids, more than a panoptic PNG can hold")
    new_ids = np.searchsorted(used, ids) + 1
    new_ids[ids == 0] = 0
    renumber = {old: new + 1 for new, old in enumerate(used.tolist())}
    for s in segments:
        if s.get("id") in renumber:
            s["id"] = renumber[s["id"]]
    return new_ids.astype(np.uint32)


_GLOO_GROUP: List[Any] = []


def _gather_states(state: Any) -> Tuple[List[Any], bool]:
    """Every rank's state, in rank order, and whether this is rank 0; just ([state], True) without
    an initialized ``torch.distributed`` process group of several ranks (torch is not imported here:
    a process group exists only if the program has imported torch.distributed already)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [state], True
    group = None
    if dist.get_backend() != "gloo":  # objects are gathered on CPU, as detectron2's comm.gather does
        if not _GLOO_GROUP:
            _GLOO_GROUP.append(dist.new_group(backend="gloo"))
        group = _GLOO_GROUP[0]
    states: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, state, group=group)
    return states, dist.get_rank() == 0
