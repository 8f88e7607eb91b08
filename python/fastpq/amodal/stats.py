"""Dataset statistics of a COCO Amodal (COCOA) ground truth, as the seed paper reports them.

Counts (regions per annotation, points per polygon), pixel coverage, occlusion (share of regions
occluded, mean occluded fraction) and two shape measures, for amodal and for visible masks:

- simplicity = sqrt(4 * pi * area) / perimeter (1 for a disk in the continuum);
- convexity = area / area of the convex hull.

Both are measured on the rasterised masks (pycocotools' rasterisation): the area is the pixel
count, the perimeter is the crack length (the number of unit pixel edges between a mask pixel
and a pixel outside the mask or the image, 4-neighbourhood), and the convex hull is that of the
mask pixels' corners. The crack length overestimates the length of slanted boundaries (a
digital disk has simplicity close to pi/4, about 0.79, rather than 1), so compare datasets with
one another, not with continuous shapes.

:func:`amodal_stats` describes the annotation that is evaluated (the first of each image, as
amodalAPI); :func:`amodal_stats_by_annotator` describes every annotator of a multi-annotator file
(BSDS amodal) on its own and all of them pooled.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Tuple

import numpy as np

from .. import _core
from .ar import AmodalImage, PathLike, load_amodal_ground_truth
from .multi import load_multi_annotator
from ..io.dataset import load_json

NO_AUTHOR = "(no author)"


def crack_perimeter(mask: np.ndarray) -> int:
    """Unit pixel edges between a mask pixel and a non-mask pixel or the image border."""
    padded = np.pad(mask.astype(bool), 1)
    return int(np.count_nonzero(padded[1:, :] != padded[:-1, :]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1]))


def convex_hull_area(mask: np.ndarray) -> float:
    """Area of the convex hull of the corners of the mask's pixels (0 for an empty mask)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return 0.0
    # Per row, the leftmost and rightmost pixels carry every hull corner of that row.
    corners = set()
    for y in np.unique(ys):
        row = xs[ys == y]
        lo, hi = int(row.min()), int(row.max()) + 1
        corners.update({(lo, int(y)), (lo, int(y) + 1), (hi, int(y)), (hi, int(y) + 1)})
    points = sorted(corners)
    hull = _monotone_chain(points)
    return 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(hull, hull[1:] + hull[:1])))


def _monotone_chain(points: List[tuple]) -> List[tuple]:
    """Convex hull of sorted integer points, counter-clockwise, without collinear points."""
    def cross(o, a, b):  # type: ignore[no-untyped-def]
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: List[tuple] = []
    for p in points:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: List[tuple] = []
    for p in reversed(points):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def shape_measures(mask: np.ndarray) -> Dict[str, float]:
    """Simplicity and convexity of one mask (NaN for an empty mask)."""
    area = int(np.count_nonzero(mask))
    if area == 0:
        return {"simplicity": math.nan, "convexity": math.nan}
    return {"simplicity": math.sqrt(4 * math.pi * area) / crack_perimeter(mask),
            "convexity": area / convex_hull_area(mask)}


def _masks_of(masks: List[Any], h: int, w: int) -> List[np.ndarray]:
    out = []
    for m in masks:
        counts = _core.rle_from_string(m, h, w) if isinstance(m, str) else _core.rle_from_polygons(m, h, w)
        out.append(_core.rle_decode(counts, h, w).astype(bool))
    return out


def annotation_statistics(annotations: List[Tuple[AmodalImage, AmodalImage]]) -> Dict[str, Any]:
    """The statistics of annotations, each given as (amodal regions, visible regions) of one image:
    counts, points per polygon, coverage (per annotation with a region: the share of the image its
    amodal masks' union covers, averaged), occlusion and the mean shape measures of every mask."""
    points: List[int] = []
    coverage: List[float] = []
    occlusion: List[float] = []
    shapes: Dict[str, Dict[str, List[float]]] = {"amodal": {"simplicity": [], "convexity": []},
                                                 "visible": {"simplicity": [], "convexity": []}}
    for image, image_visible in annotations:
        h, w = image.height, image.width
        union = np.zeros((h, w), bool)
        for kind, source in (("amodal", image), ("visible", image_visible)):
            for m, pixels in zip(source.region_masks, _masks_of(source.region_masks, h, w)):
                if kind == "amodal":
                    union |= pixels
                    points.extend(len(p) // 2 for p in (m if not isinstance(m, str) else []))
                for name, value in shape_measures(pixels).items():
                    if not math.isnan(value):
                        shapes[kind][name].append(value)
        if image.region_masks:
            coverage.append(float(union.mean()))
        occlusion.extend(image.region_occlusion)
    occluded = [r for r in occlusion if r > 0]
    annotated = sum(1 for image, _ in annotations if image.region_masks)
    return {
        "images": len(annotations),
        "annotated_images": annotated,
        "regions": len(occlusion),
        "regions_per_annotation": len(occlusion) / annotated if annotated else math.nan,
        "points_per_polygon": float(np.mean(points)) if points else math.nan,
        "pixel_coverage": float(np.mean(coverage)) if coverage else math.nan,
        "occlusion_rate": len(occluded) / len(occlusion) if occlusion else math.nan,
        "mean_occluded_fraction": float(np.mean(occluded)) if occluded else 0.0,
        "mean_occlude_rate_all_regions": float(np.mean(occlusion)) if occlusion else math.nan,
        **{f"{kind}_{name}": float(np.mean(values)) if values else math.nan
           for kind, by_name in shapes.items() for name, values in by_name.items()},
    }


def amodal_stats(gt_json: PathLike) -> Dict[str, Any]:
    """The statistics of a COCOA ground-truth file (first annotation per image, as evaluated)."""
    data = load_json(str(gt_json), "ground-truth")
    amodal = load_amodal_ground_truth(data, use_visible=False)
    visible = load_amodal_ground_truth(data, use_visible=True)
    return annotation_statistics(list(zip(amodal, visible)))


def amodal_stats_by_annotator(gt_json: PathLike) -> Dict[str, Any]:
    """The statistics of a multi-annotator COCOA file (BSDS amodal) per annotator and pooled.

    ``annotators`` maps each ``author`` (in order of first appearance; annotations without an
    author are grouped under ``"(no author)"``) to the statistics of that author's annotations;
    ``pooled`` is the statistics of every annotation of every image. In both, ``images`` counts
    annotations (an author annotates an image once) and ``annotated_images`` those with a region.
    """
    data = load_json(str(gt_json), "ground-truth")
    amodal = load_multi_annotator(data, use_visible=False)
    visible = load_multi_annotator(data, use_visible=True)
    by_author: Dict[Any, List[Tuple[AmodalImage, AmodalImage]]] = {}
    pooled: List[Tuple[AmodalImage, AmodalImage]] = []
    for image, image_visible in zip(amodal, visible):
        for a, v in zip(image.annotations, image_visible.annotations):
            entry = (a.regions, v.regions)
            pooled.append(entry)
            by_author.setdefault(NO_AUTHOR if a.author is None else a.author, []).append(entry)
    return {"pooled": annotation_statistics(pooled),
            "annotators": {str(author): annotation_statistics(entries) for author, entries in by_author.items()}}

