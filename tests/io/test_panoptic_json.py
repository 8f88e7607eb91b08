"""The C++ reader of COCO panoptic JSON (fastpq.io.panoptic_json): for every text it takes, the
tables and categories equal those of the Python reader (orjson / json, then build_tables); every
text it refuses goes through the Python reader, so evaluate gives the same result or error.

The texts: generated datasets (integer and string image ids), the real COCO panoptic sample, a
catalogue of edge cases on each side of the reader's rules, and random byte mutations of a small
file (whatever the reader takes must parse in Python to the same tables).
"""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import pytest

import fastpq
from fastpq import synthetic
from fastpq.errors import FastPQError
from fastpq.io.dataset import Categories, build_tables
from fastpq.io.json_files import object_of_json
from fastpq.io.panoptic_json import JsonObjects, read_tables

FIELDS = ("gt_files", "pred_files", "image_ids", "gt_offsets", "gt_ids", "gt_categories", "gt_iscrowd", "gt_areas",
          "pred_offsets", "pred_ids", "pred_categories")


def _python(gt_raw: bytes, pred_raw: bytes, max_segments: int = 65536):
    gt = object_of_json(gt_raw, "gt.json", "ground-truth")
    pred = object_of_json(pred_raw, "pred.json", "prediction")
    categories = Categories.from_json(gt)
    return build_tables(gt, pred, "/g", "/p", categories, max_segments_per_image=max_segments), categories


def _assert_same(gt_raw: bytes, pred_raw: bytes, max_segments: int = 65536) -> None:
    fast = read_tables(gt_raw, pred_raw, max_segments)
    assert fast is not None, "the C++ reader refused a plain file"
    tables, categories = _python(gt_raw, pred_raw, max_segments)
    got, got_categories = fast.tables("/g", "/p"), fast.categories()
    for field in FIELDS:
        a, b = getattr(got, field), getattr(tables, field)
        assert a == b and [type(x) for x in a] == [type(x) for x in b], field
    assert list(got.pred_annotations) == list(tables.pred_annotations)
    assert got.pred_annotations == tables.pred_annotations
    assert (got_categories.ids, got_categories.info, got_categories.index) == \
        (categories.ids, categories.info, categories.index)
    if len(got) > 1:  # chunks slice the annotations; a chunk pickles with its own objects only
        part = got.chunk(1, len(got))
        assert part.pred_annotations == tables.chunk(1, len(tables)).pred_annotations
        assert pickle.loads(pickle.dumps(part.pred_annotations)) == part.pred_annotations


def _dumps(value) -> bytes:
    return json.dumps(value).encode()


def _pair(n_images: int = 3, string_ids: bool = False):
    categories = [{"id": 1, "name": "person", "isthing": 1, "supercategory": "person"},
                  {"id": 7, "name": "road", "isthing": 0, "supercategory": "ground"},
                  {"id": 3, "name": "car", "isthing": 1, "supercategory": "vehicle"}]
    gt_anns, pred_anns = [], []
    for i in range(n_images):
        image_id = f"img_{i}" if string_ids else 1000 + i
        gt_anns.append({"image_id": image_id, "file_name": f"{i:06d}.png", "segments_info": [
            {"id": 100 + i, "category_id": 1, "iscrowd": 0, "area": 120 + i, "bbox": [1, 2, 3.5, 4]},
            {"id": 9, "category_id": 7, "iscrowd": 1, "area": 33.25, "bbox": [0, 0, 1e-3, 2E+2]}]})
        pred_anns.append({"image_id": image_id, "file_name": f"p{i:06d}.png", "segments_info": [
            {"id": 2, "category_id": 3}, {"id": 4, "category_id": 1, "score": 0.5}]})
    gt = {"info": {"year": 2017, "ok": True, "none": None}, "images": [{"id": 1}], "annotations": gt_anns,
          "categories": categories}
    return gt, {"annotations": pred_anns[::-1]}


@pytest.mark.parametrize("string_ids", [False, True])
def test_generated_pairs_read_alike(string_ids):
    gt, pred = _pair(5, string_ids)
    _assert_same(_dumps(gt), _dumps(pred))
    _assert_same(json.dumps(gt, indent=2).encode(), json.dumps(pred, separators=(",", ":")).encode())


def test_synthetic_datasets_read_alike(tmp_path):
    for spec, ids in ((synthetic.COCO_LIKE, False), (synthetic.CITYSCAPES_LIKE, True)):
        paths = synthetic.generate_dataset(tmp_path / spec.name, spec, 6, seed=3, workers=1)
        _assert_same(Path(paths.gt_json).read_bytes(), Path(paths.pred_json).read_bytes())


def test_the_coco_sample_reads_alike(coco_sample):
    raw = (coco_sample / "panoptic_examples.json").read_bytes()
    _assert_same(raw, raw)


