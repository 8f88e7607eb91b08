"""COCO compressed RLE in numpy, with pycocotools' maskApi.c semantics (column-major runs, zeros
first, its LEB128-like string form), and its polygon rasterisation, bit for bit."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Union

import numpy as np

Rle = Dict[str, Any]

def mask_to_counts(mask: np.ndarray) -> List[int]:
    """Run lengths of a binary ``(h, w)`` mask, column-major, zeros first (``rleEncode``)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    n = flat.size
    if n == 0:
        return [0]
    toggles = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    if flat[0]:
        toggles = np.concatenate([[0], toggles])
    bounds = np.concatenate([[0], toggles, [n]])
    return np.diff(bounds).astype(np.int64).tolist()


def counts_to_mask(counts: Sequence[int], height: int, width: int) -> np.ndarray:
    """The ``(h, w)`` bool mask of column-major run lengths (``rleDecode``)."""
    counts = np.asarray(counts, dtype=np.int64)
    if int(counts.sum()) != height * width:
        raise ValueError(f"RLE counts sum to {int(counts.sum())}, not {height} * {width}")
    values = (np.arange(counts.size) % 2).astype(bool)
    return np.repeat(values, counts).reshape(width, height).T.copy()


def counts_to_string(counts: Sequence[int]) -> str:
    """COCO's compressed RLE string of run lengths (``rleToString``: 5 bits a char from '0',
    0x20 = more, counts after the second stored as the difference to the count two before)."""
    out: List[str] = []
    for i, c in enumerate(counts):
        x = int(c)
        if i > 2:
            x -= int(counts[i - 2])
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


def string_to_counts(s: Union[str, bytes]) -> List[int]:
    """Run lengths of a COCO compressed RLE string (``rleFrString``)."""
    if isinstance(s, bytes):
        s = s.decode("ascii")
    counts: List[int] = []
    p, n = 0, len(s)
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _c_int(values: np.ndarray) -> np.ndarray:
    """C's ``(int)`` cast of doubles: truncation toward zero."""
    return np.trunc(values).astype(np.int64)


def polygon_to_counts(polygon: Sequence[float], height: int, width: int) -> List[int]:
    """Run lengths of one flat polygon ``[x0, y0, x1, y1, ...]`` rasterised like pycocotools'
    ``frPyObjects([polygon], h, w)`` (maskApi.c ``rleFrPoly``), in vectorised numpy.

    The outline is upsampled 5x, walked pixel by pixel, and every crossing of a pixel-column
    centre gives a run boundary; boundaries hit an even number of times cancel.
    """
    xy = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    h, w = int(height), int(width)
    n = h * w
    if xy.shape[0] == 0 or n == 0:
        return [n]
    scale = 5.0
    x = _c_int(scale * xy[:, 0] + 0.5)
    y = _c_int(scale * xy[:, 1] + 0.5)
    x_next, y_next = np.roll(x, -1), np.roll(y, -1)
    dx, dy = np.abs(x_next - x), np.abs(y - y_next)
    horizontal = dx >= dy
    flip = (horizontal & (x > x_next)) | (~horizontal & (y > y_next))
    xs, xe = np.where(flip, x_next, x), np.where(flip, x, x_next)
    ys, ye = np.where(flip, y_next, y), np.where(flip, y, y_next)
    length = np.where(horizontal, dx, dy)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(horizontal, (ye - ys) / np.where(dx == 0, 1, dx), (xe - xs) / np.where(dy == 0, 1, dy))
    slope = np.where(length == 0, 0.0, slope)  # a repeated vertex: C divides 0 by 0, unused
    steps = length + 1
    edge = np.repeat(np.arange(xy.shape[0]), steps)
    d = np.arange(edge.size) - np.repeat(np.cumsum(steps) - steps, steps)
    t = np.where(flip[edge], length[edge] - d, d)
    hz = horizontal[edge]
    u = np.where(hz, t + xs[edge], _c_int(xs[edge] + slope[edge] * t + 0.5))
    v = np.where(hz, _c_int(ys[edge] + slope[edge] * t + 0.5), t + ys[edge])
    # points along the y-boundary, downsampled
    u0, u1, v0, v1 = u[:-1], u[1:], v[:-1], v[1:]
    change = u1 != u0
    xd = np.where(u1 < u0, u1, u1 - 1)[change].astype(np.float64)
    xd = (xd + 0.5) / scale - 0.5
    yd = np.minimum(v1, v0)[change].astype(np.float64)
    keep = (np.floor(xd) == xd) & (xd >= 0) & (xd <= w - 1)
    xd, yd = xd[keep], yd[keep]
    yd = (yd + 0.5) / scale - 0.5
    yd = np.ceil(np.clip(yd, 0, h))
    positions = xd.astype(np.int64) * h + yd.astype(np.int64)
    # a boundary hit an odd number of times toggles; h*w ends the mask anyway
    values, hits = np.unique(positions[positions < n], return_counts=True)
    toggles = values[hits % 2 == 1]
    return np.diff(np.concatenate([[0], toggles, [n]])).astype(np.int64).tolist()


def encode_mask(mask: np.ndarray) -> Rle:
    """``pycocotools.mask.encode`` of a binary mask, counts as ``str``."""
    h, w = mask.shape
    return {"size": [int(h), int(w)], "counts": counts_to_string(mask_to_counts(mask))}


def encode_polygon(polygon: Sequence[float], height: int, width: int) -> Rle:
    """``frPyObjects([polygon], h, w)[0]`` of one flat polygon, counts as ``str``."""
    return {"size": [int(height), int(width)], "counts": counts_to_string(polygon_to_counts(polygon, height, width))}


def polygon_to_mask(polygon: Sequence[float], height: int, width: int) -> np.ndarray:
    """The ``(h, w)`` bool mask of one flat polygon, as pycocotools rasterises it."""
    return counts_to_mask(polygon_to_counts(polygon, height, width), height, width)


def decode_rle(rle: Rle) -> np.ndarray:
    """The ``(h, w)`` bool mask of a compressed (str counts) or uncompressed (list counts) RLE."""
    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if not isinstance(counts, list):
        counts = string_to_counts(counts)
    return counts_to_mask(counts, h, w)

