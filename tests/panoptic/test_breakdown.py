"""PQ by size, parsing covering and boundary PQ (fastpq.breakdown), checked against hand-computed cases
and against the independent oracles of breakdown_reference on hand-made, generated and real data."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import fastpq
from fastpq import _core, cli, synthetic
from fastpq.breakdown import SIZE_NAMES, size_of
from fastpq.errors import InvalidOptionError
from fastpq.panoptic.evaluation import evaluate_tables, prepare
from breakdown_reference import (band_by_definition, covering_oracle, dilation_of, mask_to_boundary,
                                 panoptic_oracle)
from conftest import CAR, GRASS, PERSON, SKY, PanopticImage, counts

ALL_BREAKDOWNS = dict(by_size=True, covering=True, boundary=True)


def assert_matches_oracle(result: fastpq.PanopticResult, expected: dict, tol: float = 1e-12) -> None:
    """A fastpq result against an oracle's pq_compute-like dict (a group the oracle could not average is None)."""
    for name in ("All", "Things", "Stuff"):
        group, other = result.groups[name], expected[name]
        if other is None:
            assert group.n == 0 and math.isnan(group.pq), name
            continue
        assert group.n == other["n"], name
        for key in ("pq", "sq", "rq"):
            assert abs(getattr(group, key) - other[key]) <= tol, (name, key, getattr(group, key), other[key])
    if expected["per_class"] is None:
        return
    for c in result.classes:
        other = expected["per_class"][c.category_id]
        for key in ("pq", "sq", "rq"):
            assert abs(getattr(c, key) - other[key]) <= tol, (c.category_id, key)


def assert_covering_matches(result: fastpq.PanopticResult, expected: dict, tol: float = 1e-12) -> None:
    for name in ("All", "Things", "Stuff"):
        pc, n = expected[name]
        group = result.covering.groups[name]
        assert group.n == n, name
        assert (math.isnan(group.pc) and math.isnan(pc)) or abs(group.pc - pc) <= tol, (name, group.pc, pc)
    for c in result.covering.classes:
        other = expected["per_class"][c.category_id]
        assert c.valid == (other is not None), c.category_id
        if other is not None:
            assert abs(c.pc - other) <= tol, (c.category_id, c.pc, other)


def assert_sizes_add_up(result: fastpq.PanopticResult) -> None:
    for i, c in enumerate(result.classes):
        parts = [result.by_size[s].classes[i] for s in SIZE_NAMES]
        assert sum(p.tp for p in parts) == c.tp
        assert sum(p.fp for p in parts) == c.fp
        assert sum(p.fn for p in parts) == c.fn
        assert math.isclose(sum(p.iou for p in parts), c.iou, rel_tol=1e-12, abs_tol=1e-12)


def assert_no_reference_id_collision(gt_json, pred_json) -> None:
    """The Boundary IoU API marks insides with (largest category id + 1): on data where no segment has
    that id, its Boundary PQ is exactly what the oracle computes."""
    gt, pred = json.load(open(gt_json)), json.load(open(pred_json))
    marker = max(c["id"] for c in gt["categories"]) + 1
    for data in (gt, pred):
        for a in data["annotations"]:
            assert all(s["id"] != marker for s in a["segments_info"])


# ---------------------------------------------------------------------------
# The band rule


