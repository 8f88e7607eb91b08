"""The result of a semantic evaluation: per-class and per-category scores, headline numbers, the
confusion matrix, and the reference's own result layout (``to_dict``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from .spec import Spec
from .state import SemanticState


@dataclass(frozen=True)
class ClassScore:
    """One class's scores, as its preset's reference computes them (None where it has none)."""

    name: str
    iou: float
    accuracy: Optional[float] = None
    dice: Optional[float] = None
    precision: Optional[float] = None
    recall: Optional[float] = None
    iiou: Optional[float] = None
    tp: int = 0
    gt_pixels: int = 0
    pred_pixels: int = 0


@dataclass(frozen=True)
class CategoryScore:
    """A Cityscapes category's IoU and (human, vehicle) instance-level IoU."""

    name: str
    iou: float
    iiou: Optional[float] = None


def _fmt(x: Optional[float], scale: float = 100.0) -> str:
    if x is None:
        return "-"
    return "nan" if isinstance(x, float) and math.isnan(x) else f"{x * scale:.2f}"


@dataclass
class SemanticResult:
    """Scores of one semantic evaluation.

    ``miou``, ``pixel_accuracy`` and ``mean_accuracy`` are fractions (0..1) computed with the
    preset's rules; ``to_dict()`` gives the reference's own numbers and layout (mmseg and detectron2
    report percentages there, as they do)."""

    preset: Optional[str]
    classes: Dict[str, ClassScore]
    miou: float
    pixel_accuracy: float
    mean_accuracy: Optional[float]
    reference: Dict[str, Any]
    spec: Spec = field(repr=False)
    state: SemanticState = field(repr=False)
    categories: Dict[str, CategoryScore] = field(default_factory=dict)
    miiou: Optional[float] = None
    score: Optional[float] = None
    fwiou: Optional[float] = None
    per_class: Optional[Dict[str, Any]] = None

    @property
    def confusion(self) -> np.ndarray:
        """The (K, K) uint64 confusion matrix, rows ground truth, columns prediction (Cityscapes and
        ADE20K: indexed by label value, 34 x 34 and 151 x 151; other presets: by class index)."""
        return self.state.confusion.copy()

    @property
    def n_images(self) -> int:
        return self.state.n_images

    @property
    def image_names(self) -> List[str]:
        return list(self.state.names)

    def to_dict(self) -> Dict[str, Any]:
        """The reference's result, in its layout (see the preset's docs)."""
        return dict(self.reference)

    def summary(self) -> Dict[str, Any]:
        """The headline numbers as a flat dict (fractions; None where the preset has none)."""
        out = {"preset": self.preset, "n_images": self.n_images, "miou": self.miou,
               "pixel_accuracy": self.pixel_accuracy, "mean_accuracy": self.mean_accuracy}
        for key in ("miiou", "score", "fwiou"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def table(self) -> str:
        """A plain-text table: one row per class (IoU, accuracy, iIoU in percent), then the means."""
        names = list(self.classes)
        width = max([5] + [len(n) for n in names] + [len(n) for n in self.categories])
        has_iiou = any(c.iiou is not None for c in self.classes.values())
        head = f"{'class':<{width}}  {'IoU':>7}  {'Acc':>7}" + (f"  {'iIoU':>7}" if has_iiou else "")
        lines = [head, "-" * len(head)]
        for name in names:
            c = self.classes[name]
            line = f"{name:<{width}}  {_fmt(c.iou):>7}  {_fmt(c.accuracy):>7}"
            lines.append(line + (f"  {_fmt(c.iiou):>7}" if has_iiou else ""))
        lines.append("-" * len(head))
        mean = f"{'mean':<{width}}  {_fmt(self.miou):>7}  {_fmt(self.mean_accuracy):>7}"
        lines.append(mean + (f"  {_fmt(self.miiou):>7}" if has_iiou else ""))
        lines.append(f"pixel accuracy {_fmt(self.pixel_accuracy)}" +
                     (f", score {_fmt(self.score)}" if self.score is not None else "") +
                     (f", fwIoU {_fmt(self.fwiou)}" if self.fwiou is not None else ""))
        if self.categories:
            lines += ["", f"{'category':<{width}}  {'IoU':>7}  {'iIoU':>7}"]
            for name, cat in self.categories.items():
                lines.append(f"{name:<{width}}  {_fmt(cat.iou):>7}  {_fmt(cat.iiou):>7}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def nan_to_none(values: Mapping[str, Any]) -> Dict[str, Any]:
    """A dict whose NaN floats are None (for JSON output)."""
    out: Dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out[key] = nan_to_none(value)
        elif isinstance(value, (float, np.floating)) and math.isnan(float(value)):
            out[key] = None
        elif isinstance(value, np.floating):
            out[key] = float(value)
        elif isinstance(value, np.ndarray):
            out[key] = [None if isinstance(v, float) and math.isnan(v) else v for v in value.tolist()]
        else:
            out[key] = value
    return out
