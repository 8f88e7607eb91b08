"""Ground-truth scenes: stuff bands and blobs, things in depth order, crowd and void regions."""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .spec import MAX_SEGMENT_ID, VOID, DatasetSpec, IntRange, Polygon, Segment

# ---------------------------------------------------------------------------
# Small helpers


def _randint(rng: np.random.Generator, bounds: IntRange) -> int:
    """A random integer in the inclusive range ``bounds``."""
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _fresh_ids(rng: np.random.Generator, n: int) -> List[int]:
    """``n`` distinct random segment ids in ``[1, MAX_SEGMENT_ID)``."""
    ids = np.empty(0, dtype=np.int64)
    while ids.size < n:
        ids = np.concatenate([ids, rng.integers(1, MAX_SEGMENT_ID, size=n - ids.size + 4)])
        _, first = np.unique(ids, return_index=True)
        ids = ids[np.sort(first)]
    return [int(v) for v in ids[:n]]


def _star_polygon(
    rng: np.random.Generator,
    center: Tuple[float, float],
    radii: Tuple[float, float],
    n_vertices: int,
    roughness: float,
) -> Polygon:
    """A rotated, star-shaped polygon: an ellipse when ``roughness`` is 0.

    Roughness bends the outline with two low harmonics and per-vertex jitter;
    with few vertices the result has long slanted straight edges.
    """
    angles = np.linspace(0.0, 2 * np.pi, n_vertices, endpoint=False)
    angles = angles + rng.uniform(0, 2 * np.pi / n_vertices * roughness, n_vertices)
    phases = rng.uniform(0, 2 * np.pi, 2)
    scale = (1.0
             + 0.5 * roughness * np.sin(2 * angles + phases[0])
             + 0.3 * roughness * np.sin(3 * angles + phases[1])
             + 0.2 * roughness * rng.uniform(-1, 1, n_vertices))
    scale = np.maximum(scale, 0.2)
    rotation = rng.uniform(0, np.pi)
    x = radii[0] * scale * np.cos(angles)
    y = radii[1] * scale * np.sin(angles)
    xs = center[0] + x * np.cos(rotation) - y * np.sin(rotation)
    ys = center[1] + x * np.sin(rotation) + y * np.cos(rotation)
    return np.column_stack([xs, ys]).ravel().tolist()


def _random_shape(rng: np.random.Generator, height: int, width: int, radius: float) -> Polygon:
    """A random ellipse, smooth blob or slanted polygon of about ``radius`` pixels."""
    center = (rng.uniform(-0.05, 1.05) * width, rng.uniform(-0.05, 1.05) * height)
    aspect = rng.uniform(0.4, 1.0)
    radii = (radius, radius * aspect) if rng.random() < 0.5 else (radius * aspect, radius)
    kind = rng.integers(3)
    if kind == 0:
        return _star_polygon(rng, center, radii, 48, 0.0)
    if kind == 1:
        return _star_polygon(rng, center, radii, 32, rng.uniform(0.2, 0.6))
    return _star_polygon(rng, center, radii, _randint(rng, (3, 7)), rng.uniform(0.3, 1.0))


def _band_polygon(rng: np.random.Generator, height: int, width: int, y_fraction: float) -> Polygon:
    """The region below a wavy, slanted line across the image at ``y_fraction`` of its height."""
    xs = np.arange(0, width + 16, 16, dtype=np.float64)
    slope = rng.uniform(-0.15, 0.15)
    amplitude = rng.uniform(0, 0.04) * height
    period = rng.uniform(0.3, 1.5) * width
    phase = rng.uniform(0, 2 * np.pi)
    ys = (y_fraction * height + slope * (xs - width / 2)
          + amplitude * np.sin(2 * np.pi * xs / period + phase))
    outline = np.column_stack([xs, ys]).ravel().tolist()
    return outline + [float(width + 1), float(height + 1), -1.0, float(height + 1)]


