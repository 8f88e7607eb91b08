"""From counted state to :class:`SemanticResult`, by the preset's reference rules."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from . import cityscapes as cs
from . import reductions
from .labels import CITYSCAPES_LABELS
from .results import CategoryScore, ClassScore, SemanticResult
from .spec import Spec
from .state import SemanticState


def _cityscapes(spec: Spec, state: SemanticState) -> SemanticResult:
    m = state.confusion
    weighted = cs.weighted_instance_counts(state)[0] if spec.instances else None
    ref = cs.reference_dict(m, weighted)
    valid = [label.id for label in CITYSCAPES_LABELS if not label.ignore_in_eval]
    classes: Dict[str, ClassScore] = {}
    for label in CITYSCAPES_LABELS:
        if label.ignore_in_eval:
            continue
        i = label.id
        tp, row = int(m[i, i]), int(m[i, :].sum())
        iiou = ref["classInstScores"][label.name] if label.has_instances and weighted is not None else None
        classes[label.name] = ClassScore(label.name, ref["classScores"][label.name],
                                         accuracy=tp / row if row else float("nan"), iiou=iiou, tp=tp,
                                         gt_pixels=row, pred_pixels=int(m[valid, i].sum()))
    categories = {name: CategoryScore(name, ref["categoryScores"][name],
                                      ref["categoryInstScores"][name] if name in cs.INSTANCE_CATEGORIES and
                                      weighted is not None else None)
                  for name in ref["categoryScores"]}
    correct = int(sum(int(m[i, i]) for i in valid))
    labelled = int(m[valid, :].sum())
    accs = np.array([c.accuracy for c in classes.values()], dtype=float)
    with np.errstate(invalid="ignore"):
        mean_acc = float(np.nanmean(accs)) if np.isfinite(accs).any() else float("nan")
    return SemanticResult(
        "cityscapes", classes, ref["averageScoreClasses"], correct / labelled if labelled else float("nan"),
        mean_acc, ref, spec, state, categories=categories,
        miiou=ref["averageScoreInstClasses"] if weighted is not None else None)


def compute(spec: Spec, state: SemanticState) -> SemanticResult:
    """The result of ``state`` under ``spec``'s preset."""
    if spec.preset == "cityscapes":
        return _cityscapes(spec, state)
    if spec.preset == "torchmetrics":
        from .torch_reductions import torchmetrics as reduce
    elif spec.preset == "torchmetrics-meaniou":
        from .torch_reductions import mean_iou as reduce
    else:
        reduce = {"ade20k": reductions.ade20k, "mmseg": reductions.mmseg, "detectron2": reductions.detectron2,
                  None: reductions.plain}[spec.preset]
    classes, head, ref = reduce(spec, state)
    per_class = None
    if spec.preset == "mmseg":
        per_class, ref = ref["per_class"], ref["metrics"]
    extra: Dict[str, Any] = {k: head[k] for k in ("score", "fwiou") if k in head}
    return SemanticResult(spec.preset, classes, head["miou"], head["pixel_accuracy"], head.get("mean_accuracy"),
                          ref, spec, state, per_class=per_class, **extra)
