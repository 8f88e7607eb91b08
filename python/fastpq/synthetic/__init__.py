"""Deterministic generator of synthetic COCO panoptic datasets.

Shared by the tests and the benchmarks of the panoptic-quality scorer. A dataset
is a ground-truth JSON with its folder of PNGs plus a prediction JSON with its
folder of PNGs, in the layout panopticapi's ``pq_compute`` expects::

    root/gt.json    root/gt/*.png    root/pred.json    root/pred/*.png

PNGs are 8-bit RGB where a pixel's segment id is ``R + 256 * G + 65536 * B`` and
id 0 is void (unlabeled).

Scenes are made of wavy stuff bands and stuff blobs, overlapping thing polygons
and ellipses painted in depth order, crowd regions and void pixels. Predictions
are perturbed copies of the ground truth (shifted, ragged, missed, split, merged,
relabelled and hallucinated segments), so that every image scores a mix of true
positives, false positives and false negatives.

Everything is a pure function of ``(seed, image index)``: the output is
byte-identical whatever the number of worker processes.

This module depends only on numpy, Pillow and the standard library.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "VOID",
    "MAX_SEGMENT_ID",
    "DatasetSpec",
    "DatasetPaths",
    "GeneratedImage",
    "COCO_LIKE",
    "CITYSCAPES_LIKE",
    "make_scene",
    "perturb",
    "generate_image",
    "generate_dataset",
    "id_to_rgb",
    "rgb_to_id",
    "write_png",
    "read_png",
]

VOID = 0
#: Segment ids are drawn from ``[1, MAX_SEGMENT_ID)``: they must fit in 24-bit RGB.
MAX_SEGMENT_ID = 1 << 24

Segment = Dict[str, Any]
Polygon = List[float]
IntRange = Tuple[int, int]
FloatRange = Tuple[float, float]

# Category ids of COCO panoptic (80 things, 53 stuff) and Cityscapes (8 things, 11 stuff).
COCO_THING_IDS: Tuple[int, ...] = (
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66),
    67, 70, *range(72, 83), *range(84, 91),
)
COCO_STUFF_IDS: Tuple[int, ...] = (
    92, 93, 95, 100, 107, 109, 112, 118, 119, 122, 125, 128, 130, 133, 138, 141,
    144, 145, 147, 148, 149, 151, 154, 155, 156, 159, 161, 166, 168, 171, 175,
    176, 177, 178, 180, 181, *range(184, 201),
)
CITYSCAPES_THING_IDS: Tuple[int, ...] = (24, 25, 26, 27, 28, 31, 32, 33)
CITYSCAPES_STUFF_IDS: Tuple[int, ...] = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23)

_CITYSCAPES_CITIES = ("frankfurt", "lindau", "munster")


@dataclass(frozen=True)
class DatasetSpec:
    """Shape and statistics of a synthetic panoptic dataset.

    Ranges are inclusive ``(low, high)`` pairs; probabilities are per image
    unless said otherwise. Radii are fractions of ``min(height, width)``.
    When ``thing_ids``/``stuff_ids`` are left empty, non-contiguous ids are
    made up, things first.
    """

    name: str
    height: int
    width: int
    n_categories: int
    n_things: int
    thing_ids: Tuple[int, ...] = ()
    stuff_ids: Tuple[int, ...] = ()
    #: Cityscapes-style string image ids and file names instead of COCO integers.
    string_image_ids: bool = False

    # Ground-truth scene content.
    stuff_bands: IntRange = (2, 5)
    stuff_blobs: IntRange = (0, 3)
    things_per_image: IntRange = (3, 15)
    #: How many distinct thing categories an image draws its things from.
    thing_categories_per_image: IntRange = (1, 5)
    thing_radius: FloatRange = (0.03, 0.2)
    #: Per thing: probability that it is a (larger) crowd region.
    crowd_prob: float = 0.08
    #: Per crowd region: probability of a second crowd region of its category.
    second_crowd_prob: float = 0.3
    #: Per segment: probability that void pixels line its boundary.
    void_boundary_prob: float = 0.25
    void_boundary_width: IntRange = (1, 3)
    void_blobs: IntRange = (0, 2)
    #: Edge case: a segment listed in the GT JSON with no pixel in the PNG.
    empty_gt_segment_prob: float = 0.05
    #: Edge case: GT PNG pixels whose id the JSON does not list.
    unlisted_gt_id_prob: float = 0.05

    # Prediction perturbations (per GT segment unless said otherwise).
    pred_shift_prob: float = 0.5
    pred_max_shift: int = 4
    pred_miss_prob: float = 0.1
    pred_split_prob: float = 0.08
    pred_crowd_split_prob: float = 0.5
    #: Per thing category with several instances: probability two get merged.
    pred_merge_prob: float = 0.3
    #: Per predicted segment: probability of a wrong category.
    pred_wrong_class_prob: float = 0.08
    #: Per boundary pixel and pass: probability it takes its neighbour's label.
    pred_ragged_prob: float = 0.3
    pred_ragged_passes: int = 2
    pred_extra_segments: IntRange = (0, 3)
    pred_void_blobs: IntRange = (0, 2)
    pred_void_boundary_prob: float = 0.05
    #: Write prediction annotations in a shuffled order (matching is by image id).
    shuffle_pred_annotations: bool = True

    def __post_init__(self) -> None:
        n_stuff = self.n_categories - self.n_things
        if self.height < 16 or self.width < 16:
            raise ValueError("images must be at least 16x16")
        if self.n_things < 1 or n_stuff < 1:
            raise ValueError("need at least one thing and one stuff category")
        if not self.thing_ids and not self.stuff_ids:
            things, stuff = _default_category_ids(self.n_things, n_stuff)
            object.__setattr__(self, "thing_ids", things)
            object.__setattr__(self, "stuff_ids", stuff)
        if len(self.thing_ids) != self.n_things or len(self.stuff_ids) != n_stuff:
            raise ValueError("thing_ids/stuff_ids do not match n_things/n_categories")
        all_ids = self.thing_ids + self.stuff_ids
        if len(set(all_ids)) != len(all_ids) or min(all_ids) < 1:
            raise ValueError("category ids must be unique positive integers")

    @property
    def category_ids(self) -> Tuple[int, ...]:
        """All category ids, sorted."""
        return tuple(sorted(self.thing_ids + self.stuff_ids))

    def categories(self) -> List[Dict[str, Any]]:
        """The COCO ``categories`` list, sorted by id."""
        things = set(self.thing_ids)
        result = []
        for cat in self.category_ids:
            kind = "thing" if cat in things else "stuff"
            result.append({
                "id": cat,
                "name": f"{kind}_{cat}",
                "supercategory": kind,
                "isthing": int(cat in things),
                "color": [(cat * 67) % 256, (cat * 131) % 256, (cat * 197) % 256],
            })
        return result


def _default_category_ids(n_things: int, n_stuff: int) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Non-contiguous made-up ids: things skip multiples of 5, stuff ids are odd and above them."""
    things = tuple(i for i in range(1, 5 * n_things) if i % 5 != 0)[:n_things]
    first_stuff = 10 * (things[-1] // 10 + 1) + 1
    stuff = tuple(range(first_stuff, first_stuff + 2 * n_stuff, 2))
    return things, stuff


COCO_LIKE = DatasetSpec(
    "coco", 480, 640, 133, 80,
    thing_ids=COCO_THING_IDS,
    stuff_ids=COCO_STUFF_IDS,
    stuff_bands=(2, 4),
    things_per_image=(1, 12),
    thing_radius=(0.03, 0.25),
    void_boundary_prob=0.3,
    pred_max_shift=3,
)

CITYSCAPES_LIKE = DatasetSpec(
    "cityscapes", 1024, 2048, 19, 8,
    thing_ids=CITYSCAPES_THING_IDS,
    stuff_ids=CITYSCAPES_STUFF_IDS,
    string_image_ids=True,
    stuff_bands=(3, 6),
    stuff_blobs=(1, 4),
    things_per_image=(4, 30),
    thing_categories_per_image=(2, 5),
    thing_radius=(0.015, 0.12),
    crowd_prob=0.1,
    void_boundary_prob=0.2,
    pred_max_shift=6,
)


@dataclass(frozen=True)
class DatasetPaths:
    """Where :func:`generate_dataset` wrote a dataset."""

    gt_json: Path
    gt_folder: Path
    pred_json: Path
    pred_folder: Path


@dataclass
class GeneratedImage:
    """One image's ground truth and prediction, before anything is written."""

    image: Dict[str, Any]
    png_name: str
    gt_id_map: np.ndarray
    gt_segments: List[Segment]
    pred_id_map: np.ndarray
    pred_segments: List[Segment]


# ---------------------------------------------------------------------------
# PNG encoding


def id_to_rgb(id_map: np.ndarray) -> np.ndarray:
    """Encode an HxW map of segment ids as an HxWx3 uint8 RGB array."""
    ids = np.asarray(id_map, dtype="<u4")
    return np.ascontiguousarray(ids[..., None].view(np.uint8)[..., :3])


def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """Decode an HxWx3 RGB array into an HxW uint32 map of segment ids."""
    rgb = np.asarray(rgb, dtype=np.uint32)
    return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)


