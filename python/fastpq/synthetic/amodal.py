"""Deterministic generator of synthetic COCO Amodal (COCOA) datasets and proposals.

Shared by the tests and the benchmarks of the COCOA evaluation (average recall of
class-agnostic segment proposals). A dataset is two JSON files::

    root/amodal_gt.json          COCOA ground truth
    root/amodal_proposals.json   proposals, a COCO result list

The ground truth has the layout of the ``COCO_amodal_*.json`` files read by
amodalAPI (github.com/Wakeupbuddy/amodalAPI)::

    {"images": [{"id", "file_name", "height", "width", ...}],
     "annotations": [{"id", "image_id", "regions": [...], "depth_constraint", "size", "author", "url"}]}

and every region is::

    {"segmentation": [x0, y0, x1, y1, ...],   # the amodal outline: ONE flat polygon
     "area": float,                             # pixels of the amodal mask
     "order": int,                              # depth, 1 = nearest; regions are listed by order
     "occlude_rate": float,                     # occluded fraction of the amodal mask, 0..1
     "isStuff": 0 | 1,
     "name": str,
     "visible_mask": RLE, "invisible_mask": RLE}   # only when occlude_rate > 0

RLEs are COCO compressed RLEs ``{"size": [h, w], "counts": str}`` (column-major runs,
zeros first, LEB128-like string), bit-identical to ``pycocotools.mask.encode``.

Occlusion comes from the geometry: a region's mask is its polygon rasterised exactly as
pycocotools' ``frPyObjects`` does it (ported below, checked bit for bit in the tests);
its invisible part is the part covered by the union of the nearer regions' masks, its
visible part the rest, ``occlude_rate = |invisible| / |amodal|`` (a Python float).
So ``visible | invisible == amodal`` and ``visible & invisible == 0`` hold exactly.

Proposals are ``{"image_id", "segmentation", "score"}`` plus, on some, ``"category_id"``
(an arbitrary COCO class id: the evaluation is class-agnostic and must ignore it) and
``"amodal_mask"`` (an RLE: an amodal estimate attached to a modal proposal). Most
segmentations are compressed RLEs; some are polygons, either one flat list (the form
amodalAPI accepts) or, when ``nested_polygons``, a COCO list of polygons (one or two parts).
Scores are multiples of 0.05, so there are many ties. Proposals are jittered amodal
outlines (IoU with their region from about 0.3 to exactly 1), masks whose IoU with a
region's amodal or visible mask is exactly a COCO threshold (p/20), modal versions (visible
masks, shifted by a pixel or two), exact duplicates, now and then an empty mask, and random
shapes.

Edge cases, by image index ``i`` (so that any dataset of 5 or more images has them all):

* ``i % 10 == 2``: no proposals at all;
* ``i % 5 == 1``: a region occluded by exactly 0.25 (two nearest rectangles, checked);
* ``i % 6 == 4``: a region fully occluded (``occlude_rate == 1.0``, empty visible mask),
  when the largest region has room for it (small things behind big ones are often hidden too);
* ``i % 7 == 3``: a second annotator: a perturbed second annotation of the same image,
  listed after all the first ones (the evaluation uses the first annotation of an image);
* most regions of the front layer have ``occlude_rate == 0``.

Images are listed in a shuffled order with non-contiguous ids; about 5 % of the proposals
are moved to the end of the proposal file (an image's proposals are not contiguous).

Everything is a pure function of ``(seed, image index)`` and the arguments. This module
depends only on numpy and the standard library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "OCCLUSION_RANGES",
    "AmodalImage",
    "generate_amodal_dataset",
    "make_amodal_image",
    "polygon_to_counts",
    "mask_to_counts",
    "counts_to_mask",
    "counts_to_string",
    "string_to_counts",
    "encode_mask",
    "encode_polygon",
    "decode_rle",
    "polygon_to_mask",
]

#: amodalAPI's occlusion ranges (closed intervals on ``occlude_rate``), from
#: PythonAPI/myPyAmodalEvalDemo.py ``evalWrapper``.
OCCLUSION_RANGES: Dict[str, Tuple[float, float]] = {
    "all": (0.0, 1.0),
    "none": (0.0, 0.00001),
    "partial": (0.00001, 0.25),
    "heavy": (0.25, 1.0),
}

Polygon = List[float]
Rle = Dict[str, Any]

_THING_NAMES = ("person", "car", "chair", "dog", "cup", "bottle", "bicycle", "bench", "cat", "vase")
_STUFF_NAMES = ("grass", "road", "floor", "wall", "sky", "water", "table", "sand")


# ---------------------------------------------------------------------------
# COCO RLE, in numpy (pycocotools' maskApi.c semantics)


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


# ---------------------------------------------------------------------------
# Shapes


def _round(points: np.ndarray) -> np.ndarray:
    """Coordinates as stored in the JSON (2 decimals): masks are always made from these."""
    return np.round(np.asarray(points, dtype=np.float64), 2)


def _flat(points: np.ndarray) -> Polygon:
    return [float(v) for v in _round(points).ravel()]


def _star(rng: np.random.Generator, center: Tuple[float, float], radii: Tuple[float, float],
          n_vertices: int, roughness: float) -> np.ndarray:
    """A rotated star-shaped outline, ``(k, 2)``: an ellipse when ``roughness`` is 0."""
    angles = np.linspace(0.0, 2 * np.pi, n_vertices, endpoint=False)
    angles = angles + rng.uniform(0, 2 * np.pi / n_vertices * roughness, n_vertices)
    phases = rng.uniform(0, 2 * np.pi, 2)
    scale = (1.0 + 0.45 * roughness * np.sin(2 * angles + phases[0])
             + 0.25 * roughness * np.sin(3 * angles + phases[1])
             + 0.2 * roughness * rng.uniform(-1, 1, n_vertices))
    scale = np.maximum(scale, 0.25)
    rotation = rng.uniform(0, np.pi)
    px, py = radii[0] * scale * np.cos(angles), radii[1] * scale * np.sin(angles)
    xs = center[0] + px * np.cos(rotation) - py * np.sin(rotation)
    ys = center[1] + px * np.sin(rotation) + py * np.cos(rotation)
    return _round(np.column_stack([xs, ys]))


def _thing_outline(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    side = min(height, width)
    radius = side * rng.uniform(0.06, 0.3)
    aspect = rng.uniform(0.45, 1.0)
    radii = (radius, radius * aspect) if rng.random() < 0.5 else (radius * aspect, radius)
    center = (rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.95) * height)
    kind = int(rng.integers(3))
    if kind == 0:
        return _star(rng, center, radii, 40, 0.0)
    if kind == 1:
        return _star(rng, center, radii, 28, rng.uniform(0.2, 0.6))
    return _star(rng, center, radii, int(rng.integers(3, 8)), rng.uniform(0.2, 0.9))


def _band_outline(rng: np.random.Generator, height: int, width: int, below: bool) -> np.ndarray:
    """The part of the image below (or above) a wavy slanted line; corners lie outside the image."""
    level = rng.uniform(0.45, 0.8) if below else rng.uniform(0.15, 0.45)
    xs = np.arange(-2.0, width + 18.0, 16.0)
    xs[-1] = width + 2.0
    slope = rng.uniform(-0.15, 0.15)
    amplitude = rng.uniform(0, 0.05) * height
    period = rng.uniform(0.3, 1.5) * width
    phase = rng.uniform(0, 2 * np.pi)
    ys = level * height + slope * (xs - width / 2) + amplitude * np.sin(2 * np.pi * xs / period + phase)
    edge = np.column_stack([xs, ys])
    far = height + 2.0 if below else -2.0
    corners = np.array([[width + 2.0, far], [-2.0, far]])
    return _round(np.vstack([edge, corners]))


def _stuff_outline(rng: np.random.Generator, height: int, width: int) -> Tuple[np.ndarray, str]:
    kind = int(rng.integers(3))
    if kind == 0:
        return _band_outline(rng, height, width, below=True), str(rng.choice(["grass", "road", "floor", "sand"]))
    if kind == 1:
        return _band_outline(rng, height, width, below=False), str(rng.choice(["sky", "wall"]))
    side = min(height, width)
    radius = side * rng.uniform(0.3, 0.55)
    center = (rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height)
    return _star(rng, center, (radius, radius * rng.uniform(0.5, 1.0)), 24, rng.uniform(0.2, 0.5)), \
        str(rng.choice(["water", "table"]))


def _rectangle(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


# ---------------------------------------------------------------------------
# Ground truth


@dataclass
class _Region:
    outline: np.ndarray          # (k, 2), as stored
    is_stuff: bool
    name: str
    mask: np.ndarray = field(default=None, repr=False)       # amodal, (h, w) bool
    visible: np.ndarray = field(default=None, repr=False)    # (h, w) bool
    occlude_rate: float = 0.0


def _rasterise(regions: List[_Region], height: int, width: int) -> None:
    """Masks, visible parts and occlusion rates of regions listed nearest first."""
    nearer = np.zeros((height, width), dtype=bool)
    for region in regions:
        region.mask = polygon_to_mask(_flat(region.outline), height, width)
        area = int(region.mask.sum())
        hidden = region.mask & nearer
        region.visible = region.mask & ~nearer
        region.occlude_rate = float(int(hidden.sum()) / area) if area else 0.0
        nearer |= region.mask


def _scene(rng: np.random.Generator, height: int, width: int, with_stuff: bool) -> List[_Region]:
    """Things and stuff in depth order (nearest first), each with at least 40 pixels."""
    candidates: List[Tuple[float, _Region]] = []
    n_things = int(rng.integers(2, 8))
    n_stuff = int(rng.integers(1, 4)) if with_stuff else 0
    min_pixels = 40
    for _ in range(n_things):
        for _attempt in range(20):
            outline = _thing_outline(rng, height, width)
            if polygon_to_mask(_flat(outline), height, width).sum() >= min_pixels:
                candidates.append((rng.uniform(0.0, 1.0),
                                   _Region(outline, False, str(rng.choice(_THING_NAMES)))))
                break
    for _ in range(n_stuff):
        for _attempt in range(20):
            outline, name = _stuff_outline(rng, height, width)
            if polygon_to_mask(_flat(outline), height, width).sum() >= min_pixels:
                # stuff lies mostly behind the things, not always
                candidates.append((rng.uniform(0.6, 1.6), _Region(outline, True, name)))
                break
    candidates.sort(key=lambda item: item[0])
    return [region for _, region in candidates]


def _add_exact_quarter(rng: np.random.Generator, regions: List[_Region], height: int, width: int) -> None:
    """Put two rectangles in front: the second occluded by the first by exactly 1/4 of its pixels."""
    side = int(min(height, width) * 0.12) // 2 * 2 + 4
    if min(height, width) < 2 * side + 6:
        return  # too small an image
    for _attempt in range(50):
        x0 = float(rng.integers(2, width - 2 * side - 2))
        y0 = float(rng.integers(2, height - 2 * side - 2))
        target = _rectangle(x0, y0, x0 + side, y0 + side)
        target_mask = polygon_to_mask(_flat(target), height, width)
        area = int(target_mask.sum())
        corner_x, corner_y = x0 + side / 2, y0 + side / 2
        for ox in range(-2, 3):
            for oy in range(-2, 3):
                occluder = _rectangle(corner_x + ox, corner_y + oy, corner_x + side + 1, corner_y + side + 1)
                hidden = int((polygon_to_mask(_flat(occluder), height, width) & target_mask).sum())
                if hidden * 4 == area:
                    regions[:0] = [_Region(_round(occluder), False, "book"), _Region(_round(target), False, "box")]
                    return
    raise RuntimeError("no exact quarter occlusion found")  # pragma: no cover


def _add_fully_occluded(rng: np.random.Generator, regions: List[_Region], height: int, width: int) -> None:
    """Insert a small region right behind the largest region, entirely inside it."""
    _rasterise(regions, height, width)
    host = max(range(len(regions)), key=lambda i: int(regions[i].mask.sum()))
    mask = regions[host].mask
    inner = mask.copy()
    for _ in range(6):  # erode by 6 pixels (4-neighbourhood)
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    ys, xs = np.nonzero(inner)
    if ys.size == 0:
        return
    pick = int(rng.integers(ys.size))
    cx, cy = float(xs[pick]), float(ys[pick])
    small = _rectangle(cx - 3, cy - 3, cx + 3, cy + 3)
    if (polygon_to_mask(_flat(small), height, width) & ~mask).any():
        return
    regions.insert(host + 1, _Region(_round(small), False, "key"))


def _regions_json(regions: List[_Region], height: int, width: int) -> List[Dict[str, Any]]:
    out = []
    for order, region in enumerate(regions, start=1):
        entry: Dict[str, Any] = {
            "segmentation": _flat(region.outline),
            "area": float(region.mask.sum()),
            "order": order,
            "occlude_rate": region.occlude_rate,
            "isStuff": int(region.is_stuff),
            "name": region.name,
        }
        if region.occlude_rate > 0:
            entry["visible_mask"] = encode_mask(region.visible)
            entry["invisible_mask"] = encode_mask(region.mask & ~region.visible)
        out.append(entry)
    return out


def _depth_constraint(regions: List[_Region]) -> str:
    pairs = []
    for i in range(len(regions)):
        for j in range(i + 1, len(regions)):
            if (regions[i].mask & regions[j].mask).any():
                pairs.append(f"{i + 1}-{j + 1}")
    return ",".join(pairs)


def _annotation(ann_id: int, image_id: int, regions: List[_Region], height: int, width: int,
                author: str) -> Dict[str, Any]:
    return {
        "id": ann_id,
        "image_id": image_id,
        "regions": _regions_json(regions, height, width),
        "depth_constraint": _depth_constraint(regions),
        "size": len(regions),
        "author": author,
        "url": "",
    }


def _second_annotator(rng: np.random.Generator, regions: List[_Region], height: int, width: int) -> List[_Region]:
    """Another annotator's take: outlines moved by a few pixels, one region left out."""
    others = []
    drop = int(rng.integers(len(regions))) if len(regions) > 2 else -1
    for i, region in enumerate(regions):
        if i == drop:
            continue
        moved = region.outline + rng.normal(0, 2.5, region.outline.shape) + rng.normal(0, 3.0, 2)
        others.append(_Region(_round(moved), region.is_stuff, region.name))
    _rasterise(others, height, width)
    return others


