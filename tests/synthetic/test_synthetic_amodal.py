"""Tests of the synthetic COCOA generator (fastpq.synthetic_amodal) and of the COCOA reference
(tests/amodal_reference.py: stock pycocotools COCOeval set up the COCOA way)."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
from pycocotools import mask as mask_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
import amodal_reference  # noqa: E402


from fastpq import synthetic_amodal as sa  # noqa: E402

# pycocotools 2.0.11 under numpy 2 warns on every mask.decode
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

GROUPS = ("all", "things", "stuff")
OCCLUSIONS = ("all", "none", "partial", "heavy")
KS = (1, 10, 100, 1000)
N_IMAGES, HEIGHT, WIDTH, MAX_PROPOSALS = 12, 96, 128, 60


def _read(path: Path) -> Any:
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Tuple[Path, Path]:
    return sa.generate_amodal_dataset(tmp_path_factory.mktemp("amodal_small"), N_IMAGES, HEIGHT, WIDTH,
                                      MAX_PROPOSALS, seed=5)


@pytest.fixture(scope="module")
def small_json(small) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    return _read(small[0]), _read(small[1])


@pytest.fixture(scope="module")
def small_reference(small) -> Dict[str, Dict[str, Dict[int, float]]]:
    return amodal_reference.reference_amodal_ar(*small)


def _first(gt: Dict[str, Any]) -> Dict[int, Dict[str, Any]]:
    return amodal_reference.first_annotations(gt)


def _coco_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    return mask_utils.decode(amodal_reference._to_rle(segmentation, height, width)).astype(bool)


# ---------------------------------------------------------------------------
# RLE and rasterisation: bit-identical to pycocotools


def test_mask_encoder_equals_pycocotools():
    rng = np.random.default_rng(0)
    shapes = [(1, 1), (1, 7), (7, 1), (5, 9), (33, 17), (64, 80)]
    for h, w in shapes:
        masks = [np.zeros((h, w), bool), np.ones((h, w), bool)]
        for density in (0.02, 0.3, 0.5, 0.9):
            masks.append(rng.random((h, w)) < density)
        blob = np.zeros((h, w), bool)
        blob[h // 4:h - h // 4, w // 3:] = True
        masks.append(blob)
        for m in masks:
            ref = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            mine = sa.encode_mask(m)
            assert mine["size"] == [h, w] == list(ref["size"])
            assert mine["counts"] == ref["counts"].decode("ascii")
            assert sa.string_to_counts(ref["counts"]) == sa.mask_to_counts(m)
            assert np.array_equal(sa.decode_rle(mine), m)
            assert np.array_equal(sa.decode_rle({"size": [h, w], "counts": sa.mask_to_counts(m)}), m)


def test_large_counts_round_trip():
    """Counts needing many 5-bit groups and negative differences (the ``i > 2`` delta)."""
    counts = [0, 70000, 3, 5, 1 << 20, 2, 900000, 1]
    s = sa.counts_to_string(counts)
    assert sa.string_to_counts(s) == counts
    h, w = 1, sum(counts)
    ref = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    assert ref["counts"].decode("ascii") == s


def test_polygon_raster_equals_pycocotools():
    rng = np.random.default_rng(1)
    for i in range(400):
        h, w = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        k = int(rng.integers(3, 14))
        pts = rng.uniform(-12, max(h, w) + 12, (k, 2))  # vertices outside the image too
        if i % 3 == 0:
            pts = np.round(pts)
        elif i % 3 == 1:
            pts = np.round(pts * 2) / 2  # exactly on pixel edges / centres
        if i % 7 == 0:
            pts[1] = pts[0]  # a repeated vertex
        polygon = [float(v) for v in pts.ravel()]
        ref = mask_utils.frPyObjects([polygon], h, w)[0]
        assert sa.encode_polygon(polygon, h, w)["counts"] == ref["counts"].decode("ascii"), (h, w, polygon)
        assert np.array_equal(sa.polygon_to_mask(polygon, h, w), mask_utils.decode(ref).astype(bool))


# ---------------------------------------------------------------------------
# Generator


def test_deterministic(tmp_path, small):
    again = sa.generate_amodal_dataset(tmp_path / "again", N_IMAGES, HEIGHT, WIDTH, MAX_PROPOSALS, seed=5)
    assert Path(again[0]).read_bytes() == Path(small[0]).read_bytes()
    assert Path(again[1]).read_bytes() == Path(small[1]).read_bytes()
    other = sa.generate_amodal_dataset(tmp_path / "other", N_IMAGES, HEIGHT, WIDTH, MAX_PROPOSALS, seed=6)
    assert Path(other[0]).read_bytes() != Path(small[0]).read_bytes()
    one = sa.make_amodal_image(np.random.default_rng(3), 7, 64, 80, 20)
    two = sa.make_amodal_image(np.random.default_rng(3), 7, 64, 80, 20)
    assert json.dumps([one.image, one.annotations, one.proposals]) == \
        json.dumps([two.image, two.annotations, two.proposals])


def test_gt_layout_and_occlusion_from_masks(small_json):
    gt, _ = small_json
    images = {image["id"]: image for image in gt["images"]}
    assert len(images) == N_IMAGES
    ids = [ann["id"] for ann in gt["annotations"]]
    assert len(ids) == len(set(ids))
    first = _first(gt)
    assert set(first) == set(images)
    for ann in gt["annotations"]:
        image = images[ann["image_id"]]
        h, w = image["height"], image["width"]
        regions = ann["regions"]
        assert ann["size"] == len(regions) > 0
        assert [r["order"] for r in regions] == list(range(1, len(regions) + 1))
        nearer = np.zeros((h, w), bool)
        for region in regions:
            seg = region["segmentation"]
            assert isinstance(seg, list) and len(seg) >= 6 and all(isinstance(v, float) for v in seg)
            amodal = _coco_mask(seg, h, w)
            area = int(amodal.sum())
            assert region["area"] == float(area) > 0
            hidden = amodal & nearer
            assert region["occlude_rate"] == int(hidden.sum()) / area
            assert region["isStuff"] in (0, 1)
            if region["occlude_rate"] > 0:
                visible = mask_utils.decode(region["visible_mask"]).astype(bool)
                invisible = mask_utils.decode(region["invisible_mask"]).astype(bool)
                assert isinstance(region["visible_mask"]["counts"], str)
                assert region["visible_mask"]["size"] == [h, w]
                assert not (visible & invisible).any()
                assert np.array_equal(visible | invisible, amodal)
                assert np.array_equal(invisible, hidden)
                assert region["occlude_rate"] == int(invisible.sum()) / area
            else:
                assert "visible_mask" not in region and "invisible_mask" not in region
            nearer |= amodal


def test_edge_cases_present(small_json):
    gt, proposals = small_json
    first = _first(gt)
    rates = [r["occlude_rate"] for ann in first.values() for r in ann["regions"]]
    assert 0.0 in rates and 0.25 in rates and 1.0 in rates
    assert any(0 < r < 0.25 for r in rates) and any(0.25 < r < 1 for r in rates)
    stuff = [r["isStuff"] for ann in first.values() for r in ann["regions"]]
    assert 0 in stuff and 1 in stuff
    assert len(gt["annotations"]) > len(first)  # a second annotator
    per_image: Dict[int, int] = {}
    for p in proposals:
        per_image[p["image_id"]] = per_image.get(p["image_id"], 0) + 1
    assert set(per_image) < set(first)  # some images without proposals
    assert max(per_image.values()) == MAX_PROPOSALS
    kinds = {("rle" if isinstance(p["segmentation"], dict) else
              "nested" if isinstance(p["segmentation"][0], list) else "flat") for p in proposals}
    assert kinds == {"rle", "flat", "nested"}
    assert any("amodal_mask" in p for p in proposals) and any("category_id" in p for p in proposals)
    scores = [p["score"] for p in proposals]
    assert len(set(scores)) < len(scores) / 5  # ties everywhere
    # image order is not id order; an image's proposals are not contiguous
    ids = [image["id"] for image in gt["images"]]
    assert ids != sorted(ids)
    seen, closed = None, set()
    contiguous = True
    for p in proposals:
        if p["image_id"] != seen:
            if p["image_id"] in closed:
                contiguous = False
            if seen is not None:
                closed.add(seen)
            seen = p["image_id"]
    assert not contiguous


def test_proposal_rles_are_canonical_and_iou_spread(small_json):
    gt, proposals = small_json
    images = {image["id"]: image for image in gt["images"]}
    first = _first(gt)
    exact = set()
    n_empty = 0
    best_ious = []
    by_image: Dict[int, List[Any]] = {}
    for p in proposals:
        image = images[p["image_id"]]
        h, w = image["height"], image["width"]
        if isinstance(p["segmentation"], dict):
            rle = p["segmentation"]
            assert rle["size"] == [h, w] and isinstance(rle["counts"], str)
            m = mask_utils.decode(rle)
            assert mask_utils.encode(np.asfortranarray(m))["counts"].decode("ascii") == rle["counts"]
            n_empty += not m.any()
        by_image.setdefault(p["image_id"], []).append(amodal_reference._to_rle(p["segmentation"], h, w))
    thresholds = set(np.linspace(0.5, 0.95, 10).tolist())
    for image_id, rles in by_image.items():
        image = images[image_id]
        gts = [amodal_reference._to_rle([r["segmentation"]], image["height"], image["width"])
               for r in first[image_id]["regions"]]
        ious = np.asarray(mask_utils.iou(rles, gts, [0] * len(gts)))
        best_ious.extend(ious.max(axis=0).tolist())
        for (i, j), value in np.ndenumerate(ious):
            if value in thresholds or value == 0.9:
                exact.add(Fraction(value).limit_denominator(20))
    assert len(exact) >= 3  # IoUs exactly on thresholds (p/20), compared with ">="
    assert 0 < n_empty < len(proposals) / 20  # a few empty masks
    best = np.array(best_ious)
    assert (best == 1.0).any() and ((best > 0.5) & (best < 0.95)).any() and (best < 0.5).any()


def test_make_amodal_image_options():
    rng = np.random.default_rng(11)
    image = sa.make_amodal_image(rng, 5, 80, 100, 0, with_stuff=False, exact_quarter=True,
                                 fully_occluded=True, second_annotator=True, nested_polygons=False,
                                 amodal_masks=False)
    assert image.proposals == []
    assert len(image.annotations) == 2 and image.annotations[1]["id"] == image.annotations[0]["id"] + 1
    regions = image.annotations[0]["regions"]
    assert all(r["isStuff"] == 0 for r in regions)
    assert any(r["occlude_rate"] == 0.25 for r in regions)
    assert len(image.amodal_masks) == len(regions) == len(image.visible_masks)
    image = sa.make_amodal_image(np.random.default_rng(12), 5, 80, 100, 150, nested_polygons=False,
                                 amodal_masks=False)
    assert len(image.proposals) == 150
    assert all(not isinstance(p["segmentation"], list) or not isinstance(p["segmentation"][0], list)
               for p in image.proposals)
    assert not any("amodal_mask" in p for p in image.proposals)


# ---------------------------------------------------------------------------
# Reference


def _check_shape(ar: Dict[str, Dict[str, Dict[int, float]]]) -> None:
    assert set(ar) == set(GROUPS)
    for group in GROUPS:
        assert set(ar[group]) == set(OCCLUSIONS)
        for occlusion in OCCLUSIONS:
            values = ar[group][occlusion]
            assert set(values) == set(KS)
            for v in values.values():
                assert v == -1.0 or 0.0 <= v <= 1.0
            if values[1] != -1.0:
                assert values[1] <= values[10] <= values[100] <= values[1000]


def test_reference_on_generated_dataset(small, small_reference):
    ar = small_reference
    _check_shape(ar)
    assert 0.0 < ar["all"]["all"][1000] < 1.0
    assert ar["all"]["all"][1] < ar["all"]["all"][1000]
    # the AmodalEval-style step-by-step path gives the same numbers, in every mode
    assert amodal_reference.amodaleval_ar(*small) == ar
    for use_visible, use_amodal_dt in ((True, False), (False, True)):
        other = amodal_reference.reference_amodal_ar(*small, use_visible=use_visible, use_amodal_dt=use_amodal_dt)
        _check_shape(other)
        assert other != ar
        assert amodal_reference.amodaleval_ar(*small, use_visible=use_visible, use_amodal_dt=use_amodal_dt) == other


def test_reference_truncates_at_1000(tmp_path):
    """An image with 1100 proposals: only the 1000 best (stable order on ties) are evaluated."""
    rng = np.random.default_rng(21)
    generated = sa.make_amodal_image(rng, 3, 48, 64, 1100, exact_quarter=True)
    proposals = generated.proposals
    # the exact amodal outlines of all regions, scored last: they come after the cut
    for region in generated.annotations[0]["regions"]:
        proposals.append({"image_id": 3, "segmentation": region["segmentation"], "score": 0.0})
    gt = {"images": [generated.image], "annotations": generated.annotations[:1]}
    gt_path, proposals_path = tmp_path / "gt.json", tmp_path / "proposals.json"
    gt_path.write_text(json.dumps(gt))
    proposals_path.write_text(json.dumps(proposals))
    ar = amodal_reference.reference_amodal_ar(gt_path, proposals_path)
    _check_shape(ar)
    assert ar["all"]["all"][1000] < 1.0
    kept = sorted(proposals, key=lambda p: -p["score"])[:1000]
    assert amodal_reference.reference_amodal_ar(gt, kept) == ar
    assert amodal_reference.amodaleval_ar(gt_path, proposals_path) == ar


def test_reference_first_annotation_only(small, small_json, small_reference):
    """The second annotator's annotations do not count: dropping them changes nothing."""
    gt, proposals = small_json
    first_ids = {ann["id"] for ann in _first(gt).values()}
    trimmed = dict(gt, annotations=[a for a in gt["annotations"] if a["id"] in first_ids])
    assert len(trimmed["annotations"]) < len(gt["annotations"])
    assert amodal_reference.reference_amodal_ar(trimmed, proposals) == small_reference