def _boundary_mask(labels: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another label (both sides of each boundary)."""
    mask = np.zeros(labels.shape, dtype=bool)
    horizontal = labels[:, 1:] != labels[:, :-1]
    mask[:, 1:] |= horizontal
    mask[:, :-1] |= horizontal
    vertical = labels[1:, :] != labels[:-1, :]
    mask[1:, :] |= vertical
    mask[:-1, :] |= vertical
    return mask


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """Grow a boolean mask by ``steps`` pixels (4-connectivity)."""
    mask = mask.copy()
    for _ in range(steps):
        grown = mask.copy()
        grown[1:, :] |= mask[:-1, :]
        grown[:-1, :] |= mask[1:, :]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        mask = grown
    return mask


def _segment_stats(labels: np.ndarray, n_labels: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel count and ``[x, y, w, h]`` box of every label in ``range(n_labels)``.

    Labels with no pixel get the box ``[0, 0, 0, 0]``.
    """
    height, width = labels.shape
    areas = np.bincount(labels.ravel(), minlength=n_labels)[:n_labels]
    rows = np.zeros((n_labels, height), dtype=bool)
    rows[labels, np.arange(height)[:, None]] = True
    cols = np.zeros((n_labels, width), dtype=bool)
    cols[labels, np.arange(width)[None, :]] = True
    y0 = rows.argmax(axis=1)
    y1 = height - 1 - rows[:, ::-1].argmax(axis=1)
    x0 = cols.argmax(axis=1)
    x1 = width - 1 - cols[:, ::-1].argmax(axis=1)
    boxes = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1)
    boxes[areas == 0] = 0
    return areas, boxes


def _paint(labels: np.ndarray, shapes: Sequence[Tuple[Polygon, int]]) -> np.ndarray:
    """Fill polygons into a label map, in order, so later shapes occlude earlier ones."""
    canvas = Image.fromarray(np.ascontiguousarray(labels, dtype=np.int32))
    draw = ImageDraw.Draw(canvas)
    for polygon, label in shapes:
        draw.polygon(polygon, fill=int(label))
    return np.array(canvas, dtype=np.int32)


def _void_boundaries(
    rng: np.random.Generator,
    labels: np.ndarray,
    candidates: Sequence[int],
    prob: float,
    width: IntRange,
) -> None:
    """Set to void a band along the boundaries of randomly chosen ``candidates``."""
    picked = [label for label in candidates if rng.random() < prob]
    if not picked:
        return
    chosen = np.zeros(max(int(labels.max()), max(picked)) + 1, dtype=bool)
    chosen[picked] = True
    mask = _boundary_mask(labels) & chosen[labels]
    labels[_dilate(mask, _randint(rng, width) - 1)] = VOID


def _void_blob_shapes(rng: np.random.Generator, height: int, width: int, count: IntRange) -> List[Tuple[Polygon, int]]:
    """A few smallish void polygons."""
    size = min(height, width)
    return [(_random_shape(rng, height, width, rng.uniform(0.02, 0.08) * size), VOID)
            for _ in range(_randint(rng, count))]


# ---------------------------------------------------------------------------
# Ground truth


