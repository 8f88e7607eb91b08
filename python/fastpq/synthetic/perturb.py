"""Predictions: perturbed copies of a ground-truth scene (shifted, ragged, missed, split, merged,
relabelled and hallucinated segments)."""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from .spec import VOID, DatasetSpec, Segment
from .scene import (_dilate, _fresh_ids, _paint, _randint, _random_shape, _segment_stats,
                    _void_blob_shapes, _void_boundaries)

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

