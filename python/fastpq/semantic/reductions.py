"""The class-index presets' scores, each in its reference's own arithmetic.

- ``ade20k`` (CSAILVision/sceneparsing, evaluationCode/utils_eval.py and its usage notes): per image
  the intersection and union of each class 1..150 (ground truth 0 ignored, predictions there
  zeroed); class IoU = sum of intersections / sum over images of (eps + union), float64, summed
  along the image axis of a (150, N) array as the usage note does; a class absent everywhere scores
  0 and counts in the mean over 150; pixel accuracy = correct / (eps + labelled); score = mean of the two.
- ``mmseg`` (mmseg/evaluation/metrics/iou_metric.py, IoUMetric): per image float32 histograms; the
  totals are float32 sums in image order; IoU, Acc, Dice, F-score, precision, recall as float32
  ratios; summaries ``round(nanmean(x) * 100, 2)``. The one sum over classes (aAcc) is torch's when
  torch is importable (as mmseg's is), numpy's pairwise float32 sum otherwise.
- ``detectron2`` (detectron2/evaluation/sem_seg_evaluation.py, SemSegEvaluator): int64 matrix,
  float64 ratios, classes without ground-truth pixels NaN and left out of the means, x 100.
- plain options (no preset): float64 ratios of the dataset totals, NaN for empty classes, nan-means.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .results import ClassScore
from .state import SemanticState

Computed = Tuple[Dict[str, ClassScore], Dict[str, Any], Dict[str, Any]]


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / b


def _class_counts(spec: Any, state: SemanticState) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    return state.per_image_class_counts(spec.class_rows, spec.class_cols)


def ade20k(spec: Any, state: SemanticState) -> Computed:
    tp, gt, pred = _class_counts(spec, state)
    union = pred + gt - tp
    eps = np.spacing(1)
    iou = 1.0 * np.sum(tp.T, axis=1) / np.sum(eps + np.ascontiguousarray(union.T), axis=1)
    mean_iou = float(np.mean(iou))
    correct = int(np.trace(state.confusion[1:, 1:].astype(np.int64)))
    labelled = int(state.confusion[1:, :].sum())
    pixel_accuracy = 1.0 * correct / (eps + labelled)
    score = (pixel_accuracy + mean_iou) / 2
    t, g, p = tp.sum(0), gt.sum(0), pred.sum(0)
    classes = {name: ClassScore(name, float(iou[k]), accuracy=_f(_ratio(t[k], g[k])), tp=int(t[k]),
                                gt_pixels=int(g[k]), pred_pixels=int(p[k]))
               for k, name in enumerate(spec.class_names)}
    head = {"miou": mean_iou, "pixel_accuracy": float(pixel_accuracy), "score": float(score),
            "mean_accuracy": float(np.nanmean(_ratio(t.astype(float), g))) if (g > 0).any() else float("nan")}
    ref = {"pixel_accuracy": float(pixel_accuracy), "mean_iou": mean_iou, "score": float(score),
           "iou": [float(v) for v in iou]}
    return classes, head, ref


def _f(x: Any) -> float:
    return float(x)


def _torch_sum_f32(values: np.ndarray) -> np.float32:
    """A float32 sum over classes as torch computes it (mmseg sums tensors), numpy's otherwise."""
    try:
        import torch
    except ImportError:
        return np.float32(np.sum(values, dtype=np.float32))
    return np.float32(torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).sum().item())


def _f32_image_sums(per_image: np.ndarray) -> np.ndarray:
    """Python's ``sum`` of per-image float32 vectors: 0 + v1 + v2 + ..., in float32, in order."""
    if per_image.shape[0] == 0:
        return np.zeros(per_image.shape[1], dtype=np.float32)
    return np.add.accumulate(per_image.astype(np.float32), axis=0, dtype=np.float32)[-1]


def mmseg_metrics(tp: np.ndarray, gt: np.ndarray, pred: np.ndarray, metrics: Sequence[str] = ("mIoU",),
                  nan_to_num: Optional[float] = None, beta: float = 1) -> "OrderedDict[str, np.ndarray]":
    """IoUMetric.total_area_to_metrics on per-image (N, K) counts, in float32 as mmseg computes."""
    inter_i, label_i, pred_i = (x.astype(np.float32) for x in (tp, gt, pred))
    union_i = pred_i + label_i - inter_i
    inter, union, area_pred, area_label = (_f32_image_sums(x) for x in (inter_i, union_i, pred_i, label_i))
    allowed = {"mIoU", "mDice", "mFscore"}
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not set(metrics) <= allowed:
        raise KeyError(f"metrics {metrics} is not supported")
    out: "OrderedDict[str, np.ndarray]" = OrderedDict()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["aAcc"] = np.float32(_torch_sum_f32(inter) / _torch_sum_f32(area_label))
        for metric in metrics:
            if metric == "mIoU":
                out["IoU"] = inter / union
                out["Acc"] = inter / area_label
            elif metric == "mDice":
                out["Dice"] = 2 * inter / (area_pred + area_label)
                out["Acc"] = inter / area_label
            else:
                precision = inter / area_pred
                recall = inter / area_label
                b2 = beta ** 2
                out["Fscore"] = np.array([(1 + b2) * (p * r) / ((b2 * p) + r) for p, r in zip(precision, recall)],
                                         dtype=np.float32)
                out["Precision"] = precision
                out["Recall"] = recall
    out = OrderedDict((k, np.asarray(v)) for k, v in out.items())
    if nan_to_num is not None:
        out = OrderedDict((k, np.nan_to_num(v, nan=nan_to_num)) for k, v in out.items())
    return out