def write_png(path: Union[str, Path], id_map: np.ndarray) -> None:
    """Save an id map as an RGB PNG with Pillow's default settings."""
    Image.fromarray(id_to_rgb(id_map)).save(path)


def read_png(path: Union[str, Path]) -> np.ndarray:
    """Load an RGB panoptic PNG as an HxW uint32 map of segment ids."""
    with Image.open(path) as image:
        return rgb_to_id(np.asarray(image.convert("RGB")))


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


# ---------------------------------------------------------------------------
# Predictions


def _ids_to_labels(id_map: np.ndarray, segments: Sequence[Segment]) -> np.ndarray:
    """Map listed ids to ``1 + their index in segments``; void and unlisted ids to 0."""
    if not segments:
        return np.zeros(id_map.shape, dtype=np.int32)
    ids = np.array([s["id"] for s in segments], dtype=np.uint32)
    order = np.argsort(ids)
    sorted_ids = ids[order]
    pos = np.minimum(np.searchsorted(sorted_ids, id_map), len(ids) - 1)
    found = sorted_ids[pos] == id_map
    return np.where(found, order[pos] + 1, 0).astype(np.int32)


def _crop_window(box: np.ndarray, margin: int, shape: Tuple[int, int]) -> Tuple[slice, slice]:
    """The ``[x, y, w, h]`` box grown by ``margin``, clipped to the image."""
    x, y, w, h = (int(v) for v in box)
    return (slice(max(0, y - margin), min(shape[0], y + h + margin)),
            slice(max(0, x - margin), min(shape[1], x + w + margin)))


