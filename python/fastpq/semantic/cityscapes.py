"""Cityscapes' pixel-level scores (cityscapesscripts' ``evalPixelLevelSemanticLabeling``), number
for number: its integer counts, its float64 operations in its order, its NaN rules.

- class IoU = TP / (TP + FP + FN) over the 34 x 34 label-id matrix: FN is the whole ground-truth
  row minus TP (predicting an ignored class on a valid pixel is a miss), FP the column over the
  rows of non-ignored classes other than the class itself; NaN for ignored classes and empty ones.
- iIoU: every ground-truth instance (instance id > 1000, its class not ignored) weighs
  ``avgClassSize[class] / instance pixels``; weighted TP and FN are summed image by image in
  ascending instance id, FP is unweighted; the denominator adds (TP + FP) + FN in that order.
- category IoU over the non-ignored classes of each category; category iIoU for the categories
  whose classes all have instances (human, vehicle), where a prediction of any of their classes
  (ignored ones too) on the instance counts, and FP covers those columns.
- averages skip NaN, adding in the table's order.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..errors import FastPQError
from .labels import CITYSCAPES_AVG_CLASS_SIZE, CITYSCAPES_CATEGORIES, CITYSCAPES_LABELS
from .state import SemanticState

_BY_ID = {label.id: label for label in CITYSCAPES_LABELS}
_IDS = [label.id for label in CITYSCAPES_LABELS]


def _not_ignored(exclude: Any = ()) -> List[int]:
    return [i for i in _IDS if not _BY_ID[i].ignore_in_eval and i not in exclude]


def counted_rows() -> List[int]:
    """The label ids whose ground-truth rows count false positives (the non-ignored classes)."""
    return _not_ignored()


def _instance_categories() -> Dict[str, List[int]]:
    """Categories all of whose labels (id >= 0) have instances, with those label ids."""
    out: Dict[str, List[int]] = {}
    for category in CITYSCAPES_CATEGORIES:
        members = [label for label in CITYSCAPES_LABELS if label.category == category]
        if members and all(label.has_instances for label in members):
            out[category] = [label.id for label in members]
    return out


INSTANCE_CATEGORIES = _instance_categories()


def class_iou(m: np.ndarray, label: int) -> float:
    if _BY_ID[label].ignore_in_eval:
        return float("nan")
    tp = np.longlong(m[label, label])
    fn = np.longlong(m[label, :].sum()) - tp
    fp = np.longlong(m[_not_ignored((label,)), label].sum())
    denom = tp + fp + fn
    return float("nan") if denom == 0 else float(tp) / denom


def class_iiou(m: np.ndarray, label: int, weighted: Dict[str, Tuple[float, float]]) -> float:
    name = _BY_ID[label].name
    if _BY_ID[label].ignore_in_eval or name not in weighted:
        return float("nan")
    tp, fn = weighted[name]
    fp = np.longlong(m[_not_ignored((label,)), label].sum())
    denom = tp + fp + fn
    return float("nan") if denom == 0 else float(tp) / denom


def _outside(category: str) -> List[int]:
    return [i for i in _IDS if not _BY_ID[i].ignore_in_eval and _BY_ID[i].category != category]


def category_iou(m: np.ndarray, category: str) -> float:
    ids = [i for i in _IDS if _BY_ID[i].category == category and not _BY_ID[i].ignore_in_eval]
    if not ids:
        return float("nan")
    tp = np.longlong(m[ids, :][:, ids].sum())
    fn = np.longlong(m[ids, :].sum()) - tp
    fp = np.longlong(m[_outside(category), :][:, ids].sum())
    denom = tp + fp + fn
    return float("nan") if denom == 0 else float(tp) / denom


def category_iiou(m: np.ndarray, category: str, weighted: Dict[str, Tuple[float, float]]) -> float:
    if category not in weighted:
        return float("nan")
    tp, fn = weighted[category]
    fp = np.longlong(m[_outside(category), :][:, INSTANCE_CATEGORIES[category]].sum())
    denom = tp + fp + fn
    return float("nan") if denom == 0 else float(tp) / denom


def average(scores: Dict[str, float]) -> float:
    """The mean of the non-NaN scores, summed in order (the reference's getScoreAverage)."""
    total, n = 0.0, 0
    for value in scores.values():
        if not math.isnan(value):
            total += value
            n += 1
    return float("nan") if n == 0 else total / n


def weighted_instance_counts(state: SemanticState, instance_names: Optional[List[str]] = None) \
        -> Tuple[Dict[str, Tuple[float, float]], Dict[str, Tuple[int, int]]]:
    """Weighted (TP, FN) per class and per instance category, summed as the reference does: image by
    image, instances in ascending id; and the unweighted (TP, FN) counts beside them."""
    weighted = {label.name: [0.0, 0.0] for label in CITYSCAPES_LABELS
                if label.has_instances and not label.ignore_in_eval}
    for category in INSTANCE_CATEGORIES:
        weighted[category] = [0.0, 0.0]
    plain = {key: [0, 0] for key in weighted}
    offsets, ids, cols, counts = state.instance_entries()
    if len(ids) == 0:
        return {k: (v[0], v[1]) for k, v in weighted.items()}, {k: (v[0], v[1]) for k, v in plain.items()}
    images = _entry_images(offsets)
    starts = np.flatnonzero(np.r_[True, (ids[1:] != ids[:-1]) | (np.diff(images) != 0)])
    # Per instance (a run of entries of one id in one image): its pixels, those predicted as its own
    # label, and those predicted as a label of its instance category; integer sums, exact.
    labels = ids // 1000
    sizes = np.add.reduceat(counts, starts).tolist()
    own = np.add.reduceat(np.where(cols == labels, counts, 0), starts).tolist()
    in_category = np.add.reduceat(np.where(_in_own_category(labels, cols), counts, 0), starts).tolist()
    # The weighted sums stay a loop of Python floats in the reference's order.
    for s, size, tp, cat_tp in zip(starts.tolist(), sizes, own, in_category):
        inst = int(ids[s])
        label_id = inst // 1000
        label = _BY_ID.get(label_id)
        if label is None:
            name = state.names[int(images[s])] if instance_names is None else instance_names[int(images[s])]
            raise FastPQError(f"{name}: instance id {inst} names label id {label_id}, which Cityscapes does not "
                              "define", file=name, segment_id=inst)
        if label.ignore_in_eval:
            continue
        fn = size - tp
        weight = CITYSCAPES_AVG_CLASS_SIZE[label.name] / float(size)
        w = weighted[label.name]
        w[0] += float(tp) * weight
        w[1] += float(fn) * weight
        plain[label.name][0] += tp
        plain[label.name][1] += fn
        if label.category in INSTANCE_CATEGORIES:
            cat_fn = size - cat_tp
            w = weighted[label.category]
            w[0] += float(cat_tp) * weight
            w[1] += float(cat_fn) * weight
            plain[label.category][0] += cat_tp
            plain[label.category][1] += cat_fn
    return {k: (v[0], v[1]) for k, v in weighted.items()}, {k: (v[0], v[1]) for k, v in plain.items()}


def _in_own_category(labels: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per entry: whether its predicted column is a label of the instance category of its label."""
    known = max(_IDS) + 1
    width = max(known, int(cols.max()) + 1)
    member = np.zeros((len(INSTANCE_CATEGORIES) + 1, width), dtype=bool)  # the last row: no category
    category_of = np.full(known, len(INSTANCE_CATEGORIES), dtype=np.int64)
    for index, (category, members) in enumerate(INSTANCE_CATEGORIES.items()):
        member[index, members] = True
        for label_id in members:
            category_of[label_id] = index
    category = np.where((labels >= 0) & (labels < known), category_of[np.clip(labels, 0, known - 1)],
                        len(INSTANCE_CATEGORIES))
    return member[category, cols]


def _entry_images(offsets: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def reference_dict(m: np.ndarray, weighted: Optional[Dict[str, Tuple[float, float]]]) -> Dict[str, Any]:
    """The result dict ``evaluateImgLists`` returns, key for key (no per-image block: its pixel
    accuracy option is off by default). Without instance maps the instance scores are NaN."""
    class_scores = {_BY_ID[i].name: class_iou(m, i) for i in _IDS}
    if weighted is None:
        class_inst = {_BY_ID[i].name: float("nan") for i in _IDS}
        cat_inst = {c: float("nan") for c in CITYSCAPES_CATEGORIES}
    else:
        class_inst = {_BY_ID[i].name: class_iiou(m, i, weighted) for i in _IDS}
        cat_inst = {c: category_iiou(m, c, weighted) for c in CITYSCAPES_CATEGORIES}
    cat_scores = {c: category_iou(m, c) for c in CITYSCAPES_CATEGORIES}
    total = m.sum()
    return {
        "confMatrix": m.tolist(),
        "priors": {_BY_ID[i].name: float(m[i, :].sum()) / total for i in _IDS},
        "labels": {_BY_ID[i].name: i for i in _IDS},
        "classScores": class_scores,
        "classInstScores": class_inst,
        "categoryScores": cat_scores,
        "categoryInstScores": cat_inst,
        "averageScoreClasses": average(class_scores),
        "averageScoreInstClasses": average(class_inst),
        "averageScoreCategories": average(cat_scores),
        "averageScoreInstCategories": average(cat_inst),
    }
