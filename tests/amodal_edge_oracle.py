"""Edge consistency of annotator pairs written from its definition (BSDS boundary benchmark rules, as
fastpq.amodal.edge_consistency documents them), in numpy and scipy on masks decoded by pycocotools:
the oracle of the tests and of benchmarks/bench_consistency.py.

Per image, every ordered pair (X, Y) of its annotations: each annotation's boundary map is the union
over its region masks of BSDS's seg2bmap rule (a pixel differs from its east, south or south-east
neighbour inside the image); boundary pixels of X and Y within t = max_dist * diagonal
(du^2 + dv^2 <= t^2) may correspond; the matched count is the size of a maximum one-to-one
matching, computed as the maximum flow of the unit network source -> X pixels -> Y pixels -> sink
(scipy's Dinic; scipy's maximum_bipartite_matching takes minutes on some of these graphs); P, R
and F as for regions.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from amodal_consistency_oracle import decode, f_measure


def decode2d(segmentation: Any, height: int, width: int) -> np.ndarray:
    """A region's mask as an (height, width) bool array (the region oracle's decoding, reshaped)."""
    return decode(segmentation, height, width).reshape(height, width)


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """BSDS's seg2bmap on one binary mask: differs from the east, south or south-east neighbour."""
    b = np.zeros(mask.shape, bool)
    b[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    b[:-1, :] |= mask[:-1, :] != mask[1:, :]
    b[:-1, :-1] |= mask[:-1, :-1] != mask[1:, 1:]
    return b


def boundary_map(masks: List[np.ndarray], height: int, width: int) -> np.ndarray:
    out = np.zeros((height, width), bool)
    for m in masks:
        out |= seg2bmap(m)
    return out


def matched_pixels(a: np.ndarray, b: np.ndarray, max_dist: float) -> int:
    """The size of a maximum one-to-one matching of a's and b's boundary pixels within the tolerance."""
    h, w = a.shape
    t = max_dist * math.sqrt(h * h + w * w)
    ya, xa = np.nonzero(a)
    if ya.size == 0 or not b.any():
        return 0
    node_b = np.full((h, w), -1, np.int64)
    node_b[b] = np.arange(int(b.sum()))
    r = int(math.ceil(t))
    rows, cols = [], []
    for dv in range(-r, r + 1):
        for du in range(-r, r + 1):
            if float(du * du + dv * dv) > t * t:
                continue
            y, x = ya + dv, xa + du
            inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            j = np.full(ya.size, -1, np.int64)
            j[inside] = node_b[y[inside], x[inside]]
            keep = j >= 0
            rows.append(np.nonzero(keep)[0])
            cols.append(j[keep])
    rows_a, cols_a = np.concatenate(rows), np.concatenate(cols)
    na, nb = ya.size, int(b.sum())
    source, sink = na + nb, na + nb + 1
    tail = np.concatenate([np.full(na, source), rows_a, na + np.arange(nb)])
    head = np.concatenate([np.arange(na), na + cols_a, np.full(nb, sink)])
    network = csr_matrix((np.ones(tail.size, np.int32), (tail, head)), shape=(na + nb + 2, na + nb + 2))
    return int(maximum_flow(network, source, sink, method="dinic").flow_value)


def annotation_boundaries(gt: Dict[str, Any], use_visible: bool) -> List[List[np.ndarray]]:
    """Per image (in 'images' order): the boundary map of each annotation, in file order."""
    images = {im["id"]: (im["height"], im["width"], []) for im in gt["images"]}
    for ann in gt["annotations"]:
        h, w, maps = images[ann["image_id"]]
        masks = []
        for region in ann["regions"]:
            source = region.get("visible_mask") if use_visible else None
            masks.append(decode2d(source if source is not None else region["segmentation"], h, w))
        maps.append(boundary_map(masks, h, w))
    return [maps for _, _, maps in images.values()]


def oracle_edge_pairs(gt_path: Any, use_visible: bool = False, max_dist: float = 0.0075) -> List[Dict[str, Any]]:
    """One row per ordered pair: image index, x, y, boundary pixel counts, matched, P, R, F (fastpq's order)."""
    with open(gt_path, encoding="utf-8") as f:
        gt = json.load(f)
    rows = []
    for index, maps in enumerate(annotation_boundaries(gt, use_visible)):
        for x in range(len(maps)):
            for y in range(len(maps)):
                if x == y:
                    continue
                m = matched_pixels(maps[x], maps[y], max_dist)
                nx, ny = int(maps[x].sum()), int(maps[y].sum())
                p, r, fm = f_measure(m, m, nx, ny)
                rows.append({"image": index, "x": x, "y": y, "edges_x": nx, "edges_y": ny, "matched_x": m,
                             "matched_y": m, "precision": p, "recall": r, "f": fm})
    return rows
