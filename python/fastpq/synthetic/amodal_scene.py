"""COCOA ground truth for the synthetic amodal datasets: outlines, depth-ordered regions, their
visible and invisible masks, and a second annotator's variant of a scene."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

import numpy as np

from .rle import encode_mask, polygon_to_mask

Polygon = List[float]

_THING_NAMES = ("person", "car", "chair", "dog", "cup", "bottle", "bicycle", "bench", "cat", "vase")
_STUFF_NAMES = ("grass", "road", "floor", "wall", "sky", "water", "table", "sand")

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

