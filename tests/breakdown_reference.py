"""Independent oracles for fastpq's breakdowns, written from their definitions with numpy (and cv2).

* ``band_by_definition``: a segment's boundary band by chessboard distance, by brute force;
* ``mask_to_boundary``: the Boundary IoU API's band rule (zero-pad by one pixel, cv2.erode with a
  3x3 square d times, subtract), with d = max(1, round(ratio * diagonal));
* ``panoptic_oracle``: panopticapi's matching rules on decoded id maps, optionally with
  min(mask IoU, boundary IoU) as the Boundary IoU API's Boundary PQ, and with every count also
  put in a size bucket; the averages are panopticapi's own (``PQStat.pq_average``);
* ``covering_oracle``: TensorFlow DeepLab's ParsingCovering definition on decoded id maps, COCO void
  and crowd as its ignored label.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from typing import Any, Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np
from PIL import Image

from panopticapi.evaluation import PQStat
from panopticapi.utils import rgb2id

SIZES = ("small", "medium", "large")
INTERIOR = 1 << 25  # marks a segment's inside in the band maps; no 24-bit id can be equal to it


def size_of(area: int) -> str:
    return "small" if area < 32 ** 2 else "medium" if area < 96 ** 2 else "large"


def dilation_of(height: int, width: int, ratio: float) -> int:
    return max(1, int(round(ratio * np.sqrt(height ** 2 + width ** 2))))


def band_by_definition(ids: np.ndarray, d: int) -> np.ndarray:
    """True where some pixel within chessboard distance d has another id or lies outside the map."""
    h, w = ids.shape
    padded = np.full((h + 2 * d, w + 2 * d), -1, dtype=np.int64)
    padded[d:d + h, d:d + w] = ids
    band = np.zeros((h, w), dtype=bool)
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            band |= padded[d + dy:d + dy + h, d + dx:d + dx + w] != ids
    return band


def mask_to_boundary(mask: np.ndarray, ratio: float) -> np.ndarray:
    """The Boundary IoU API's boundary of a binary mask, with cv2 as it uses it."""
    h, w = mask.shape
    d = dilation_of(h, w, ratio)
    framed = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    inside = cv2.erode(framed, np.ones((3, 3), np.uint8), iterations=d)[1:h + 1, 1:w + 1]
    return (mask.astype(np.uint8) - inside) > 0


def image_pairs(gt_json: Any, pred_json: Any, gt_folder: Optional[Any] = None,
                pred_folder: Optional[Any] = None) -> Tuple[Dict[int, Any], Iterator[Tuple[Any, ...]]]:
    """(categories by id, iterator of (gt id map, pred id map, gt segments, pred segments)) in GT order."""
    gt_json, pred_json = os.fspath(gt_json), os.fspath(pred_json)
    gt = json.load(open(gt_json))
    pred = json.load(open(pred_json))
    gt_folder = gt_json[:-5] if gt_folder is None else os.fspath(gt_folder)
    pred_folder = pred_json[:-5] if pred_folder is None else os.fspath(pred_folder)
    by_image = {a["image_id"]: a for a in pred["annotations"]}

    def read(folder: str, name: str) -> np.ndarray:
        return rgb2id(np.array(Image.open(os.path.join(folder, name)).convert("RGB"), dtype=np.uint32))

    def pairs() -> Iterator[Tuple[Any, ...]]:
        for g in gt["annotations"]:
            p = by_image[g["image_id"]]
            yield (read(gt_folder, g["file_name"]), read(pred_folder, p["file_name"]), g["segments_info"],
                   p["segments_info"])

    return {c["id"]: c for c in gt["categories"]}, pairs()


def pair_counts(a: np.ndarray, b: np.ndarray) -> Counter:
    keys, counts = np.unique(a.astype(np.uint64) * (1 << 26) + b.astype(np.uint64), return_counts=True)
    return Counter({(int(k) >> 26, int(k) & ((1 << 26) - 1)): int(c) for k, c in zip(keys, counts)})


def band_map(ids: np.ndarray, segments: List[Dict[str, Any]], ratio: float) -> Tuple[np.ndarray, Dict[int, int]]:
    """The Boundary IoU API's band map: a listed segment's band keeps its id, its inside becomes
    INTERIOR, unlisted ids (void) stay whole; and each listed segment's band size."""
    out = ids.astype(np.int64)
    sizes = {}
    for s in segments:
        mask = ids == s["id"]
        band = mask_to_boundary(mask, ratio)
        out[mask] = INTERIOR
        out[band] = s["id"]
        sizes[s["id"]] = int(band.sum())
    return out, sizes


