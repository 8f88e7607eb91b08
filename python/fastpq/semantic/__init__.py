"""Semantic segmentation scores: Cityscapes class / category IoU and iIoU, ADE20K scene parsing,
and the mmseg, detectron2 and torchmetrics conventions, each equal to its reference.

>>> import fastpq.semantic as S
>>> r = S.evaluate("gtFine/val", "results/", preset="cityscapes")
>>> r.miou, r.classes["car"].iou, r.classes["car"].iiou, r.categories["vehicle"].iou
>>> m = S.SemanticQuality(num_classes=150, preset="mmseg", reduce_zero_label=True)

One C++ pass per image pair reads both label maps (8/16-bit grey, palette, RGB PNGs, or integer
arrays) and counts their confusion matrix (and, for Cityscapes, each ground-truth instance's pixels
by predicted label); the presets turn those counts into their reference's numbers.
"""

from __future__ import annotations

from .evaluation import evaluate, read_label_map
from .labels import ADE20K_CLASSES, CITYSCAPES_LABELS
from .quality import SemanticQuality
from .results import CategoryScore, ClassScore, SemanticResult
from .spec import PRESETS

__all__ = ["ADE20K_CLASSES", "CITYSCAPES_LABELS", "CategoryScore", "ClassScore", "PRESETS", "SemanticQuality",
           "SemanticResult", "evaluate", "read_label_map"]
