"""Amodal edge consistency (fastpq.amodal.edge_consistency) against a numpy/scipy oracle written from
its definition (tests/amodal_edge_oracle.py: seg2bmap boundaries, scipy's maximum bipartite
matching within the tolerance), on generated BSDS-like data and on hand cases whose F is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pycocotools import mask as mask_utils

import amodal_consistency_oracle as region_oracle
import amodal_edge_oracle as oracle
import fastpq
from fastpq.amodal.edge_consistency import boundary_map, edge_consistency

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def bsds(tmp_path_factory):
    from fastpq.synthetic.bsds import generate_bsds_dataset

    return generate_bsds_dataset(tmp_path_factory.mktemp("bsds_edges"), n_images=6, height=96, width=128, seed=5)


def assert_equal_to_oracle(result, rows):
    assert result.n_pairs == len(rows)
    for column in ("image", "x", "y", "edges_x", "edges_y", "matched_x", "matched_y"):
        assert result.pairs[column].tolist() == [row[column] for row in rows], column
    for column in ("precision", "recall", "f"):
        expected = np.array([row[column] for row in rows], dtype=np.float64)
        assert np.array_equal(result.pairs[column], expected, equal_nan=True), column  # bit for bit
    median = region_oracle.oracle_median(rows)
    assert result.median == median or (math.isnan(result.median) and math.isnan(median))


@pytest.mark.parametrize("use_visible", [False, True])
@pytest.mark.parametrize("max_dist", [0.0075, 0.0, 0.02])
def test_generated_dataset_equals_oracle(bsds, use_visible, max_dist):
    result = edge_consistency(bsds, use_visible=use_visible, max_dist=max_dist, workers=2)
    rows = oracle.oracle_edge_pairs(bsds, use_visible, max_dist)
    assert_equal_to_oracle(result, rows)
    if max_dist > 0:
        f = result.defined_f()
        assert ((0 < f) & (f < 1)).any() and 0.2 < result.median < 1  # annotators differ, but partly agree


def test_workers_do_not_change_the_result(bsds):
    a, b = edge_consistency(bsds, workers=1), edge_consistency(bsds, workers=3)
    assert all(np.array_equal(a.pairs[k], b.pairs[k], equal_nan=True) for k in a.pairs)


def test_boundary_map_is_seg2bmap_of_each_mask_united():
    rng = np.random.default_rng(7)
    for h, w in [(1, 1), (1, 9), (9, 1), (13, 17), (32, 5)]:
        masks = [rng.random((h, w)) < p for p in (0.1, 0.5, 0.9)]
        masks.append(np.ones((h, w), bool))
        masks.append(np.zeros((h, w), bool))
        strings = [mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))["counts"].decode() for m in masks]
        for k in range(len(masks)):
            got = boundary_map(strings[:k + 1], h, w)
            assert got.shape == (h, w) and got.dtype == np.uint8
            assert np.array_equal(got.astype(bool), oracle.boundary_map(masks[:k + 1], h, w)), (h, w, k)


def test_visible_partition_gives_seg2bmap_of_the_label_map():
    # Union of per-mask seg2bmap of a partition = seg2bmap of its label map (labels differ somewhere).
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, (20, 30))
    strings = [mask_utils.encode(np.asfortranarray((labels == k).astype(np.uint8)))["counts"].decode()
               for k in range(4)]
    expected = np.zeros(labels.shape, bool)
    expected[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    expected[:-1, :] |= labels[:-1, :] != labels[1:, :]
    expected[:-1, :-1] |= labels[:-1, :-1] != labels[1:, 1:]
    assert np.array_equal(boundary_map(strings, 20, 30).astype(bool), expected)


# ---------------------------------------------------------------------------
# Hand cases on a 10 x 10 image (diagonal sqrt(200)): max_dist 0.0075 gives t = 0.106, so only
# coinciding pixels correspond; max_dist 0.08 gives t = 1.13: a pixel and its 4-neighbours.


def box(r0, r1, c0, c1, h=10, w=10):
    """A region covering rows r0..r1 and columns c0..c1 (inclusive), as an RLE."""
    m = np.zeros((h, w), np.uint8)
    m[r0:r1 + 1, c0:c1 + 1] = 1
    return {"segmentation": {"size": [h, w], "counts": mask_utils.encode(np.asfortranarray(m))["counts"].decode()},
            "occlude_rate": 0.0, "isStuff": 0, "order": 1, "name": "r"}


def write(tmp_path, annotations, h=10, w=10):
    gt = {"images": [{"id": 1, "height": h, "width": w}],
          "annotations": [{"id": k + 1, "image_id": 1, "author": f"a{k}", "regions": regions}
                          for k, regions in enumerate(annotations)]}
    path = tmp_path / "hand.json"
    path.write_text(json.dumps(gt))
    return path


def pair(result, x, y):
    k = [i for i in range(result.n_pairs) if result.pairs["x"][i] == x and result.pairs["y"][i] == y][0]
    return {c: result.pairs[c][k] for c in result.columns}


def test_hand_square_and_its_shift(tmp_path):
    # A 4x4 square at rows/columns 2..5 has the 16-pixel ring of rows/columns 1..5 as its boundary.
    # Shifted one column right, the rings share their top and bottom rows' columns 2..5: 8 pixels.
    path = write(tmp_path, [[box(2, 5, 2, 5)], [box(2, 5, 3, 6)], [box(2, 5, 2, 5)]])
    exact = edge_consistency(path)
    p = pair(exact, 0, 1)
    assert (p["edges_x"], p["edges_y"], p["matched_x"], p["f"]) == (16, 16, 8, 0.5)
    assert pair(exact, 0, 2)["f"] == 1.0
    assert pair(edge_consistency(path, max_dist=0.08), 0, 1)["f"] == 1.0  # every pixel moves by one


def test_hand_adjacent_regions_and_a_missed_region(tmp_path):
    # X: left half (columns 0..4, all rows): boundary column 4, 10 pixels. Y: the left and right halves
    # (same boundary) and a 2x2 region at rows/columns 7..8, whose boundary is the 3x3 ring at 6..8:
    # 18 pixels, 10 matched. P = 1, R = 10/18, F = 5/7. Z: columns 0..3, boundary column 3.
    left, right = box(0, 9, 0, 4), box(0, 9, 5, 9)
    path = write(tmp_path, [[left], [left, right, box(7, 8, 7, 8)], [box(0, 9, 0, 3)]])
    result = edge_consistency(path)
    p = pair(result, 0, 1)
    assert (p["edges_x"], p["edges_y"], p["matched_x"], p["precision"]) == (10, 18, 10, 1.0)
    assert p["recall"] == 10 / 18 and p["f"] == pytest.approx(5 / 7, abs=1e-15)
    q = pair(result, 1, 0)
    assert (q["precision"], q["recall"]) == (p["recall"], p["precision"])
    assert pair(result, 0, 2)["f"] == 0.0  # one column apart, t < 1
    assert pair(edge_consistency(path, max_dist=0.08), 0, 2)["f"] == 1.0


def test_hand_tolerance_is_inclusive(tmp_path):
    # 30 x 40: diagonal 50, max_dist 0.02 gives t = 1 (0.02 * 50 rounds to 1.0): a one-column shift
    # matches; at 0.0199 (t = 0.995) it does not.
    path = write(tmp_path, [[box(5, 20, 5, 20, 30, 40)], [box(5, 20, 6, 21, 30, 40)]], h=30, w=40)
    assert 0.02 * math.sqrt(30 * 30 + 40 * 40) == 1.0
    assert pair(edge_consistency(path, max_dist=0.02), 0, 1)["f"] == 1.0
    assert pair(edge_consistency(path, max_dist=0.0199), 0, 1)["f"] < 1.0


def test_hand_no_edges_has_no_f(tmp_path):
    # An annotation without regions, and one whose only region covers the whole image: no boundary.
    path = write(tmp_path, [[box(2, 5, 2, 5)], [], [box(0, 9, 0, 9)]])
    result = edge_consistency(path)
    assert result.n_pairs == 6 and result.n_undefined == 6 and math.isnan(result.median)
    assert pair(result, 1, 2)["edges_x"] == 0


def test_hand_visible_masks(tmp_path):
    # Amodal masks agree; X's visible part is the square's top half, whose boundary differs.
    region = box(2, 5, 2, 5)
    m = np.zeros((10, 10), np.uint8)
    m[2:4, 2:6] = 1
    region["visible_mask"] = {"size": [10, 10], "counts": mask_utils.encode(np.asfortranarray(m))["counts"].decode()}
    path = write(tmp_path, [[region], [box(2, 5, 2, 5)]])
    assert pair(edge_consistency(path), 0, 1)["f"] == 1.0
    visible = edge_consistency(path, use_visible=True)
    assert pair(visible, 0, 1)["f"] < 1.0
    assert_equal_to_oracle(visible, oracle.oracle_edge_pairs(path, True))


# ---------------------------------------------------------------------------
# Errors, bootstrap and the command line


@pytest.mark.parametrize("max_dist", [-0.1, 0.2, float("nan"), "0.01", True])
def test_bad_tolerance_is_refused(bsds, max_dist):
    with pytest.raises(fastpq.FastPQError, match="max_dist"):
        edge_consistency(bsds, max_dist=max_dist)


def test_bad_mask_names_the_image(tmp_path):
    path = write(tmp_path, [[box(2, 5, 2, 5)], [box(2, 5, 2, 5)]])
    gt = json.loads(path.read_text())
    gt["annotations"][1]["regions"][0]["segmentation"]["counts"] = "not an RLE"
    path.write_text(json.dumps(gt))
    with pytest.raises(fastpq.AnnotationError, match="image with ID 1"):
        edge_consistency(path)


def test_bootstrap_and_cli(bsds, tmp_path, capsys):
    from fastpq.analysis.amodal_consistency import bootstrap_consistency
    from fastpq.cli import main

    result = edge_consistency(bsds)
    iv = bootstrap_consistency(result, n_resamples=100, seed=2)
    assert iv.estimate == result.median and iv.lower <= result.median <= iv.upper
    out = tmp_path / "c.json"
    assert main(["amodal-consistency", str(bsds), "--edges", "--max-dist", "0.0075", "--bootstrap", "100",
                 "--seed", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["edges"]["median_f"] == region_oracle.oracle_median(oracle.oracle_edge_pairs(bsds))
    assert data["edges"]["bootstrap"]["lower"] == iv.lower and data["edges"]["bootstrap"]["upper"] == iv.upper
    assert data["edges"]["max_dist"] == 0.0075 and len(data["edges"]["per_image"]) == 6
    assert "edge consistency" in printed and "region consistency" in printed
    with pytest.raises(SystemExit):
        main(["amodal-consistency", str(bsds), "--edges", "--max-dist", "0.5"])
