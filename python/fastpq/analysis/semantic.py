"""Per-image rows and bootstrap intervals of semantic scores (``fastpq.semantic`` results).

Both work on the per-image class counts of a :class:`~fastpq.semantic.SemanticResult`: for image i
and scored class k, TP (pixels of the class predicted as it), its ground-truth pixels and its
predicted pixels (counted on the rows the preset counts false positives on). A resample's totals
are the images' counts times their multiplicities, drawn exactly as the panoptic bootstrap draws them
(``Generator(PCG64(seed))``); its mIoU follows the preset's averaging rule: ADE20K averages all 150
classes (an absent class scores 0), detectron2 the classes with ground-truth pixels, the others the
classes present on either side. Intervals are float64 statistics; the point estimate beside them is
the same statistic on all images (it can differ in the last bits from a preset's float32 headline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

import numpy as np

from ..semantic.cityscapes import counted_rows
from ..semantic.results import SemanticResult
from .resampling import Interval, _check_bootstrap_arguments, interval, resample_counts


def class_counts(result: SemanticResult) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tp, gt, pred), each (images, classes) int64, as the result's preset counts them."""
    spec = result.spec
    counted = np.array(counted_rows(), dtype=np.int64) if spec.preset == "cityscapes" else None
    return result.state.per_image_class_counts(spec.class_rows, spec.class_cols, counted)


def _mean_iou(preset: Any, tp: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """mIoU along the last axis by the preset's averaging rule (NaN where no class counts)."""
    union = gt + pred - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = tp / union
    if preset == "ade20k":
        return np.where(union > 0, iou, 0.0).mean(axis=-1)
    valid = gt > 0 if preset == "detectron2" else union > 0
    n = valid.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(valid, iou, 0.0).sum(axis=-1) / np.where(n > 0, n, np.nan)


def _image_iou_sums(result: SemanticResult, tp: np.ndarray, gt: np.ndarray,
                    pred: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per image, the sum of its class IoUs and how many classes occur in it (torchmetrics' MeanIoU
    averages these per-image IoUs, not the dataset's; without background, class 0 is left out)."""
    first = 0 if result.spec.options.get("include_background", True) else 1
    union = (gt + pred - tp)[:, first:]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, tp[:, first:] / union, 0.0)
    return iou.sum(axis=1), (union > 0).sum(axis=1).astype(np.float64)


def image_rows(result: SemanticResult) -> List[Dict[str, Any]]:
    """One row per image: its name, mIoU, pixel accuracy and each class's IoU (None where the class
    is in neither map; for ADE20K the image mIoU still averages all 150, as the benchmark does)."""
    tp, gt, pred = (x.astype(np.float64) for x in class_counts(result))
    if result.preset == "torchmetrics-meaniou":
        sums, counts = _image_iou_sums(result, tp, gt, pred)
        with np.errstate(divide="ignore", invalid="ignore"):
            miou = sums / counts
    else:
        miou = _mean_iou(result.preset, tp, gt, pred)
    union = gt + pred - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = tp / union
        accuracy = tp.sum(axis=1) / gt.sum(axis=1)
    rows = []
    for i, name in enumerate(result.image_names):
        row: Dict[str, Any] = {"image": name, "miou": _num(miou[i]), "pixel_accuracy": _num(accuracy[i]),
                               "gt_pixels": int(gt[i].sum())}
        for k, cls in enumerate(result.spec.class_names):
            row[f"iou/{cls}"] = _num(iou[i, k]) if union[i, k] > 0 else None
        rows.append(row)
    return rows


def _num(x: float) -> Any:
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class SemanticBootstrap:
    """Bootstrap percentile intervals of mIoU, pixel accuracy and each class's IoU."""

    intervals: Dict[str, Interval]
    n_images: int
    n_resamples: int
    seed: int
    ci: float

    def to_dict(self) -> Dict[str, Any]:
        return {"n_images": self.n_images, "n_resamples": self.n_resamples, "seed": self.seed, "ci": self.ci,
                "method": "percentile", **{k: iv.to_dict() for k, iv in self.intervals.items()}}

    def table(self) -> str:
        lines = [f"{100 * self.ci:g}% bootstrap percentile intervals, {self.n_resamples} resamples of "
                 f"{self.n_images} images, seed {self.seed}"]
        width = max(len(k) for k in self.intervals)
        for key, iv in self.intervals.items():
            lines.append(f"{key:<{width}}  {100 * iv.estimate:6.2f}  [{100 * iv.lower:6.2f}, {100 * iv.upper:6.2f}]")
        return "\n".join(lines)


def bootstrap(result: SemanticResult, n_resamples: int = 1000, seed: int = 0, ci: float = 0.95) -> SemanticBootstrap:
    """Bootstrap percentile intervals over images of mIoU, pixel accuracy and per-class IoU."""
    _check_bootstrap_arguments(n_resamples, ci)
    tp, gt, pred = (x.astype(np.float64) for x in class_counts(result))
    names = list(result.spec.class_names)
    samples: Dict[str, List[np.ndarray]] = {k: [] for k in ["miou", "pixel_accuracy"] + [f"iou/{n}" for n in names]}
    n = tp.shape[0]
    per_image = result.preset == "torchmetrics-meaniou"
    if per_image:
        iou_sums, iou_counts = _image_iou_sums(result, tp, gt, pred)
    for weights in resample_counts(n, n_resamples, seed):
        t, g, p = (weights.T @ x for x in (tp, gt, pred))  # (resamples, classes)
        if per_image:
            with np.errstate(divide="ignore", invalid="ignore"):
                samples["miou"].append((weights.T @ iou_sums) / (weights.T @ iou_counts))
        else:
            samples["miou"].append(_mean_iou(result.preset, t, g, p))
        with np.errstate(divide="ignore", invalid="ignore"):
            samples["pixel_accuracy"].append(t.sum(axis=1) / g.sum(axis=1))
            iou = t / (g + p - t)
        for k, name in enumerate(names):
            samples[f"iou/{name}"].append(iou[:, k])
    t, g, p = tp.sum(0), gt.sum(0), pred.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        miou = iou_sums.sum() / iou_counts.sum() if per_image else _mean_iou(result.preset, t, g, p)
        point = {"miou": float(miou), "pixel_accuracy": float(t.sum() / g.sum())}
        point.update({f"iou/{name}": float(t[k] / (g[k] + p[k] - t[k])) for k, name in enumerate(names)})
    intervals = {k: interval(point[k], np.concatenate(v), ci) for k, v in samples.items()}
    return SemanticBootstrap(intervals, n, n_resamples, seed, ci)
