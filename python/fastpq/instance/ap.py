"""cityscapesscripts' evaluateMatches / computeAverages on counted images: the AP matrix, the
averages and the result dict, with the reference's float operations in its order."""

from __future__ import annotations

import warnings
from typing import Any, Dict, List

from .counting import ImageCounts
from .labels import INSTANCE_LABEL_IDS, INSTANCE_LABELS, VOID_VALUES, label_of_value

MIN_REGION_SIZES = [100, 1000, 1000]
DISTANCE_THRESHOLDS = [float("inf"), 100.0, 50.0]
DISTANCE_CONFIDENCES = [-float("inf"), 0.5, 0.5]


def overlaps() -> Any:
    """The overlap thresholds, exactly the reference's np.arange(0.5, 1., 0.05)."""
    import numpy as np
    return np.arange(0.5, 1.0, 0.05)


def _prepare(img: ImageCounts, label: int, min_size: int) -> tuple:
    """The threshold-free part of one image and class: overlaps (IoU) and ignored pixels."""
    import numpy as np
    value_labels = np.array([label_of_value(int(v)) for v in img.ids.tolist()], dtype=np.int64)
    cols = np.flatnonzero(value_labels == label)
    gt_ids, gt_pix = img.ids[cols], img.gt_pixels[cols]
    kept = (gt_ids >= 1000) & (gt_pix >= min_size)
    rows = np.flatnonzero(img.labels == label)
    sub = img.overlap[rows]
    pix = sub.sum(axis=1)
    inter = sub[:, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (gt_pix[None, :] + pix[:, None] - inter)
    void_cols = np.flatnonzero(np.isin(img.ids, VOID_VALUES))
    weight = (gt_ids < 1000).astype(np.int64) + (gt_pix < min_size).astype(np.int64)
    ignore = sub[:, void_cols].sum(axis=1) + (inter * weight[None, :]).sum(axis=1)
    return kept, inter, iou, img.scores[rows], pix, ignore


def _image_scores(prepared: tuple, th: float) -> tuple:
    """(y_true, y_score, hard FNs, have GT, have predictions) of one image, class and threshold."""
    import numpy as np
    kept, inter, iou, conf, pix, ignore = prepared
    have_gt, have_pred = bool(kept.any()), conf.size > 0
    hit = (inter > 0) & (iou > th)
    trues: List[float] = []
    scores: List[float] = []
    hard_fns = 0
    for j in np.flatnonzero(kept):
        matched = conf[hit[:, j]]
        if matched.size == 0:
            hard_fns += 1
            continue
        best = int(np.argmax(matched))
        trues.append(1.0)
        scores.append(float(matched[best]))
        others = np.delete(matched, best)
        trues += [0.0] * others.size
        scores += others.tolist()
    unmatched = ~hit.any(axis=1)
    if unmatched.any():
        for p in np.flatnonzero(unmatched):
            if float(ignore[p]) / int(pix[p]) <= th:
                trues.append(0.0)
                scores.append(float(conf[p]))
    return trues, scores, hard_fns, have_gt, have_pred


def average_precision(y_true: Any, y_score: Any, hard_fns: int) -> float:
    """The reference's PR curve (no envelope, artificial (0, 1) end) and step integration. An empty
    curve (every prediction ignored; the reference crashes there) scores 0."""
    import numpy as np
    if y_score.size == 0:
        return 0.0
    order = np.argsort(y_score)
    cumsum = np.cumsum(y_true[order])
    _, first = np.unique(y_score[order], return_index=True)
    n_true = cumsum[-1]
    cumsum = np.append(cumsum, 0)
    below = cumsum[first - 1]
    tp = n_true - below
    fp = y_score.size - first - tp
    fn = below + hard_fns
    precision = np.append(tp / (tp + fp), 1.0)
    recall = np.append(tp / (tp + fn), 0.0)
    padded = np.append(np.append(recall[0], recall), 0.0)
    widths = np.convolve(padded, [-0.5, 0, 0.5], "valid")
    return float(np.dot(precision, widths))


def ap_matrix(images: List[ImageCounts]) -> Any:
    """The (1, 8, 10) AP array: distance-free row, classes, overlap thresholds."""
    import numpy as np
    ths = overlaps()
    ap = np.zeros((1, len(INSTANCE_LABELS), len(ths)), float)
    prepared = {(i, label): _prepare(img, label, MIN_REGION_SIZES[0])
                for i, img in enumerate(images) for label in INSTANCE_LABEL_IDS}
    for o, th in enumerate(ths):
        for c, label in enumerate(INSTANCE_LABEL_IDS):
            y_true: List[float] = []
            y_score: List[float] = []
            fns, have_gt, have_pred = 0, False, False
            for i in range(len(images)):
                t, s, f, g, p = _image_scores(prepared[(i, label)], th)
                y_true += t
                y_score += s
                fns += f
                have_gt |= g
                have_pred |= p
            if have_gt and have_pred:
                ap[0, c, o] = average_precision(np.array(y_true), np.array(y_score), fns)
            elif have_gt:
                ap[0, c, o] = 0.0
            else:
                ap[0, c, o] = float("nan")
    return ap


def result_dict(aps: Any) -> Dict[str, Any]:
    """The dict cityscapesscripts' evaluateImgLists returns (its JSON layout), as plain floats."""
    import numpy as np
    ths = overlaps()
    o50 = np.where(np.isclose(ths, 0.5))
    d = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        averages: Dict[str, Any] = {
            "allAp": float(np.nanmean(aps[d, :, :])),
            "allAp50%": float(np.nanmean(aps[d, :, o50])),
            "classes": {},
        }
        for c, name in enumerate(INSTANCE_LABELS):
            averages["classes"][name] = {"ap": float(np.average(aps[d, c, :])),
                                         "ap50%": float(np.average(aps[d, c, o50]))}
    return {
        "averages": averages,
        "overlaps": ths.tolist(),
        "minRegionSizes": list(MIN_REGION_SIZES),
        "distanceThresholds": list(DISTANCE_THRESHOLDS),
        "minStereoDensities": list(DISTANCE_CONFIDENCES),
        "instLabels": list(INSTANCE_LABELS),
        "resultApMatrix": aps.tolist(),
    }
