"""cityscapesscripts' evaluateMatches / computeAverages on counted images: the AP matrix, the
averages and the result dict, with the reference's float operations in its order."""

from __future__ import annotations

import warnings
from typing import Any, Dict

from .labels import INSTANCE_LABEL_IDS, INSTANCE_LABELS
from .matches import MatchData

MIN_REGION_SIZES = [100, 1000, 1000]
DISTANCE_THRESHOLDS = [float("inf"), 100.0, 50.0]
DISTANCE_CONFIDENCES = [-float("inf"), 0.5, 0.5]


def overlaps() -> Any:
    """The overlap thresholds, exactly the reference's np.arange(0.5, 1., 0.05)."""
    import numpy as np
    return np.arange(0.5, 1.0, 0.05)


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


def _class_curve(th: float, prepared: tuple) -> tuple:
    """(y_true, y_score, hard FNs) of one class, distance row and threshold over all images, as the
    reference collects them (the order differs; its AP depends only on the multiset)."""
    import numpy as np
    kept, ignored_gt, pp, pg, iou, score, pix, void, inter = prepared
    hit = iou > th
    on_kept = hit & kept[pg]
    gts, preds = pg[on_kept], pp[on_kept]
    order = np.lexsort((score[preds], gts))
    gts, preds = gts[order], preds[order]
    best = np.ones(gts.size, bool)
    best[:-1] = gts[1:] != gts[:-1]  # the last of each GT's group has the highest score
    hard_fns = int(kept.sum()) - int(best.sum())
    matched = np.zeros(score.size, bool)
    matched[pp[hit]] = True
    free = np.flatnonzero(~matched)
    ignore = void[free] + np.bincount(pp, weights=inter * ignored_gt[pg], minlength=score.size)[free].astype(np.int64)
    fp = free[ignore / pix[free] <= th]
    y_true = np.concatenate([best.astype(np.float64), np.zeros(fp.size)])
    y_score = np.concatenate([score[preds], score[fp]])
    return y_true, y_score, hard_fns


def _prepare(data: MatchData, label: int, d: int) -> tuple:
    """The threshold-free part of one class and distance row."""
    import numpy as np
    min_size, max_dist, min_conf = MIN_REGION_SIZES[d], DISTANCE_THRESHOLDS[d], DISTANCE_CONFIDENCES[d]
    g_lab = data.gt_label == label
    near = (data.gt_dist <= max_dist) & (data.gt_conf >= min_conf)
    # The reference's own test for ignoring, not "not near": a NaN distance is neither near nor far.
    far = (data.gt_dist > max_dist) | (data.gt_conf < min_conf)
    kept = g_lab & (data.gt_value >= 1000) & (data.gt_pixels >= min_size) & near
    # the reference adds a pair's pixels once for a group and once more for a small or far region
    ignored_gt = (data.gt_value < 1000).astype(np.int64) + ((data.gt_pixels < min_size) | far).astype(np.int64)
    preds = np.flatnonzero(data.pred_label == label)
    local = np.full(data.pred_label.size, -1, np.int64)
    local[preds] = np.arange(preds.size)
    on = local[data.pair_pred] >= 0
    pp, pg, inter = local[data.pair_pred[on]], data.pair_gt[on], data.pair_inter[on]
    pix = data.pred_pixels[preds]
    iou = inter / (data.gt_pixels[pg] + pix[pp] - inter)
    return kept, ignored_gt, pp, pg, iou, data.pred_score[preds], pix, data.pred_void[preds], inter


def ap_matrix(data: MatchData, distances: bool = False) -> Any:
    """The (1, 8, 10) AP array (distance-free row, classes, overlap thresholds), or (3, 8, 10) with
    the 100 m and 50 m rows when the GT distances are given."""
    import numpy as np
    ths = overlaps()
    rows = len(DISTANCE_THRESHOLDS) if distances else 1
    ap = np.zeros((rows, len(INSTANCE_LABELS), len(ths)), float)
    for d in range(rows):
        for c, label in enumerate(INSTANCE_LABEL_IDS):
            prepared = _prepare(data, label, d)
            have_gt, have_pred = bool(prepared[0].any()), prepared[5].size > 0
            for o, th in enumerate(ths):
                if have_gt and have_pred:
                    y_true, y_score, fns = _class_curve(th, prepared)
                    ap[d, c, o] = average_precision(y_true, y_score, fns)
                elif have_gt:
                    ap[d, c, o] = 0.0
                else:
                    ap[d, c, o] = float("nan")
    return ap


def result_dict(aps: Any) -> Dict[str, Any]:
    """The dict cityscapesscripts' evaluateImgLists returns (its JSON layout), as plain floats; with
    three distance rows, its distanceAvailable averages too (its index expressions, so its sums)."""
    import numpy as np
    ths = overlaps()
    dist_ths = np.array(DISTANCE_THRESHOLDS)
    d_inf = int(np.argmax(dist_ths))
    d50m, d100m = np.where(np.isclose(dist_ths, 50.0)), np.where(np.isclose(dist_ths, 100.0))
    o50 = np.where(np.isclose(ths, 0.5))
    with_distances = aps.shape[0] == len(DISTANCE_THRESHOLDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        averages: Dict[str, Any] = {"allAp": float(np.nanmean(aps[d_inf, :, :])),
                                    "allAp50%": float(np.nanmean(aps[d_inf, :, o50]))}
        if with_distances:
            averages["allAp50m"] = float(np.nanmean(aps[d50m, :, :]))
            averages["allAp100m"] = float(np.nanmean(aps[d100m, :, :]))
            averages["allAp50%50m"] = float(np.nanmean(aps[d50m, :, o50]))
        averages["classes"] = {}
        for c, name in enumerate(INSTANCE_LABELS):
            entry = {"ap": float(np.average(aps[d_inf, c, :])), "ap50%": float(np.average(aps[d_inf, c, o50]))}
            if with_distances:
                entry["ap50m"] = float(np.average(aps[d50m, c, :]))
                entry["ap100m"] = float(np.average(aps[d100m, c, :]))
                entry["ap50%50m"] = float(np.average(aps[d50m, c, o50]))
            averages["classes"][name] = entry
    return {
        "averages": averages,
        "overlaps": ths.tolist(),
        "minRegionSizes": list(MIN_REGION_SIZES),
        "distanceThresholds": list(DISTANCE_THRESHOLDS),
        "minStereoDensities": list(DISTANCE_CONFIDENCES),
        "instLabels": list(INSTANCE_LABELS),
        "resultApMatrix": aps.tolist(),
    }