# Texts the reader takes, with the Python reader's rules at their edges.
def _edge_cases():
    gt, pred = _pair()
    yield "last prediction of an image wins", gt, {"annotations": pred["annotations"] + [
        {"image_id": 1001, "file_name": "late.png", "segments_info": [{"id": 8, "category_id": 7}]}]}
    g = json.loads(json.dumps(gt))
    g["categories"].append({"id": 7, "name": "again", "isthing": 1})  # index of the first, info of the last
    g["annotations"][0]["segments_info"][0]["category_id"] = 99  # not a category: -1
    g["annotations"][1]["segments_info"][0]["iscrowd"] = 2  # only 1 is crowd
    g["annotations"][2]["segments_info"] = []
    yield "categories repeated or absent, crowd values", g, pred
    p = json.loads(json.dumps(pred))
    p["annotations"].append({"image_id": 555, "file_name": "x.png", "segments_info": []})  # no such image
    yield "a prediction for an unknown image", gt, p
    g = json.loads(json.dumps(gt))
    g["annotations"][0]["segments_info"][0]["area"] = 12345678901234567  # float(int) rounds
    g["annotations"][0]["segments_info"][1]["area"] = 0.1
    g["annotations"][1]["segments_info"][0]["id"] = -(2**63 - 1)
    g["annotations"][1]["segments_info"][1]["id"] = 2**63 - 1
    yield "extreme ids and areas", g, pred
    g = json.loads(json.dumps(gt))
    g["annotations"][0]["file_name"] = "/abs/x.png"
    g["annotations"][1]["file_name"] = "sub/dir/y.png"
    yield "absolute and nested file names", g, pred


@pytest.mark.parametrize("case", list(_edge_cases()), ids=lambda c: c[0])
def test_edge_cases_read_alike(case):
    _, gt, pred = case
    _assert_same(_dumps(gt), _dumps(pred))


def test_number_spellings_read_alike():
    gt, pred = _pair()
    text = _dumps(gt).replace(b'"area": 33.25', b'"area": 3325e-2').replace(b'"area": 120', b'"area": -0')
    assert b"3325e-2" in text and b"-0," in text
    _assert_same(text, _dumps(pred))
    text = _dumps(gt).replace(b'"area": 33.25', b'"area": 1.5E+2').replace(b"200.0", b"2.5e-300")
    assert b"1.5E+2" in text and b"2.5e-300" in text
    _assert_same(text, _dumps(pred))


# Texts the reader refuses: the Python reader decides, so evaluate's result or error is its own.
def _refused():
    gt, pred = _pair()
    base_gt, base_pred = _dumps(gt), _dumps(pred)
    yield "non-ASCII text", base_gt.replace(b'"person"', '"pers\u00f6n"'.encode()), base_pred
    yield "an escape", base_gt.replace(b'"person"', b'"pers\\u006fn"'), base_pred
    yield "a repeated key", base_gt.replace(b'"iscrowd": 0,', b'"iscrowd": 0, "iscrowd": 1,'), base_pred
    yield "a repeated segment id", base_gt.replace(b'"id": 9,', b'"id": 100,'), base_pred
    yield "a float id", base_gt.replace(b'"id": 9,', b'"id": 9.0,'), base_pred
    yield "a bool crowd flag", base_gt.replace(b'"iscrowd": 1', b'"iscrowd": true'), base_pred
    yield "a float crowd flag", base_gt.replace(b'"iscrowd": 1', b'"iscrowd": 1.0'), base_pred
    yield "a string category id", base_gt, base_pred.replace(b'"category_id": 3', b'"category_id": "3"')
    yield "a float category id", base_gt, base_pred.replace(b'"category_id": 3', b'"category_id": 3.0')
    yield "a missing prediction", base_gt, _dumps({"annotations": pred["annotations"][1:]})
    yield "an int64 overflow", base_gt.replace(b'"id": 9,', b'"id": 9223372036854775808,'), base_pred
    yield "a huge exponent", base_gt.replace(b"200.0", b"2E+400"), base_pred
    yield "NaN", base_gt.replace(b"0.001", b"NaN"), base_pred
    yield "a trailing comma", base_gt.replace(b"]}]", b"],}]", 1), base_pred
    yield "trailing text", base_gt + b" x", base_pred
    yield "a top-level array", b"[" + base_gt + b"]", base_pred
    yield "no categories", _dumps({"annotations": gt["annotations"]}), base_pred
    yield "a category without isthing", base_gt.replace(b'"isthing": 0, ', b""), base_pred
    yield "a segment without area", base_gt.replace(b'"area": 120, ', b""), base_pred
    yield "an annotation without file_name", base_gt, base_pred.replace(b'"file_name": "p000001.png", ', b"")
    yield "a string image id against an integer one", base_gt, base_pred.replace(b'"image_id": 1000',
                                                                                 b'"image_id": "1000"')
    yield "deep nesting", base_gt.replace(b'"year": 2017', b'"year": ' + b"[" * 70 + b"]" * 70), base_pred
    yield "a leading zero", base_gt.replace(b'"year": 2017', b'"year": 02017'), base_pred
    yield "empty", b"", base_pred