# ---------------------------------------------------------------------------
# Proposals


def _score(rng: np.random.Generator, low: float, high: float) -> float:
    """A score in [low, high] on the 0.05 grid: ties are everywhere."""
    return round(float(np.clip(round(rng.uniform(low, high) * 20) / 20, 0.0, 1.0)), 2)


def _jitter(rng: np.random.Generator, outline: np.ndarray, level: float) -> np.ndarray:
    """The outline scaled, shifted and noised by ``level`` (0: unchanged)."""
    center = outline.mean(axis=0)
    extent = float(np.sqrt(max(np.ptp(outline[:, 0]) * np.ptp(outline[:, 1]), 1.0)))
    scale = 1.0 + rng.normal(0, 0.12 * level)
    shift = rng.normal(0, 0.08 * level * extent, 2)
    noise = rng.normal(0, 0.04 * level * extent, outline.shape)
    return _round((outline - center) * scale + center + shift + noise)


def _shift_mask(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    src = mask[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


#: IoUs p/q whose float64 equals one of COCOeval's thresholds np.linspace(.5, .95, 10),
#: except 9/10 (0.9 > the threshold 0.8999999999999999).
_EXACT_IOUS: Tuple[Tuple[int, int], ...] = (
    (1, 2), (11, 20), (3, 5), (13, 20), (7, 10), (3, 4), (4, 5), (17, 20), (9, 10), (19, 20))


def _exact_iou_mask(mask: np.ndarray, p: int, q: int) -> Optional[np.ndarray]:
    """A mask whose IoU with ``mask`` is exactly p/q: ``r`` of its pixels farthest from its
    centre removed and ``e`` outside pixels nearest to the centre added, (A - r) / (A + e) = p / q."""
    area = int(mask.sum())
    if area == 0:
        return None
    for r in range(min(p, area)):
        num = q * (area - r) - p * area
        if num >= 0 and num % p == 0:
            e = num // p
            break
    else:
        return None
    if e > mask.size - area:
        return None
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    yy, xx = np.indices(mask.shape)
    dist = (yy - cy) ** 2 + (xx - cx) ** 2
    flat = mask.ravel().copy()
    dist = dist.ravel()
    inside, outside = np.flatnonzero(flat), np.flatnonzero(~flat)
    if r:
        flat[inside[np.argsort(-dist[inside], kind="stable")[:r]]] = False
    if e:
        flat[outside[np.argsort(dist[outside], kind="stable")[:e]]] = True
    return flat.reshape(mask.shape)


def _polygon_segmentation(rng: np.random.Generator, outline: np.ndarray, height: int, width: int,
                          nested: bool) -> Any:
    """A polygon segmentation: flat (amodalAPI's form) or a COCO list of one or two parts."""
    flat = _flat(outline)
    if not nested:
        return flat
    kind = rng.random()
    if kind < 0.55:
        return flat
    if kind < 0.85:
        return [flat]
    extra = _star(rng, (rng.uniform(0, width), rng.uniform(0, height)), (6.0, 4.0), 5, 0.3)
    return [flat, _flat(extra)]


def _outline_proposal(rng: np.random.Generator, outline: np.ndarray, height: int, width: int,
                      polygon_share: float, nested: bool, counts: Optional[List[int]] = None) -> Any:
    if rng.random() < polygon_share:
        return _polygon_segmentation(rng, outline, height, width, nested)
    if counts is None:
        counts = polygon_to_counts(_flat(outline), height, width)
    return {"size": [int(height), int(width)], "counts": counts_to_string(counts)}


def _make_proposals(rng: np.random.Generator, regions: List[_Region], image_id: int, height: int, width: int,
                    n_proposals: int, nested: bool, amodal_masks: bool) -> List[Dict[str, Any]]:
    if n_proposals <= 0:
        return []
    polygon_share = 0.15
    derived: List[Tuple[Any, float, Optional[Rle]]] = []  # (segmentation, score, amodal_mask)
    for region in regions:
        # amodal outlines, from exact (IoU 1) to loose
        if rng.random() < 0.3:
            derived.append((_outline_proposal(rng, region.outline, height, width, polygon_share, nested),
                            _score(rng, 0.6, 1.0), None))
        for _ in range(int(rng.integers(2, 7))):
            level = float(rng.uniform(0.0, 1.3))
            seg = _outline_proposal(rng, _jitter(rng, region.outline, level), height, width, polygon_share, nested)
            derived.append((seg, _score(rng, max(0.0, 0.85 - 0.5 * level), min(1.0, 1.2 - 0.4 * level)), None))
        # IoU exactly on a threshold, with the amodal mask or (occluded regions) the visible mask
        for target, chance in ((region.mask, 0.35), (region.visible, 0.25 if region.occlude_rate > 0 else 0.0)):
            if rng.random() < chance:
                p, q = _EXACT_IOUS[int(rng.integers(len(_EXACT_IOUS)))]
                exact = _exact_iou_mask(target, p, q)
                if exact is not None:
                    derived.append((encode_mask(exact), _score(rng, 0.2, 1.0), None))
        # modal versions: the visible mask, exact or shifted by a pixel or two
        if region.occlude_rate > 0 and region.visible.any():
            for _ in range(int(rng.integers(1, 4))):
                dy, dx = (int(v) for v in rng.integers(-2, 3, 2))
                seg = encode_mask(_shift_mask(region.visible, dy, dx))
                amodal = None
                if amodal_masks and rng.random() < 0.5:
                    amodal = encode_polygon(_flat(_jitter(rng, region.outline, float(rng.uniform(0, 0.4)))),
                                            height, width)
                derived.append((seg, _score(rng, 0.3, 1.0), amodal))
    order = rng.permutation(len(derived))
    # now and then an empty mask (a model can output one), ranked high
    empty = n_proposals >= 2 and rng.random() < 0.35
    derived = [derived[i] for i in order[:n_proposals - int(empty)]]
    if empty:
        derived.append(({"size": [int(height), int(width)], "counts": counts_to_string([height * width])},
                         _score(rng, 0.5, 1.0), None))
    # exact duplicates of some proposals, same or other score
    n_dup = min(n_proposals - len(derived), int(rng.integers(0, 4)))
    for i in range(max(0, n_dup)):
        seg, score, amodal = derived[int(rng.integers(len(derived)))] if derived else (None, 0.0, None)
        if seg is None:
            break
        derived.append((seg, score if rng.random() < 0.5 else _score(rng, 0.0, 1.0), amodal))
    # random shapes for the rest
    side = min(height, width)
    while len(derived) < n_proposals:
        radius = side * float(rng.uniform(0.03, 0.35))
        center = (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
        if rng.random() < 0.2:
            hw, hh = radius * rng.uniform(0.5, 1.5), radius * rng.uniform(0.5, 1.5)
            outline = _round(_rectangle(center[0] - hw, center[1] - hh, center[0] + hw, center[1] + hh))
        else:
            outline = _star(rng, center, (radius, radius * float(rng.uniform(0.4, 1.0))),
                            int(rng.integers(5, 20)), float(rng.uniform(0.0, 0.8)))
        counts = polygon_to_counts(_flat(outline), height, width)
        if len(counts) == 1:
            continue  # empty in the image
        derived.append((_outline_proposal(rng, outline, height, width, polygon_share, nested, counts),
                        _score(rng, 0.0, 0.6), None))
    order = rng.permutation(len(derived))
    proposals = []
    for i in order:
        seg, score, amodal = derived[i]
        proposal: Dict[str, Any] = {"image_id": image_id, "segmentation": seg, "score": score}
        if rng.random() < 0.5:
            proposal["category_id"] = int(rng.integers(1, 91))
        if amodal is not None:
            proposal["amodal_mask"] = amodal
        proposals.append(proposal)
    return proposals


# ---------------------------------------------------------------------------
# Images and datasets


@dataclass
class AmodalImage:
    """One generated image: its ``images`` entry, its annotations (the first one is the one
    evaluated; a second annotator's, if any, follows), its proposals, and the masks of the
    first annotation's regions in depth order (``amodal_masks``, ``visible_masks``)."""

    image: Dict[str, Any]
    annotations: List[Dict[str, Any]]
    proposals: List[Dict[str, Any]]
    amodal_masks: List[np.ndarray] = field(repr=False)
    visible_masks: List[np.ndarray] = field(repr=False)


def make_amodal_image(
    rng: np.random.Generator,
    image_id: int = 1,
    height: int = 240,
    width: int = 320,
    n_proposals: int = 300,
    *,
    ann_id: int = 1,
    exact_quarter: bool = False,
    fully_occluded: bool = False,
    second_annotator: bool = False,
    with_stuff: bool = True,
    nested_polygons: bool = True,
    amodal_masks: bool = True,
) -> AmodalImage:
    """Generate one COCOA image: depth-ordered things and stuff, and ``n_proposals`` proposals.

    ``exact_quarter`` adds a region occluded by exactly 25 %; ``fully_occluded`` a region
    entirely hidden behind the largest one; ``second_annotator`` a second annotation
    (id ``ann_id + 1``); ``with_stuff=False`` makes things only.
    """
    regions = _scene(rng, height, width, with_stuff)
    if exact_quarter:
        _add_exact_quarter(rng, regions, height, width)
    if fully_occluded:
        _add_fully_occluded(rng, regions, height, width)
    _rasterise(regions, height, width)
    image = {
        "id": int(image_id),
        "file_name": f"COCO_val2014_{int(image_id):012d}.jpg",
        "height": int(height),
        "width": int(width),
        "license": 1,
        "date_captured": "2013-11-14 16:28:13",
        "flickr_url": "",
        "coco_url": "",
    }
    annotations = [_annotation(ann_id, image_id, regions, height, width, "annotator-1")]
    if second_annotator:
        others = _second_annotator(rng, regions, height, width)
        annotations.append(_annotation(ann_id + 1, image_id, others, height, width, "annotator-2"))
    proposals = _make_proposals(rng, regions, int(image_id), height, width, n_proposals,
                                nested_polygons, amodal_masks)
    return AmodalImage(image, annotations, proposals,
                       [r.mask for r in regions], [r.visible for r in regions])


def _proposal_count(rng: np.random.Generator, index: int, max_proposals: int) -> int:
    if index % 10 == 2 or max_proposals <= 0:
        return 0
    kind = rng.random()
    if kind < 0.15:
        return int(rng.integers(1, min(20, max_proposals) + 1))
    if kind < 0.45:
        return int(rng.integers(min(20, max_proposals), max(min(20, max_proposals), max_proposals // 3) + 1))
    if kind < 0.75:
        return int(rng.integers(max_proposals // 3, max_proposals + 1))
    return max_proposals


def _write_json(path: Path, content: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(content, f, separators=(",", ":"))


def generate_amodal_dataset(
    root: Union[str, Path],
    n_images: int = 40,
    height: int = 240,
    width: int = 320,
    max_proposals: int = 1000,
    seed: int = 0,
    *,
    with_stuff: bool = True,
    nested_polygons: bool = True,
    amodal_masks: bool = True,
) -> Tuple[Path, Path]:
    """Write ``root/amodal_gt.json`` and ``root/amodal_proposals.json``; return their paths.

    Image ``i`` has id ``100 + 13 * i`` and at most ``max_proposals`` proposals (some have
    exactly that many, every tenth none). The bytes written depend only on the arguments.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    images, first, second, proposals = [], [], [], []
    ann_id = 1
    for index in range(n_images):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
        count = _proposal_count(rng, index, max_proposals)
        generated = make_amodal_image(
            rng, 100 + 13 * index, height, width, count, ann_id=ann_id,
            exact_quarter=index % 5 == 1, fully_occluded=index % 6 == 4, second_annotator=index % 7 == 3,
            with_stuff=with_stuff, nested_polygons=nested_polygons, amodal_masks=amodal_masks)
        ann_id += 2
        images.append(generated.image)
        first.append(generated.annotations[0])
        second.extend(generated.annotations[1:])
        proposals.extend(generated.proposals)
    order_rng = np.random.default_rng([seed, n_images, 7])
    image_order = order_rng.permutation(len(images))
    images = [images[i] for i in image_order]
    first = [first[i] for i in image_order]
    moved = order_rng.random(len(proposals)) < 0.05
    proposals = [p for p, m in zip(proposals, moved) if not m] + [p for p, m in zip(proposals, moved) if m]
    gt_path, proposals_path = root / "amodal_gt.json", root / "amodal_proposals.json"
    _write_json(gt_path, {
        "info": {"description": f"fastpq synthetic COCOA-like dataset, seed {seed}"},
        "licenses": [{"id": 1, "name": "synthetic"}],
        "images": images,
        "annotations": first + second,
    })
    _write_json(proposals_path, proposals)
    return gt_path, proposals_path
