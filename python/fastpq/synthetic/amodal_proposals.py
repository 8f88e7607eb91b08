"""Proposals for the synthetic amodal datasets: jittered outlines, masks at exact IoUs, polygons
and RLEs, tied scores, and the fields the evaluation must ignore."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .amodal_scene import _flat, _rectangle, _Region, _round, _star
from .rle import Rle, counts_to_string, encode_mask, encode_polygon, polygon_to_counts

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

