"""What one semantic evaluation counts: the presets' label rules as lookup tables for the C++ pass.

The pass (``_core.semantic_confusion``) maps every ground-truth and predicted label value through a
lookup table to a row / column of the confusion matrix, or skips it (-1), or refuses it (-2); a
:class:`Spec` holds those tables and which (row, column) pairs are the scored classes. Each preset
builds its tables from its reference's rules; the plain options (``num_classes``, ``ignore_index``,
``label_map``, ``reduce_zero_label``) build them the way mmsegmentation loads annotations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import InvalidOptionError
from .labels import ADE20K_CLASSES, CITYSCAPES_LABELS, cityscapes_train_id_to_label_id, unique_names

SKIP, REFUSE = -1, -2
PRESETS = ("cityscapes", "ade20k", "mmseg", "detectron2", "torchmetrics", "torchmetrics-meaniou")
# Each preset's options beyond the label rules (num_classes, ignore_index, label_map, ...).
_PRESET_OPTIONS: Dict[Optional[str], Tuple[str, ...]] = {
    "mmseg": ("metrics", "nan_to_num", "beta"), "torchmetrics": ("average", "zero_division"),
    "torchmetrics-meaniou": ("include_background", "per_class")}


@dataclass(frozen=True)
class Spec:
    """The label tables of one evaluation and the options its preset's arithmetic needs."""

    preset: Optional[str]
    n_rows: int
    n_cols: int
    gt_lut: np.ndarray
    pred_lut: np.ndarray
    gt_other: int
    pred_other: int
    class_names: Tuple[str, ...]
    class_rows: np.ndarray  # the matrix row of each scored class
    class_cols: np.ndarray  # the matrix column of each scored class
    instances: bool = False  # whether instance maps feed instance-level scores (Cityscapes iIoU)
    options: Mapping[str, Any] = field(default_factory=dict)
    gt_skipped: Tuple[int, ...] = ()  # ground-truth values outside the table that are skipped

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _identity_lut(n: int, size: int) -> np.ndarray:
    lut = np.full(max(n, size), REFUSE, dtype=np.int32)
    lut[:n] = np.arange(n, dtype=np.int32)
    return lut


def _ignore_values(ignore_index: Union[None, int, Iterable[int]]) -> List[int]:
    if ignore_index is None:
        return []
    if isinstance(ignore_index, (int, np.integer)):
        return [int(ignore_index)]
    return [int(v) for v in ignore_index]


def _check_names(class_names: Optional[Sequence[str]], n: int) -> Tuple[str, ...]:
    if class_names is None:
        return tuple(str(k) for k in range(n))
    names = [str(name) for name in class_names]
    if len(names) != n:
        raise InvalidOptionError(f"class_names has {len(names)} names for {n} classes")
    return tuple(unique_names(names))


def cityscapes_spec(pred_format: str = "labelIds", instances: bool = True) -> Spec:
    """Cityscapes' pixel-level evaluation: a 34 x 34 matrix over label ids 0..33, every ground-truth
    pixel counted (the ignored rows matter for nothing but the matrix), predictions in label ids
    (or trainIds, mapped back: trainId 255 -> 0 "unlabeled", which counts as a miss)."""
    n = len(CITYSCAPES_LABELS)
    gt_lut = _identity_lut(n, 256)
    if pred_format == "labelIds":
        pred_lut = _identity_lut(n, 256)
    elif pred_format == "trainIds":
        pred_lut = np.full(256, REFUSE, dtype=np.int32)
        for train_id, label_id in cityscapes_train_id_to_label_id().items():
            pred_lut[train_id] = label_id
    else:
        raise InvalidOptionError(f"pred_format must be 'labelIds' or 'trainIds', not {pred_format!r}")
    scored = [label for label in CITYSCAPES_LABELS if not label.ignore_in_eval]
    ids = np.array([label.id for label in scored], dtype=np.int64)
    return Spec("cityscapes", n, n, gt_lut, pred_lut, REFUSE, REFUSE, tuple(label.name for label in scored),
                ids, ids, instances=instances, options={"pred_format": pred_format})


def ade20k_spec() -> Spec:
    """The ADE20K scene-parsing benchmark: labels 1..150 scored, ground truth 0 ("other") ignored;
    a prediction of 0 on a labelled pixel is a miss (it is in no class's prediction area)."""
    n = len(ADE20K_CLASSES)
    gt_lut = _identity_lut(n + 1, 256)
    gt_lut[0] = SKIP
    pred_lut = _identity_lut(n + 1, 256)
    ids = np.arange(1, n + 1, dtype=np.int64)
    return Spec("ade20k", n + 1, n + 1, gt_lut, pred_lut, REFUSE, REFUSE, ADE20K_CLASSES, ids, ids)