def test_reference_settings_without_gt(tmp_path):
    """Things only: every stuff setting has no GT region, so all its ARs are -1."""
    gt_path, proposals_path = sa.generate_amodal_dataset(tmp_path, 3, 64, 80, 30, seed=2, with_stuff=False)
    ar = amodal_reference.reference_amodal_ar(gt_path, proposals_path)
    _check_shape(ar)
    for occlusion in OCCLUSIONS:
        assert ar["stuff"][occlusion] == {k: -1.0 for k in KS}
    assert ar["things"] == ar["all"]


def _tiny_case(tmp_path: Path) -> Tuple[Path, Path, List[Dict[str, Any]]]:
    """Two images by hand. Image 1: a thing in front (rate 0), a stuff band occluded by exactly
    1/4 (in partial AND heavy), a thing behind. Image 2: one thing, no proposals."""
    h, w = 40, 40
    thing = [2.0, 2.0, 22.0, 2.0, 22.0, 22.0, 2.0, 22.0]
    stuff_poly = [12.0, 12.0, 32.0, 12.0, 32.0, 32.0, 12.0, 32.0]
    back = [30.0, 2.0, 38.0, 2.0, 38.0, 10.0, 30.0, 10.0]
    regions = []
    nearer = np.zeros((h, w), bool)
    for order, (poly, stuff) in enumerate(((thing, 0), (stuff_poly, 1), (back, 0)), start=1):
        m = sa.polygon_to_mask(poly, h, w)
        rate = int((m & nearer).sum()) / int(m.sum())
        region = {"segmentation": poly, "area": float(m.sum()), "order": order, "occlude_rate": rate,
                  "isStuff": stuff, "name": "x"}
        if rate > 0:
            region["visible_mask"] = sa.encode_mask(m & ~nearer)
            region["invisible_mask"] = sa.encode_mask(m & nearer)
        regions.append(region)
        nearer |= m
    assert regions[1]["occlude_rate"] == 0.25 and regions[2]["occlude_rate"] == 0
    gt = {"images": [{"id": 1, "height": h, "width": w, "file_name": "a.jpg"},
                     {"id": 2, "height": h, "width": w, "file_name": "b.jpg"}],
          "annotations": [{"id": 10, "image_id": 1, "regions": regions, "size": 3, "depth_constraint": "1-2"},
                          {"id": 11, "image_id": 2, "regions": [dict(regions[0], order=1)], "size": 1,
                           "depth_constraint": ""}]}
    proposals = [
        {"image_id": 1, "segmentation": thing, "score": 0.5, "category_id": 33},  # exact thing, flat
        {"image_id": 1, "segmentation": regions[1]["visible_mask"], "score": 0.5,  # modal stuff
         "amodal_mask": sa.encode_polygon(stuff_poly, h, w)},
        {"image_id": 1, "segmentation": [[0.0, 0.0, 3.0, 0.0, 3.0, 3.0]], "score": 0.9},  # junk, nested
    ]
    gt_path, proposals_path = tmp_path / "gt.json", tmp_path / "proposals.json"
    gt_path.write_text(json.dumps(gt))
    proposals_path.write_text(json.dumps(proposals))
    return gt_path, proposals_path, proposals


