"""What the panoptic matching decided for each segment of one image: true positive, false negative,
false positive or ignored, with the matched segment and its IoU.

The decisions come from the C++ matcher that scores datasets (``_core.match_image_pair``), so they
are the ones behind ``fastpq.evaluate``'s counts, not a second implementation of panopticapi's rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple, Union

from .. import _core
from ..io.dataset import Categories, SegmentTables
from ..errors import AnnotationKeyError
from .evaluation import DEFAULT_MAX_PIXELS, _failure_to_error, prepare

PathLike = Union[str, "os.PathLike[str]"]

TP, FN, FP, IGNORED = "tp", "fn", "fp", "ignored"
_GT_STATUS = (TP, FN, IGNORED)  # the core's codes 0 matched, 1 unmatched, 2 ignored (crowd)
_PRED_STATUS = (TP, FP, IGNORED)  # 2: mostly void or crowd of its category


@dataclass(frozen=True)
class SegmentDecision:
    """One segment's fate in the matching.

    ``status`` is ``"tp"``, ``"fn"`` (ground truth only), ``"fp"`` (prediction only) or ``"ignored"``
    (a crowd region; a prediction lying mostly on void or on a crowd region of its category).
    ``category_id`` is None for a ground-truth category the evaluation does not know (panopticapi
    counts its false negative under a category no average reads).
    """

    segment_id: int
    category_id: Any
    status: str
    matched_id: Optional[int]
    iou: float


@dataclass(frozen=True)
class ImageDecisions:
    """The decisions for every segment of one image, in JSON order, and where its maps are."""

    image_id: Any
    gt_file: str
    pred_file: str
    gt: List[SegmentDecision]
    pred: List[SegmentDecision]

    def counts(self, category_id: Any) -> Tuple[int, int, int]:
        """(tp, fp, fn) of one category in this image, as the evaluation counts them."""
        tp = sum(1 for s in self.gt if s.status == TP and s.category_id == category_id)
        fn = sum(1 for s in self.gt if s.status == FN and s.category_id == category_id)
        fp = sum(1 for s in self.pred if s.status == FP and s.category_id == category_id)
        return tp, fp, fn


def match_tables_image(tables: SegmentTables, categories: Categories, index: int, *,
                       max_pixels: int = DEFAULT_MAX_PIXELS, inflate: str = "") -> ImageDecisions:
    """Matches image `index` of prepared segment tables; raises the FastPQError evaluate would raise."""
    part = tables.chunk(index, index + 1)
    out = _core.match_image_pair(part.gt_files[0], part.pred_files[0], part.gt_ids, part.gt_categories,
                                 part.gt_iscrowd, part.gt_areas, part.pred_ids, part.pred_categories,
                                 len(categories), max_pixels=max_pixels, inflate=inflate)
    if out["failure"] is not None:
        raise _failure_to_error(out["failure"], part)

    def category_id(c: int) -> Any:
        return categories.ids[c] if c >= 0 else None

    gt = [SegmentDecision(sid, category_id(c), _GT_STATUS[st], part.pred_ids[m] if m >= 0 else None, iou)
          for sid, c, st, m, iou in zip(part.gt_ids, part.gt_categories, out["gt_status"], out["gt_match"],
                                        out["gt_iou"])]
    pred = [SegmentDecision(sid, category_id(c), _PRED_STATUS[st], part.gt_ids[m] if m >= 0 else None, iou)
            for sid, c, st, m, iou in zip(part.pred_ids, part.pred_categories, out["pred_status"],
                                          out["pred_match"], out["pred_iou"])]
    return ImageDecisions(part.image_ids[0], part.gt_files[0], part.pred_files[0], gt, pred)


def match_image(gt_json_file: PathLike, pred_json_file: PathLike, image_id: Any,
                gt_folder: Optional[PathLike] = None, pred_folder: Optional[PathLike] = None, *,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageDecisions:
    """The per-segment decisions for one image of a COCO panoptic GT / prediction pair.

    Raises AnnotationKeyError when the ground truth has no image `image_id`, and otherwise the
    FastPQError ``fastpq.evaluate`` raises for that image.
    """
    tables, categories = prepare(gt_json_file, pred_json_file, gt_folder, pred_folder)
    try:
        index = tables.image_ids.index(image_id)
    except ValueError:
        raise AnnotationKeyError(f"the ground truth has no image with id {image_id!r}", image_id=image_id,
                                 file=os.fspath(gt_json_file)) from None
    return match_tables_image(tables, categories, index, max_pixels=max_pixels)