def _majority_neighbour(crop: np.ndarray, mask: np.ndarray) -> int:
    """The most common label in a thin ring around ``mask`` (void if there is none)."""
    ring = crop[_dilate(mask, 2) & ~mask]
    return int(np.bincount(ring).argmax()) if ring.size else VOID


def _shift_segment(rng: np.random.Generator, crop: np.ndarray, label: int, max_shift: int) -> None:
    """Move a segment by a few pixels, filling what it uncovers with its main neighbour."""
    dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
    mask = crop == label
    moved = np.zeros_like(mask)
    h, w = mask.shape
    moved[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
        mask[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    crop[mask & ~moved] = _majority_neighbour(crop, mask)
    crop[moved] = label


def _split_segment(rng: np.random.Generator, crop: np.ndarray, label: int, new_label: int) -> None:
    """Relabel the part of a segment on one side of a random line through its centre."""
    ys, xs = np.nonzero(crop == label)
    angle = rng.uniform(0, np.pi)  # drawn even for an empty segment, so later draws do not shift
    if ys.size == 0:
        return
    side = (ys - ys.mean()) * np.cos(angle) - (xs - xs.mean()) * np.sin(angle) > 0
    crop[ys[side], xs[side]] = new_label


def _neighbour_labels(labels: np.ndarray, axis: int, step: int) -> np.ndarray:
    """Each pixel's neighbour ``step`` (+1 or -1) pixels away along ``axis``; edges see themselves."""
    shifted = labels.copy()
    if axis == 0:
        if step > 0:
            shifted[:-1] = labels[1:]
        else:
            shifted[1:] = labels[:-1]
    elif step > 0:
        shifted[:, :-1] = labels[:, 1:]
    else:
        shifted[:, 1:] = labels[:, :-1]
    return shifted


def _ragged_boundaries(rng: np.random.Generator, labels: np.ndarray, prob: float, passes: int) -> None:
    """Erode/dilate boundaries at random: boundary pixels copy a neighbour's label."""
    for _ in range(passes):
        for axis, step in rng.permutation([(0, 1), (0, -1), (1, 1), (1, -1)]):
            neighbour = _neighbour_labels(labels, int(axis), int(step))
            candidates = np.flatnonzero(neighbour != labels)
            flip = candidates[rng.random(candidates.size) < prob]
            labels.flat[flip] = neighbour.flat[flip]


class _LabelForest:
    """Label redirections (missed or merged segments), kept free of cycles."""

    def __init__(self, n_labels: int) -> None:
        self.parent = list(range(n_labels))

    def add(self) -> int:
        """Register a new label, pointing at itself."""
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, label: int) -> int:
        """The label this one ends up as."""
        while self.parent[label] != label:
            label = self.parent[label]
        return label

    def redirect(self, label: int, target: int) -> None:
        """Make ``label`` end up as ``target`` (or void if that would loop)."""
        target = self.find(target)
        self.parent[label] = target if target != label else VOID

    def lookup_table(self) -> np.ndarray:
        """Array mapping every label to its final label."""
        return np.array([self.find(label) for label in range(len(self.parent))], dtype=np.int32)


def perturb(
    rng: np.random.Generator,
    id_map: np.ndarray,
    segments: Sequence[Segment],
    spec: DatasetSpec,
) -> Tuple[np.ndarray, List[Segment]]:
    """Derive a prediction from a ground-truth image.

    Returns an HxW uint32 id map with fresh random ids and its
    ``segments_info`` of ``{id, category_id}``. The prediction is always valid
    for panopticapi: each non-zero id in the map is listed, each listed id
    has pixels, and categories come from ``spec``.
    """
    gt_labels = _ids_to_labels(np.asarray(id_map, dtype=np.uint32), segments)
    labels = gt_labels.copy()
    n_gt = len(segments) + 1
    categories = [VOID] + [int(s["category_id"]) for s in segments]
    things = set(spec.thing_ids)
    areas, boxes = _segment_stats(gt_labels, n_gt)
    forest = _LabelForest(n_gt)
    margin = max(spec.pred_max_shift, 2) + 1

    for label in range(1, n_gt):
        if areas[label] == 0:
            continue
        window = _crop_window(boxes[label], margin, labels.shape)
        crop = labels[window]
        is_thing = categories[label] in things
        u = rng.random()
        if segments[label - 1].get("iscrowd", 0):
            if u < spec.pred_crowd_split_prob:
                _split_segment(rng, crop, label, forest.add())
                categories.append(categories[label])
        elif u < spec.pred_miss_prob:
            target = _majority_neighbour(crop, crop == label) if rng.random() < 0.5 else VOID
            forest.redirect(label, target)
        elif u < spec.pred_miss_prob + spec.pred_split_prob:
            _split_segment(rng, crop, label, forest.add())
            categories.append(categories[label])
        elif is_thing and rng.random() < spec.pred_shift_prob:
            _shift_segment(rng, crop, label, spec.pred_max_shift)

    _merge_same_category_things(rng, spec, segments, categories, forest)
    labels = forest.lookup_table()[labels]

    for label in range(1, len(categories)):
        if rng.random() < spec.pred_wrong_class_prob:
            same_kind = spec.thing_ids if categories[label] in things else spec.stuff_ids
            categories[label] = int(rng.choice(same_kind))

    height, width = labels.shape
    shapes = []
    for _ in range(_randint(rng, spec.pred_extra_segments)):
        kind = spec.thing_ids if rng.random() < 0.7 else spec.stuff_ids
        categories.append(int(rng.choice(kind)))
        radius = rng.uniform(*spec.thing_radius) * min(height, width)
        shapes.append((_random_shape(rng, height, width, radius), len(categories) - 1))
    shapes.extend(_void_blob_shapes(rng, height, width, spec.pred_void_blobs))
    labels = _paint(labels, shapes)

    _ragged_boundaries(rng, labels, spec.pred_ragged_prob, spec.pred_ragged_passes)
    _void_boundaries(rng, labels, range(1, len(categories)), spec.pred_void_boundary_prob, (1, 2))
    return _finalise_prediction(rng, labels, categories)


def _merge_same_category_things(
    rng: np.random.Generator,
    spec: DatasetSpec,
    segments: Sequence[Segment],
    categories: List[int],
    forest: _LabelForest,
) -> None:
    """For some thing categories with several instances, predict two of them as one segment."""
    things = set(spec.thing_ids)
    by_category: Dict[int, List[int]] = {}
    for label, segment in enumerate(segments, start=1):
        if (categories[label] in things and not segment.get("iscrowd", 0)
                and forest.find(label) == label):
            by_category.setdefault(categories[label], []).append(label)
    for category in sorted(by_category):
        instances = by_category[category]
        if len(instances) >= 2 and rng.random() < spec.pred_merge_prob:
            kept, merged = rng.choice(instances, size=2, replace=False)
            forest.redirect(int(merged), int(kept))


def _finalise_prediction(
    rng: np.random.Generator, labels: np.ndarray, categories: Sequence[int]
) -> Tuple[np.ndarray, List[Segment]]:
    """Give every label that kept pixels a fresh id; drop the others."""
    areas = np.bincount(labels.ravel(), minlength=len(categories))
    present = [label for label in range(1, len(categories)) if areas[label] > 0]
    ids = _fresh_ids(rng, len(present))
    lut = np.zeros(len(categories), dtype=np.uint32)
    segments = []
    for label, segment_id in zip(present, ids):
        lut[label] = segment_id
        segments.append({"id": segment_id, "category_id": int(categories[label])})
    return lut[labels], segments


# ---------------------------------------------------------------------------
# Datasets


def _image_record(spec: DatasetSpec, index: int) -> Tuple[Dict[str, Any], str]:
    """The COCO ``images`` entry of image ``index`` and the name of its PNGs."""
    if spec.string_image_ids:
        image_id: Union[int, str] = f"{_CITYSCAPES_CITIES[index % 3]}_{index:06d}_000019"
        image_name, png_name = f"{image_id}_leftImg8bit.png", f"{image_id}_gtFine_panoptic.png"
    else:
        image_id = 139 + 7 * index
        image_name, png_name = f"{image_id:012d}.jpg", f"{image_id:012d}.png"
    image = {"id": image_id, "file_name": image_name, "width": spec.width, "height": spec.height}
    return image, png_name


def generate_image(spec: DatasetSpec, index: int, seed: int = 0) -> GeneratedImage:
    """Generate image ``index`` of the dataset ``(spec, seed)``, in memory."""
    gt_seed, pred_seed = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
    gt_map, gt_segments = make_scene(np.random.default_rng(gt_seed), spec)
    pred_map, pred_segments = perturb(np.random.default_rng(pred_seed), gt_map, gt_segments, spec)
    image, png_name = _image_record(spec, index)
    return GeneratedImage(image, png_name, gt_map, gt_segments, pred_map, pred_segments)


def _write_image(task: Tuple[DatasetSpec, int, int, str, str]) -> Tuple[Dict[str, Any], Segment, Segment]:
    """Generate one image, write its two PNGs, return its JSON entries (a Pool worker)."""
    spec, seed, index, gt_folder, pred_folder = task
    generated = generate_image(spec, index, seed)
    write_png(Path(gt_folder) / generated.png_name, generated.gt_id_map)
    write_png(Path(pred_folder) / generated.png_name, generated.pred_id_map)
    image_id = generated.image["id"]
    gt_annotation = {"image_id": image_id, "file_name": generated.png_name,
                     "segments_info": generated.gt_segments}
    pred_annotation = {"image_id": image_id, "file_name": generated.png_name,
                       "segments_info": generated.pred_segments}
    return generated.image, gt_annotation, pred_annotation


def _pool_context() -> Any:
    """Fork on Linux: workers then need not re-import this module by name."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _write_json(path: Path, content: Dict[str, Any]) -> None:
    """Write JSON deterministically."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(content, f)


def generate_dataset(
    root: Union[str, Path],
    spec: DatasetSpec,
    n_images: int,
    seed: int = 0,
    workers: int = 1,
) -> DatasetPaths:
    """Write a GT and a prediction COCO panoptic dataset under ``root``.

    Layout: ``root/gt.json``, ``root/gt/``, ``root/pred.json``, ``root/pred/``.
    The bytes written depend only on ``(spec, n_images, seed)``, not on
    ``workers`` (the number of processes).
    """
    root = Path(root)
    paths = DatasetPaths(root / "gt.json", root / "gt", root / "pred.json", root / "pred")
    paths.gt_folder.mkdir(parents=True, exist_ok=True)
    paths.pred_folder.mkdir(parents=True, exist_ok=True)
    tasks = [(spec, seed, index, str(paths.gt_folder), str(paths.pred_folder))
             for index in range(n_images)]
    if workers > 1 and n_images > 1:
        with _pool_context().Pool(workers) as pool:
            results = pool.map(_write_image, tasks, chunksize=max(1, n_images // (4 * workers)))
    else:
        results = [_write_image(task) for task in tasks]

    images = [image for image, _, _ in results]
    categories = spec.categories()
    _write_json(paths.gt_json, {
        "info": {"description": f"fastpq synthetic {spec.name}-like dataset, seed {seed}"},
        "images": images,
        "annotations": [gt for _, gt, _ in results],
        "categories": categories,
    })
    pred_annotations = [pred for _, _, pred in results]
    if spec.shuffle_pred_annotations:
        order = np.random.default_rng([seed, n_images, 1]).permutation(len(pred_annotations))
        pred_annotations = [pred_annotations[i] for i in order]
    _write_json(paths.pred_json, {
        "images": images,
        "annotations": pred_annotations,
        "categories": categories,
    })
    return paths
