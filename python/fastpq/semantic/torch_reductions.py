"""The ``torchmetrics`` preset: ``MulticlassJaccardIndex``'s reduction of the confusion matrix, done
with torch's float32 operations in its order (torchmetrics' _jaccard_index_reduce), so the value is
the very float32 torchmetrics returns. The matrix itself comes from fastpq's pass: target pixels equal
to ``ignore_index`` are dropped, predictions are kept (a prediction of the ignored class still counts
in its column). Needs torch, as torchmetrics does."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from ..errors import InvalidOptionError
from .reductions import Computed
from .results import ClassScore
from .state import SemanticState

AVERAGES = ("macro", "micro", "weighted", "none")


def _safe_divide(torch: Any, num: Any, denom: Any, zero_division: float) -> Any:
    zero_division_tensor = torch.tensor(zero_division, dtype=num.dtype)
    return torch.where(denom != 0, num / denom, zero_division_tensor)


def jaccard(confusion: np.ndarray, average: str = "macro", ignore_index: Any = None,
            zero_division: float = 0.0) -> Any:
    """The tensor MulticlassJaccardIndex(average=...).compute() gives for this (K, K) matrix."""
    import torch

    if average not in AVERAGES:
        raise InvalidOptionError(f"average must be one of {AVERAGES}, not {average!r}")
    confmat = torch.from_numpy(confusion.astype(np.int64)).float()
    ignore_cond = ignore_index is not None and 0 <= ignore_index < confmat.shape[0]
    num = torch.diag(confmat)
    denom = confmat.sum(0) + confmat.sum(1) - num
    if average == "micro":
        num = num.sum()
        denom = denom.sum() - (denom[ignore_index] if ignore_cond else 0.0)
    score = _safe_divide(torch, num, denom, zero_division)
    if average in ("none", "micro"):
        return score
    if average == "weighted":
        weights = confmat.sum(1)
    else:
        weights = torch.ones_like(score)
        if ignore_cond:
            weights[ignore_index] = 0.0
        weights[confmat.sum(1) + confmat.sum(0) == 0] = 0.0
    return ((weights * score) / weights.sum()).sum()


def torchmetrics(spec: Any, state: SemanticState) -> Computed:
    opts = spec.options
    ignores = opts.get("ignore_index") or []
    if len(ignores) > 1:
        raise InvalidOptionError("torchmetrics takes one ignore_index")
    ignore = ignores[0] if ignores else None
    zero_division = float(opts.get("zero_division", 0.0))
    average = opts.get("average", "macro")
    m = state.confusion
    value = jaccard(m, average, ignore, zero_division)
    per_class = jaccard(m, "none", ignore, zero_division)
    t = np.diag(m).astype(np.int64)
    g = m.sum(axis=1).astype(np.int64)
    p = m.sum(axis=0).astype(np.int64)
    classes = {name: ClassScore(name, float(per_class[k]), tp=int(t[k]), gt_pixels=int(g[k]), pred_pixels=int(p[k]))
               for k, name in enumerate(spec.class_names)}
    micro = jaccard(m, "micro", ignore, zero_division)
    head: Dict[str, Any] = {"miou": float(jaccard(m, "macro", ignore, zero_division)),
                            "pixel_accuracy": float(t.sum() / g.sum()) if g.sum() else float("nan"),
                            "mean_accuracy": None}
    ref = {"jaccard": value.tolist() if value.ndim else float(value), "per_class": [float(v) for v in per_class],
           "micro": float(micro)}
    return classes, head, ref


def mean_iou(spec: Any, state: SemanticState) -> Computed:
    """The ``torchmetrics-meaniou`` preset: ``torchmetrics.segmentation.MeanIoU(num_classes,
    include_background, per_class, input_format="index")`` updated once per image, in image order.

    MeanIoU averages *per-image* IoUs: each image's class IoU (float32 I / U, 0 where U = 0) is added
    to a running float32 score wherever the class occurs in the image (U > 0), and the count of such
    (image, class) pairs divides it at the end; ``per_class`` keeps one sum per class (-1 for a class in
    no image). The arithmetic runs in torch, update by update, so the value is the float32 torchmetrics
    returns. A batched MeanIoU update sums its images' scores in one torch sum, which can differ from
    this one-image-per-update order in the last bit."""
    import torch

    opts = spec.options
    include_background = bool(opts.get("include_background", True))
    per_class = bool(opts.get("per_class", False))
    tp, gt, pred = state.per_image_class_counts(spec.class_rows, spec.class_cols)
    union = gt + pred - tp
    first = 0 if include_background else 1  # MeanIoU drops class 0 from the scores without it
    inter_t = torch.from_numpy(np.ascontiguousarray(tp))
    union_t = torch.from_numpy(np.ascontiguousarray(union))
    k = inter_t.shape[1]
    # Both of MeanIoU's states (per_class=False and per_class=True), over every class; the per-class
    # sums of the classes scored do not depend on which others are scored.
    total, total_count = torch.zeros(1), torch.zeros(k - first)
    by_class, by_class_count = torch.zeros(k), torch.zeros(k)
    for i in range(state.n_images):
        union_i = union_t[i:i + 1]
        iou = _safe_divide(torch, inter_t[i:i + 1].float(), union_i.float(), 0.0)
        valid = union_i > 0
        total += (iou[:, first:] * valid[:, first:]).sum()
        total_count += valid[:, first:].sum()
        by_class += (iou * valid).sum(dim=0)
        by_class_count += valid.sum(dim=0)
    overall = (total / total_count).nanmean()
    class_tensor = (by_class / by_class_count).nan_to_num(-1.0)
    value = class_tensor[first:] if per_class else overall
    class_values = class_tensor.tolist()
    t, g, p = tp.sum(0), gt.sum(0), pred.sum(0)
    classes = {name: ClassScore(name, float(class_values[j]), tp=int(t[j]), gt_pixels=int(g[j]),
                                pred_pixels=int(p[j]))
               for j, name in enumerate(spec.class_names)}
    head: Dict[str, Any] = {"miou": float(overall),
                            "pixel_accuracy": float(t.sum() / g.sum()) if g.sum() else float("nan"),
                            "mean_accuracy": None}
    # torchmetrics' Metric.compute squeezes a one-element result to a scalar (one scored class).
    ref = {"mean_iou": value.tolist() if value.numel() != 1 else float(value.reshape(())),
           "per_class": class_values[first:],
           "images": int(state.n_images)}
    return classes, head, ref
