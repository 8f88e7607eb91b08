"""COCOA average recall against every annotator of a multi-annotator ground truth.

amodalAPI scores proposals against the first annotation of an image only ("for multi gt, simply
use first annotation"); ``fastpq.amodal_ar(..., annotations=...)`` also offers:

* ``"each"``: every annotation of an image is evaluated as if it were an image of its own carrying
  that image's proposals (the same ranking, the same 1000 best), and the counts of all of them are
  added: recall is pooled over the regions of every annotator, so an annotator who marks more
  regions weighs more. With one annotation per image this is ``"first"``.
* ``"best"``: per image, the annotation whose regions the proposals recall best is kept: the
  highest recall over all regions (occlusion "all", both kinds) at 1000 proposals, averaged over
  the 10 IoU thresholds; equal recalls go to the earlier annotation, and an annotation without a
  region counted there is chosen only when no annotation has one. The dataset's AR is then
  computed from the chosen annotations' counts as for ``"first"``. This is an optimistic figure:
  the annotator is chosen by the proposals being scored.

Per-image rows (``per_image=True``) carry an ``annotation`` column: the index of the annotation
in the file's order for the image (every one for ``"each"``, the chosen one for ``"best"``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

from .. import _core
from ..errors import AnnotationError
from .ar import KINDS, MAX_DETS, OCCLUSIONS, AmodalImage, AmodalResult, _average_recall, iou_thresholds
from .multi import MultiAnnotatorImage


def _expand(multi: Sequence[MultiAnnotatorImage], with_proposals: Sequence[AmodalImage]) -> "tuple[list, list]":
    """One evaluation input per (image, annotation), with the image's proposals; and its (image, annotation)."""
    inputs, owners = [], []
    for index, (image, proposals) in enumerate(zip(multi, with_proposals)):
        for k in range(len(image.annotations)):
            regions = image.as_amodal_image(k)
            inputs.append((image.height, image.width, regions.region_masks, regions.region_is_stuff,
                           regions.region_occlusion, proposals.proposal_masks, proposals.proposal_scores))
            owners.append((index, k))
    return inputs, owners


def _recall_all(matched: Sequence[int], regions: Sequence[int], n_thresholds: int) -> float:
    """Recall of setting (all, all) at 1000 proposals averaged over the thresholds; -1 without regions."""
    if regions[0] == 0:
        return -1.0
    k = len(MAX_DETS) - 1
    return sum(matched[t * len(MAX_DETS) + k] / regions[0] for t in range(n_thresholds)) / n_thresholds


def evaluate_annotators(multi: Sequence[MultiAnnotatorImage], with_proposals: Sequence[AmodalImage], mode: str,
                        workers: int = 0, use_visible: bool = False, per_image: bool = False) -> AmodalResult:
    """AR of ``with_proposals``' proposals (image i's in ``with_proposals[i]``) against the annotations
    of ``multi`` chosen by ``mode`` (``"each"`` or ``"best"``, see the module docstring)."""
    thresholds = iou_thresholds()
    inputs, owners = _expand(multi, with_proposals)
    out = _core.amodal_evaluate(inputs, thresholds, workers=workers, keep_images=True)
    if out["failure"] is not None:
        index, message = out["failure"]
        image_id = multi[owners[index][0]].image_id
        raise AnnotationError(f"In the image with ID {image_id} (annotation {owners[index][1]}): {message}",
                              image_id=image_id)
    rows = out["images"]
    if mode == "best":
        best: Dict[int, int] = {}
        score: Dict[int, float] = {}
        for row, (image, _) in zip(range(len(rows)), owners):
            recall = _recall_all(rows[row][0], rows[row][1], len(thresholds))
            if image not in best or recall > score[image]:
                best[image], score[image] = row, recall
        chosen = sorted(best.values())
    else:
        chosen = list(range(len(rows)))
    n_matched, n_regions = len(rows[0][0]) if rows else 0, len(rows[0][1]) if rows else 0
    matched: List[int] = [0] * n_matched
    regions: List[int] = [0] * n_regions
    for row in chosen:
        matched = [a + b for a, b in zip(matched, rows[row][0])]
        regions = [a + b for a, b in zip(regions, rows[row][1])]
    if not rows:
        empty = _core.amodal_evaluate([], thresholds, workers=workers)
        matched, regions = empty["matched"], empty["regions"]
    ar, counts = _average_recall(matched, regions, len(thresholds))
    table = None
    if per_image:
        table = []
        for row in chosen:
            image, k = owners[row]
            image_ar, image_regions = _average_recall(rows[row][0], rows[row][1], len(thresholds))
            for kind in KINDS:
                for occ in OCCLUSIONS:
                    entry: Dict[str, Any] = {"image_id": multi[image].image_id, "annotation": k, "kind": kind,
                                             "occlusion": occ, "regions": image_regions[kind][occ]}
                    entry.update({f"recall@{d}": image_ar[kind][occ][d] for d in MAX_DETS})
                    table.append(entry)
    return AmodalResult(ar, counts, use_visible, table)