def _scene_labels(rng: np.random.Generator, spec: DatasetSpec) -> Tuple[np.ndarray, List[Segment]]:
    """Paint a GT scene as a map of small labels plus one description per label.

    Label 0 is void; ``table[label]`` holds ``category_id``, ``iscrowd`` and
    ``listed`` (False for the pixels the JSON must not list).
    """
    height, width = spec.height, spec.width
    size = min(height, width)
    table: List[Segment] = [{}]

    def new_label(category: int, iscrowd: int = 0, listed: bool = True) -> int:
        table.append({"category_id": int(category), "iscrowd": iscrowd, "listed": listed})
        return len(table) - 1

    shapes: List[Tuple[Polygon, int]] = []
    stuff_label: Dict[int, int] = {}
    n_bands = min(_randint(rng, spec.stuff_bands), len(spec.stuff_ids))
    band_categories = rng.choice(spec.stuff_ids, size=n_bands, replace=False)
    band_tops = np.sort(rng.uniform(0.1, 0.9, size=n_bands - 1))
    for k, category in enumerate(band_categories):
        label = stuff_label[int(category)] = new_label(category)
        if k == 0:
            shapes.append(([-1.0, -1.0, width + 1.0, -1.0, width + 1.0, height + 1.0, -1.0, height + 1.0], label))
        else:
            shapes.append((_band_polygon(rng, height, width, band_tops[k - 1]), label))

    for _ in range(_randint(rng, spec.stuff_blobs)):
        category = int(rng.choice(spec.stuff_ids))
        # A stuff category is one segment per image, even when disconnected.
        if category not in stuff_label:
            stuff_label[category] = new_label(category)
        label = stuff_label[category]
        shapes.append((_random_shape(rng, height, width, rng.uniform(0.08, 0.3) * size), label))

    n_pool = min(_randint(rng, spec.thing_categories_per_image), len(spec.thing_ids))
    pool = rng.choice(spec.thing_ids, size=n_pool, replace=False)
    for _ in range(_randint(rng, spec.things_per_image)):
        category = int(rng.choice(pool))
        radius = rng.uniform(*spec.thing_radius) * size
        if rng.random() < spec.crowd_prob:
            n_crowds = 2 if rng.random() < spec.second_crowd_prob else 1
            for _ in range(n_crowds):
                crowd_radius = radius * rng.uniform(1.5, 2.5)
                shapes.append((_random_shape(rng, height, width, crowd_radius), new_label(category, iscrowd=1)))
        else:
            shapes.append((_random_shape(rng, height, width, radius), new_label(category)))

    shapes.extend(_void_blob_shapes(rng, height, width, spec.void_blobs))
    if rng.random() < spec.unlisted_gt_id_prob:
        unlisted = new_label(int(rng.choice(spec.thing_ids)), listed=False)
        shapes.append((_random_shape(rng, height, width, rng.uniform(0.03, 0.08) * size), unlisted))

    labels = _paint(np.zeros((height, width), dtype=np.int32), shapes)
    listed = [label for label in range(1, len(table)) if table[label]["listed"]]
    _void_boundaries(rng, labels, listed, spec.void_boundary_prob, spec.void_boundary_width)
    return labels, table


def make_scene(rng: np.random.Generator, spec: DatasetSpec) -> Tuple[np.ndarray, List[Segment]]:
    """Generate one ground-truth image.

    Returns an HxW uint32 id map and its COCO ``segments_info`` (id,
    category_id, iscrowd, bbox, area, with area the exact pixel count).
    Segments fully occluded are dropped, except for the rare deliberately empty
    segment (``spec.empty_gt_segment_prob``); the id map may also hold a rare
    id that ``segments_info`` does not list (``spec.unlisted_gt_id_prob``).
    """
    labels, table = _scene_labels(rng, spec)
    areas, boxes = _segment_stats(labels, len(table))
    ids = _fresh_ids(rng, len(table))
    lut = np.zeros(len(table), dtype=np.uint32)
    segments: List[Segment] = []
    for label in range(1, len(table)):
        if areas[label] == 0:
            continue
        lut[label] = ids[label]
        if table[label]["listed"]:
            segments.append({
                "id": ids[label],
                "category_id": table[label]["category_id"],
                "iscrowd": table[label]["iscrowd"],
                "bbox": [int(v) for v in boxes[label]],
                "area": int(areas[label]),
            })
    if rng.random() < spec.empty_gt_segment_prob:
        empty = {"id": ids[0], "category_id": int(rng.choice(spec.thing_ids)),
                 "iscrowd": 0, "bbox": [0, 0, 0, 0], "area": 0}
        segments.insert(int(rng.integers(len(segments) + 1)), empty)
    return lut[labels], segments

