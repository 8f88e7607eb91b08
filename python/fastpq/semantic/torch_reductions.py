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
