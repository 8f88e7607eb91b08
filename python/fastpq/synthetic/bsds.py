"""Deterministic generator of BSDS-like multi-annotator amodal datasets.

The BSDS part of the semantic amodal segmentation data has 5 to 7 annotators per image, each
annotation a full COCOA annotation (``regions``, ``author``, ``depth_constraint``). Here each image
has one hidden scene (things and stuff in depth order, made by :mod:`fastpq.synthetic.amodal`) and
every annotator draws their own version of it:

* boundary noise: every outline vertex moves (normal, ``noise`` pixels), and the whole outline by
  a small common shift;
* missed regions: each region is left out with probability ``p_miss``;
* split regions: a thing is drawn as two regions (its outline cut into two fans from its centre)
  with probability ``p_split``;
* depth-order swaps: neighbours in depth order trade places with probability ``p_swap``, which
  changes the visible masks and occlusion rates that follow from the order.

Masks, visible parts and occlusion rates follow from each annotator's outlines and order exactly
as in :mod:`fastpq.synthetic.amodal` (pycocotools' rasterisation). The file layout is the COCOA one:
``{"images": [...], "annotations": [one per annotator per image, grouped by image]}``. Everything
is a pure function of ``(seed, image index)`` and the arguments; only numpy is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from .amodal_scene import _annotation, _Region, _rasterise, _round, _scene

__all__ = ["make_bsds_image", "generate_bsds_dataset"]


def _split(rng: np.random.Generator, region: _Region) -> List[_Region]:
    """A thing drawn as two regions: its outline cut into two fans from its centre."""
    outline = region.outline
    k = len(outline)
    if k < 6 or region.is_stuff:
        return [region]
    cut = int(rng.integers(2, k - 2))
    centre = outline.mean(axis=0, keepdims=True)
    first = np.vstack([centre, outline[:cut + 1]])
    second = np.vstack([centre, outline[cut:], outline[:1]])
    return [_Region(_round(first), False, region.name), _Region(_round(second), False, region.name)]


def _annotator(rng: np.random.Generator, scene: List[_Region], height: int, width: int, noise: float,
               p_miss: float, p_split: float, p_swap: float) -> List[_Region]:
    """One annotator's version of the scene, nearest first, rasterised."""
    regions: List[_Region] = []
    for region in scene:
        if rng.random() < p_miss:
            continue
        moved = region.outline + rng.normal(0, noise, region.outline.shape) + rng.normal(0, noise, 2)
        drawn = _Region(_round(moved), region.is_stuff, region.name)
        regions.extend(_split(rng, drawn) if rng.random() < p_split else [drawn])
    if not regions:  # an annotator marks at least one region
        regions.append(_Region(scene[0].outline.copy(), scene[0].is_stuff, scene[0].name))
    for i in range(len(regions) - 1):
        if rng.random() < p_swap:
            regions[i], regions[i + 1] = regions[i + 1], regions[i]
    _rasterise(regions, height, width)
    return [r for r in regions if r.mask.any()] or regions[:1]


def make_bsds_image(rng: np.random.Generator, image_id: int, height: int = 160, width: int = 240,
                    n_annotators: int = 6, *, first_ann_id: int = 1, noise: float = 2.0, p_miss: float = 0.12,
                    p_split: float = 0.08, p_swap: float = 0.15) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """One image's ``images`` entry and its ``n_annotators`` annotations (ids from ``first_ann_id``)."""
    scene = _scene(rng, height, width, with_stuff=True)
    image = {"id": int(image_id), "file_name": f"{int(image_id)}.jpg", "height": int(height), "width": int(width)}
    annotations = []
    for a in range(n_annotators):
        regions = _annotator(rng, scene, height, width, noise, p_miss, p_split, p_swap)
        annotations.append(_annotation(first_ann_id + a, int(image_id), regions, height, width,
                                       f"annotator-{int(rng.integers(1, 40)):02d}-{a}"))
    return image, annotations


def generate_bsds_dataset(root: Union[str, Path], n_images: int = 20, height: int = 160, width: int = 240,
                          seed: int = 0, *, annotators: Tuple[int, int] = (5, 7), **variation: float) -> Path:
    """Write ``root/bsds_amodal.json`` (``n_images`` images, each with 5 to 7 annotators by default)
    and return its path. ``variation`` passes ``noise``, ``p_miss``, ``p_split``, ``p_swap`` on to
    :func:`make_bsds_image`. Image ``i`` has id ``1000 + 7 * i``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    ann_id = 1
    for index in range(n_images):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
        n = int(rng.integers(annotators[0], annotators[1] + 1))
        image, anns = make_bsds_image(rng, 1000 + 7 * index, height, width, n, first_ann_id=ann_id, **variation)
        ann_id += n
        images.append(image)
        annotations.extend(anns)
    path = root / "bsds_amodal.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"info": {"description": f"fastpq synthetic BSDS-like amodal dataset, seed {seed}"},
                   "images": images, "annotations": annotations}, f, separators=(",", ":"))
    return path
