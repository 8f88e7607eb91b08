"""panopticapi's matching rules on tiny hand-made images.

Each scenario is checked twice: against the TP / FP / FN / IoU derived by hand in its comments, and
against panopticapi's pq_compute on the same files. Maps are one row of pixels unless said otherwise
(0 is void); every image also gets the two anchor rows of conftest.PanopticImage, which only touch the
anchor categories.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import fastpq
from fastpq import synthetic
from conftest import (ANCHOR_STUFF, ANCHOR_THING, CAR, GRASS, PERSON, SKY, PanopticImage, assert_results_close,
                      assert_results_equal, counts, run_reference, run_reference_single_process, write_id_png)


def evaluate_both(case, capsys):
    """fastpq.evaluate's result, after checking fastpq.pq_compute against panopticapi on the case."""
    expected = run_reference(case.gt_json, case.pred_json)
    actual = fastpq.pq_compute(case.gt_json, case.pred_json)
    capsys.readouterr()
    assert_results_close(actual, expected)
    assert_results_equal(actual, run_reference_single_process(case.gt_json, case.pred_json))
    return fastpq.evaluate(case.gt_json, case.pred_json)


def test_anchors_are_true_positives(make_case, capsys):
    # The anchor rows alone: one TP with IoU 1 in each anchor category, nothing else.
    case = make_case([PanopticImage(1, [[0, 0]], [])], [PanopticImage(1, [[0, 0]], [])])
    result = evaluate_both(case, capsys)
    assert counts(result, ANCHOR_THING) == (1, 0, 0, 1.0)
    assert counts(result, ANCHOR_STUFF) == (1, 0, 0, 1.0)
    assert counts(result, PERSON) == (0, 0, 0, 0.0)
    assert result.groups["All"].n == 2


