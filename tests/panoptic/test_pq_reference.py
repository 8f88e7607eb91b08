"""fastpq against panopticapi on generated and real datasets, and the drop-in surface of pq_compute."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import fastpq
from fastpq import synthetic
from conftest import (assert_results_close, assert_results_equal, counts, run_reference,
                      run_reference_single_process, run_reference_with_output)

DATASETS = ["coco_like", "cityscapes_like"]


@pytest.fixture(params=DATASETS)
def dataset(request) -> synthetic.DatasetPaths:
    return request.getfixturevalue(request.param)


def fastpq_quietly(capsys, *args):
    results = fastpq.pq_compute(*args)
    capsys.readouterr()
    return results


# ---------------------------------------------------------------------------
# Generated datasets


def test_generated_matches_panopticapi(dataset, capsys):
    expected = run_reference(dataset.gt_json, dataset.pred_json)
    actual = fastpq_quietly(capsys, dataset.gt_json, dataset.pred_json)
    assert_results_close(actual, expected, tol=1e-12)


def test_generated_equals_single_process_panopticapi(dataset, capsys):
    expected = run_reference_single_process(dataset.gt_json, dataset.pred_json)
    actual = fastpq_quietly(capsys, dataset.gt_json, dataset.pred_json)
    assert_results_equal(actual, expected)


def test_cityscapes_like_uses_string_image_ids(cityscapes_like):
    # Guards the previous tests: the Cityscapes-like set must exercise string image ids.
    gt = json.loads(cityscapes_like.gt_json.read_text())
    assert all(isinstance(a["image_id"], str) for a in gt["annotations"])


def test_explicit_folders_equal_default_folders(coco_like, capsys):
    expected = run_reference_single_process(coco_like.gt_json, coco_like.pred_json)
    actual = fastpq_quietly(capsys, str(coco_like.gt_json), str(coco_like.pred_json), str(coco_like.gt_folder),
                            str(coco_like.pred_folder))
    assert_results_equal(actual, expected)


# ---------------------------------------------------------------------------
# The real COCO panoptic sample


def _sample_spec(categories, height, width) -> synthetic.DatasetSpec:
    things = tuple(c["id"] for c in categories if c["isthing"] == 1)
    stuff = tuple(c["id"] for c in categories if c["isthing"] != 1)
    return dataclasses.replace(synthetic.COCO_LIKE, name="sample", height=height, width=width,
                               n_categories=len(categories), n_things=len(things), thing_ids=things, stuff_ids=stuff)


def _write_prediction(root: Path, sample: Path, make_segments) -> Path:
    """Writes root/pred.json + root/pred/*.png from make_segments(gt_id_map, gt_segments, categories)."""
    gt = json.loads((sample / "panoptic_examples.json").read_text())
    (root / "pred").mkdir(parents=True)
    annotations = []
    for ann in gt["annotations"]:
        gt_map = synthetic.read_png(sample / "panoptic_examples" / ann["file_name"])
        pred_map, pred_segments = make_segments(gt_map, ann["segments_info"], gt["categories"])
        synthetic.write_png(root / "pred" / ann["file_name"], pred_map)
        annotations.append({"image_id": ann["image_id"], "file_name": ann["file_name"],
                            "segments_info": pred_segments})
    annotations.reverse()  # matched by image_id, not by position
    path = root / "pred.json"
    path.write_text(json.dumps({"annotations": annotations, "categories": gt["categories"]}))
    return path


def test_coco_sample_has_all_coco_categories(coco_sample):
    gt = json.loads((coco_sample / "panoptic_examples.json").read_text())
    assert len(gt["categories"]) == 133


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_sample_perturbed_matches_panopticapi(coco_sample, tmp_path, capsys, seed):
    def perturbed(gt_map, segments, categories):
        spec = _sample_spec(categories, *gt_map.shape)
        return synthetic.perturb(np.random.default_rng(seed), gt_map, segments, spec)

    pred_json = _write_prediction(tmp_path, coco_sample, perturbed)
    gt_json = coco_sample / "panoptic_examples.json"
    actual = fastpq_quietly(capsys, gt_json, pred_json)
    assert_results_close(actual, run_reference(gt_json, pred_json), tol=1e-12)
    assert_results_equal(actual, run_reference_single_process(gt_json, pred_json))


def test_coco_sample_identity_prediction(coco_sample, tmp_path, capsys):
    """The GT itself as prediction: every non-crowd segment is a TP with IoU 1 (the sample's areas equal its
    pixel counts); a crowd segment's prediction is excused only by the last crowd of its category, so an
    earlier crowd of the same category is an FP."""

    def identity(gt_map, segments, categories):
        return gt_map, [{"id": s["id"], "category_id": s["category_id"]} for s in segments]

    pred_json = _write_prediction(tmp_path, coco_sample, identity)
    gt_json = coco_sample / "panoptic_examples.json"
    gt = json.loads(gt_json.read_text())
    tp, fp = Counter(), Counter()
    for ann in gt["annotations"]:
        last_crowd = {s["category_id"]: s["id"] for s in ann["segments_info"] if s["iscrowd"] == 1}
        for s in ann["segments_info"]:
            if s["iscrowd"] != 1:
                tp[s["category_id"]] += 1
            elif last_crowd[s["category_id"]] != s["id"]:
                fp[s["category_id"]] += 1

    result = fastpq.evaluate(gt_json, pred_json)
    for c in gt["categories"]:
        assert counts(result, c["id"]) == (tp[c["id"]], fp[c["id"]], 0, float(tp[c["id"]]))
    assert_results_equal(fastpq_quietly(capsys, gt_json, pred_json), run_reference_single_process(gt_json, pred_json))
    assert_results_close(fastpq_quietly(capsys, gt_json, pred_json), run_reference(gt_json, pred_json))


# ---------------------------------------------------------------------------
# Options of evaluate()


def test_worker_counts_give_identical_results(dataset):
    one = fastpq.evaluate(dataset.gt_json, dataset.pred_json, workers=1)
    two = fastpq.evaluate(dataset.gt_json, dataset.pred_json, workers=2)
    default = fastpq.evaluate(dataset.gt_json, dataset.pred_json)
    many = fastpq.evaluate(dataset.gt_json, dataset.pred_json, workers=7)
    assert one.groups == two.groups == default.groups == many.groups
    assert one.classes == two.classes == default.classes == many.classes


def test_inflate_backends_give_identical_results(dataset):
    if not fastpq.build_info().get("libdeflate"):
        pytest.skip("this fastpq build has no libdeflate")
    zlib = fastpq.evaluate(dataset.gt_json, dataset.pred_json, inflate="zlib")
    libdeflate = fastpq.evaluate(dataset.gt_json, dataset.pred_json, inflate="libdeflate")
    assert zlib.groups == libdeflate.groups
    assert zlib.classes == libdeflate.classes


def test_progress_reporting_does_not_change_results(coco_like):
    calls = []
    with_progress = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json,
                                    progress=lambda done, total: calls.append((done, total)))
    plain = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json)
    assert with_progress.classes == plain.classes
    assert calls[0] == (0, 12) and calls[-1] == (12, 12)


def test_per_image_rows_add_up_to_the_totals(coco_like):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, per_image=True)
    sums = {c.category_id: [0, 0, 0, 0.0] for c in result.classes}
    for row in result.per_image:
        s = sums[row["category_id"]]
        s[0] += row["tp"]
        s[1] += row["fp"]
        s[2] += row["fn"]
        s[3] += row["iou"]
    for c in result.classes:
        assert sums[c.category_id][:3] == [c.tp, c.fp, c.fn]
        assert sums[c.category_id][3] == pytest.approx(c.iou, abs=1e-9)


def test_evaluate_to_dict_equals_pq_compute(dataset, capsys):
    result = fastpq.evaluate(dataset.gt_json, dataset.pred_json)
    assert_results_equal(result.to_dict(), fastpq_quietly(capsys, dataset.gt_json, dataset.pred_json))
    assert (result.pq, result.sq, result.rq) == (result.groups["All"].pq, result.groups["All"].sq,
                                                 result.groups["All"].rq)


# ---------------------------------------------------------------------------
# The drop-in surface: return value and printout


def test_return_dict_has_panopticapis_shape(coco_like, capsys):
    expected = run_reference(coco_like.gt_json, coco_like.pred_json)
    actual = fastpq_quietly(capsys, coco_like.gt_json, coco_like.pred_json)
    assert set(actual) == {"All", "Things", "Stuff", "per_class"}
    categories = json.loads(coco_like.gt_json.read_text())["categories"]
    assert list(actual["per_class"]) == [c["id"] for c in categories] == list(expected["per_class"])
    for name in ("All", "Things", "Stuff"):
        assert list(actual[name]) == list(expected[name]) == ["pq", "sq", "rq", "n"]
        assert type(actual[name]["n"]) is int
    # 12 images do not hold all 133 categories: the absent ones get panopticapi's zeros.
    absent = [c for c, scores in expected["per_class"].items() if scores == {"pq": 0.0, "sq": 0.0, "rq": 0.0}]
    assert absent
    for category_id in absent:
        assert actual["per_class"][category_id] == {"pq": 0.0, "sq": 0.0, "rq": 0.0}


def test_return_dict_key_order_matches_panopticapi(coco_like, capsys):
    # panopticapi inserts per_class right after All: json.dump(results) shows this order.
    expected = run_reference(coco_like.gt_json, coco_like.pred_json)
    actual = fastpq_quietly(capsys, coco_like.gt_json, coco_like.pred_json)
    assert list(actual) == list(expected) == ["All", "per_class", "Things", "Stuff"]


def _report_lines(text: str):
    """The printout without panopticapi's worker-progress lines, blank lines and the timing."""
    skipped = ("Core:", "Number of cores:", "Time elapsed:")
    return [line for line in text.splitlines() if line.strip() and not line.startswith(skipped)]


def test_printout_matches_panopticapi(coco_like, capsys):
    _, expected = run_reference_with_output(coco_like.gt_json, coco_like.pred_json)
    capsys.readouterr()
    fastpq.pq_compute(str(coco_like.gt_json), str(coco_like.pred_json))
    printed = capsys.readouterr().out
    assert _report_lines(printed) == _report_lines(expected)
    table = [line for line in _report_lines(printed) if "|" in line]
    assert [line.split("|")[0].strip() for line in table] == ["", "All", "Things", "Stuff"]
    assert any(line.startswith("Time elapsed:") for line in printed.splitlines())


def test_result_table_is_the_printed_table(coco_like, capsys):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json)
    fastpq.pq_compute(coco_like.gt_json, coco_like.pred_json)
    assert result.table() in capsys.readouterr().out
    assert str(result) == result.table()


# ---------------------------------------------------------------------------
# init_as_panopticapi


@pytest.fixture
def restore_panopticapi_modules():
    names = ("panopticapi", "panopticapi.evaluation", "panopticapi.utils")
    saved = {name: sys.modules.get(name) for name in names}
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_init_as_panopticapi_replaces_pq_compute(restore_panopticapi_modules, coco_like, capsys):
    expected = run_reference_single_process(coco_like.gt_json, coco_like.pred_json)
    fastpq.init_as_panopticapi()
    from panopticapi.evaluation import pq_compute
    from panopticapi.utils import id2rgb, rgb2id
    import panopticapi.evaluation

    assert pq_compute is fastpq.pq_compute
    assert panopticapi.evaluation.OFFSET == 256 ** 3 and panopticapi.evaluation.VOID == 0
    assert rgb2id(id2rgb(0x123456)) == 0x123456
    assert_results_equal(fastpq_quietly(capsys, coco_like.gt_json, coco_like.pred_json), expected)


def test_compat_rgb2id_matches_panopticapi_utils():
    from panopticapi.utils import rgb2id as reference_rgb2id
    from fastpq.compat import rgb2id

    rgb = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3)).astype(np.uint8)
    assert np.array_equal(rgb2id(rgb), reference_rgb2id(rgb))
    assert rgb2id([1, 2, 3]) == reference_rgb2id([1, 2, 3]) == 1 + 2 * 256 + 3 * 65536
