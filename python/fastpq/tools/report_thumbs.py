"""Thumbnails of one image's ground truth and prediction, every segment painted by its status."""

from __future__ import annotations

import base64
import importlib
import io
import math
import os
from typing import Dict, Sequence, Tuple

import numpy as np

from .. import _core
from ..errors import FastPQError, PngError, PngNotFoundError
from ..panoptic.segments import FN, FP, IGNORED, TP, ImageDecisions, SegmentDecision

# Exact RGB colours, so that a reader (or a test) can tell the status from one pixel.
STATUS_COLORS: Dict[str, Tuple[int, int, int]] = {
    TP: (44, 160, 44),       # green
    FP: (214, 39, 40),       # red, prediction side
    FN: (255, 127, 14),      # orange, ground-truth side
    IGNORED: (170, 170, 170),  # grey: crowd regions, predictions on void / crowd
}
VOID_COLOR: Tuple[int, int, int] = (40, 40, 40)  # pixels of no segment (id 0, or an id the JSON lacks)
EDGE_SHADE = 0.55  # segment borders: the segment's colour darkened, so touching segments stay apart

MAX_THUMBNAIL_SIDE = 320


def thumbnail_size(height: int, width: int, max_side: int = MAX_THUMBNAIL_SIDE) -> Tuple[int, int]:
    """(height, width) scaled down so that neither side exceeds max_side; never scaled up."""
    scale = min(1.0, max_side / max(height, width, 1))
    return max(1, int(math.floor(height * scale + 0.5))), max(1, int(math.floor(width * scale + 0.5)))


def status_picture(id_map: np.ndarray, segments: Sequence[SegmentDecision],
                   max_side: int = MAX_THUMBNAIL_SIDE) -> np.ndarray:
    """An (h, w, 3) uint8 picture of an id map: nearest-neighbour scaled down, each segment in its
    status colour with a darker one-pixel border."""
    height, width = id_map.shape
    th, tw = thumbnail_size(height, width, max_side)
    rows = (np.arange(th) * height) // th
    cols = (np.arange(tw) * width) // tw
    small = id_map[rows][:, cols]

    palette = np.array([VOID_COLOR] + [STATUS_COLORS[s.status] for s in segments], np.uint8)
    ids = np.array([s.segment_id for s in segments], np.int64)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    # Palette row 0 is void; segment k (table order, ids unique) is row k + 1.
    at = np.searchsorted(sorted_ids, small, side="right") - 1
    at_clipped = np.clip(at, 0, None)
    found = (at >= 0) & (sorted_ids[at_clipped] == small) if len(ids) else np.zeros(small.shape, bool)
    index = np.where(found, order[at_clipped] + 1, 0) if len(ids) else np.zeros(small.shape, np.int64)
    picture = palette[index]

    edge = np.zeros(small.shape, bool)
    edge[:, :-1] |= small[:, :-1] != small[:, 1:]
    edge[:-1, :] |= small[:-1, :] != small[1:, :]
    edge &= index > 0
    picture[edge] = (picture[edge] * EDGE_SHADE).astype(np.uint8)
    return picture


def png_data_uri(picture: np.ndarray) -> str:
    """A base64 PNG data URI of an RGB picture."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture, "RGB").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def read_ids(path: str, image_id: object, max_pixels: int) -> np.ndarray:
    """Decodes a panoptic PNG, raising the FastPQError evaluate would raise for it."""
    try:
        return _core.read_png_ids(path, max_pixels=max_pixels)
    except _core.FormatError as e:
        error_class = PngError if os.path.exists(path) else PngNotFoundError
        raise error_class(f"In the image with ID {image_id}: {e}", image_id=image_id, file=path) from None


def image_thumbnails(decisions: ImageDecisions, max_pixels: int,
                     max_side: int = MAX_THUMBNAIL_SIDE) -> Tuple[str, str]:
    """(GT, prediction) thumbnails of one image as PNG data URIs."""
    try:
        importlib.import_module("PIL.Image")  # an availability check: png_data_uri imports it when it runs
    except ImportError as e:
        raise FastPQError(f"the report encodes its thumbnails with Pillow ({e}): pip install 'fastpq[report]'") \
            from None
    gt = read_ids(decisions.gt_file, decisions.image_id, max_pixels)
    pred = read_ids(decisions.pred_file, decisions.image_id, max_pixels)
    return (png_data_uri(status_picture(gt, decisions.gt, max_side)),
            png_data_uri(status_picture(pred, decisions.pred, max_side)))
