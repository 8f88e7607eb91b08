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
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from .amodal_proposals import _make_proposals
from .amodal_scene import (_add_exact_quarter, _add_fully_occluded, _annotation, _rasterise,
                           _scene, _second_annotator)
from .rle import (counts_to_mask, counts_to_string, decode_rle, encode_mask, encode_polygon,
                  mask_to_counts, polygon_to_counts, polygon_to_mask, string_to_counts)

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
