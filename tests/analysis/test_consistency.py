"""Annotator consistency (fastpq.analysis.consistency): a hand-computed case with crowd and void on
both sides, and the crowd-as-void rule checked against panopticapi on PNGs where those pixels are
really set to void."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import (ANCHOR_STUFF, ANCHOR_THING, CAR, PERSON, PanopticImage, assert_results_close, run_reference_single_process,
                      write_panoptic)
from fastpq import analysis, synthetic
from fastpq.errors import FastPQError, ImageSetMismatchError

TOL = 1e-12
SMALL = synthetic.DatasetSpec("small", 96, 128, 12, 6, empty_gt_segment_prob=0.0, unlisted_gt_id_prob=0.0)


def hand_annotations(root: Path) -> "tuple[Path, Path]":
    """Two annotations of one 4 x 8 image (plus the anchor rows, identical in both).

    Columns:  0  1  2  3 | 4  5 | 6  7
    A:        person (1)  | car crowd (2) | void, car (5)
    B:        person (1), void | car (4) | car crowd (3)
    """
    a = np.zeros((4, 8), np.uint32)
    a[:, 0:4] = 1
    a[:, 4:6] = 2
    a[:, 7] = 5
    b = np.zeros((4, 8), np.uint32)
    b[:, 0:3] = 1
    b[:, 4:6] = 4
    b[:, 6:8] = 3
    a_segments = [{"id": 1, "category_id": PERSON}, {"id": 2, "category_id": CAR, "iscrowd": 1},
                  {"id": 5, "category_id": CAR}]
    b_segments = [{"id": 1, "category_id": PERSON}, {"id": 4, "category_id": CAR},
                  {"id": 3, "category_id": CAR, "iscrowd": 1}]
    a_json = write_panoptic(root, "a", [PanopticImage(7, a, a_segments)], fill_gt_fields=True)
    b_json = write_panoptic(root, "b", [PanopticImage(7, b, b_segments)], fill_gt_fields=True)
    return a_json, b_json


def test_hand_computed_consistency_with_crowd_and_void_on_both_sides(tmp_path):
    a_json, b_json = hand_annotations(tmp_path)
    c = analysis.consistency(a_json, b_json)
    # B against A: person 12/16 = .75 (TP); A's car 5 (column 7) falls on B's crowd, which is void as a
    # prediction: FN; B's car 4 lies on A's car crowd: excused. Categories: person .75, car 0, anchors 1, 1.
    ab = c.a_vs_b
    assert ab.groups["All"].pq == pytest.approx(2.75 / 4, abs=TOL)
    assert ab.groups["All"].rq == pytest.approx(3 / 4, abs=TOL)
    assert ab.groups["Things"].pq == pytest.approx(1.75 / 3, abs=TOL)
    assert ab.groups["Stuff"].pq == 1.0
    # A against B: person 12 / (16 + 12 - 12 - 4 pixels of A's person on B's void) = 1 (TP); B's car 4
    # falls on A's crowd, void as a prediction: FN; A's car 5 lies on B's car crowd: excused.
    ba = c.b_vs_a
    assert ba.groups["All"].pq == pytest.approx(3 / 4, abs=TOL)
    assert ba.groups["Things"].pq == pytest.approx(2 / 3, abs=TOL)
    assert c.symmetric["All"]["pq"] == pytest.approx((2.75 / 4 + 3 / 4) / 2, abs=TOL)
    assert c.symmetric["Things"]["pq"] == pytest.approx(0.625, abs=TOL)
    assert c.symmetric["All"]["sq"] == pytest.approx((ab.groups["All"].sq + ba.groups["All"].sq) / 2, abs=TOL)
    assert sorted((r["category_id"], r["tp"], r["fp"], r["fn"]) for r in ab.per_image) == [
        (PERSON, 1, 0, 0), (CAR, 0, 0, 1), (ANCHOR_THING, 1, 0, 0), (ANCHOR_STUFF, 1, 0, 0)]

    # Crowd kept as an ordinary predicted segment: B's crowd (columns 6-7, half on A's void) matches A's
    # car 5 with IoU 4 / (8 + 4 - 4 - 4) = 1; A's crowd matches B's car 4 with IoU 1.
    s = analysis.consistency(a_json, b_json, prediction_crowd="segment")
    assert s.a_vs_b.groups["All"].pq == pytest.approx(3.75 / 4, abs=TOL)
    assert s.b_vs_a.groups["All"].pq == 1.0


def test_identical_annotations_are_perfectly_consistent(tmp_path):
    a_json, _ = hand_annotations(tmp_path)
    c = analysis.consistency(a_json, a_json, n_resamples=50)
    for name in ("All", "Things", "Stuff"):
        for m in ("pq", "sq", "rq"):
            assert c.symmetric[name][m] == 1.0
            iv = c.intervals["symmetric"][name][m]
            assert (iv.estimate, iv.lower, iv.upper) == (1.0, 1.0, 1.0)


def void_crowd_copy(json_path: Path, root: Path, name: str) -> Path:
    """A copy of an annotation set with every crowd segment's pixels set to void (0) in the PNG and
    the segment removed from the JSON: what the "void" rule must score like."""
    data = json.loads(json_path.read_text())
    folder = root / name
    folder.mkdir(parents=True)
    for ann in data["annotations"]:
        id_map = synthetic.read_png(json_path.with_suffix("") / ann["file_name"])
        crowd = [s["id"] for s in ann["segments_info"] if s.get("iscrowd") == 1]
        id_map[np.isin(id_map, crowd)] = 0
        synthetic.write_png(folder / ann["file_name"], id_map)
        ann["segments_info"] = [s for s in ann["segments_info"] if s.get("iscrowd") != 1]
    out = root / f"{name}.json"
    out.write_text(json.dumps(data))
    return out


def as_annotation_set(paths: synthetic.DatasetPaths, root: Path) -> Path:
    """The generated prediction as a second annotation set: GT fields added (area from the PNG, every
    fourth thing segment a crowd region), in the same folder."""
    data = json.loads(Path(paths.pred_json).read_text())
    things = {c["id"] for c in data["categories"] if c["isthing"] == 1}
    for ann in data["annotations"]:
        id_map = synthetic.read_png(Path(paths.pred_folder) / ann["file_name"])
        ids, counts = np.unique(id_map, return_counts=True)
        area = dict(zip(ids.tolist(), counts.tolist()))
        k = 0
        for s in ann["segments_info"]:
            s["area"] = area.get(s["id"], 0)
            crowd = s["category_id"] in things and k % 4 == 0
            k += s["category_id"] in things
            s["iscrowd"] = 1 if crowd else 0
    out = root / "pred.json"  # next to the prediction folder, so the default folder is found
    out.write_text(json.dumps(data))
    return out


@pytest.fixture(scope="module")
def two_annotations(tmp_path_factory) -> "tuple[Path, Path]":
    root = tmp_path_factory.mktemp("annotators")
    paths = synthetic.generate_dataset(root, SMALL, 12, seed=21)
    return Path(paths.gt_json), as_annotation_set(paths, root)


def test_crowd_as_void_equals_panopticapi_on_voided_pngs(two_annotations, tmp_path):
    a_json, b_json = two_annotations
    crowd_in_b = sum(s["iscrowd"] for ann in json.loads(b_json.read_text())["annotations"]
                     for s in ann["segments_info"])
    assert crowd_in_b > 0
    c = analysis.consistency(a_json, b_json)
    assert_results_close(c.a_vs_b.to_dict(),
                         run_reference_single_process(a_json, void_crowd_copy(b_json, tmp_path, "b_void")))
    assert_results_close(c.b_vs_a.to_dict(),
                         run_reference_single_process(b_json, void_crowd_copy(a_json, tmp_path, "a_void")))
    # The per-image rows of the void rule sum to its totals (the crowd category is dropped from both).
    for result in (c.a_vs_b, c.b_vs_a):
        for key in ("tp", "fp", "fn"):
            assert sum(r[key] for r in result.per_image) == sum(getattr(k, key) for k in result.classes)
    # "segment" is panopticapi given the other annotation file as it is.
    s = analysis.consistency(a_json, b_json, prediction_crowd="segment")
    assert_results_close(s.a_vs_b.to_dict(), run_reference_single_process(a_json, b_json))
    assert_results_close(s.b_vs_a.to_dict(), run_reference_single_process(b_json, a_json))
    assert s.a_vs_b.pq != c.a_vs_b.pq


def test_consistency_bootstrap_uses_the_same_images_for_both_directions(two_annotations):
    a_json, b_json = two_annotations
    c = analysis.consistency(a_json, b_json, n_resamples=300, seed=4)
    ab = analysis.bootstrap(c.a_vs_b, 300, seed=4)
    # B lists its images in another order; both directions are resampled in A's order.
    a_order = [i for i, _ in c.a_vs_b.images]
    assert a_order != [i for i, _ in c.b_vs_a.images]
    ba = analysis.bootstrap(analysis.ImageStats.from_result(c.b_vs_a).aligned_to(a_order, "b"), 300, seed=4)
    for name in ("All", "Things", "Stuff"):
        for m in ("pq", "sq", "rq"):
            assert c.intervals["a_vs_b"][name][m] == ab.intervals[name][m]
            assert c.intervals["b_vs_a"][name][m] == ba.intervals[name][m]
            sym = c.intervals["symmetric"][name][m]
            assert sym.estimate == pytest.approx(c.symmetric[name][m], abs=TOL)
            assert sym.lower <= sym.estimate <= sym.upper
    stats_ab = analysis.ImageStats.from_result(c.a_vs_b)
    stats_ba = analysis.ImageStats.from_result(c.b_vs_a).aligned_to(a_order, "b")
    sab, sba = analysis.resampled_scores([stats_ab, stats_ba], 300, 4)
    mean = (sab["All"]["pq"] + sba["All"]["pq"]) / 2
    assert c.intervals["symmetric"]["All"]["pq"].lower == pytest.approx(np.percentile(mean, 2.5), abs=TOL)


def test_consistency_refuses_different_images_and_bad_rules(tmp_path, two_annotations):
    a_json, b_json = two_annotations
    data = json.loads(b_json.read_text())
    data["annotations"].append(dict(data["annotations"][0], image_id=999999))
    extra = b_json.parent / "pred_extra.json"
    extra.write_text(json.dumps(data))
    with pytest.raises(ImageSetMismatchError, match="999999"):
        analysis.consistency(a_json, extra, None, b_json.with_suffix(""))
    with pytest.raises(ImageSetMismatchError, match="999999"):
        analysis.consistency(extra, a_json, b_json.with_suffix(""), None)
    with pytest.raises(FastPQError, match="prediction_crowd"):
        analysis.consistency(a_json, b_json, prediction_crowd="ignore")


def test_real_coco_annotations_against_themselves(coco_sample, tmp_path):
    gt_json = coco_sample / "panoptic_examples.json"
    folder = coco_sample / "panoptic_examples"
    c = analysis.consistency(gt_json, gt_json, folder, folder, n_resamples=20)
    for name in ("All", "Things", "Stuff"):
        assert c.symmetric[name]["pq"] == 1.0
    assert_results_close(c.a_vs_b.to_dict(), run_reference_single_process(
        gt_json, void_crowd_copy(gt_json, tmp_path, "voided"), folder, tmp_path / "voided"))
    rows = analysis.per_image_scores(c.a_vs_b)
    assert len(rows) == 2 and all(r["pq"] == 1.0 and r["fp"] == r["fn"] == 0 for r in rows)
