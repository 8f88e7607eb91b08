"""fastpq: fast, exact panoptic quality for COCO panoptic files.

``fastpq.pq_compute`` is a drop-in for ``panopticapi.evaluation.pq_compute``;
``fastpq.evaluate`` returns a :class:`PanopticResult` with groups, classes and per-image rows.
"""

from __future__ import annotations

from typing import Any, Dict

from . import _core
from .integrations.panopticapi import init_as_panopticapi
from .errors import (AnnotationError, AnnotationKeyError, AnnotationTypeError, EmptyCategoryGroupError, FastPQError,
                     ImageSetMismatchError, ImageSizeMismatchError, InvalidOptionError, JsonSyntaxError,
                     LimitExceededError,
                     MissingFolderError, MissingPredictionError, PngError, PngNotFoundError, RemoteAccessError,
                     RemoteNotFoundError, RemoteReadError, RemoteStorageError, SegmentMismatchError,
                     StrictModeError, TimeBudgetExceededError)
from .panoptic.breakdown import CoveringResult
from .io.limits import (DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_MAX_PROPOSALS_PER_IMAGE,
                     DEFAULT_MAX_SEGMENTS_PER_IMAGE)
from .panoptic.evaluation import evaluate, pq_compute
from .panoptic.results import ClassResult, GroupResult, PanopticResult

__version__: str = _core.build_info()["version"]


def build_info() -> Dict[str, Any]:
    """How this copy was built: inflate backend ("libdeflate" or "zlib"), parallelism, SIMD, compiler."""
    return dict(_core.build_info())


__all__ = [
    "AnnotationError", "AnnotationKeyError", "AnnotationTypeError", "ClassResult", "CoveringResult", "DEFAULT_MAX_PIXELS", "EmptyCategoryGroupError", "FastPQError", "GroupResult",
    "DEFAULT_MAX_JSON_BYTES", "DEFAULT_MAX_PROPOSALS_PER_IMAGE", "DEFAULT_MAX_SEGMENTS_PER_IMAGE",
    "ImageSetMismatchError", "ImageSizeMismatchError", "InvalidOptionError", "JsonSyntaxError", "LimitExceededError", "MissingFolderError", "MissingPredictionError", "PanopticResult", "PngError", "PngNotFoundError",
    "PanopticQuality", "RemoteAccessError", "RemoteNotFoundError", "RemoteReadError", "RemoteStorageError",
    "SegmentMismatchError", "StrictModeError", "TimeBudgetExceededError", "amodal_ar", "build_info", "evaluate", "init_as_panopticapi", "pq_compute", "__version__",
]


def __getattr__(name: str) -> Any:
    # The in-memory evaluator needs numpy; the file path does not import it.
    if name == "PanopticQuality":
        from .panoptic.inmemory import PanopticQuality

        return PanopticQuality
    if name == "amodal_ar":
        from .amodal.ar import amodal_ar

        return amodal_ar
    raise AttributeError(f"module 'fastpq' has no attribute {name!r}")
