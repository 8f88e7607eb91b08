"""Region consistency of annotator pairs written from the paper's definition (Zhu et al., "Semantic
Amodal Segmentation"), in numpy on masks decoded by pycocotools: the oracle of the tests and of
benchmarks/bench_consistency.py.

Per image, every ordered pair (X, Y) of its annotations: IoU of every region pair (intersection
over union of the decoded masks), pairs with IoU >= threshold qualify, X's regions matched to Y's
(one to one with as many pairs as possible, or greedily by descending IoU, or "any": a region is
matched if any region of the other side qualifies), P = matched X regions / X regions, R = matched
Y regions / Y regions, F = 2PR / (P + R), 0 when both are 0, NaN when either side has no region.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Dict, List

import numpy as np
from pycocotools import mask as mask_utils


def decode(segmentation: Any, height: int, width: int) -> np.ndarray:
    """A region's mask as a flat bool array: a flat polygon, a list of polygons or an RLE."""
    if isinstance(segmentation, list):
        polygons = [segmentation] if segmentation and not isinstance(segmentation[0], list) else segmentation
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(bool).reshape(-1)


def annotation_masks(gt: Dict[str, Any], use_visible: bool) -> List[Dict[str, Any]]:
    """Per image (in 'images' order): id and the masks of each annotation, annotations in file order."""
    images = {im["id"]: {"image_id": im["id"], "height": im["height"], "width": im["width"], "annotations": []}
              for im in gt["images"]}
    for ann in gt["annotations"]:
        im = images[ann["image_id"]]
        masks = []
        for region in ann["regions"]:
            source = region.get("visible_mask") if use_visible else None
            masks.append(decode(source if source is not None else region["segmentation"], im["height"], im["width"]))
        im["annotations"].append(masks)
    return list(images.values())


def iou_matrix(xs: List[np.ndarray], ys: List[np.ndarray]) -> np.ndarray:
    """IoU of every region pair: intersections as a product of the 0/1 pixel matrices (float64, exact
    for any image of fewer than 2**53 pixels), unions from the areas."""
    if not xs or not ys:
        return np.zeros((len(xs), len(ys)))
    a = np.stack(xs).astype(np.float64)
    b = np.stack(ys).astype(np.float64)
    inter = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def max_matching(ok: np.ndarray) -> int:
    """Maximum-cardinality matching by breadth-first augmenting paths (shortest paths first)."""
    nx, ny = ok.shape
    match_x, match_y = [-1] * nx, [-1] * ny
    size = 0
    for root in range(nx):
        parent_y: Dict[int, int] = {}
        queue = deque([root])
        end = -1
        while queue and end < 0:
            x = queue.popleft()
            for y in range(ny):
                if ok[x, y] and y not in parent_y:
                    parent_y[y] = x
                    if match_y[y] < 0:
                        end = y
                        break
                    queue.append(match_y[y])
        if end < 0:
            continue
        y = end
        while y >= 0:
            x = parent_y[y]
            previous = match_x[x]
            match_x[x], match_y[y] = y, x
            y = previous
        size += 1
    return size


def matched(ious: np.ndarray, threshold: float, matching: str) -> "tuple[int, int]":
    ok = ious >= threshold
    if matching == "any":
        return int(ok.any(axis=1).sum()), int(ok.any(axis=0).sum())
    if matching == "greedy":
        order = sorted(zip(*np.nonzero(ok)), key=lambda ij: (-ious[ij], ij[0], ij[1]))
        used_x, used_y, m = set(), set(), 0
        for i, j in order:
            if i not in used_x and j not in used_y:
                used_x.add(i)
                used_y.add(j)
                m += 1
        return m, m
    m = max_matching(ok)
    return m, m


def f_measure(mx: int, my: int, nx: int, ny: int) -> "tuple[float, float, float]":
    if nx == 0 or ny == 0:
        p = mx / nx if nx else float("nan")
        r = my / ny if ny else float("nan")
        return p, r, float("nan")
    p, r = mx / nx, my / ny
    return p, r, (0.0 if p + r == 0 else 2 * p * r / (p + r))


def oracle_pairs(gt_path: Any, use_visible: bool = False, threshold: float = 0.5,
                 matching: str = "bipartite") -> List[Dict[str, Any]]:
    """One row per ordered pair: image index, x, y, counts, P, R, F (the order fastpq uses)."""
    with open(gt_path, encoding="utf-8") as f:
        gt = json.load(f)
    rows = []
    for index, im in enumerate(annotation_masks(gt, use_visible)):
        anns = im["annotations"]
        for x in range(len(anns)):
            for y in range(len(anns)):
                if x == y:
                    continue
                mx, my = matched(iou_matrix(anns[x], anns[y]), threshold, matching)
                p, r, fm = f_measure(mx, my, len(anns[x]), len(anns[y]))
                rows.append({"image": index, "x": x, "y": y, "regions_x": len(anns[x]), "regions_y": len(anns[y]),
                             "matched_x": mx, "matched_y": my, "precision": p, "recall": r, "f": fm})
    return rows


def oracle_median(rows: List[Dict[str, Any]]) -> float:
    f = np.array([row["f"] for row in rows], dtype=np.float64)
    f = f[~np.isnan(f)]
    return float(np.median(f)) if f.size else float("nan")
