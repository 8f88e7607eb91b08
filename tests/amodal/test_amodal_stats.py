"""fastpq.amodal_stats: estimators on hand-computed masks, dataset statistics on a tiny file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fastpq import _core
from fastpq.amodal_stats import amodal_stats, convex_hull_area, crack_perimeter, shape_measures
from fastpq.cli import main


def test_crack_perimeter_and_hull_by_hand():
    pixel = np.ones((1, 1), bool)
    assert crack_perimeter(pixel) == 4 and convex_hull_area(pixel) == 1.0
    rect = np.zeros((5, 6), bool)
    rect[1:3, 1:4] = True  # 2 rows x 3 columns: perimeter 2 * (2 + 3), hull = the rectangle
    assert crack_perimeter(rect) == 10 and convex_hull_area(rect) == 6.0
    ell = np.zeros((2, 2), bool)
    ell[0, 0] = ell[0, 1] = ell[1, 0] = True
    # Corners (0,0) (2,0) (2,1) (1,2) (0,2): a 2x2 square less the triangle (2,1) (2,2) (1,2).
    assert convex_hull_area(ell) == 3.5 and crack_perimeter(ell) == 8
    assert shape_measures(ell)["convexity"] == pytest.approx(3 / 3.5)
    square = np.ones((7, 7), bool)  # simplicity sqrt(4 pi 49) / 28 = sqrt(pi) / 2
    assert shape_measures(square)["simplicity"] == pytest.approx(math.sqrt(math.pi) / 2)
    assert math.isnan(shape_measures(np.zeros((3, 3), bool))["simplicity"])


def test_dataset_statistics(tmp_path):
    h, w = 12, 10
    near = [1.0, 1.0, 6.0, 1.0, 6.0, 6.0, 1.0, 6.0]  # 4 points
    far = [3.0, 3.0, 9.0, 3.0, 9.0, 10.0, 3.0, 10.0, 2.0, 7.0]  # 5 points
    near_mask = _core.rle_decode(_core.rle_from_polygons([near], h, w), h, w).astype(bool)
    far_mask = _core.rle_decode(_core.rle_from_polygons([far], h, w), h, w).astype(bool)
    visible_far = far_mask & ~near_mask
    rate = 1 - visible_far.sum() / far_mask.sum()
    gt = {"images": [{"id": 1, "height": h, "width": w}, {"id": 2, "height": h, "width": w}],
          "annotations": [
              {"image_id": 1, "regions": [
                  {"segmentation": near, "occlude_rate": 0.0, "isStuff": 0, "order": 1},
                  {"segmentation": far, "occlude_rate": float(rate), "isStuff": 1, "order": 2,
                   "visible_mask": {"size": [h, w], "counts": _core.rle_to_string(_core.rle_encode(visible_far))}}]},
              {"image_id": 1, "regions": []},  # a second annotator: not counted
          ]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    stats = amodal_stats(path)
    assert (stats["images"], stats["annotated_images"], stats["regions"]) == (2, 1, 2)
    assert stats["regions_per_annotation"] == 2.0
    assert stats["points_per_polygon"] == 4.5
    assert stats["pixel_coverage"] == pytest.approx((near_mask | far_mask).mean())
    assert stats["occlusion_rate"] == 0.5 and stats["mean_occluded_fraction"] == pytest.approx(rate)
    expected = np.mean([shape_measures(near_mask)["convexity"], shape_measures(far_mask)["convexity"]])
    assert stats["amodal_convexity"] == pytest.approx(expected)
    expected = np.mean([shape_measures(near_mask)["simplicity"], shape_measures(visible_far)["simplicity"]])
    assert stats["visible_simplicity"] == pytest.approx(expected)
    assert main(["amodal-stats", str(path), "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["regions"] == 2