@pytest.mark.parametrize("case", list(_refused()), ids=lambda c: c[0])
def test_refused_texts_go_to_the_python_reader(case, tmp_path):
    _, gt_raw, pred_raw = case
    gt, pred = _pair()
    assert (gt_raw, pred_raw) != (_dumps(gt), _dumps(pred))  # the case changed something
    assert read_tables(gt_raw, pred_raw, 65536) is None
    assert read_tables(gt_raw, pred_raw, 65536) is None  # and again: nothing is left behind


def test_too_many_segments_go_to_the_python_reader():
    gt, pred = _pair()
    assert read_tables(_dumps(gt), _dumps(pred), 2) is not None
    assert read_tables(_dumps(gt), _dumps(pred), 1) is None


def _outcome(fn):
    try:
        return "ok", fn()
    except FastPQError as e:
        return type(e).__name__, str(e)


@pytest.mark.parametrize("case", [c for c in _refused() if c[0] in (
    "a repeated segment id", "a missing prediction", "a float id", "an escape", "trailing text", "empty",
    "a top-level array", "a segment without area")], ids=lambda c: c[0])
def test_evaluate_on_refused_texts_equals_the_strict_free_python_path(case, tmp_path):
    # strict=False in both; evaluate takes the Python reader after the C++ one gives up, so its
    # result or message is the one build_tables gives (read here through load_json's path).
    _, gt_raw, pred_raw = case
    (tmp_path / "gt.json").write_bytes(gt_raw)
    (tmp_path / "pred.json").write_bytes(pred_raw)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()

    def python_path():
        gt = object_of_json(gt_raw, str(tmp_path / "gt.json"), "ground-truth")
        pred = object_of_json(pred_raw, str(tmp_path / "pred.json"), "prediction")
        return build_tables(gt, pred, str(tmp_path / "gt"), str(tmp_path / "pred"), Categories.from_json(gt))

    expected = _outcome(python_path)
    got = _outcome(lambda: fastpq.panoptic.evaluation.prepare(tmp_path / "gt.json", tmp_path / "pred.json",
                                                                None, None)[0])
    assert got[0] == expected[0]
    if expected[0] != "ok":
        assert got[1] == expected[1]
    else:
        assert all(getattr(got[1], f) == getattr(expected[1], f) for f in FIELDS)


def test_a_broken_ground_truth_is_named_before_a_missing_prediction_file(tmp_path):
    (tmp_path / "gt.json").write_bytes(b"{not json")
    with pytest.raises(FastPQError, match=r"ground-truth JSON file .* is not valid JSON"):
        fastpq.evaluate(tmp_path / "gt.json", tmp_path / "missing.json")
    with pytest.raises(FastPQError, match=r"ground-truth JSON file .* is not valid JSON"):  # before the budget
        fastpq.evaluate(tmp_path / "gt.json", tmp_path / "missing.json", time_budget=1e-9)
    gt, _ = _pair()
    (tmp_path / "gt.json").write_bytes(_dumps(gt))
    with pytest.raises(FastPQError, match=r"cannot read prediction JSON file .*missing\.json"):
        fastpq.evaluate(tmp_path / "gt.json", tmp_path / "missing.json")


def test_random_mutations_never_disagree():
    # Whatever the C++ reader takes must be valid JSON that the Python reader turns into the same tables.
    gt, pred = _pair(2)
    base = json.dumps(gt, separators=(",", ":")).encode()
    pred_raw = _dumps(pred)
    rng = random.Random(7)
    alphabet = b'{}[]:,"0123456789-+.eE \n\tnulltruefalse\\xa'
    taken = 0
    for _ in range(3000):
        text = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(text))
            op = rng.random()
            if op < 0.4:
                text[at] = rng.choice(alphabet)
            elif op < 0.7:
                del text[at]
            else:
                text.insert(at, rng.choice(alphabet))
        text = bytes(text)
        fast = read_tables(text, pred_raw, 65536)
        if fast is None:
            continue
        taken += 1
        _assert_same(text, pred_raw)
    assert taken > 50  # some mutations (spaces, digits of skipped numbers) stay plain


def test_json_objects_is_a_sequence():
    raw = b'[{"a": 1}, {"b": [2]}, {"c": null}]'
    seq = JsonObjects(raw, [(1, 9), (11, 21), (23, 34)])
    assert len(seq) == 3 and seq[0] == {"a": 1} and seq[-1] == {"c": None} and list(seq[1:]) == [{"b": [2]},
                                                                                               {"c": None}]
    assert seq == [{"a": 1}, {"b": [2]}, {"c": None}] and seq != [{"a": 1}]
    with pytest.raises(IndexError):
        seq[3]
    assert pickle.loads(pickle.dumps(seq[1:])) == [{"b": [2]}, {"c": None}]
