"""``SemanticQuality``: semantic scores accumulated batch by batch in memory (arrays, tensors, files
or PNG bytes), mergeable across workers and picklable, equal to one ``evaluate`` over all images."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from ..errors import InvalidOptionError
from ..io.limits import DEFAULT_MAX_PIXELS
from .compute import compute
from .evaluation import run_pass
from .results import SemanticResult
from .sources import flatten
from .spec import Spec, make_spec
from .state import SemanticState


class SemanticQuality:
    """Accumulates semantic scores over batches.

    >>> m = SemanticQuality(num_classes=150, preset="mmseg", reduce_zero_label=True)
    >>> m.update(gt_batch, pred_batch)   # (N, H, W) or (H, W) integer arrays / tensors, paths, bytes
    >>> m.compute().miou

    The options are :func:`fastpq.semantic.evaluate`'s. ``merge`` adds another instance's images
    after this one's (the order the reference would have seen them in, for the presets whose
    arithmetic depends on it). The cityscapes preset scores iIoU from the instance maps every
    ``update`` then needs (as the reference needs every ``*_instanceIds.png``); with
    ``instances=False`` it scores without iIoU (``None``, as ``evaluate(..., instances=False)``)."""

    def __init__(self, num_classes: Optional[int] = None, preset: Optional[str] = None, *, workers: int = 0,
                 max_pixels: Optional[int] = None, instances: Optional[bool] = None, **options: Any) -> None:
        self._init = dict(num_classes=num_classes, preset=preset, workers=workers, max_pixels=max_pixels,
                          instances=instances, **options)
        self.preset = preset
        self.workers, self.max_pixels = workers, max_pixels
        self._options = options
        with_instances = preset == "cityscapes" if instances is None else bool(instances)
        if with_instances and preset != "cityscapes":
            raise InvalidOptionError(f"instance maps are only scored by the cityscapes preset, not {preset!r}")
        self.spec: Spec = make_spec(preset, num_classes=num_classes, instances=with_instances, **options)
        self.reset()

    def reset(self) -> None:
        """Forgets every image counted so far."""
        self.state = SemanticState(self.spec.n_rows, self.spec.n_cols, self.spec.instances)

    def update(self, gt: Any, pred: Any, instances: Any = None) -> "SemanticQuality":
        """Counts one image or a batch: ground truth, prediction (and Cityscapes instance maps)."""
        limit = DEFAULT_MAX_PIXELS if self.max_pixels is None else int(self.max_pixels)
        gts, preds = flatten(gt, "ground truth", limit), flatten(pred, "prediction", limit)
        if len(gts) != len(preds):
            raise ValueError(f"{len(gts)} ground-truth maps but {len(preds)} predictions")
        insts = None
        if instances is None and self.spec.instances:
            raise InvalidOptionError("the cityscapes preset scores iIoU from instance maps: pass them as update(gt, "
                                     "pred, instances), or make SemanticQuality(preset='cityscapes', "
                                     "instances=False) to score without iIoU")
        if instances is not None:
            if not self.spec.instances:
                raise TypeError("instance maps are only scored by the cityscapes preset"
                                + (", and this one was made with instances=False" if self.preset == "cityscapes"
                                   else ""))
            insts = flatten(instances, "instances", limit)
            if len(insts) != len(gts):
                raise ValueError(f"{len(gts)} ground-truth maps but {len(insts)} instance maps")
        first = self.state.n_images
        names = [g if isinstance(g, str) else f"<image #{first + i}>" for i, g in enumerate(gts)]
        run_pass(self.state, self.spec, gts, preds, insts, names, self.workers, self.max_pixels)
        return self

    def merge(self, other: "SemanticQuality") -> "SemanticQuality":
        """Adds the images ``other`` counted (same options) after this one's."""
        if other.spec.preset != self.spec.preset or other.spec.class_names != self.spec.class_names:
            raise ValueError("cannot merge SemanticQuality objects of different presets or classes")
        if not _same_scoring(self.spec, other.spec):
            raise ValueError("cannot merge SemanticQuality objects made with different options (ignore_index, "
                             "label_map, reduce_zero_label, instances, or the preset's own options): their counts "
                             "mean different things")
        self.state.merge(other.state)
        return self

    def compute(self) -> SemanticResult:
        """The scores of every image counted so far."""
        return compute(self.spec, self.state)

    @property
    def n_images(self) -> int:
        return self.state.n_images

    def __getstate__(self) -> Dict[str, Any]:
        return {"init": self._init, "state": self.state}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(**state["init"])  # type: ignore[misc]
        self.state = state["state"]


def _canonical(value: Any) -> Any:
    """An option value in a form that compares equal exactly when the values mean the same (key
    order of a mapping aside, NaN equal to NaN)."""
    if isinstance(value, Mapping):
        return tuple(sorted((repr(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, (float, np.floating)) and value != value:
        return "nan"
    return value


def _same_scoring(a: Spec, b: Spec) -> bool:
    """Whether two specs count and score pixels alike (the same tables and the same options)."""
    arrays = ((a.gt_lut, b.gt_lut), (a.pred_lut, b.pred_lut), (a.class_rows, b.class_rows), (a.class_cols, b.class_cols))
    return ((a.n_rows, a.n_cols, a.gt_other, a.pred_other, a.instances, a.gt_skipped)
            == (b.n_rows, b.n_cols, b.gt_other, b.pred_other, b.instances, b.gt_skipped)
            and all(np.array_equal(x, y) for x, y in arrays)
            and _canonical(a.options) == _canonical(b.options))