def test_reference_hand_made(tmp_path):
    gt_path, proposals_path, _ = _tiny_case(tmp_path)
    ar = amodal_reference.reference_amodal_ar(gt_path, proposals_path)
    _check_shape(ar)
    # amodal GT, 4 regions: the junk proposal (ranked first) finds nothing, the thing of image 1 is
    # found at every threshold (IoU 1), the stuff region by its visible mask (IoU 300/400 = 0.75)
    # at the six thresholds 0.50..0.75 (IoU == threshold matches); image 2 has no proposals
    assert ar["all"]["all"] == {1: 0.0, 10: 0.4, 100: 0.4, 1000: 0.4}
    assert ar["all"]["none"] == pytest.approx({1: 0.0, 10: 1 / 3, 100: 1 / 3, 1000: 1 / 3}, abs=1e-15)
    assert ar["all"]["partial"] == ar["all"]["heavy"] == {1: 0.0, 10: 0.6, 100: 0.6, 1000: 0.6}
    assert ar["things"]["none"] == ar["all"]["none"]
    assert ar["things"]["partial"] == ar["things"]["heavy"] == {k: -1.0 for k in KS}
    assert ar["stuff"]["none"] == {k: -1.0 for k in KS}
    # occlude_rate exactly 0.25 is in both partial and heavy (closed ranges)
    assert ar["stuff"]["partial"] == ar["stuff"]["heavy"] == {1: 0.0, 10: 0.6, 100: 0.6, 1000: 0.6}
    # visible GT: the modal proposal is the stuff region's visible mask exactly
    vis = amodal_reference.reference_amodal_ar(gt_path, proposals_path, use_visible=True)
    assert vis["stuff"]["partial"] == vis["stuff"]["heavy"] == {1: 0.0, 10: 1.0, 100: 1.0, 1000: 1.0}
    assert vis["all"]["all"][10] == 0.5
    # the proposal's amodal mask: then the stuff region is found exactly in amodal mode
    adt = amodal_reference.reference_amodal_ar(gt_path, proposals_path, use_amodal_dt=True)
    assert adt["stuff"]["heavy"] == {1: 0.0, 10: 1.0, 100: 1.0, 1000: 1.0}
    for mode in ({}, {"use_visible": True}, {"use_amodal_dt": True}):
        assert amodal_reference.amodaleval_ar(gt_path, proposals_path, **mode) == \
            amodal_reference.reference_amodal_ar(gt_path, proposals_path, **mode)


def test_printout_format(tmp_path):
    gt_path, proposals_path, _ = _tiny_case(tmp_path)
    text = amodal_reference.reference_printout(gt_path, proposals_path)
    lines = text.split("\n")
    assert lines[0] == "" and lines[1] == "== Amodal mask, both stuff and things"
    assert lines[2] == "AR1:     0.0000" and lines[3] == "AR10:     0.4000" and lines[5] == "AR1000:     0.4000"
    assert lines[6].startswith("AR_none: ") and lines[8].startswith("AR_heavy: ")
    assert "== Amodal mask, things only" in lines and "== Amodal mask, stuff only" in lines
    assert "AR_partial:    -1.0000" in text  # things only: no partially occluded thing
    assert amodal_reference.reference_printout(gt_path, proposals_path, use_visible=True).startswith(
        "\n== visible mask, both stuff and things\n")