def class_index_spec(preset: Optional[str], num_classes: Optional[int], ignore_index: Any = 255,
                     label_map: Optional[Mapping[int, int]] = None, reduce_zero_label: bool = False,
                     class_names: Optional[Sequence[str]] = None, **options: Any) -> Spec:
    """Class indices 0..K-1 on both sides (mmseg, detectron2, torchmetrics, plain options).

    The ground truth goes through mmsegmentation's loading rules, in its order: ``reduce_zero_label``
    (0 -> 255, v -> v - 1), then ``label_map`` (raw -> class), then ``ignore_index`` values are
    skipped; any other value outside 0..K-1 is refused. Predictions must be class indices."""
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    if num_classes is None or int(num_classes) < 1:
        raise InvalidOptionError(f"preset {preset!r} needs num_classes >= 1 (or class_names)")
    k = int(num_classes)
    ignores = _ignore_values(ignore_index)
    mapping = {int(a): int(b) for a, b in (label_map or {}).items()}
    size = max([256, k] + [v + 1 for v in ignores if v >= 0] + [a + 1 for a in mapping if a >= 0])
    if reduce_zero_label:
        size = max(size, 256)
    values = np.arange(size, dtype=np.int64)
    mapped = values.copy()
    if reduce_zero_label:
        mapped = np.where(values == 0, 255, values - 1)
        mapped = np.where(mapped == 254, 255, mapped)
    if mapping:
        before = mapped.copy()
        for old, new in mapping.items():
            mapped[before == old] = new
    gt_lut = np.where((mapped >= 0) & (mapped < k), mapped, REFUSE).astype(np.int32)
    for v in ignores:
        gt_lut[np.isin(mapped, [v])] = SKIP
    # A negative ignore value (e.g. -1 or -100 in signed arrays) can only be met outside the table:
    # those values are skipped there, and any other value outside it is refused.
    skipped = tuple(sorted({v for v in ignores if v < 0}))
    pred_lut = _identity_lut(k, 256)
    ids = np.arange(k, dtype=np.int64)
    opts = dict(options, ignore_index=ignores, reduce_zero_label=bool(reduce_zero_label), label_map=mapping)
    return Spec(preset, k, k, gt_lut, pred_lut, REFUSE, REFUSE, _check_names(class_names, k), ids, ids,
                options=opts, gt_skipped=skipped)


def make_spec(preset: Optional[str] = None, *, num_classes: Optional[int] = None, ignore_index: Any = None,
              label_map: Optional[Mapping[int, int]] = None, reduce_zero_label: bool = False,
              class_names: Optional[Sequence[str]] = None, pred_format: str = "labelIds",
              instances: bool = True, **options: Any) -> Spec:
    """The :class:`Spec` of a preset (or of the plain options when ``preset`` is None). An option the
    preset does not use is refused, rather than silently left out of the scores."""
    unknown = sorted(set(options) - set(_PRESET_OPTIONS.get(preset, ())))
    if unknown and preset in PRESETS + (None,):
        own = ", ".join(_PRESET_OPTIONS.get(preset, ())) or "none"
        raise InvalidOptionError(f"preset {preset!r} has no option {', '.join(map(repr, unknown))} (its own options: "
                                 f"{own})")
    if preset in ("cityscapes", "ade20k"):
        fixed = {"ignore_index": ignore_index is not None, "label_map": bool(label_map),
                 "reduce_zero_label": bool(reduce_zero_label), "class_names": class_names is not None,
                 "num_classes": num_classes is not None and not (preset == "ade20k" and int(num_classes) == 150)}
        given = [name for name, set_ in fixed.items() if set_]
        if given:
            raise InvalidOptionError(f"the {preset} preset fixes its labels and classes as its reference does: "
                                     f"{', '.join(given)} cannot be set")
    if pred_format != "labelIds" and preset != "cityscapes":
        raise InvalidOptionError("pred_format is an option of the cityscapes preset only")
    if preset == "cityscapes":
        return cityscapes_spec(pred_format, instances)
    if preset == "ade20k":
        return ade20k_spec()
    if preset in ("mmseg", "detectron2"):
        default_ignore = 255
    elif preset in ("torchmetrics", None):
        default_ignore = None
    elif preset == "torchmetrics-meaniou":
        # MeanIoU one-hot encodes both maps: it has no ignore value, and a label outside 0..K-1 is an error.
        if ignore_index is not None:
            raise InvalidOptionError("torchmetrics-meaniou has no ignore_index (torchmetrics' MeanIoU has none)")
        default_ignore = None
    else:
        raise InvalidOptionError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    return class_index_spec(preset, num_classes, default_ignore if ignore_index is None else ignore_index,
                            label_map, reduce_zero_label, class_names, **options)


def spec_state(spec: Spec) -> Dict[str, Any]:
    """The options that rebuild ``spec`` (for pickling results and quality objects)."""
    return {"preset": spec.preset, "class_names": spec.class_names, "options": dict(spec.options)}
