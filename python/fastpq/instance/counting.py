"""Per image: the GT instance ids with their pixel counts, and for each predicted mask the
pixels it covers of each GT id (void and group regions are GT ids too)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ..errors import ImageSizeMismatchError, InstancePredictionError, PngError, PngNotFoundError
from ..io.limits import Deadline
from .labels import ID_TO_NAME, INSTANCE_LABEL_IDS, label_of_value


@dataclass
class ImageCounts:
    """The counts of one image. ``overlap[p, k]`` = pixels of prediction p on GT value ``ids[k]``;
    only non-empty predictions of the 8 evaluated classes are kept."""

    name: str
    ids: Any          # int64 (K,), the distinct instanceIds values, ascending
    gt_pixels: Any    # int64 (K,)
    labels: Any       # int64 (P,)
    scores: Any       # float64 (P,)
    overlap: Any      # int64 (P, K)


def read_gt(path: str) -> Any:
    """The instanceIds image as an integer array, read as the reference does (Pillow)."""
    import numpy as np
    from PIL import Image
    try:
        with Image.open(path) as im:
            return np.array(im)
    except FileNotFoundError as e:
        raise PngNotFoundError(f"ground-truth file '{path}' not found") from e
    except (OSError, ValueError, Image.DecompressionBombError) as e:  # ValueError: a NUL in the path
        raise PngError(f"ground-truth file '{path}': {e}") from e


def gt_index(gt: Any, name: str) -> tuple:
    """(ids, pixel counts, compact index image) of an instanceIds array; checks every label id."""
    import numpy as np
    flat = gt.ravel()
    if flat.size and flat.min() >= 0 and flat.max() < (1 << 20):
        hist = np.bincount(flat)
        ids = np.flatnonzero(hist)
        counts = hist[ids]
        lut = np.zeros(hist.size, dtype=np.int32)
        lut[ids] = np.arange(ids.size, dtype=np.int32)
        index = lut[gt]
    else:
        ids, inverse, counts = np.unique(gt, return_inverse=True, return_counts=True)
        index = inverse.reshape(gt.shape)
    for v in ids.tolist():
        if label_of_value(int(v)) not in ID_TO_NAME:
            raise PngError(f"ground-truth file '{name}': value {v} has no Cityscapes label "
                           f"(label id {label_of_value(int(v))})")
    return ids.astype(np.int64), counts.astype(np.int64), index


def read_mask(path: str, shape: Sequence[int], image: str) -> Any:
    """A predicted mask as the reference reads it: Pillow, converted to "L", non-zero."""
    import numpy as np
    from PIL import Image
    try:
        with Image.open(path) as im:
            m = np.array(im.convert("L")) != 0
    except FileNotFoundError as e:
        raise PngNotFoundError(f"image {image}: mask file '{path}' not found") from e
    except (OSError, ValueError, Image.DecompressionBombError) as e:  # ValueError: a NUL in the path
        raise PngError(f"image {image}: mask file '{path}': {e}") from e
    if m.shape != tuple(shape):
        raise ImageSizeMismatchError(f"image {image}: mask '{path}' is {m.shape[1]}x{m.shape[0]}, "
                                     f"the ground truth is {shape[1]}x{shape[0]}")
    return m


def count_image(name: str, ids: Any, gt_pixels: Any, index: Any, masks: List[Any],
                labels: List[int], scores: List[float], deadline: Optional[Deadline] = None) -> ImageCounts:
    """Counts given masks (bool arrays, ColumnMajor positions, or callables returning one) against a
    compact index image; ``deadline`` is checked before each mask."""
    import numpy as np
    keep_rows, keep_labels, keep_scores = [], [], []
    flat_index = index.ravel()
    for k, (mask, label, score) in enumerate(zip(masks, labels, scores)):
        if deadline is not None:
            deadline.check(f"image {name}, {k} of {len(masks)} predictions counted")
        if label not in INSTANCE_LABEL_IDS:
            continue  # the reference skips these before reading their mask
        m = mask() if callable(mask) else mask
        if isinstance(m, ColumnMajor):
            if m.flat.size == 0:
                continue  # empty masks are dropped
            x, y = np.divmod(m.flat, index.shape[0])  # column-major positions to rows and columns
            keep_rows.append(np.bincount(flat_index[y * index.shape[1] + x], minlength=ids.size))
            keep_labels.append(label)
            keep_scores.append(score)
            continue
        if m.shape != index.shape:
            raise ImageSizeMismatchError(f"image {name}: a mask is {m.shape[1]}x{m.shape[0]}, "
                                         f"the ground truth is {index.shape[1]}x{index.shape[0]}")
        m = m.astype(bool, copy=False)
        ys = np.flatnonzero(m.any(axis=1))
        if ys.size == 0:
            continue  # empty masks are dropped
        xs = np.flatnonzero(m[ys[0]:ys[-1] + 1].any(axis=0))
        box = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
        row = np.bincount(index[box][m[box]], minlength=ids.size)
        if row.sum() == 0:
            continue  # empty masks are dropped
        keep_rows.append(row)
        keep_labels.append(label)
        keep_scores.append(score)
    overlap = np.array(keep_rows, dtype=np.int64).reshape(len(keep_rows), ids.size)
    return ImageCounts(name, ids, gt_pixels, np.array(keep_labels, dtype=np.int64),
                       np.array(keep_scores, dtype=np.float64), overlap)


def check_score(score: float, name: str) -> float:
    """A prediction score as float; NaN, and what is no number, are refused."""
    try:
        s = float(score)
    except (TypeError, ValueError, OverflowError):
        raise InstancePredictionError(f"image {name}: a prediction score {score!r} is not a number") from None
    if s != s:
        raise InstancePredictionError(f"image {name}: a prediction score is NaN")
    return s


class ColumnMajor:
    """A COCO RLE's foreground as flat column-major pixel positions (never a full mask)."""

    __slots__ = ("flat",)

    def __init__(self, flat: Any) -> None:
        self.flat = flat