def test_void_in_gt_is_removed_from_the_union(make_case, capsys):
    # GT A (person) on pixels 0-5, pixels 6-9 void; prediction P (person) on pixels 2-9.
    # inter = 4 (pixels 2-5), |P| = 8, |A| = 6, P on void = 4 (pixels 6-9):
    # union = 8 + 6 - 4 - 4 = 6, IoU = 4/6 > 0.5 -> TP. Without the void rule it would be 4/10.
    gt = PanopticImage(1, [[11] * 6 + [0] * 4], [{"id": 11, "category_id": PERSON}])
    pred = PanopticImage(1, [[0] * 2 + [21] * 8], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (1, 0, 0, 4 / 6)


@pytest.mark.parametrize("pred_pixels, matched", [(5, False), (6, True)])
def test_iou_of_exactly_one_half_is_not_a_match(make_case, capsys, pred_pixels, matched):
    # GT A (car) on pixels 0-9; prediction P (car) on the first pred_pixels pixels, the rest void.
    # 5 pixels: IoU = 5 / (5 + 10 - 5) = 0.5, not > 0.5 -> A is an FN and P an FP (P is not on void).
    # 6 pixels: IoU = 6 / 10 = 0.6 -> TP.
    gt = PanopticImage(1, [[11] * 10], [{"id": 11, "category_id": CAR}])
    pred = PanopticImage(1, [[21] * pred_pixels + [0] * (10 - pred_pixels)], [{"id": 21, "category_id": CAR}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    expected = (1, 0, 0, 0.6) if matched else (0, 1, 1, 0.0)
    assert counts(result, CAR) == expected


def test_categories_must_be_equal_to_match(make_case, capsys):
    # GT A (person) and prediction P (car) on the same 10 pixels: IoU 1 but different categories,
    # so A is a person FN and P a car FP.
    gt = PanopticImage(1, [[11] * 10], [{"id": 11, "category_id": PERSON}])
    pred = PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": CAR}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (0, 0, 1, 0.0)
    assert counts(result, CAR) == (0, 1, 0, 0.0)


def test_stuff_segments_match_like_things(make_case, capsys):
    # GT grass on pixels 0-7, sky on 8-9; prediction grass on 0-6 and sky on 7-9.
    # grass: IoU 7/8 -> TP. sky: inter 2, union 3 + 2 - 2 = 3, IoU 2/3 -> TP.
    gt = PanopticImage(1, [[11] * 8 + [12] * 2], [{"id": 11, "category_id": GRASS}, {"id": 12, "category_id": SKY}])
    pred = PanopticImage(1, [[21] * 7 + [22] * 3], [{"id": 21, "category_id": GRASS}, {"id": 22, "category_id": SKY}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, GRASS) == (1, 0, 0, 7 / 8)
    assert counts(result, SKY) == (1, 0, 0, 2 / 3)


def test_crowd_gt_is_never_a_true_positive(make_case, capsys):
    # Crowd C (person) and prediction P (person) on the same 10 pixels: crowd is skipped in matching,
    # so no TP; C is not an FN; P lies entirely (10/10 > 0.5) on the crowd of its category -> not an FP.
    gt = PanopticImage(1, [[11] * 10], [{"id": 11, "category_id": PERSON, "iscrowd": 1}])
    pred = PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (0, 0, 0, 0.0)


def test_unpredicted_crowd_gt_is_not_a_false_negative(make_case, capsys):
    # Crowd C (person) on pixels 0-4, A (person) on 5-9; empty prediction apart from the anchors.
    # A is an FN, C is not.
    gt = PanopticImage(1, [[11] * 5 + [12] * 5], [{"id": 11, "category_id": PERSON, "iscrowd": 1},
                                                  {"id": 12, "category_id": PERSON}])
    pred = PanopticImage(1, [[0] * 10], [])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (0, 0, 1, 0.0)


@pytest.mark.parametrize("n_void, n_crowd, crowd_category, false_positive", [
    (3, 3, PERSON, False),  # (3 void + 3 crowd) / 10 = 0.6 > 0.5: ignored
    (2, 3, PERSON, True),   # (2 + 3) / 10 = 0.5, not > 0.5: an FP
    (3, 3, CAR, True),      # a crowd of another category does not count: 3 / 10
    (6, 0, None, False),    # void alone: 6 / 10
    (5, 0, None, True),     # void alone: 5 / 10
    (0, 6, PERSON, False),  # crowd alone: 6 / 10
])
def test_unmatched_prediction_on_void_and_crowd(make_case, capsys, n_void, n_crowd, crowd_category,
                                                false_positive):
    # Prediction P (person) on pixels 0-9. GT: n_void void pixels, then n_crowd pixels of a crowd of
    # crowd_category, then B (car) on the rest. P matches nothing (B is a car), so B is a car FN and
    # P an FP unless more than half of it lies on void + the crowd of its own category.
    n_rest = 10 - n_void - n_crowd
    gt_segments = [{"id": 13, "category_id": CAR}]
    if n_crowd:
        gt_segments.insert(0, {"id": 12, "category_id": crowd_category, "iscrowd": 1})
    gt = PanopticImage(1, [[0] * n_void + [12] * n_crowd + [13] * n_rest], gt_segments)
    pred = PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (0, int(false_positive), 0, 0.0)
    assert counts(result, CAR) == (0, 0, 1, 0.0)


@pytest.mark.parametrize("crowd_order, false_positive", [([11, 12], True), ([12, 11], False)])
def test_only_the_last_crowd_of_a_category_excuses_predictions(make_case, capsys, crowd_order, false_positive):
    # Crowds C1 (id 11) on pixels 0-5 and C2 (id 12) on 6-9, both person; prediction P (person) on 0-5.
    # panopticapi keeps one crowd per category, the last in segments_info order:
    # [C1, C2] -> C2, which P does not touch: 0/6 ignored -> FP.  [C2, C1] -> C1: 6/6 ignored -> no FP.
    segments = {11: {"id": 11, "category_id": PERSON, "iscrowd": 1},
                12: {"id": 12, "category_id": PERSON, "iscrowd": 1}}
    gt = PanopticImage(1, [[11] * 6 + [12] * 4], [segments[i] for i in crowd_order])
    pred = PanopticImage(1, [[21] * 6 + [0] * 4], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (0, int(false_positive), 0, 0.0)


def test_unlisted_gt_ids_never_match_and_are_not_void(make_case, capsys):
    # GT A (person) on pixels 0-3; id 77, absent from segments_info, on 4-9. Prediction P (person) on 0-5.
    # inter = 4, P on void = 0 (77 is not void): union = 6 + 4 - 4 - 0 = 6, IoU = 4/6 -> TP.
    # (Were 77 void, the union would be 4 and the IoU 1.)
    # Prediction Q (person) on 6-9 lies on id 77 only: it matches nothing and is not on void -> FP.
    gt = PanopticImage(1, [[11] * 4 + [77] * 6], [{"id": 11, "category_id": PERSON}])
    pred = PanopticImage(1, [[21] * 6 + [22] * 4], [{"id": 21, "category_id": PERSON},
                                                    {"id": 22, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (1, 1, 0, 4 / 6)


def test_gt_segment_absent_from_png_is_a_false_negative(make_case, capsys):
    # segments_info lists A (person, area 0) that has no pixel, and B (car) on pixels 0-9, predicted exactly.
    gt = PanopticImage(1, [[12] * 10], [{"id": 11, "category_id": PERSON}, {"id": 12, "category_id": CAR}])
    pred = PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": CAR}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (0, 0, 1, 0.0)
    assert counts(result, CAR) == (1, 0, 0, 1.0)


def test_empty_prediction_gives_only_false_negatives(make_case, capsys):
    # No anchors: GT person A, car B and grass S; the prediction is all void with no segment.
    # Every GT segment is an FN: person, car and grass each have fn = 1 and PQ 0; n = 3 (2 things, 1 stuff).
    gt = PanopticImage(1, [[11] * 3 + [12] * 3 + [13] * 4],
                       [{"id": 11, "category_id": PERSON}, {"id": 12, "category_id": CAR},
                        {"id": 13, "category_id": GRASS}], anchors=False)
    pred = PanopticImage(1, [[0] * 10], [], anchors=False)
    result = evaluate_both(make_case([gt], [pred]), capsys)
    for category in (PERSON, CAR, GRASS):
        assert counts(result, category) == (0, 0, 1, 0.0)
    assert (result.groups["All"].pq, result.groups["All"].n) == (0.0, 3)
    assert (result.groups["Things"].n, result.groups["Stuff"].n) == (2, 1)


def test_duplicate_prediction_ids_last_entry_wins(make_case, capsys):
    # Prediction id 21 is listed twice, first as a car then as a person; the last entry wins, so the
    # person P on pixels 0-9 matches GT A (person) with IoU 1. No car FP.
    gt = PanopticImage(1, [[11] * 10], [{"id": 11, "category_id": PERSON}])
    pred = PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": CAR}, {"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (1, 0, 0, 1.0)
    assert counts(result, CAR) == (0, 0, 0, 0.0)


def test_duplicate_gt_ids_last_entry_wins(make_case, capsys):
    # GT id 11 is listed first as a crowd car, then as a person: it is a person (not crowd), so the
    # prediction P (person) on the same pixels is a TP with IoU 1.
    gt = PanopticImage(1, [[11] * 10], [{"id": 11, "category_id": CAR, "iscrowd": 1},
                                        {"id": 11, "category_id": PERSON, "iscrowd": 0}])
    pred = PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (1, 0, 0, 1.0)
    assert counts(result, CAR) == (0, 0, 0, 0.0)


def test_duplicate_gt_id_keeps_the_position_of_its_first_entry(make_case, capsys):
    # segments_info: [C1 (id 11), C2 (id 12), C1 again], all person crowds. In panopticapi's dict, C1 keeps
    # its first position, so the last crowd of the category is C2, not C1.
    # Prediction P (person) on C1's pixels 0-5 touches C2 nowhere: 0/6 ignored -> FP.
    c1 = {"id": 11, "category_id": PERSON, "iscrowd": 1}
    c2 = {"id": 12, "category_id": PERSON, "iscrowd": 1}
    gt = PanopticImage(1, [[11] * 6 + [12] * 4], [c1, c2, c1])
    pred = PanopticImage(1, [[21] * 6 + [0] * 4], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (0, 1, 0, 0.0)


def test_predictions_are_matched_by_image_id_not_position(make_case, capsys):
    # Image 1: GT A (person) on 0-9, prediction P (person) on 0-9 -> person TP, IoU 1.
    # Image 2: GT B (car) on 0-9, prediction Q (car) on 0-4 -> IoU 0.5 -> car FP and FN.
    # The prediction JSON lists image 2 first, under other file names; pairing by position would
    # instead give a person FN and FP, a car FN and FP, and no TP.
    gts = [PanopticImage(1, [[11] * 10], [{"id": 11, "category_id": PERSON}]),
           PanopticImage(2, [[12] * 10], [{"id": 12, "category_id": CAR}])]
    preds = [PanopticImage(2, [[22] * 5 + [0] * 5], [{"id": 22, "category_id": CAR}], file_name="pred_b.png"),
             PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": PERSON}], file_name="pred_a.png")]
    result = evaluate_both(make_case(gts, preds), capsys)
    assert counts(result, PERSON) == (1, 0, 0, 1.0)
    assert counts(result, CAR) == (0, 1, 1, 0.0)
    assert counts(result, ANCHOR_THING) == (2, 0, 0, 2.0)


def test_extra_prediction_images_are_ignored(make_case, capsys):
    # The prediction JSON also has an image 5 the GT does not have: it is never read.
    gts = [PanopticImage(1, [[11] * 10], [{"id": 11, "category_id": PERSON}])]
    preds = [PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": PERSON}]),
             PanopticImage(5, [[31] * 10], [{"id": 31, "category_id": CAR}])]
    case = make_case(gts, preds)
    (case.pred_folder / "5.png").unlink()
    result = evaluate_both(case, capsys)
    assert counts(result, PERSON) == (1, 0, 0, 1.0)
    assert counts(result, CAR) == (0, 0, 0, 0.0)


def test_one_prediction_can_match_only_one_gt(make_case, capsys):
    # GT A (person) on 0-5 and B (person) on 6-9; prediction P (person) on 0-9.
    # A: IoU 6/10 -> TP; B: IoU 4/10 -> FN. P is matched, so not an FP.
    gt = PanopticImage(1, [[11] * 6 + [12] * 4], [{"id": 11, "category_id": PERSON}, {"id": 12, "category_id": PERSON}])
    pred = PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (1, 0, 1, 0.6)


def test_gt_area_is_taken_from_the_json(make_case, capsys):
    # GT A (person) has 4 pixels (0-3) but its JSON area says 6; prediction P (person) on 0-3.
    # union = 4 + 6 - 4 - 0 = 6, IoU = 4/6 (with the pixel count it would be 1).
    gt = PanopticImage(1, [[11] * 4 + [0] * 6], [{"id": 11, "category_id": PERSON, "area": 6}])
    pred = PanopticImage(1, [[21] * 4 + [0] * 6], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (1, 0, 0, 4 / 6)


def test_segment_ids_use_all_three_channels(make_case, capsys):
    # Ids above 2**16 exercise the blue channel: GT A = 0x0A0B0C on 0-5, B = 0xFFFFFF on 6-9;
    # predictions 0x010000 (A's pixels) and 0x000100 (B's pixels), all persons -> 2 TPs with IoU 1.
    a, b, p, q = 0x0A0B0C, 0xFFFFFF, 0x010000, 0x000100
    gt = PanopticImage(1, [[a] * 6 + [b] * 4], [{"id": a, "category_id": PERSON}, {"id": b, "category_id": PERSON}])
    pred = PanopticImage(1, [[p] * 6 + [q] * 4], [{"id": p, "category_id": PERSON}, {"id": q, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (2, 0, 0, 2.0)


def test_string_image_ids(make_case, capsys):
    # Cityscapes-style string image ids: same scoring as the void test above (IoU 4/6).
    gt = PanopticImage("frankfurt_000000_000019", [[11] * 6 + [0] * 4], [{"id": 11, "category_id": PERSON}])
    pred = PanopticImage("frankfurt_000000_000019", [[0] * 2 + [21] * 8], [{"id": 21, "category_id": PERSON}])
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (1, 0, 0, 4 / 6)


def test_per_class_scores_follow_panopticapis_formulas(make_case, capsys):
    # Row 0: GT A (person) on 0-5 and B (person) on 6-9; prediction P (person) on 0-4, the rest void.
    #   A-P: inter 5, union 5 + 6 - 5 = 6, IoU 5/6 -> TP; B -> FN.
    # Row 1: GT S (grass) everywhere; prediction Q (person) everywhere -> person FP, grass FN.
    # person: tp 1, fp 1, fn 1: PQ = (5/6) / (1 + 0.5 + 0.5) = 5/12, SQ = 5/6, RQ = 1/2.
    gt = PanopticImage(1, [[11] * 6 + [12] * 4, [13] * 10],
                       [{"id": 11, "category_id": PERSON}, {"id": 12, "category_id": PERSON},
                        {"id": 13, "category_id": GRASS}])
    pred = PanopticImage(1, [[21] * 5 + [0] * 5, [22] * 10],
                         [{"id": 21, "category_id": PERSON}, {"id": 22, "category_id": PERSON}])
    case = make_case([gt], [pred])
    result = evaluate_both(case, capsys)
    assert counts(result, PERSON) == (1, 1, 1, 5 / 6)
    assert counts(result, GRASS) == (0, 0, 1, 0.0)
    (person,) = [c for c in result.classes if c.category_id == PERSON]
    assert (person.pq, person.sq, person.rq) == ((5 / 6) / 2.0, 5 / 6, 1 / 2.0)
    per_class = fastpq.pq_compute(case.gt_json, case.pred_json)["per_class"]
    capsys.readouterr()
    assert per_class[PERSON] == {"pq": person.pq, "sq": person.sq, "rq": person.rq}
    assert per_class[GRASS] == {"pq": 0.0, "sq": 0, "rq": 0.0}


def test_rgba_pngs_ignore_alpha(coco_like, tmp_path, capsys):
    """Three generated COCO-like images rewritten as RGBA with random alpha (0 included) score as the RGB ones."""
    gt = json.loads(coco_like.gt_json.read_text())
    pred = json.loads(coco_like.pred_json.read_text())
    gt = dict(gt, annotations=gt["annotations"][:3])
    rng = np.random.default_rng(5)
    image_ids = {ann["image_id"] for ann in gt["annotations"]}
    for name, content, source in (("gt", gt, coco_like.gt_folder), ("pred", pred, coco_like.pred_folder)):
        (tmp_path / name).mkdir()
        for ann in content["annotations"]:
            if ann["image_id"] not in image_ids:
                continue
            id_map = synthetic.read_png(source / ann["file_name"])
            write_id_png(tmp_path / name / ann["file_name"], id_map, "RGBA",
                         alpha=rng.integers(0, 256, size=id_map.shape))
        (tmp_path / f"{name}.json").write_text(json.dumps(content))
    with Image.open(tmp_path / "pred" / gt["annotations"][0]["file_name"]) as image:
        assert image.mode == "RGBA"
    rgba = fastpq.evaluate(tmp_path / "gt.json", tmp_path / "pred.json")
    rgb = fastpq.evaluate(tmp_path / "gt.json", tmp_path / "pred.json", coco_like.gt_folder, coco_like.pred_folder)
    assert rgba.classes == rgb.classes
    assert sum(c.tp for c in rgb.classes) > 0
    expected = run_reference(tmp_path / "gt.json", tmp_path / "pred.json")
    assert_results_close(fastpq.pq_compute(tmp_path / "gt.json", tmp_path / "pred.json"), expected)
    capsys.readouterr()


def test_rgba_hand_made_case(make_case, capsys):
    # The void scenario with RGBA PNGs on both sides: IoU 4/6 as with RGB.
    gt = PanopticImage(1, [[11] * 6 + [0] * 4], [{"id": 11, "category_id": PERSON}], mode="RGBA")
    pred = PanopticImage(1, [[0] * 2 + [21] * 8], [{"id": 21, "category_id": PERSON}], mode="RGBA")
    result = evaluate_both(make_case([gt], [pred]), capsys)
    assert counts(result, PERSON) == (1, 0, 0, 4 / 6)