def panoptic_oracle(gt_json: Any, pred_json: Any, gt_folder: Optional[Any] = None, pred_folder: Optional[Any] = None,
                    boundary_ratio: Optional[float] = None) -> Dict[str, Any]:
    """panopticapi's PQ (Boundary PQ with a ratio) and the same counts by size: {"total", "small", ...},
    each a dict of All / Things / Stuff / per_class as pq_compute returns (a group with no category: None)."""
    categories, pairs = image_pairs(gt_json, pred_json, gt_folder, pred_folder)
    stats = {name: PQStat() for name in ("total",) + SIZES}
    for gt_map, pred_map, gt_segments, pred_segments in pairs:
        gt_by_id = {s["id"]: s for s in gt_segments}
        pred_by_id = {s["id"]: s for s in pred_segments}
        gt_pixels = {s["id"]: int((gt_map == s["id"]).sum()) for s in gt_segments}
        pred_pixels = {s["id"]: int((pred_map == s["id"]).sum()) for s in pred_segments}
        joint = pair_counts(gt_map, pred_map)
        if boundary_ratio is not None:
            gt_band, gt_band_size = band_map(gt_map, gt_segments, boundary_ratio)
            pred_band, pred_band_size = band_map(pred_map, pred_segments, boundary_ratio)
            band_joint = pair_counts(gt_band, pred_band)

        def count(where: str, category: int, size: str, **add: Any) -> None:
            for name in ("total", size):
                for key, value in add.items():
                    setattr(stats[name][category], key, getattr(stats[name][category], key) + value)

        gt_matched, pred_matched = set(), set()
        for (g, p), inter in sorted(joint.items()):
            if g not in gt_by_id or p not in pred_by_id or gt_by_id[g]["iscrowd"] == 1:
                continue
            category = gt_by_id[g]["category_id"]
            if category != pred_by_id[p]["category_id"]:
                continue
            iou = inter / (pred_pixels[p] + gt_by_id[g]["area"] - inter - joint.get((0, p), 0))
            if boundary_ratio is not None:
                b_inter = band_joint.get((g, p), 0)
                b_union = pred_band_size[p] + gt_band_size[g] - b_inter - band_joint.get((0, p), 0)
                iou = min(iou, b_inter / b_union)
            if iou > 0.5:
                count("tp", category, size_of(gt_pixels[g]), tp=1, iou=iou)
                gt_matched.add(g)
                pred_matched.add(p)
        crowd = {}
        for g, s in gt_by_id.items():
            if g in gt_matched:
                continue
            if s["iscrowd"] == 1:
                crowd[s["category_id"]] = g
                continue
            count("fn", s["category_id"], size_of(gt_pixels[g]), fn=1)
        for p, s in pred_by_id.items():
            if p in pred_matched:
                continue
            ignored = joint.get((0, p), 0)
            if s["category_id"] in crowd:
                ignored += joint.get((crowd[s["category_id"]], p), 0)
            if ignored / pred_pixels[p] > 0.5:
                continue
            count("fp", s["category_id"], size_of(pred_pixels[p]), fp=1)

    out = {}
    for name, stat in stats.items():
        results: Dict[str, Any] = {}
        for group, isthing in (("All", None), ("Things", True), ("Stuff", False)):
            try:
                results[group], per_class = stat.pq_average(categories, isthing=isthing)
            except ZeroDivisionError:
                results[group], per_class = None, None
            if group == "All":
                results["per_class"] = per_class
        out[name] = results
    return out


def covering_oracle(gt_json: Any, pred_json: Any, gt_folder: Optional[Any] = None, pred_folder: Optional[Any] = None,
                    normalize_by_image_size: bool = True) -> Dict[str, Any]:
    """ParsingCovering: {"per_class": {category: pc or None}, "All" | "Things" | "Stuff": (pc, n)}.

    Ignored pixels: GT id 0 or not in the GT JSON, crowd segments, segments of unknown category.
    """
    categories, pairs = image_pairs(gt_json, pred_json, gt_folder, pred_folder)
    weighted: Dict[int, float] = defaultdict(float)
    area: Dict[int, float] = defaultdict(float)
    for gt_map, pred_map, gt_segments, pred_segments in pairs:
        scored = {s["id"]: s for s in gt_segments if not s.get("iscrowd") and s["category_id"] in categories}
        pred_category = {s["id"]: s["category_id"] for s in pred_segments}
        joint = pair_counts(gt_map, pred_map)
        gt_area: Counter = Counter()
        pred_area: Counter = Counter()  # over pixels that are not ignored
        for (g, p), n in joint.items():
            if g in scored:
                gt_area[g] += n
                pred_area[p] += n
        best: Dict[int, float] = defaultdict(float)
        for (g, p), inter in joint.items():
            if g in scored and pred_category.get(p) == scored[g]["category_id"]:
                best[g] = max(best[g], inter / (gt_area[g] + pred_area[p] - inter))
        scale = gt_map.size if normalize_by_image_size else 1
        for g, r in gt_area.items():
            category = scored[g]["category_id"]
            weighted[category] += best[g] * (r / scale)
            area[category] += r / scale
    per_class = {c: (weighted[c] / area[c] if area[c] else None) for c in categories}
    out: Dict[str, Any] = {"per_class": per_class}
    for group, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        values = [v for c, v in per_class.items()
                  if v is not None and (isthing is None or (categories[c]["isthing"] == 1) == isthing)]
        out[group] = (sum(values) / len(values) if values else math.nan, len(values))
    return out