def decode_mask(mask: Any, shape: Sequence[int], name: str) -> Any:
    """An in-memory mask: a boolean / integer array, or a COCO RLE dict (as ColumnMajor positions).
    A mask that cannot be read is an InstancePredictionError naming the image."""
    from .. import _core
    try:
        return _decode_mask(mask, shape, name)
    except (KeyError, TypeError, ValueError, OverflowError, _core.MaskError) as e:
        if isinstance(e, InstancePredictionError):
            raise
        raise InstancePredictionError(f"image {name}: a prediction mask cannot be read ({type(e).__name__}: "
                                      f"{e})") from None


def _decode_mask(mask: Any, shape: Sequence[int], name: str) -> Any:
    import numpy as np
    if isinstance(mask, Mapping):
        from .. import _core
        size = mask["size"]
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise ValueError(f"'size' must be [height, width], not {size!r}")
        h, w = (operator.index(v) for v in size)
        counts = mask["counts"]
        if (h, w) != tuple(shape):
            raise InstancePredictionError(f"image {name}: an RLE mask is {w}x{h}, the ground truth is "
                                          f"{shape[1]}x{shape[0]}")
        if isinstance(counts, (str, bytes)):
            counts = _core.rle_from_string(counts, h, w)
        else:
            _core.rle_area(counts, h, w)  # the checks rle_decode makes
        c = np.asarray(counts, dtype=np.int64)
        starts = np.cumsum(c) - c
        on_start, on_len = starts[1::2], c[1::2]
        shift = np.repeat(on_start - (np.cumsum(on_len) - on_len), on_len)
        return ColumnMajor(np.arange(shift.size, dtype=np.int64) + shift)
    return np.asarray(mask) != 0


def count_entries(name: str, gt: Any, gt_name: str, entries: Sequence[Tuple[Any, Any, Any]],
                  deadline: Optional[Deadline] = None) -> ImageCounts:
    """The counts of one image from its instanceIds array and its (mask, label id, score) entries."""
    ids, pix, index = gt_index(gt, gt_name)
    labels = []
    for _, label, _ in entries:
        try:
            known = int(label) in ID_TO_NAME
        except (TypeError, ValueError, OverflowError):
            known = False
        if not known:
            raise InstancePredictionError(f"image {name}: unknown Cityscapes label id {label!r}")
        labels.append(int(label))
    scores = [check_score(s, name) for _, _, s in entries]
    masks = [(lambda m=m: decode_mask(m, index.shape, name)) for m, _, _ in entries]
    return count_image(name, ids, pix, index, masks, labels, scores, deadline)
