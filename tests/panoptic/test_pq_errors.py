"""Bad input: fastpq's errors against panopticapi's, and clear FastPQErrors where panopticapi fails obscurely."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import fastpq
import pngwriter as pw
from conftest import CAR, GRASS, PERSON, SKY, PanopticImage, assert_fastpq_does_not_crash, run_reference

OK_GT = {"id": 11, "category_id": PERSON}
OK_PRED = {"id": 21, "category_id": PERSON}


def ok_pair(image_id):
    """A valid GT / prediction pair: one person matched with IoU 1."""
    return (PanopticImage(image_id, [[11] * 10], [dict(OK_GT)]),
            PanopticImage(image_id, [[21] * 10], [dict(OK_PRED)]))


def reference_error(case, **folders):
    with pytest.raises(Exception) as info:
        run_reference(case.gt_json, case.pred_json, folders.get("gt_folder"), folders.get("pred_folder"))
    return info.value


def fastpq_error(case, expected_type, capsys, isolate=False, **folders):
    if isolate:
        assert_fastpq_does_not_crash(case.gt_json, case.pred_json)
    with pytest.raises(expected_type) as info:
        fastpq.pq_compute(case.gt_json, case.pred_json, folders.get("gt_folder"), folders.get("pred_folder"))
    capsys.readouterr()
    assert isinstance(info.value, fastpq.FastPQError)
    return info.value


# ---------------------------------------------------------------------------
# panopticapi's KeyErrors and Exceptions: same class, same text


def test_png_id_missing_from_json(make_case, capsys):
    gt, _ = ok_pair(7)
    pred = PanopticImage(7, [[21] * 5 + [22] * 5], [dict(OK_PRED)])  # 22 is not listed
    case = make_case([gt], [pred])
    expected = reference_error(case)
    error = fastpq_error(case, KeyError, capsys, isolate=True)
    assert type(expected) is KeyError
    assert str(error) == str(expected)
    assert "segment with ID 22 is presented in PNG and not presented in JSON" in str(error)
    assert isinstance(error, fastpq.SegmentMismatchError)
    assert (error.image_id, error.segment_id, error.file) == (7, 22, str(case.pred_folder / "7.png"))


def test_unknown_category_id(make_case, capsys):
    gt, _ = ok_pair(7)
    pred = PanopticImage(7, [[21] * 10], [{"id": 21, "category_id": 999}])
    case = make_case([gt], [pred])
    expected = reference_error(case)
    error = fastpq_error(case, KeyError, capsys, isolate=True)
    assert type(expected) is KeyError
    assert str(error) == str(expected)
    assert "has unknown category_id 999" in str(error)
    assert (error.image_id, error.segment_id, error.file) == (7, 21, str(case.pred_folder / "7.png"))


def test_json_id_missing_from_png(make_case, capsys):
    gt, _ = ok_pair(7)
    pred = PanopticImage(7, [[21] * 10], [dict(OK_PRED), {"id": 22, "category_id": PERSON}])  # 22 has no pixel
    case = make_case([gt], [pred])
    expected = reference_error(case)
    error = fastpq_error(case, KeyError, capsys, isolate=True)
    assert type(expected) is KeyError
    assert str(error) == str(expected)
    assert "segment IDs [22] are presented in JSON and not presented in PNG" in str(error)
    assert (error.image_id, error.segment_id, error.file) == (7, 22, str(case.pred_folder / "7.png"))


def test_json_ids_missing_from_png_are_listed_in_panopticapis_set_order(make_case, capsys):
    gt, _ = ok_pair(7)
    listed = [21, 40, 9, 33, 1, 17, 1000003]  # only 21 (and the anchors) are in the PNG
    missing = listed[1:]
    pred = PanopticImage(7, [[21] * 10], [{"id": i, "category_id": PERSON} for i in listed])
    missing_in_set_order = [i for i in set(s["id"] for s in pred.full_segments()) if i in missing]
    assert missing_in_set_order != missing  # the order is not the JSON's: the test shows which is used
    case = make_case([gt], [pred])
    expected = reference_error(case)
    error = fastpq_error(case, KeyError, capsys, isolate=True)
    assert type(expected) is KeyError
    assert str(error) == str(expected)
    assert str(missing_in_set_order) in str(error)
    assert (error.image_id, error.file) == (7, str(case.pred_folder / "7.png"))


def test_no_prediction_for_an_image(make_case, capsys):
    gt1, pred1 = ok_pair(1)
    gt2, _ = ok_pair(2)
    case = make_case([gt1, gt2], [pred1])
    expected = reference_error(case)
    error = fastpq_error(case, fastpq.MissingPredictionError, capsys)
    assert str(error) == str(expected) == "no prediction for the image with id: 2"
    assert error.image_id == 2


def test_no_prediction_for_a_string_image_id(make_case, capsys):
    gt, _ = ok_pair("lindau_000001_000019")
    _, pred = ok_pair("lindau_000002_000019")
    case = make_case([gt], [pred])
    expected = reference_error(case)
    error = fastpq_error(case, fastpq.MissingPredictionError, capsys)
    assert str(error) == str(expected) == "no prediction for the image with id: lindau_000001_000019"


def test_image_ids_beyond_64_bits_stay_exact(make_case, capsys):
    # orjson reads 2**64 + 1 as the float 1.8446744073709552e19, equal to 2**64's: the images
    # would pair and score PQ 1.0. json (panopticapi's reader) keeps both exact.
    gt, _ = ok_pair(2**64 + 1)
    _, pred = ok_pair(2**64)
    case = make_case([gt], [pred])
    expected = reference_error(case)
    error = fastpq_error(case, fastpq.MissingPredictionError, capsys)
    assert str(error) == str(expected) == f"no prediction for the image with id: {2**64 + 1}"
    assert error.image_id == 2**64 + 1
    gt, pred = ok_pair(2**64 + 1)
    case = make_case([gt], [pred])
    assert fastpq.pq_compute(case.gt_json, case.pred_json) == run_reference(case.gt_json, case.pred_json)
    capsys.readouterr()


def test_json_scan_finds_the_longest_number_outside_strings():
    from fastpq import _core

    assert _core.json_scan(b'{"a": [1, 22, 333], "b": "4444444444"}', 512) == (2, 3)
    assert _core.json_scan(b'[18446744073709551617, 1.5e300]', 512) == (1, 20)
    assert _core.json_scan(b'{"x\\"": 123456}', 512) == (1, 6)
    assert _core.json_scan(b"", 512) == (0, 0)


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_missing_folder(make_case, tmp_path, capsys, side):
    gt, pred = ok_pair(1)
    case = make_case([gt], [pred])
    folders = {f"{side}_folder": str(tmp_path / "nowhere")}
    expected = reference_error(case, **folders)
    error = fastpq_error(case, FileNotFoundError, capsys, **folders)
    assert isinstance(error, fastpq.MissingFolderError)
    assert str(error) == str(expected)
    what = "ground truth" if side == "gt" else "predicted"
    assert str(error) == f"Folder {tmp_path / 'nowhere'} with {what} segmentations doesn't exist"
    assert error.file == str(tmp_path / "nowhere")


def test_default_folder_missing(make_case, capsys):
    # The default folder is the JSON path without '.json'.
    gt, pred = ok_pair(1)
    case = make_case([gt], [pred])
    case.pred_folder.rename(case.pred_folder.with_name("elsewhere"))
    expected = reference_error(case)
    error = fastpq_error(case, fastpq.MissingFolderError, capsys)
    assert str(error) == str(expected)
    assert str(case.pred_folder) in str(error)


def test_first_failing_image_in_gt_order_is_reported(make_case, capsys):
    # Images 1-8; image 5 has an unknown category, image 6 an unlisted PNG id. panopticapi (and fastpq,
    # whatever order its threads finish in) report image 5.
    gts, preds = zip(*[ok_pair(i) for i in range(1, 9)])
    preds = list(preds)
    preds[4] = PanopticImage(5, [[21] * 10], [{"id": 21, "category_id": 999}])
    preds[5] = PanopticImage(6, [[21] * 5 + [22] * 5], [dict(OK_PRED)])
    case = make_case(list(gts), preds)
    expected = reference_error(case)
    assert "image with ID 5 " in str(expected)
    error = fastpq_error(case, KeyError, capsys, isolate=True)
    assert str(error) == str(expected)
    for workers in (1, 2, 4):
        with pytest.raises(fastpq.SegmentMismatchError) as info:
            fastpq.evaluate(case.gt_json, case.pred_json, workers=workers)
        assert str(info.value) == str(expected)


# ---------------------------------------------------------------------------
# Where panopticapi fails obscurely: a clear FastPQError naming the image


@pytest.mark.parametrize("area,reference_pq", [(0, math.inf), (-3, 0.0), (math.nan, 0.0)], ids=["zero", "negative", "nan"])
def test_gt_area_that_breaks_the_iou_union(make_case, capsys, area, reference_pq):
    # GT and prediction share all 10 pixels: union = 10 + area - 10 = area. panopticapi divides by it
    # anyway (a numpy int by zero: an infinite IoU and PQ; a negative or NaN IoU: no match).
    gt = PanopticImage(5, [[11] * 10], [dict(OK_GT, area=area)])
    pred = PanopticImage(5, [[21] * 10], [dict(OK_PRED)])
    case = make_case([gt], [pred])
    with np.errstate(divide="ignore"):
        reference = run_reference(case.gt_json, case.pred_json)
    assert reference["per_class"][PERSON]["pq"] == reference_pq
    error = fastpq_error(case, fastpq.AnnotationError, capsys, isolate=True)
    assert "image with ID 5 ground-truth segment with ID 11 has an 'area'" in str(error)
    assert "zero, negative or NaN" in str(error) and str(case.gt_json.parent / "gt" / "5.png") in str(error)
    assert (error.image_id, error.segment_id, error.file) == (5, 11, str(case.gt_json.parent / "gt" / "5.png"))
    with pytest.raises(fastpq.AnnotationError, match="segment with ID 11"):
        fastpq.evaluate(case.gt_json, case.pred_json, workers=2)


def test_infinite_gt_area_is_scored_as_panopticapi_scores_it(make_case, capsys):
    # An infinite union is a valid division: IoU 0, no match (one FN, one FP), as in panopticapi.
    gt = PanopticImage(5, [[11] * 10], [dict(OK_GT, area=math.inf)])
    pred = PanopticImage(5, [[21] * 10], [dict(OK_PRED)])
    case = make_case([gt], [pred])
    reference = run_reference(case.gt_json, case.pred_json)
    ours = fastpq.pq_compute(case.gt_json, case.pred_json)
    capsys.readouterr()
    assert ours["per_class"][PERSON] == reference["per_class"][PERSON] == {"pq": 0.0, "sq": 0.0, "rq": 0.0}
    assert ours["All"] == reference["All"]


def test_image_size_mismatch(make_case, capsys):
    gt = PanopticImage(3, [[11] * 10], [dict(OK_GT)])
    pred = PanopticImage(3, [[21] * 10, [21] * 10], [dict(OK_PRED)])  # one row more
    case = make_case([gt], [pred])
    assert isinstance(reference_error(case), ValueError)  # numpy cannot broadcast the two maps
    error = fastpq_error(case, fastpq.ImageSizeMismatchError, capsys)
    assert isinstance(error, ValueError)
    message = str(error)
    assert "image with ID 3" in message
    assert str(case.gt_folder / "3.png") in message and str(case.pred_folder / "3.png") in message
    assert "10x3" in message and "10x4" in message  # width x height, with the two anchor rows
    assert error.image_id == 3


STUFF_ONLY = [{"id": GRASS, "name": "grass", "isthing": 0}, {"id": SKY, "name": "sky", "isthing": 0}]
THINGS_WITHOUT_SEGMENTS = STUFF_ONLY + [{"id": PERSON, "name": "person", "isthing": 1},
                                        {"id": CAR, "name": "car", "isthing": 1}]


@pytest.mark.parametrize("categories", [STUFF_ONLY, THINGS_WITHOUT_SEGMENTS], ids=["stuff-only", "no-thing-segment"])
def test_empty_category_group(make_case, capsys, categories):
    # Grass predicted exactly: Stuff has n = 1, Things n = 0 (panopticapi divides by zero).
    gt = PanopticImage(1, [[11] * 10], [{"id": 11, "category_id": GRASS}], anchors=False)
    pred = PanopticImage(1, [[21] * 10], [{"id": 21, "category_id": GRASS}], anchors=False)
    case = make_case([gt], [pred], categories=categories)
    assert isinstance(reference_error(case), ZeroDivisionError)
    error = fastpq_error(case, fastpq.EmptyCategoryGroupError, capsys)
    assert isinstance(error, ZeroDivisionError)
    assert "Things" in str(error)

    result = fastpq.evaluate(case.gt_json, case.pred_json)
    things = result.groups["Things"]
    assert things.n == 0 and math.isnan(things.pq) and math.isnan(things.sq) and math.isnan(things.rq)
    assert (result.groups["Stuff"].pq, result.groups["Stuff"].n) == (1.0, 1)
    assert (result.groups["All"].pq, result.groups["All"].n) == (1.0, 1)
    with pytest.raises(fastpq.EmptyCategoryGroupError):
        result.to_dict()


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_missing_png_file(make_case, capsys, side):
    gt1, pred1 = ok_pair(1)
    gt2, pred2 = ok_pair(2)
    case = make_case([gt1, gt2], [pred1, pred2])
    folder = case.gt_folder if side == "gt" else case.pred_folder
    (folder / "2.png").unlink()
    assert isinstance(reference_error(case), FileNotFoundError)
    error = fastpq_error(case, fastpq.PngError, capsys)
    assert "image with ID 2" in str(error)
    assert str(folder / "2.png") in str(error)
    assert (error.image_id, error.file) == (2, str(folder / "2.png"))


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_corrupt_png_file(make_case, capsys, side):
    gt, pred = ok_pair(4)
    case = make_case([gt], [pred])
    folder = case.gt_folder if side == "gt" else case.pred_folder
    data = (folder / "4.png").read_bytes()
    (folder / "4.png").write_bytes(data[: len(data) // 2])
    error = fastpq_error(case, fastpq.PngError, capsys)
    assert "image with ID 4" in str(error)
    assert (error.image_id, error.file) == (4, str(folder / "4.png"))


def _with_filter_type_7(path, row):
    """Rewrites the PNG at `path` (RGB) with the invalid filter type 7 in `row`."""
    ids = pw.reference_ids(path.read_bytes())
    height, width = ids.shape
    raw = bytearray(pw.raw_scanlines(pw.ids_to_rgb(ids), pw.NONE))
    raw[row * (3 * width + 1)] = 7
    path.write_bytes(pw.encode_raw(width, height, bytes(raw)))


# (bad gt row, bad pred row, side named): the ground truth's rows are read ahead of the
# prediction's, yet a damaged row is reported as a reading of both in step meets it: the first
# damaged row, the ground truth's where both have it.
BAD_ROWS = [(1, 3, "gt"), (3, 1, "pred"), (2, 2, "gt"), (4, None, "gt"), (None, 0, "pred"), (5, 4, "pred")]


@pytest.mark.parametrize("gt_row,pred_row,named", BAD_ROWS)
def test_damaged_rows_are_reported_in_row_order(make_case, capsys, gt_row, pred_row, named):
    gt = PanopticImage(4, [[11] * 10] * 4, [dict(OK_GT)])  # 6 rows with the two anchor rows
    pred = PanopticImage(4, [[21] * 10] * 4, [dict(OK_PRED)])
    case = make_case([gt], [pred])
    for row, folder in ((gt_row, case.gt_folder), (pred_row, case.pred_folder)):
        if row is not None:
            _with_filter_type_7(folder / "4.png", row)
    error = fastpq_error(case, fastpq.PngError, capsys)
    row = gt_row if named == "gt" else pred_row
    folder = case.gt_folder if named == "gt" else case.pred_folder
    assert f"invalid filter type 7 in row {row}" in str(error)
    assert (error.image_id, error.file) == (4, str(folder / "4.png"))


def test_a_damaged_gt_row_comes_after_a_missing_or_mismatched_prediction(make_case, capsys):
    """Opening the prediction and comparing sizes come before any row is decoded, as they always did."""
    gt = PanopticImage(4, [[11] * 10] * 4, [dict(OK_GT)])
    case = make_case([gt], [PanopticImage(4, [[21] * 10] * 4, [dict(OK_PRED)])])
    _with_filter_type_7(case.gt_folder / "4.png", 0)
    (case.pred_folder / "4.png").unlink()
    error = fastpq_error(case, fastpq.PngError, capsys)
    assert error.file == str(case.pred_folder / "4.png") and "filter" not in str(error)

    case = make_case([gt], [PanopticImage(4, [[21] * 10] * 3, [dict(OK_PRED)])])  # one row fewer
    _with_filter_type_7(case.gt_folder / "4.png", 0)
    error = fastpq_error(case, fastpq.ImageSizeMismatchError, capsys)
    assert "10x6" in str(error) and "10x5" in str(error)


def test_greyscale_png_is_refused(make_case, capsys):
    from PIL import Image

    gt, pred = ok_pair(4)
    case = make_case([gt], [pred])
    Image.fromarray(np.full((3, 10), 21, np.uint8), "L").save(case.pred_folder / "4.png")
    error = fastpq_error(case, fastpq.PngError, capsys)
    assert "image with ID 4" in str(error) and "greyscale" in str(error)


@pytest.mark.parametrize("text,where", [('{"annotations": [', 17), ('{"a": 1}\n{"b": 2}', 9)],
                         ids=["truncated", "trailing-data"])
def test_gt_json_that_is_not_json(make_case, capsys, text, where):
    gt, pred = ok_pair(1)
    case = make_case([gt], [pred])
    case.gt_json.write_text(text)
    assert type(reference_error(case)) is json.JSONDecodeError
    error = fastpq_error(case, fastpq.JsonSyntaxError, capsys)
    assert isinstance(error, json.JSONDecodeError) and isinstance(error, fastpq.AnnotationError)
    assert str(case.gt_json) in str(error) and "not valid JSON" in str(error)
    assert error.file == str(case.gt_json) and error.pos == where


def test_a_json_file_with_a_byte_order_mark_is_refused_as_panopticapi_refuses_it(make_case, capsys):
    gt, pred = ok_pair(1)
    case = make_case([gt], [pred])
    case.pred_json.write_bytes(b"\xef\xbb\xbf" + case.pred_json.read_bytes())
    expected = reference_error(case)
    assert type(expected) is json.JSONDecodeError and "BOM" in str(expected)
    error = fastpq_error(case, fastpq.JsonSyntaxError, capsys)
    assert "Unexpected UTF-8 BOM" in str(error) and error.file == str(case.pred_json)


def test_gt_json_that_is_not_an_object(make_case, capsys):
    gt, pred = ok_pair(1)
    case = make_case([gt], [pred])
    case.gt_json.write_text("[1, 2, 3]")
    error = fastpq_error(case, fastpq.AnnotationError, capsys)
    assert str(case.gt_json) in str(error) and "object" in str(error)


def test_gt_json_without_annotations(make_case, capsys):
    gt, pred = ok_pair(1)
    case = make_case([gt], [pred])
    content = json.loads(case.gt_json.read_text())
    del content["annotations"]
    case.gt_json.write_text(json.dumps(content))
    error = fastpq_error(case, fastpq.AnnotationError, capsys)
    assert "'annotations'" in str(error)


@pytest.mark.parametrize("key", ["category_id", "iscrowd", "area"])
def test_gt_segment_missing_a_field(make_case, capsys, key):
    segment = {"id": 11, "category_id": PERSON, "iscrowd": 0, "area": 10}
    del segment[key]
    gt = PanopticImage(5, [[11] * 10], [segment], anchors=False)
    pred = PanopticImage(5, [[21] * 10], [dict(OK_PRED)], anchors=False)
    case = make_case([gt], [pred], fill_gt_fields=False)
    error = fastpq_error(case, fastpq.AnnotationError, capsys)
    message = str(error)
    assert "image with ID 5" in message and "segment with ID 11" in message and f"'{key}'" in message
    assert (error.image_id, error.segment_id) == (5, 11)


def test_pred_segment_missing_category_id(make_case, capsys):
    gt, _ = ok_pair(5)
    pred = PanopticImage(5, [[21] * 10], [{"id": 21}])
    case = make_case([gt], [pred])
    error = fastpq_error(case, fastpq.AnnotationError, capsys)
    assert "image with ID 5" in str(error) and "segment with ID 21" in str(error) and "'category_id'" in str(error)
    assert (error.image_id, error.segment_id) == (5, 21)


# ---------------------------------------------------------------------------
# fastpq's errors are caught by the handlers written for panopticapi's


def _missing_png(case):
    (case.gt_folder / "1.png").unlink()


def _gt_not_an_object(case):
    case.gt_json.write_text("[]")


def _gt_segment_without_category(case):
    content = json.loads(case.gt_json.read_text())
    del content["annotations"][0]["segments_info"][0]["category_id"]
    case.gt_json.write_text(json.dumps(content))


@pytest.mark.parametrize("break_case", [_missing_png, _gt_not_an_object, _gt_segment_without_category],
                         ids=["missing-png", "gt-json-not-an-object", "gt-segment-without-category"])
def test_error_is_an_instance_of_panopticapis_exception_class(make_case, capsys, break_case):
    """errors.py: 'Where panopticapi raises a built-in exception for the same input, fastpq's class also derives
    from that built-in'. Here panopticapi raises FileNotFoundError, TypeError and KeyError respectively."""
    gt, pred = ok_pair(1)
    case = make_case([gt], [pred])
    break_case(case)
    expected = reference_error(case)
    error = fastpq_error(case, fastpq.FastPQError, capsys)
    assert isinstance(error, type(expected)), \
        f"panopticapi raises {type(expected).__name__}; fastpq's {type(error).__name__} derives from {type(error).__mro__}"
