"""``fastpq.semantic.evaluate``: semantic segmentation scores of label maps (files or arrays) in one
C++ pass per image pair, by the rules of a preset's reference."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence

import numpy as np

from .. import _core
from ..errors import FastPQError, ImageSizeMismatchError, LabelError, PngError, PngNotFoundError
from ..io.limits import DEFAULT_MAX_PIXELS
from ..io.remote import StorageOptions
from .compute import compute
from .results import SemanticResult
from .sources import Source, resolve
from .spec import Spec, make_spec
from .state import SemanticState

# Instance ids the Cityscapes evaluation scores: strictly above 1000 (label id * 1000 + k).
CITYSCAPES_INSTANCE_MIN = 1001


def _translate(error: Exception, names: Sequence[str]) -> FastPQError:
    """A FastPQError subclass for an error of the C++ pass, naming the file it names."""
    message = str(error)
    file = next((n for n in names if n and n in message), None)
    lowered = message.lower()
    if "label" in lowered and ("not an evaluated" in lowered or "pixel (" in lowered):
        cls: type = LabelError
    elif "size" in lowered and ("differ" in lowered or "mismatch" in lowered or " vs " in lowered):
        cls = ImageSizeMismatchError
    elif "no such file" in lowered or "not found" in lowered or "cannot open" in lowered:
        cls = PngNotFoundError
    else:
        cls = PngError
    return cls(message, file=file)


def run_pass(state: SemanticState, spec: Spec, gts: List[Source], preds: List[Source],
             insts: Optional[List[Source]], names: List[str], workers: int = 0,
             max_pixels: Optional[int] = None, storage_options: StorageOptions = None) -> None:
    """Counts the image pairs into ``state`` (one C++ call, parallel over images). Sources that are
    URLs are fetched and counted chunk by chunk (the state is the same: it is image by image)."""
    if not gts:
        return
    from .remote_sources import REMOTE_CHUNK, any_url

    if any_url(gts, preds, insts):
        for a in range(0, len(gts), REMOTE_CHUNK):
            b = min(len(gts), a + REMOTE_CHUNK)
            _run_remote_chunk(state, spec, gts[a:b], preds[a:b], None if insts is None else insts[a:b], names[a:b],
                              workers, max_pixels, storage_options)
        return
    _run_core(state, spec, gts, preds, insts, names, workers, max_pixels)


def _run_remote_chunk(state: SemanticState, spec: Spec, gts: List[Source], preds: List[Source],
                      insts: Optional[List[Source]], names: List[str], workers: int, max_pixels: Optional[int],
                      storage_options: StorageOptions) -> None:
    """Fetches one chunk's URLs and counts it; the first image that cannot be read or counted raises."""
    from .remote_sources import fetch_sources, name_urls

    fetched = [fetch_sources(x, storage_options) for x in (gts, preds)]
    if insts is not None:
        fetched.append(fetch_sources(insts, storage_options))
    stop = min(f[1] for f in fetched)
    error = next((f[2] for f in fetched if f[1] == stop and f[2] is not None), None)
    g, p = fetched[0][0][:stop], fetched[1][0][:stop]
    i = fetched[2][0][:stop] if insts is not None else None
    if stop:
        try:
            _run_core(state, spec, g, p, i, names[:stop], workers, max_pixels)
        except FastPQError as e:
            message = name_urls(str(e), gts, preds, insts)
            raise type(e)(message, file=next((n for n in list(gts) + list(preds) + list(insts or [])
                                              if isinstance(n, str) and n in message), e.file)) from None
    if error is not None:
        raise error


def _run_core(state: SemanticState, spec: Spec, gts: List[Source], preds: List[Source],
              insts: Optional[List[Source]], names: List[str], workers: int, max_pixels: Optional[int]) -> None:
    kwargs = dict(instance_min=CITYSCAPES_INSTANCE_MIN, per_image=True, workers=int(workers),
                  max_pixels=int(DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels),
                  gt_skipped=list(spec.gt_skipped))
    try:
        out = _core.semantic_confusion(gts, preds, insts, spec.gt_lut, spec.pred_lut, spec.gt_other,
                                       spec.pred_other, spec.n_rows, spec.n_cols, **kwargs)
    except _core.FormatError as e:
        labels = [n for n in names] + [p for p in preds if isinstance(p, str)] + \
            [p for p in (insts or []) if isinstance(p, str)]
        raise _translate(e, sorted(labels, key=len, reverse=True)) from None
    state.add_core(out, names)


def evaluate(gt: Any, pred: Any = None, *, preset: Optional[str] = None, num_classes: Optional[int] = None,
             ignore_index: Any = None, label_map: Optional[Mapping[int, int]] = None,
             reduce_zero_label: bool = False, instances: Any = None, pred_format: str = "labelIds",
             class_names: Optional[Sequence[str]] = None, workers: int = 0, max_pixels: Optional[int] = None,
             storage_options: Optional[Mapping[str, Any]] = None, **options: Any) -> SemanticResult:
    """Scores semantic label maps against ground truth.

    ``gt`` and ``pred``: two folders, two lists of files / PNG bytes / integer arrays / CPU tensors
    (or (N, H, W) batches), or ``gt`` a list of ``(gt, pred)`` / ``(gt, pred, instances)`` and
    ``pred`` None. ``preset``: "cityscapes" (label ids, with instance maps for iIoU), "ade20k",
    "mmseg", "detectron2", "torchmetrics", "torchmetrics-meaniou", or None for the plain options (``num_classes``,
    ``ignore_index`` (one value or several), ``label_map``, ``reduce_zero_label``). Further options:
    mmseg ``metrics`` (["mIoU", "mDice", "mFscore"]), ``nan_to_num``, ``beta``; torchmetrics
    ``average`` and ``zero_division``; torchmetrics-meaniou ``include_background`` and ``per_class``. ``instances``: Cityscapes instance maps (found beside the
    labelIds files in folder mode; ``False`` to skip iIoU). Folders and files may be fsspec URLs
    (``s3://``, ``zip://...::archive.zip``, ...), read with ``storage_options``.
    """
    want_instances = preset == "cityscapes" and instances is not False
    spec = make_spec(preset, num_classes=num_classes, ignore_index=ignore_index, label_map=label_map,
                     reduce_zero_label=reduce_zero_label, class_names=class_names, pred_format=pred_format,
                     instances=False, **options)
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else int(max_pixels)
    gts, preds, insts, names = resolve(gt, pred, instances, preset, want_instances, limit, storage_options)
    if preset == "cityscapes":
        spec = make_spec(preset, pred_format=pred_format, instances=insts is not None)
    elif insts is not None:
        raise TypeError(f"instance maps are only scored by the cityscapes preset, not {preset!r}")
    state = SemanticState(spec.n_rows, spec.n_cols, spec.instances)
    run_pass(state, spec, gts, preds, insts, names, workers, max_pixels, storage_options)
    return compute(spec, state)


def read_label_map(path: str, max_pixels: Optional[int] = None) -> np.ndarray:
    """A label PNG as the array the pass reads (uint8, uint16, or uint32 for RGB colour codes)."""
    try:
        return _core.read_label_png(str(path), int(DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels))
    except _core.FormatError as e:
        raise _translate(e, [str(path)]) from None


__all__ = ["evaluate", "read_label_map", "run_pass"]
