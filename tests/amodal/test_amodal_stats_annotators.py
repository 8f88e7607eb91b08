"""fastpq.amodal.stats per annotator and pooled (amodal_stats_by_annotator, amodal-stats --annotators)
against a numpy oracle written from the estimators' definitions: masks decoded by pycocotools, crack
perimeter from pixel differences, convex hull area by scipy (Qhull) over the mask pixels' corners."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from scipy.spatial import ConvexHull

from amodal_edge_oracle import decode2d
from fastpq.amodal.stats import amodal_stats, amodal_stats_by_annotator
from fastpq.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def perimeter(m: np.ndarray) -> int:
    p = np.pad(m, 1)
    return int((p[1:, :] != p[:-1, :]).sum() + (p[:, 1:] != p[:, :-1]).sum())


def hull_area(m: np.ndarray) -> float:
    ys, xs = np.nonzero(m)
    corners = np.concatenate([np.stack([xs + dx, ys + dy], 1) for dx in (0, 1) for dy in (0, 1)])
    return float(ConvexHull(corners).volume)  # a 2-D hull's "volume" is its area


def oracle_stats(annotations, by_id):
    """The statistics of (annotation, image) pairs, from the definitions in fastpq.amodal.stats."""
    points, coverage, occlusion = [], [], []
    shapes = {k: {"simplicity": [], "convexity": []} for k in ("amodal", "visible")}
    for ann in annotations:
        h, w = by_id[ann["image_id"]]
        union = np.zeros((h, w), bool)
        for kind in ("amodal", "visible"):
            for region in ann["regions"]:
                source = region.get("visible_mask") if kind == "visible" else None
                seg = source if source is not None else region["segmentation"]
                m = decode2d(seg, h, w)
                if kind == "amodal":
                    union |= m
                    if isinstance(seg, list):
                        points.extend(len(p) // 2 for p in ([seg] if not isinstance(seg[0], list) else seg))
                area = int(m.sum())
                if area:
                    shapes[kind]["simplicity"].append(math.sqrt(4 * math.pi * area) / perimeter(m))
                    shapes[kind]["convexity"].append(area / hull_area(m))
        if ann["regions"]:
            coverage.append(union.mean())
        occlusion.extend(r["occlude_rate"] for r in ann["regions"])
    occluded = [r for r in occlusion if r > 0]
    annotated = sum(1 for a in annotations if a["regions"])
    return {"images": len(annotations), "annotated_images": annotated, "regions": len(occlusion),
            "regions_per_annotation": len(occlusion) / annotated, "points_per_polygon": np.mean(points),
            "pixel_coverage": np.mean(coverage), "occlusion_rate": len(occluded) / len(occlusion),
            "mean_occluded_fraction": np.mean(occluded) if occluded else 0.0,
            "mean_occlude_rate_all_regions": np.mean(occlusion),
            **{f"{k}_{n}": np.mean(v) for k, by in shapes.items() for n, v in by.items()}}


def assert_close(got, expected):
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=0), key


@pytest.fixture(scope="module")
def bsds(tmp_path_factory):
    from fastpq.synthetic.bsds import generate_bsds_dataset

    return generate_bsds_dataset(tmp_path_factory.mktemp("bsds_stats"), n_images=4, height=64, width=96, seed=11)


def test_per_annotator_and_pooled_equal_the_oracle(bsds):
    gt = json.loads(bsds.read_text())
    by_id = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    by_author = defaultdict(list)
    for ann in gt["annotations"]:
        by_author[ann["author"]].append(ann)
    stats = amodal_stats_by_annotator(bsds)
    assert list(stats["annotators"]) == list(by_author)  # order of first appearance
    assert len(by_author) >= 5
    for author, anns in by_author.items():
        assert_close(stats["annotators"][author], oracle_stats(anns, by_id))
    assert_close(stats["pooled"], oracle_stats(gt["annotations"], by_id))
    first = {}
    for ann in gt["annotations"]:
        first.setdefault(ann["image_id"], ann)
    assert_close(amodal_stats(bsds), oracle_stats(list(first.values()), by_id))  # the evaluated annotation


def test_annotations_without_author_are_grouped(tmp_path):
    m = np.zeros((6, 8), np.uint8)
    m[1:4, 2:6] = 1
    rle = {"size": [6, 8], "counts": mask_utils.encode(np.asfortranarray(m))["counts"].decode()}
    region = {"segmentation": rle, "occlude_rate": 0.0, "isStuff": 0, "order": 1}
    gt = {"images": [{"id": 1, "height": 6, "width": 8}, {"id": 2, "height": 6, "width": 8}],
          "annotations": [{"id": 1, "image_id": 1, "regions": [region]},
                          {"id": 2, "image_id": 1, "author": "b", "regions": [region, region]},
                          {"id": 3, "image_id": 2, "regions": []}]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    stats = amodal_stats_by_annotator(path)
    assert list(stats["annotators"]) == ["(no author)", "b"]
    none = stats["annotators"]["(no author)"]
    assert (none["images"], none["annotated_images"], none["regions"]) == (2, 1, 1)
    assert (stats["pooled"]["images"], stats["pooled"]["regions"]) == (3, 3)
    assert stats["pooled"]["amodal_convexity"] == 1.0  # a rectangle
    out = tmp_path / "s.json"
    assert main(["amodal-stats", str(path), "--annotators", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["annotators"]["b"]["regions"] == 2
