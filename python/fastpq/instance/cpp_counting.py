"""The file path's counting in C++ (fastpq._core.instance_count_files), turned into ImageCounts
with the same checks and errors as the numpy path."""

from __future__ import annotations

from typing import Any, List, Tuple

from ..errors import ImageSizeMismatchError, PngError, PngNotFoundError
from .counting import ImageCounts
from .files import image_key
from .labels import ID_TO_NAME, INSTANCE_LABEL_IDS, label_of_value


def count_with_core(per_image: List[Tuple[str, Any]], workers: int) -> List[ImageCounts]:
    """Reads every GT and mask PNG in C++ (parallel over images, GIL released) and counts."""
    import numpy as np
    from .. import _core
    kept = kept_lines(per_image)
    raw = _core.instance_count_files([g for g, _ in per_image], [[l.mask for l in k] for k in kept], workers)
    return counts_of(per_image, kept, raw)


def kept_lines(per_image: List[Tuple[str, Any]]) -> List[List[Any]]:
    """Per image, the prediction lines of the evaluated classes (the reference reads no other mask)."""
    return [[line for line in lines if line.label_id in INSTANCE_LABEL_IDS] for _, lines in per_image]


def counts_of(per_image: List[Tuple[str, Any]], kept: List[List[Any]], raw: List[Any]) -> List[ImageCounts]:
    """ImageCounts from the C++ counter's per-image output, raising the first image's error."""
    import numpy as np
    out = []
    for (gt, _), lines, (error, message, ids, pix, overlap) in zip(per_image, kept, raw):
        name = image_key(gt)
        if error:
            cls = {2: PngNotFoundError, 3: ImageSizeMismatchError}.get(error, PngError)
            raise cls(f"image {name}: {message}")
        for v in ids.tolist():
            if label_of_value(v) not in ID_TO_NAME:
                raise PngError(f"ground-truth file '{gt}': value {v} has no Cityscapes label "
                               f"(label id {label_of_value(v)})")
        rows = overlap.sum(axis=1) > 0
        labels = np.array([l.label_id for l in lines], dtype=np.int64).reshape(-1)
        scores = np.array([l.score for l in lines], dtype=np.float64).reshape(-1)
        out.append(ImageCounts(name, ids.astype(np.int64), pix, labels[rows], scores[rows], overlap[rows]))
    return out