def random_id_map(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Blocky ids (a coarse random grid scaled up) with a few single-pixel specks."""
    coarse = rng.integers(1, 5, size=(max(1, h // 3 + 1), max(1, w // 3 + 1)))
    ids = np.kron(coarse, np.ones((3, 3), dtype=np.int64))[:h, :w]
    specks = rng.random((h, w)) < 0.03
    ids[specks] = rng.integers(1, 5, size=int(specks.sum()))
    return ids.astype(np.uint32)


@pytest.mark.parametrize("seed", range(6))
def test_band_by_chessboard_distance_is_cv2_erosion_of_the_padded_mask(seed):
    # The Boundary IoU API pads a mask by one zero pixel and erodes it d times with a 3x3 square.
    # That is the set of pixels within chessboard distance d of another id or of the image edge.
    rng = np.random.default_rng(seed)
    for h, w in [(1, 1), (1, 9), (7, 1), (5, 6), (17, 23), (40, 31)]:
        ids = random_id_map(rng, h, w)
        for ratio in (0.0, 0.05, 0.1, 0.2, 0.5):
            d = dilation_of(h, w, ratio)
            band = band_by_definition(ids, d)
            for i in np.unique(ids):
                mask = ids == i
                np.testing.assert_array_equal(mask_to_boundary(mask, ratio), band & mask, err_msg=f"{h}x{w} d={d}")


@pytest.mark.parametrize("seed", range(6))
def test_engine_band_equals_the_definition(seed):
    rng = np.random.default_rng(100 + seed)
    for h, w in [(1, 1), (1, 12), (9, 1), (4, 4), (19, 27), (50, 37)]:
        ids = random_id_map(rng, h, w)
        for d in (1, 2, 3, 5, 60):
            np.testing.assert_array_equal(_core.boundary_band(ids, d).astype(bool), band_by_definition(ids, min(d, 60)),
                                          err_msg=f"{h}x{w} d={d}")


def test_band_of_a_hand_drawn_map():
    # A 4x3 block of id 7 inside a 6x5 map of id 1, d = 1: only the block's middle pixels (rows 2-3,
    # column 2) have all 8 neighbours equal; every pixel of id 1 touches the edge or the block.
    ids = np.ones((6, 5), np.uint32)
    ids[1:5, 1:4] = 7
    expected = np.ones((6, 5), np.uint8)
    expected[2:4, 2] = 0
    np.testing.assert_array_equal(_core.boundary_band(ids, 1), expected)


@pytest.mark.parametrize("h, w, ratio", [(480, 640, 0.02), (1024, 2048, 0.02), (3, 4, 0.5), (3, 4, 0.3),
                                         (3, 4, 0.1), (10, 10, 0.02), (427, 640, 0.02), (100, 100, 0.0),
                                         (600, 800, 0.0025), (600, 800, 0.0075)])
def test_dilation_rounds_as_the_reference(h, w, ratio):
    # diagonal 5: 0.5 * 5 = 2.5 -> 2, 0.3 * 5 = 1.5 -> 2 (ties to even, as Python's round); 0.5 -> 0 -> 1.
    # 600x800: diagonal 1000, 2.5 -> 2 and 7.5 -> 8.
    assert _core.boundary_dilation(h, w, ratio) == dilation_of(h, w, ratio)


# ---------------------------------------------------------------------------
# Hand-computed cases


def test_boundary_pq_by_hand_shift_by_one_column(make_case):
    # 10x10, d = max(1, round(0.02 * 14.1)) = 1. GT: person A on columns 0-4, grass B on 5-9.
    # Prediction: person P on columns 0-5, grass Q on 6-9.
    # Mask IoU: A/P = 50/60, B/Q = 40/50: both TPs in plain PQ.
    # Bands (d = 1): A: columns 0 and 4 plus rows 0 and 9 -> 50 - 8*3 = 26; P: 60 - 8*4 = 28;
    # A & P bands: column 0 (10), column 4 rows 0, 9 (2), rows 0, 9 columns 1-3 (6) = 18;
    # boundary IoU = 18 / (26 + 28 - 18) = 0.5, not > 0.5 -> FN + FP.
    # B: columns 5 and 9 plus rows 0, 9 -> 26; Q: 40 - 8*2 = 24; B & Q: column 9 (10), column 6 rows
    # 0, 9 (2), rows 0, 9 columns 7-8 (4) = 16; boundary IoU = 16 / 34 -> FN + FP.
    gt_map = np.array([[11] * 5 + [12] * 5] * 10)
    pred_map = np.array([[21] * 6 + [22] * 4] * 10)
    case = make_case([PanopticImage(1, gt_map, [{"id": 11, "category_id": PERSON}, {"id": 12, "category_id": GRASS}],
                                    anchors=False)],
                     [PanopticImage(1, pred_map, [{"id": 21, "category_id": PERSON}, {"id": 22, "category_id": GRASS}],
                                    anchors=False)])
    result = fastpq.evaluate(case.gt_json, case.pred_json, boundary=True)
    assert counts(result, PERSON) == (1, 0, 0, 50 / 60)
    assert counts(result, GRASS) == (1, 0, 0, 40 / 50)
    assert counts(result.boundary, PERSON) == (0, 1, 1, 0.0)
    assert counts(result.boundary, GRASS) == (0, 1, 1, 0.0)
    assert_matches_oracle(result.boundary, panoptic_oracle(case.gt_json, case.pred_json, boundary_ratio=0.02)["total"])


def test_boundary_pq_by_hand_void_leaves_the_union(make_case):
    # 10x10, d = 1. GT: person A on columns 0-4, columns 5-9 void. Prediction: person P on columns 0-5.
    # Mask IoU = 50 / (60 + 50 - 50 - 10) = 1. Bands as above: |A| 26, |P| 28, A & P 18; P's band on
    # GT void is column 5 (10 pixels): boundary IoU = 18 / (28 + 26 - 18 - 10) = 18/26 > 0.5, so a TP
    # whose IoU is min(1, 18/26) = 18/26.
    gt_map = np.array([[11] * 5 + [0] * 5] * 10)
    pred_map = np.array([[21] * 6 + [0] * 4] * 10)
    case = make_case([PanopticImage(1, gt_map, [{"id": 11, "category_id": PERSON}], anchors=False)],
                     [PanopticImage(1, pred_map, [{"id": 21, "category_id": PERSON}], anchors=False)])
    result = fastpq.evaluate(case.gt_json, case.pred_json, boundary=True)
    assert counts(result, PERSON) == (1, 0, 0, 1.0)
    assert counts(result.boundary, PERSON) == (1, 0, 0, 18 / 26)
    assert result.boundary.sq == 18 / 26
    assert_matches_oracle(result.boundary, panoptic_oracle(case.gt_json, case.pred_json, boundary_ratio=0.02)["total"])


def test_boundary_dilation_ratio_changes_the_band(make_case):
    # Same case with ratio 0.15: d = round(0.15 * 14.14) = 2. A's inside is rows 2-7 x columns 2 (6
    # pixels) -> band 44; P's inside rows 2-7 x columns 2-3 (12) -> band 48; A & P bands: all of A's
    # band but rows 2-7 of column 2... A's band minus P's inside (rows 2-7, columns 2-3 minus A's
    # inside column 2 = rows 2-7 column 3: 6 pixels) = 38; P's band on void: column 5 (10).
    # Boundary IoU = 38 / (48 + 44 - 38 - 10) = 38/44.
    gt_map = np.array([[11] * 5 + [0] * 5] * 10)
    pred_map = np.array([[21] * 6 + [0] * 4] * 10)
    case = make_case([PanopticImage(1, gt_map, [{"id": 11, "category_id": PERSON}], anchors=False)],
                     [PanopticImage(1, pred_map, [{"id": 21, "category_id": PERSON}], anchors=False)])
    result = fastpq.evaluate(case.gt_json, case.pred_json, boundary=True, boundary_dilation_ratio=0.15)
    assert counts(result.boundary, PERSON) == (1, 0, 0, 38 / 44)
    assert_matches_oracle(result.boundary, panoptic_oracle(case.gt_json, case.pred_json, boundary_ratio=0.15)["total"])


def test_pq_by_size_by_hand(make_case):
    # Image 1 (32x33): GT person A on columns 0-31 (1024 px), grass G on column 32 (32 px); the
    # prediction is identical -> person TP in "medium" (1024 is not < 1024), grass TP in "small".
    # Image 2 (32x32): GT person on all but one pixel (1023 px), grass on that pixel; prediction: one
    # car segment on everything (1024 px) -> person FN "small", grass FN "small", car FP by its own
    # area 1024 -> "medium".
    # Image 3 (96x96): sky everywhere in both (9216 px) -> sky TP "large".
    img1 = np.array([[1] * 32 + [2]] * 32)
    segs1 = [{"id": 1, "category_id": PERSON}, {"id": 2, "category_id": GRASS}]
    img2 = np.ones((32, 32), int)
    img2[5, 7] = 2
    img3 = np.full((96, 96), 3)
    case = make_case(
        [PanopticImage(1, img1, segs1, anchors=False), PanopticImage(2, img2, segs1, anchors=False),
         PanopticImage(3, img3, [{"id": 3, "category_id": SKY}], anchors=False)],
        [PanopticImage(1, img1, segs1, anchors=False),
         PanopticImage(2, np.full((32, 32), 9), [{"id": 9, "category_id": CAR}], anchors=False),
         PanopticImage(3, img3, [{"id": 3, "category_id": SKY}], anchors=False)])
    result = fastpq.evaluate(case.gt_json, case.pred_json, by_size=True)
    small, medium, large = (result.by_size[s] for s in SIZE_NAMES)
    assert counts(small, PERSON) == (0, 0, 1, 0.0)
    assert counts(small, GRASS) == (1, 0, 1, 1.0)
    assert counts(medium, PERSON) == (1, 0, 0, 1.0)
    assert counts(medium, CAR) == (0, 1, 0, 0.0)
    assert counts(large, SKY) == (1, 0, 0, 1.0)
    assert [counts(large, c) for c in (PERSON, CAR, GRASS)] == [(0, 0, 0, 0.0)] * 3
    assert small.groups["Things"].n == 1 and small.groups["Things"].pq == 0.0
    assert large.groups["Things"].n == 0 and math.isnan(large.groups["Things"].pq)
    assert_sizes_add_up(result)
    expected = panoptic_oracle(case.gt_json, case.pred_json)
    for size in SIZE_NAMES:
        assert_matches_oracle(result.by_size[size], expected[size])
    assert [size_of(a) for a in (0, 1023, 1024, 9215, 9216)] == ["small", "small", "medium", "medium", "large"]


def test_pq_by_size_ignored_predictions_stay_ignored(make_case):
    # 40x40 GT: person A (crowd) on rows 0-19, void on rows 20-39. Prediction: person P on rows 0-9
    # (400 px, all on the crowd) and car Q on rows 20-39 (800 px, all on void): panopticapi ignores
    # both, so no bucket gets an FP; the crowd segment is never an FN.
    gt_map = np.zeros((40, 40), int)
    gt_map[:20] = 5
    pred_map = np.zeros((40, 40), int)
    pred_map[:10] = 6
    pred_map[20:] = 7
    case = make_case([PanopticImage(1, gt_map, [{"id": 5, "category_id": PERSON, "iscrowd": 1}])],
                     [PanopticImage(1, pred_map, [{"id": 6, "category_id": PERSON}, {"id": 7, "category_id": CAR}])])
    result = fastpq.evaluate(case.gt_json, case.pred_json, by_size=True)
    for size in SIZE_NAMES:
        assert counts(result.by_size[size], PERSON) == (0, 0, 0, 0.0)
        assert counts(result.by_size[size], CAR) == (0, 0, 0, 0.0)
    assert_sizes_add_up(result)


def test_parsing_covering_by_hand(make_case):
    # One row of 10: GT person A on pixels 0-5, person B on 6-9; prediction person P on 0-7, car Q
    # on 8-9. IoU(A, P) = 6/8, IoU(B, P) = 2/(4 + 8 - 2) = 0.2, Q is another class.
    # PC(person) = (6 * 0.75 + 4 * 0.2) / 10 = 0.53; car has no GT pixels and is left out.
    gt = PanopticImage(1, [[1] * 6 + [2] * 4], [{"id": 1, "category_id": PERSON}, {"id": 2, "category_id": PERSON}],
                       anchors=False)
    pred = PanopticImage(1, [[3] * 8 + [4] * 2], [{"id": 3, "category_id": PERSON}, {"id": 4, "category_id": CAR}],
                         anchors=False)
    case = make_case([gt], [pred])
    result = fastpq.evaluate(case.gt_json, case.pred_json, covering=True)
    person = [c for c in result.covering.classes if c.category_id == PERSON][0]
    assert math.isclose(person.pc, 0.53, rel_tol=1e-15)
    assert result.covering.groups["All"].n == 1 and result.covering.groups["Stuff"].n == 0
    assert math.isclose(result.covering.pc, 0.53, rel_tol=1e-15)
    assert_covering_matches(result, covering_oracle(case.gt_json, case.pred_json))


def test_parsing_covering_void_crowd_and_image_size(make_case):
    # Image 1, one row of 10: GT person A on 0-3, void on 4-5, crowd person C on 6-9; prediction
    # person P on 0-9. Void and crowd pixels are ignored: P counts 4 pixels, IoU(A, P) = 4/4 = 1.
    # Image 2, 2x10: GT grass G everywhere; prediction grass H on 10 pixels (row 0), sky on row 1:
    # IoU = 10/20. Normalized by image size (ParsingCovering's default): PC(person) = 1 and
    # PC(grass) = (0.5 * 20/20) / (20/20) = 0.5 -> PC = 0.75 (Things 1, Stuff 0.5).
    # Image 3, one row of 10: GT grass everywhere, prediction grass everywhere: IoU 1.
    # Normalized: PC(grass) = (0.5 * 1 + 1 * 1) / 2 = 0.75; in pixels: (10 + 10) / 30 = 2/3.
    img1_gt = PanopticImage(1, [[1] * 4 + [0] * 2 + [2] * 4], [{"id": 1, "category_id": PERSON},
                                                              {"id": 2, "category_id": PERSON, "iscrowd": 1}],
                            anchors=False)
    img1_pred = PanopticImage(1, [[3] * 10], [{"id": 3, "category_id": PERSON}], anchors=False)
    img2_gt = PanopticImage(2, [[5] * 10] * 2, [{"id": 5, "category_id": GRASS}], anchors=False)
    img2_pred = PanopticImage(2, [[6] * 10, [7] * 10], [{"id": 6, "category_id": GRASS}, {"id": 7, "category_id": SKY}],
                              anchors=False)
    img3 = PanopticImage(3, [[5] * 10], [{"id": 5, "category_id": GRASS}], anchors=False)
    case = make_case([img1_gt, img2_gt, img3], [img1_pred, img2_pred, img3])
    normalized = fastpq.evaluate(case.gt_json, case.pred_json, covering=True)
    pixels = fastpq.evaluate(case.gt_json, case.pred_json, covering=True, covering_normalize_by_image_size=False)
    grass = lambda r: [c for c in r.covering.classes if c.category_id == GRASS][0]  # noqa: E731
    assert normalized.covering.groups["Things"].pc == 1.0
    assert math.isclose(grass(normalized).pc, 0.75, rel_tol=1e-15)
    assert math.isclose(grass(pixels).pc, 2 / 3, rel_tol=1e-15)
    assert math.isclose(normalized.covering.pc, (1 + 0.75) / 2, rel_tol=1e-15)
    assert_covering_matches(normalized, covering_oracle(case.gt_json, case.pred_json))
    assert_covering_matches(pixels, covering_oracle(case.gt_json, case.pred_json, normalize_by_image_size=False))


# ---------------------------------------------------------------------------
# Generated and real data against the oracles


@pytest.mark.parametrize("dataset", ["coco_like", "cityscapes_like"])
def test_breakdowns_match_the_oracles_on_generated_data(dataset, request):
    paths = request.getfixturevalue(dataset)
    assert_no_reference_id_collision(paths.gt_json, paths.pred_json)
    result = fastpq.evaluate(paths.gt_json, paths.pred_json, **ALL_BREAKDOWNS)
    plain = fastpq.evaluate(paths.gt_json, paths.pred_json)
    assert [(c.tp, c.fp, c.fn, c.iou) for c in result.classes] == [(c.tp, c.fp, c.fn, c.iou) for c in plain.classes]
    assert_sizes_add_up(result)
    expected = panoptic_oracle(paths.gt_json, paths.pred_json)
    assert_matches_oracle(result, expected["total"])
    for size in SIZE_NAMES:
        assert_matches_oracle(result.by_size[size], expected[size])
    assert_matches_oracle(result.boundary,
                          panoptic_oracle(paths.gt_json, paths.pred_json, boundary_ratio=0.02)["total"])
    assert result.boundary.pq < result.pq  # synthetic predictions have shifted, ragged edges
    assert_covering_matches(result, covering_oracle(paths.gt_json, paths.pred_json))
    pixels = fastpq.evaluate(paths.gt_json, paths.pred_json, covering=True, covering_normalize_by_image_size=False)
    assert_covering_matches(pixels, covering_oracle(paths.gt_json, paths.pred_json, normalize_by_image_size=False))


def test_the_coco_sample_against_itself_is_perfect(coco_sample):
    # Crowd predictions lie on their crowd GT and are ignored; everything else matches with IoU 1.
    gt_json = pred_json = coco_sample / "panoptic_examples.json"
    assert_no_reference_id_collision(gt_json, pred_json)
    result = fastpq.evaluate(gt_json, pred_json, **ALL_BREAKDOWNS)
    assert result.boundary.pq == 1.0 and result.covering.pc == 1.0
    assert_matches_oracle(result.boundary, panoptic_oracle(gt_json, pred_json, boundary_ratio=0.02)["total"])


def test_breakdowns_on_the_coco_sample_against_a_shifted_prediction(coco_sample, tmp_path):
    # The sample has no predictions: each image's GT, rolled by a few pixels, is its prediction.
    from PIL import Image

    gt_json = coco_sample / "panoptic_examples.json"
    gt = json.load(open(gt_json))
    folder = tmp_path / "pred"
    folder.mkdir()
    for k, a in enumerate(gt["annotations"]):
        rgb = np.array(Image.open(coco_sample / "panoptic_examples" / a["file_name"]).convert("RGB"))
        shifted = np.roll(rgb, shift=(2 + k, -3), axis=(0, 1))  # every segment moves: bands move with it
        Image.fromarray(shifted).save(folder / a["file_name"])
    pred_json = tmp_path / "pred.json"
    pred_json.write_text(json.dumps({"annotations": gt["annotations"], "categories": gt["categories"]}))
    result = fastpq.evaluate(gt_json, pred_json, **ALL_BREAKDOWNS)
    expected = panoptic_oracle(gt_json, pred_json)
    assert_matches_oracle(result, expected["total"])
    for size in SIZE_NAMES:
        assert_matches_oracle(result.by_size[size], expected[size])
    assert_sizes_add_up(result)
    assert_matches_oracle(result.boundary, panoptic_oracle(gt_json, pred_json, boundary_ratio=0.02)["total"])
    assert result.boundary.sq < result.sq
    assert_covering_matches(result, covering_oracle(gt_json, pred_json))


# ---------------------------------------------------------------------------
# Options


def test_breakdowns_are_off_by_default(coco_like):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json)
    assert result.by_size is None and result.covering is None and result.boundary is None


@pytest.fixture(scope="module")
def many_images(tmp_path_factory) -> synthetic.DatasetPaths:
    # Small images in few categories, so that each category's sums take many additions.
    spec = dataclasses.replace(synthetic.COCO_LIKE, name="many", height=48, width=64, n_categories=6, n_things=3,
                               thing_ids=(), stuff_ids=())
    return synthetic.generate_dataset(tmp_path_factory.mktemp("many_images"), spec, 48, seed=3)


def assert_breakdowns_identical(a: fastpq.PanopticResult, b: fastpq.PanopticResult) -> None:
    """Every breakdown sum equal to the last bit."""
    for size in SIZE_NAMES:
        assert [(c.tp, c.fp, c.fn, c.iou) for c in a.by_size[size].classes] == \
            [(c.tp, c.fp, c.fn, c.iou) for c in b.by_size[size].classes], size
    assert [(c.weighted_iou, c.gt_area) for c in a.covering.classes] == \
        [(c.weighted_iou, c.gt_area) for c in b.covering.classes]
    assert [(c.tp, c.fp, c.fn, c.iou) for c in a.boundary.classes] == \
        [(c.tp, c.fp, c.fn, c.iou) for c in b.boundary.classes]
    assert [(c.tp, c.fp, c.fn, c.iou) for c in a.classes] == [(c.tp, c.fp, c.fn, c.iou) for c in b.classes]


@pytest.mark.parametrize("normalize", [True, False])
def test_breakdowns_in_chunks_are_bit_identical_to_one_pass(many_images, normalize, monkeypatch):
    paths = many_images
    options = dict(ALL_BREAKDOWNS, covering_normalize_by_image_size=normalize)
    one = fastpq.evaluate(paths.gt_json, paths.pred_json, **options)
    tables, categories = prepare(paths.gt_json, paths.pred_json, None, None)
    for chunk in (1, 5, 7, 16):
        seen = []
        chunked = evaluate_tables(tables, categories, progress=lambda d, n: seen.append(d), _chunk_images=chunk,
                                  **options)
        assert seen == [0] + list(range(chunk, 48, chunk)) + [48]
        assert_breakdowns_identical(one, chunked)
    # The time budget's chunks (16 images with one worker), through the public entry point.
    calls = []
    engine = _core.evaluate_panoptic
    monkeypatch.setattr(_core, "evaluate_panoptic", lambda *a, **k: calls.append(len(a[0])) or engine(*a, **k))
    budgeted = fastpq.evaluate(paths.gt_json, paths.pred_json, time_budget=1e6, workers=1, **options)
    assert calls == [16, 16, 16]
    assert_breakdowns_identical(one, budgeted)


def test_time_budget_chunks_follow_the_default_thread_count(many_images, monkeypatch):
    # workers=0 runs the core's default thread count; chunks are 8 images a thread, at least 16.
    info = _core.build_info()
    monkeypatch.setattr(_core, "build_info", lambda: dict(info, default_workers=4))
    calls = []
    engine = _core.evaluate_panoptic
    monkeypatch.setattr(_core, "evaluate_panoptic", lambda *a, **k: calls.append(len(a[0])) or engine(*a, **k))
    fastpq.evaluate(many_images.gt_json, many_images.pred_json, time_budget=1e6, workers=0)
    assert calls == [32, 16]


def test_engine_continues_given_breakdown_sums_and_refuses_misfits():
    rng = np.random.default_rng(9)
    gt_map = random_blocks(rng, 30, 40)
    pred_map = np.roll(gt_map, 1, axis=0)
    ids = [int(i) for i in np.unique(gt_map)]
    cats = [i % 2 for i in ids]
    areas = [float((gt_map == i).sum()) for i in ids]

    def run(initial_breakdown):
        return _core.evaluate_id_maps(gt_map[None].astype(np.uint32), pred_map[None].astype(np.uint32),
                                      [0, len(ids)], ids, cats, [0] * len(ids), areas, [0, len(ids)], ids, cats, 2,
                                      by_size=True, covering=True, boundary=True,
                                      initial_breakdown=initial_breakdown)["breakdown"]

    once = run(None)
    twice = run(once)
    assert twice["boundary"]["tp"] == [2 * t for t in once["boundary"]["tp"]]
    assert twice["boundary"]["iou"] == [s + s for s in once["boundary"]["iou"]]
    assert [t["fn"] for t in twice["by_size"]] == [[2 * f for f in t["fn"]] for t in once["by_size"]]
    assert twice["covering"]["gt_area"] == [a + a for a in once["covering"]["gt_area"]]
    # A part left out starts from zero.
    assert run({"boundary": once["boundary"]})["covering"] == once["covering"]
    short = dict(once, boundary=dict(once["boundary"], iou=[0.0]))
    with pytest.raises(ValueError, match="boundary totals"):
        run(short)
    with pytest.raises(ValueError, match="by-size"):
        run(dict(once, by_size=once["by_size"][:2]))
    with pytest.raises(ValueError, match="covering"):
        run(dict(once, covering=dict(once["covering"], gt_area=[1.0, 2.0, 3.0])))


@pytest.mark.parametrize("ratio", [-0.1, float("nan"), float("inf"), "wide"])
def test_bad_dilation_ratio_is_refused(coco_like, ratio):
    with pytest.raises(InvalidOptionError, match="boundary_dilation_ratio"):
        fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, boundary=True, boundary_dilation_ratio=ratio)


def test_id_maps_in_memory_give_the_same_breakdowns(make_case):
    # The engine's in-memory path (evaluate_id_maps) shares the pass: same sums as from PNG files.
    rng = np.random.default_rng(5)
    gt_map = random_blocks(rng, 40, 50)
    pred_map = np.roll(gt_map, 1, axis=1)
    segs = [{"id": int(i), "category_id": PERSON if i % 2 else GRASS} for i in np.unique(gt_map)]
    case = make_case([PanopticImage(1, gt_map, segs, anchors=False)], [PanopticImage(1, pred_map, segs, anchors=False)])
    from_files = fastpq.evaluate(case.gt_json, case.pred_json, **ALL_BREAKDOWNS)
    ids = [s["id"] for s in segs]
    cats = [0 if s["category_id"] == PERSON else 2 for s in segs]  # indices into CATEGORIES order
    areas = [float((gt_map == i).sum()) for i in ids]
    out = _core.evaluate_id_maps(gt_map[None].astype(np.uint32), pred_map[None].astype(np.uint32), [0, len(ids)], ids,
                                 cats, [0] * len(ids), areas, [0, len(ids)], ids, cats, 6, by_size=True,
                                 covering=True, boundary=True)
    b = out["breakdown"]
    assert b["boundary"]["tp"][0] == counts(from_files.boundary, PERSON)[0]
    assert b["boundary"]["iou"][0] == counts(from_files.boundary, PERSON)[3]
    assert [t["tp"][2] for t in b["by_size"]] == [counts(from_files.by_size[s], GRASS)[0] for s in SIZE_NAMES]
    grass = [c for c in from_files.covering.classes if c.category_id == GRASS][0]
    assert b["covering"]["weighted_iou_normalized"][2] == grass.weighted_iou


def random_blocks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    coarse = rng.integers(1, 7, size=(h // 10 + 1, w // 10 + 1))
    return np.kron(coarse, np.ones((10, 10), dtype=np.int64))[:h, :w]


def test_cli_prints_the_breakdown_tables(coco_like, capsys, tmp_path):
    out_json = tmp_path / "r.json"
    assert cli.main(["pq", "--gt-json", str(coco_like.gt_json), "--pred-json", str(coco_like.pred_json),
                     "--by-size", "--covering", "--boundary", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, **ALL_BREAKDOWNS)
    assert "PQ by segment size" in text and "Parsing covering" in text and "Boundary PQ" in text
    assert "{:5.1f}".format(100 * result.boundary.pq) in text
    saved = json.loads(out_json.read_text())
    assert saved["by_size"]["small"]["All"]["pq"] == result.by_size["small"].pq
    assert saved["covering"]["All"]["pc"] == result.covering.pc
    assert saved["boundary"]["All"]["pq"] == result.boundary.pq
