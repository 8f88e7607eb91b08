"""Amodal region consistency (fastpq.amodal.consistency) against a numpy oracle written from the
paper's definition (tests/amodal_consistency_oracle.py), on generated BSDS-like data and on hand
cases whose F is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pycocotools import mask as mask_utils

import amodal_consistency_oracle as oracle
import fastpq
from fastpq.amodal.consistency import region_consistency
from fastpq.amodal.multi import load_multi_annotator
from fastpq.synthetic.bsds import generate_bsds_dataset

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def bsds(tmp_path_factory):
    return generate_bsds_dataset(tmp_path_factory.mktemp("bsds"), n_images=8, height=96, width=128, seed=3)


def assert_equal_to_oracle(result, rows):
    assert result.n_pairs == len(rows)
    for column in ("image", "x", "y", "regions_x", "regions_y", "matched_x", "matched_y"):
        assert result.pairs[column].tolist() == [row[column] for row in rows], column
    for column in ("precision", "recall", "f"):
        got = result.pairs[column]
        expected = np.array([row[column] for row in rows], dtype=np.float64)
        assert np.array_equal(got, expected, equal_nan=True), column  # bit for bit, not approximately
    assert result.median == oracle.oracle_median(rows) or (math.isnan(result.median) and
                                                          math.isnan(oracle.oracle_median(rows)))


@pytest.mark.parametrize("use_visible", [False, True])
@pytest.mark.parametrize("matching", ["bipartite", "greedy", "any"])
def test_generated_dataset_equals_oracle(bsds, use_visible, matching):
    result = region_consistency(bsds, use_visible=use_visible, matching=matching, workers=2)
    assert_equal_to_oracle(result, oracle.oracle_pairs(bsds, use_visible, 0.5, matching))


@pytest.mark.parametrize("threshold", [0.3, 0.75, 1.0])
def test_other_thresholds_equal_oracle(bsds, threshold):
    result = region_consistency(bsds, threshold=threshold)
    assert_equal_to_oracle(result, oracle.oracle_pairs(bsds, False, threshold, "bipartite"))


def test_generated_images_have_five_to_seven_annotators_and_disagree(bsds):
    images = load_multi_annotator(bsds)
    assert all(5 <= len(im.annotations) <= 7 for im in images)
    result = region_consistency(bsds)
    assert result.n_pairs == sum(len(im.annotations) * (len(im.annotations) - 1) for im in images)
    f = result.defined_f()
    assert 0 < f.min() < 1 and f.max() <= 1 and 0.3 < result.median < 1  # noisy, but mostly consistent


def test_workers_do_not_change_the_result(bsds):
    a, b = region_consistency(bsds, workers=1), region_consistency(bsds, workers=3)
    assert all(np.array_equal(a.pairs[k], b.pairs[k], equal_nan=True) for k in a.pairs)


# ---------------------------------------------------------------------------
# Hand cases: 1 x 12 images, regions given as pixel ranges


def rle(start: int, stop: int, width: int = 12) -> dict:
    row = np.zeros((1, width), dtype=np.uint8)
    row[0, start:stop] = 1
    encoded = mask_utils.encode(np.asfortranarray(row))
    return {"size": [1, width], "counts": encoded["counts"].decode("ascii")}


def region(start: int, stop: int, visible=None) -> dict:
    out = {"segmentation": rle(start, stop), "occlude_rate": 0.0, "isStuff": 0, "order": 1, "name": "r"}
    if visible is not None:
        out["visible_mask"] = rle(*visible)
        out["occlude_rate"] = 0.5
    return out


def write(tmp_path, annotations, name="hand.json"):
    gt = {"images": [{"id": 1, "height": 1, "width": 12}],
          "annotations": [{"id": k + 1, "image_id": 1, "author": f"a{k}", "regions": regions}
                          for k, regions in enumerate(annotations)]}
    path = tmp_path / name
    path.write_text(json.dumps(gt))
    return path


def f_of(result, x, y):
    k = [i for i in range(result.n_pairs) if result.pairs["x"][i] == x and result.pairs["y"][i] == y]
    return float(result.pairs["f"][k[0]])


def test_hand_two_of_three_matched(tmp_path):
    # X: [0,4) and [6,10); Y: the same two plus [10,12): P = 1, R = 2/3, F = 0.8.
    path = write(tmp_path, [[region(0, 4), region(6, 10)], [region(0, 4), region(6, 10), region(10, 12)]])
    result = region_consistency(path)
    assert f_of(result, 0, 1) == pytest.approx(0.8, abs=1e-15)
    assert f_of(result, 1, 0) == pytest.approx(0.8, abs=1e-15)
    assert result.median == pytest.approx(0.8, abs=1e-15)


def test_hand_one_to_one_against_any(tmp_path):
    # Two overlapping amodal regions of X both have IoU >= 0.5 with Y's one region.
    path = write(tmp_path, [[region(0, 8), region(1, 8)], [region(0, 7)]])
    assert f_of(region_consistency(path), 0, 1) == pytest.approx(2 / 3, abs=1e-15)  # P 1/2, R 1
    assert f_of(region_consistency(path, matching="any"), 0, 1) == 1.0


def test_hand_greedy_against_bipartite(tmp_path):
    # IoU(x1, y1) = 0.9, IoU(x2, y1) = 2/3, IoU(x1, y2) = 0.6, IoU(x2, y2) = 1/3: greedy takes
    # (x1, y1) and is left with nothing (F 1/2); the maximum matching has both pairs (F 1).
    path = write(tmp_path, [[region(0, 10), region(3, 9)], [region(0, 9), region(0, 6)]])
    assert f_of(region_consistency(path, matching="greedy"), 0, 1) == 0.5
    assert f_of(region_consistency(path), 0, 1) == 1.0


def test_hand_threshold_is_inclusive(tmp_path):
    path = write(tmp_path, [[region(0, 4)], [region(0, 2)]])  # IoU exactly 0.5
    assert f_of(region_consistency(path), 0, 1) == 1.0
    assert f_of(region_consistency(path, threshold=0.6), 0, 1) == 0.0


def test_hand_visible_masks(tmp_path):
    # Amodal masks agree; X's region is mostly hidden, so its visible mask [0,2) misses Y's [0,6).
    path = write(tmp_path, [[region(0, 6, visible=(0, 2))], [region(0, 6)]])
    assert f_of(region_consistency(path), 0, 1) == 1.0
    assert f_of(region_consistency(path, use_visible=True), 0, 1) == 0.0


def test_hand_empty_annotation_has_no_f_and_three_annotators_give_six_pairs(tmp_path):
    path = write(tmp_path, [[region(0, 4)], [], [region(0, 4)]])
    result = region_consistency(path)
    assert result.n_pairs == 6 and result.n_undefined == 4
    assert result.median == 1.0
    assert np.isnan(f_of(result, 0, 1)) and np.isnan(f_of(result, 1, 2))


# ---------------------------------------------------------------------------
# Reading multi-annotator files: errors name the image and the annotation


def test_reader_keeps_every_annotation_with_author_and_constraint(bsds):
    data = json.loads(bsds.read_text())
    images = load_multi_annotator(data)
    by_id = {im.image_id: im for im in images}
    for ann in data["annotations"]:
        assert ann["id"] in [a.annotation_id for a in by_id[ann["image_id"]].annotations]
    first = images[0].annotations[0]
    assert first.author.startswith("annotator-") and isinstance(first.depth_constraint, str)
    assert len(first.regions.region_masks) == len(data["annotations"][0]["regions"])


@pytest.mark.parametrize("change, error, message", [
    (lambda gt: gt["annotations"][1].update(regions={"a": 1}), fastpq.AnnotationTypeError, "annotation 2"),
    (lambda gt: gt["annotations"][1]["regions"].__setitem__(0, 5), fastpq.AnnotationTypeError,
     "region 0 of annotation 2"),
    (lambda gt: gt["annotations"][1].update(image_id=99), fastpq.AnnotationError, "image 99"),
    (lambda gt: gt["annotations"][1]["regions"][0].pop("segmentation"), fastpq.AnnotationKeyError,
     "image with ID 1"),
    (lambda gt: gt["annotations"].append({"id": 9, "image_id": 1, "segmentation": rle(0, 2)}),
     fastpq.AnnotationError, "per-instance"),
])
def test_reader_errors(tmp_path, change, error, message):
    gt = json.loads(write(tmp_path, [[region(0, 4)], [region(0, 4)]]).read_text())
    change(gt)
    with pytest.raises(error, match=message):
        load_multi_annotator(gt)


def test_strict_refuses_a_second_annotation_by_the_same_author(tmp_path):
    gt = json.loads(write(tmp_path, [[region(0, 4)], [region(0, 4)]]).read_text())
    gt["annotations"][1]["author"] = "a0"
    assert len(load_multi_annotator(gt)[0].annotations) == 2
    with pytest.raises(fastpq.StrictModeError, match="author 'a0'"):
        load_multi_annotator(gt, strict=True)


def test_bad_options_are_refused(bsds):
    with pytest.raises(fastpq.FastPQError, match="matching"):
        region_consistency(bsds, matching="hungarian")
    with pytest.raises(fastpq.FastPQError, match="threshold"):
        region_consistency(bsds, threshold=0)


# ---------------------------------------------------------------------------
# Bootstrap over images and the command line


def test_bootstrap_resamples_images_with_their_pairs(bsds):
    from fastpq.analysis import resample_indices
    from fastpq.analysis.amodal_consistency import bootstrap_consistency

    result = region_consistency(bsds)
    rows = oracle.oracle_pairs(bsds)
    by_image = {}
    for row in rows:
        by_image.setdefault(row["image"], []).append(row["f"])
    samples = [np.median(np.concatenate([by_image[i] for i in drawn]))
               for drawn in resample_indices(len(result.image_ids), 200, 4)]
    lower, upper = np.percentile(samples, [5, 95])
    iv = bootstrap_consistency(result, n_resamples=200, seed=4, ci=0.9)
    assert (iv.estimate, iv.lower, iv.upper, iv.n_nan) == (oracle.oracle_median(rows), lower, upper, 0)
    assert iv.std == pytest.approx(np.std(samples, ddof=1), rel=1e-12)


def test_cli_prints_and_writes_json(bsds, tmp_path, capsys):
    from fastpq.cli import main

    out = tmp_path / "c.json"
    assert main(["amodal-consistency", str(bsds), "--visible", "--bootstrap", "50", "--pairs",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    rows = oracle.oracle_pairs(bsds, use_visible=True)
    assert data["masks"] == "visible" and data["pairs"] == len(rows) == len(data["pair_scores"])
    assert data["median_f"] == oracle.oracle_median(rows)
    assert f"median F {data['median_f']:.4f}" in printed and "95% interval" in printed
    assert data["bootstrap"]["n_resamples"] == 50 and len(data["per_image"]) == 8


def test_cli_bad_file_is_one_line(tmp_path, capsys):
    from fastpq.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [{"id": 1, "height": 1, "width": 2}],
                               "annotations": [{"id": 1, "image_id": 1, "regions": 3}]}))
    assert main(["amodal-consistency", str(bad)]) == 1
    assert "image with ID 1, annotation 1 has 'regions' that is not a list" in capsys.readouterr().err
