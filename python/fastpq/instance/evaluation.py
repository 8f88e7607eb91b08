"""fastpq.instance.evaluate: Cityscapes instance-level AP / AP50, equal to cityscapesscripts 2.3.0's
evalInstanceLevelSemanticLabeling (distance-free variant), writing nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import InstancePredictionError, MissingPredictionError
from ..io.limits import Deadline
from . import files
from .ap import ap_matrix, result_dict
from .matches import MatchData, concat, from_counts
from .counting import ImageCounts, count_entries, count_image, gt_index, read_gt, read_mask

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class ClassAP:
    """One class: AP (mean over thresholds), AP50 and the AP at each threshold (NaN without GT)."""

    ap: float
    ap50: float
    per_threshold: List[float]


@dataclass
class InstanceResult:
    """The evaluation result; ``to_dict()`` is the reference's own result dict."""

    ap: float
    ap50: float
    classes: Dict[str, ClassAP]
    thresholds: List[float]
    _dict: Dict[str, Any] = field(repr=False, default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """The layout cityscapesscripts returns and writes (resultInstanceLevelSemanticLabeling.json)."""
        import copy
        return copy.deepcopy(self._dict)


def result_of(data: MatchData, with_distances: bool = False) -> InstanceResult:
    """The result of match data (with the 100 m / 50 m rows when ``with_distances``)."""
    d = result_dict(ap_matrix(data, with_distances))
    matrix = d["resultApMatrix"][0]
    classes = {name: ClassAP(v["ap"], v["ap50%"], list(matrix[i]))
               for i, (name, v) in enumerate(d["averages"]["classes"].items())}
    return InstanceResult(d["averages"]["allAp"], d["averages"]["allAp50%"], classes, d["overlaps"], d)


def _result(images: List[ImageCounts], distances: Optional[Mapping[str, Any]] = None) -> InstanceResult:
    parts = [from_counts(img, None if distances is None else distances.get(img.name, {})) for img in images]
    return result_of(concat(parts), distances is not None)


def _count_files(gt_file: str, lines: List[files.PredictionLine], engine: str, workers: int) -> ImageCounts:
    name = files.image_key(gt_file)
    ids, pix, index = gt_index(read_gt(gt_file), gt_file)
    masks = [(lambda p=line.mask: read_mask(p, index.shape, name)) for line in lines]
    return count_image(name, ids, pix, index, masks, [l.label_id for l in lines], [l.score for l in lines])


def evaluate(gt: Union[PathLike, Sequence[PathLike]], pred: Union[PathLike, Mapping[str, Any], Sequence[Any]],
             *, coco_category_map: Optional[Mapping[int, int]] = None, engine: str = "auto",
             workers: int = 0, storage_options: Optional[Mapping[str, Any]] = None,
             distances: Optional[Mapping[str, Mapping[int, Tuple[float, float]]]] = None,
             time_budget: Optional[float] = None) -> InstanceResult:
    """Scores Cityscapes instance predictions against gtFine *_instanceIds.png files.

    ``pred`` is the official results folder (per image a ``<city>_<seq>_<frame>*.txt`` of
    ``relPath labelId score`` lines and binary mask PNGs), or in memory a mapping
    ``<city>_<seq>_<frame>`` -> list of ``(mask, label_id, score)`` (mask: array or COCO RLE dict),
    or a list of COCO-style results ``{"image_id", "category_id", "segmentation", "score"}`` whose
    image_id is ``<city>_<seq>_<frame>`` and category_id a Cityscapes label id (or mapped through
    ``coco_category_map``). ``engine``: "auto", "cpp" (C++ counting from the PNGs) or "numpy".
    The GT folder (or files) and the results folder may be fsspec URLs (``s3://``, ``zip://``, ...),
    read with ``storage_options``; their PNGs are then counted in C++ from fetched bytes.
    ``distances`` (image key -> {GT instance id: (median distance in m, stereo density)}, see
    :func:`fastpq.instance.distances_from_disparity`) adds the reference's 100 m and 50 m rows; GT
    instances missing from it get the reference's defaults (-1, 0.0), which those rows leave out.
    ``time_budget``: seconds; past it a :class:`fastpq.TimeBudgetExceededError` is raised (checked
    before each in-memory or COCO prediction is counted, and after the results files are counted).
    """
    from ..io.remote import is_url, local_path

    deadline = Deadline(time_budget)
    gt, pred = local_path(gt), local_path(pred)
    if is_url(gt) or is_url(pred) or (not isinstance(gt, (str, os.PathLike)) and any(is_url(g) for g in gt)):
        result = _evaluate_remote(gt, pred, engine, workers, storage_options, distances)
        deadline.check("after the remote images were counted")
        return result
    gt_list = files.gt_files(gt)
    images: List[ImageCounts] = []
    if isinstance(pred, (str, os.PathLike)):
        root = os.path.abspath(os.fspath(pred))
        walk = files.index_results(root)
        per_image = [(g, files.parse_results_txt(files.find_results_txt(g, walk), root, files.image_key(g)))
                     for g in gt_list]
        from .native import count_files
        counted = count_files(per_image, engine, workers, _count_files)
        deadline.check(f"{len(counted)} images counted")
        return _result(counted, distances)
    in_memory: Dict[str, List[Any]] = {}
    if isinstance(pred, Mapping):
        in_memory = {str(k): list(v) for k, v in pred.items()}
    else:
        for i, r in enumerate(pred):
            try:
                cat = int(r["category_id"])
                label = int(coco_category_map[cat]) if coco_category_map is not None else cat
                image, entry = str(r["image_id"]), (r["segmentation"], label, r["score"])
            except (KeyError, TypeError, ValueError, OverflowError) as e:
                where = f"image {r.get('image_id')!r}, " if isinstance(r, Mapping) else ""
                raise InstancePredictionError(f"results entry {i} ({where}a COCO-style "
                                              "{image_id, category_id, segmentation, score}) cannot be read: "
                                              f"{type(e).__name__}: {e}") from None
            in_memory.setdefault(image, []).append(entry)
    for g in gt_list:
        name = files.image_key(g)
        images.append(count_entries(name, read_gt(g), g, in_memory.get(name, []), deadline))
    unknown = set(in_memory) - {files.image_key(g) for g in gt_list}
    if unknown:
        raise MissingPredictionError(f"predictions for images without ground truth: {sorted(unknown)[:5]}")
    return _result(images, distances)


def _evaluate_remote(gt: Any, pred: Any, engine: str, workers: int, storage_options: Optional[Mapping[str, Any]],
                     distances: Optional[Mapping[str, Any]] = None) -> InstanceResult:
    """evaluate() for a GT and a results folder of which one at least is a URL."""
    from ..errors import InvalidOptionError
    from ..io.remote import is_url
    from .remote import count_remote, gt_urls, per_image_lines

    if engine not in ("auto", "cpp"):
        raise InvalidOptionError(f"inputs behind URLs are counted by the C++ engine: engine must be 'auto' or 'cpp', "
                                 f"not {engine!r}")
    if not (isinstance(pred, str) and is_url(pred)):
        raise InvalidOptionError("with ground truth behind URLs the results folder must be a URL too (a local "
                                 "folder: file://...)")
    gt_list = gt_urls(gt, storage_options)
    return _result(count_remote(per_image_lines(gt_list, pred, storage_options), workers, storage_options),
                   distances)


cityscapes_ap = evaluate