def mmseg(spec: Any, state: SemanticState) -> Computed:
    tp, gt, pred = _class_counts(spec, state)
    opts = spec.options
    ret = mmseg_metrics(tp, gt, pred, opts.get("metrics", ("mIoU",)), opts.get("nan_to_num"), opts.get("beta", 1))
    summary: Dict[str, Any] = OrderedDict()
    with np.errstate(invalid="ignore"):
        for key, value in ret.items():
            rounded = np.round(np.nanmean(value) * 100, 2)
            summary[key if key == "aAcc" else "m" + key] = rounded
    per_class: Dict[str, Any] = OrderedDict([("Class", list(spec.class_names))])
    for key, value in ret.items():
        if key != "aAcc":
            per_class[key] = np.round(value * 100, 2)
    t, g, p = tp.sum(0), gt.sum(0), pred.sum(0)

    def get(key: str, k: int) -> Optional[float]:
        return float(ret[key][k]) if key in ret else None

    classes = {name: ClassScore(name, float(ret["IoU"][k]) if "IoU" in ret else _f(_ratio(t[k], t[k] + (p[k] - t[k]) + (g[k] - t[k]))),
                                accuracy=get("Acc", k), dice=get("Dice", k), precision=get("Precision", k),
                                recall=get("Recall", k), tp=int(t[k]), gt_pixels=int(g[k]), pred_pixels=int(p[k]))
               for k, name in enumerate(spec.class_names)}
    iou = np.array([c.iou for c in classes.values()])
    acc = ret.get("Acc")
    with np.errstate(invalid="ignore"):
        head = {"miou": float(np.nanmean(iou)), "pixel_accuracy": float(ret["aAcc"]),
                "mean_accuracy": float(np.nanmean(acc)) if acc is not None else None}
    ref = dict(summary)
    return classes, head, {"metrics": ref, "per_class": per_class}


def plain(spec: Any, state: SemanticState) -> Computed:
    m = state.confusion.astype(np.int64)
    rows, cols = spec.class_rows, spec.class_cols
    t = m[rows, cols].astype(np.float64)
    g = m[rows, :].sum(axis=1).astype(np.float64)
    p = m[:, cols].sum(axis=0).astype(np.float64)
    iou = _ratio(t, g + p - t)
    acc = _ratio(t, g)
    dice = _ratio(2 * t, g + p)
    precision = _ratio(t, p)
    classes = {name: ClassScore(name, float(iou[k]), accuracy=float(acc[k]), dice=float(dice[k]),
                                precision=float(precision[k]), recall=float(acc[k]), tp=int(t[k]),
                                gt_pixels=int(g[k]), pred_pixels=int(p[k]))
               for k, name in enumerate(spec.class_names)}
    with np.errstate(invalid="ignore"):
        mean = {"mIoU": np.nanmean(iou), "mAcc": np.nanmean(acc), "mDice": np.nanmean(dice),
                "aAcc": t.sum() / g.sum() if g.sum() else float("nan")}
    head = {"miou": float(mean["mIoU"]), "pixel_accuracy": float(mean["aAcc"]), "mean_accuracy": float(mean["mAcc"])}
    ref = {"aAcc": float(mean["aAcc"]), "mIoU": float(mean["mIoU"]), "mAcc": float(mean["mAcc"]),
           "mDice": float(mean["mDice"]), "IoU": [float(v) for v in iou], "Acc": [float(v) for v in acc]}
    return classes, head, ref


def detectron2(spec: Any, state: SemanticState) -> Computed:
    m = state.confusion.astype(np.int64)
    k = spec.num_classes
    conf = m[np.ix_(spec.class_rows, spec.class_cols)].T  # detectron2 indexes [pred, gt]
    acc = np.full(k, np.nan, dtype=float)
    iou = np.full(k, np.nan, dtype=float)
    tp = conf.diagonal().astype(float)
    pos_gt = np.sum(conf, axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        class_weights = pos_gt / np.sum(pos_gt)
    pos_pred = np.sum(conf, axis=1).astype(float)
    acc_valid = pos_gt > 0
    acc[acc_valid] = tp[acc_valid] / pos_gt[acc_valid]
    union = pos_gt + pos_pred - tp
    iou_valid = np.logical_and(acc_valid, union > 0)
    iou[iou_valid] = tp[iou_valid] / union[iou_valid]
    with np.errstate(divide="ignore", invalid="ignore"):
        macc = np.sum(acc[acc_valid]) / np.sum(acc_valid)
        miou = np.sum(iou[iou_valid]) / np.sum(iou_valid)
        fiou = np.sum(iou[iou_valid] * class_weights[iou_valid])
        pacc = np.sum(tp) / np.sum(pos_gt)
    res: Dict[str, Any] = {"mIoU": 100 * miou, "fwIoU": 100 * fiou}
    for i, name in enumerate(spec.class_names):
        res[f"IoU-{name}"] = 100 * iou[i]
    res["mACC"] = 100 * macc
    res["pACC"] = 100 * pacc
    for i, name in enumerate(spec.class_names):
        res[f"ACC-{name}"] = 100 * acc[i]
    classes = {name: ClassScore(name, float(iou[i]), accuracy=float(acc[i]), tp=int(tp[i]),
                                gt_pixels=int(pos_gt[i]), pred_pixels=int(pos_pred[i]))
               for i, name in enumerate(spec.class_names)}
    head = {"miou": float(miou), "pixel_accuracy": float(pacc), "mean_accuracy": float(macc), "fwiou": float(fiou)}
    return classes, head, {"sem_seg": res}


def per_image_ious(spec: Any, state: SemanticState) -> List[np.ndarray]:
    """Each image's class IoU (float64, NaN where the class is in neither map)."""
    tp, gt, pred = _class_counts(spec, state)
    return list(_ratio(tp.astype(float), (gt + pred - tp).astype(float)))
