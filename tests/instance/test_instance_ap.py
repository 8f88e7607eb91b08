"""fastpq.instance against cityscapesscripts 2.3.0 on generated trees written as real files, hand
cases derived from the reference's rules, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fastpq.instance as I
from fastpq.errors import FastPQError, ImageSizeMismatchError, InstancePredictionError, PngNotFoundError
from fastpq.synthetic.cityscapes_instances import generate

from cityscapes_reference import run_reference

STEM = "city_000000_000001"


def same(a: dict, b: dict) -> bool:
    """Equal number for number (NaN equal to NaN), compared through JSON text."""
    return json.dumps(a, sort_keys=True, default=float) == json.dumps(b, sort_keys=True, default=float)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("engine", ["numpy", "cpp"])
def test_generated_trees_equal_reference(tmp_path: Path, seed: int, engine: str) -> None:
    gt, res = generate(str(tmp_path), seed=seed, images=3, height=48, width=96, instances=9)
    ref = run_reference(str(gt), str(res))
    ours = I.evaluate(str(gt), str(res), engine=engine)
    assert same(ours.to_dict(), ref)
    assert ours.ap == ref["averages"]["allAp"] or (math.isnan(ours.ap) and math.isnan(ref["averages"]["allAp"]))
    assert ours.classes["car"].ap50 == ref["averages"]["classes"]["car"]["ap50%"] or math.isnan(
        ref["averages"]["classes"]["car"]["ap50%"])


def write_tree(root: Path, ids: np.ndarray, preds: list, lines: list = None) -> tuple:
    """One GT image and its results txt + masks; returns (gt folder, results folder)."""
    gt = root / "gtFine" / "val" / "city"
    res = root / "results"
    gt.mkdir(parents=True)
    (res / "m").mkdir(parents=True)
    Image.fromarray(ids.astype(np.uint16)).save(gt / f"{STEM}_gtFine_instanceIds.png")
    text = list(lines or [])
    for j, (mask, label, score) in enumerate(preds):
        Image.fromarray(mask.astype(np.uint8) * 255).save(res / "m" / f"{j}.png")
        text.append(f"m/{j}.png {label} {score}")
    (res / f"{STEM}_pred.txt").write_text("\n".join(text) + "\n")
    return root / "gtFine" / "val", res


def scene() -> np.ndarray:
    ids = np.full((40, 60), 7, np.uint16)  # road
    ids[:, :10] = 0                        # void
    ids[5:25, 20:40] = 26001               # one car of 400 pixels
    return ids


def box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((40, 60), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_one_exact_match_nan_for_classes_without_gt(tmp_path: Path) -> None:
    gt, res = write_tree(tmp_path, scene(), [(box(5, 25, 20, 40), 26, 0.9)])
    r = I.evaluate(str(gt), str(res))
    assert r.classes["car"].ap == 1.0 and r.classes["car"].per_threshold == [1.0] * 10
    assert math.isnan(r.classes["person"].ap) and math.isnan(r.classes["bus"].ap50)
    assert r.ap == 1.0 and r.ap50 == 1.0
    assert same(r.to_dict(), run_reference(str(gt), str(res)))


def test_gt_without_predictions_scores_zero(tmp_path: Path) -> None:
    gt, res = write_tree(tmp_path, scene(), [(box(30, 38, 45, 55), 24, 0.5)])  # a person, no person GT
    r = I.evaluate(str(gt), str(res))
    assert r.classes["car"].ap == 0.0 and math.isnan(r.classes["person"].ap)
    assert same(r.to_dict(), run_reference(str(gt), str(res)))


def test_higher_scored_false_positive(tmp_path: Path) -> None:
    # by the reference's curve: points (p=.5, r=1), (p=0, r=0), artificial (1, 0) -> AP 0.25
    gt, res = write_tree(tmp_path, scene(), [(box(5, 25, 20, 40), 26, 0.9), (box(28, 38, 40, 58), 26, 0.95)])
    r = I.evaluate(str(gt), str(res))
    assert r.classes["car"].ap == 0.25
    assert same(r.to_dict(), run_reference(str(gt), str(res)))


def test_every_prediction_ignored_scores_zero_where_reference_crashes(tmp_path: Path) -> None:
    gt, res = write_tree(tmp_path, scene(), [(box(0, 40, 0, 10), 26, 0.9)])  # all on void
    r = I.evaluate(str(gt), str(res))
    assert r.classes["car"].ap == 0.0
    with pytest.raises(IndexError):  # cityscapesscripts issue #89
        run_reference(str(gt), str(res))


def test_in_memory_and_coco_rle_equal_files(tmp_path: Path) -> None:
    from fastpq import _core
    gt, res = generate(str(tmp_path), seed=5, images=2, height=48, width=96)
    files_result = I.evaluate(str(gt), str(res), engine="numpy").to_dict()
    memory, coco = {}, []
    for txt in sorted(Path(res).glob("*.txt")):
        key = "_".join(txt.name.split("_")[:3])
        memory[key] = []
        for line in txt.read_text().split("\n"):
            if line:
                rel, label, score = line.split(" ")
                m = np.array(Image.open(Path(res) / rel).convert("L")) != 0
                memory[key].append((m, int(label), float(score)))
                rle = {"size": list(m.shape), "counts": _core.rle_encode(m.astype(np.uint8))}
                coco.append({"image_id": key, "category_id": int(label), "score": float(score), "segmentation": rle})
    assert same(I.evaluate(str(gt), memory).to_dict(), files_result)
    assert same(I.evaluate(str(gt), coco).to_dict(), files_result)


def test_bad_inputs_name_image_and_file(tmp_path: Path) -> None:
    ids = scene()
    cases = {
        "size": ([(np.ones((10, 10), bool), 26, 0.5)], [], ImageSizeMismatchError, "0.png"),
        "label": ([(box(5, 25, 20, 40), 77, 0.5)], [], InstancePredictionError, "label id 77"),
        "missing": ([], ["m/nope.png 26 0.5"], PngNotFoundError, "nope.png"),
        "nan": ([(box(5, 25, 20, 40), 26, "nan")], [], InstancePredictionError, "NaN"),
        "outside": ([], ["../x.png 26 0.5"], InstancePredictionError, "outside"),
        "fields": ([], ["m/0.png 26"], InstancePredictionError, "line 1"),
    }
    for (name, (preds, lines, error, text)), engine in [(c, e) for c in cases.items() for e in ("numpy", "cpp")]:
        gt, res = write_tree(tmp_path / name / engine, ids, preds, lines)
        with pytest.raises(error) as info:
            I.evaluate(str(gt), str(res), engine=engine)
        assert isinstance(info.value, FastPQError)
        assert STEM in str(info.value) and text in str(info.value), name


def test_bad_results_text_names_the_file(tmp_path: Path) -> None:
    ids = scene()
    for name, content, text in [("not-utf8", b"m/0.png 26 0.5\n\xff\xfe\n", "not UTF-8 text"),
                                ("nul", b"m/0.png\x00x 26 0.5\n", "NUL character")]:
        for engine in ("numpy", "cpp"):
            gt, res = write_tree(tmp_path / name / engine, ids, [(box(5, 25, 20, 40), 26, 0.5)], [])
            txt = next(Path(res).glob("*.txt"))
            txt.write_bytes(content)
            with pytest.raises(InstancePredictionError, match=text) as info:
                I.evaluate(str(gt), str(res), engine=engine)
            assert STEM in str(info.value) and txt.name in str(info.value)


@pytest.mark.parametrize("entry,text", [
    ({"segmentation": {"size": [40, 60], "counts": [1.5, 2.5]}}, "a prediction mask cannot be read"),
    ({"segmentation": {"size": [40, 60], "counts": [-5, 2405]}}, "out of range"),
    ({"segmentation": {"size": [40, 60], "counts": [2**70]}}, "a prediction mask cannot be read"),
    ({"segmentation": {"size": [40, 60], "counts": "\x00\x01"}}, "a prediction mask cannot be read"),
    ({"segmentation": {"size": [40, 60]}}, "KeyError: 'counts'"),
    ({"segmentation": {"size": 5, "counts": [2400]}}, "'size' must be"),
    ({"score": "x"}, "score 'x' is not a number"),
    ({"score": None}, "is not a number"),
    ({"category_id": "car"}, "results entry 0"),
    ({"category_id": None}, "results entry 0"),
    ({"image_id": None}, "results entry 0"),
], ids=["float-counts", "negative-count", "huge-count", "garbage-string", "no-counts", "size-int", "score-str",
        "score-null", "category-str", "category-null", "no-image-id"])
def test_bad_coco_records_are_instance_prediction_errors(tmp_path: Path, entry: dict, text: str) -> None:
    """Every malformed COCO-style record is a FastPQError naming the image, never a bare
    TypeError / KeyError / MaskError."""
    ids = scene()
    gt, _ = write_tree(tmp_path, ids, [], [])
    record = {"image_id": STEM, "category_id": 26, "score": 0.5,
              "segmentation": {"size": [40, 60], "counts": [2400]}}
    record.update(entry)
    if record["image_id"] is None:
        del record["image_id"]
    with pytest.raises(InstancePredictionError, match=text) as info:
        I.evaluate(str(gt), [record])
    assert STEM in str(info.value) or "image_id" not in record


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "I;16"])
def test_mask_png_modes_read_as_pillow_convert_L(tmp_path: Path, mode: str) -> None:
    # faint colours: (1, 0, 0) is 0 after convert("L"), (2, 0, 0) is 1; the C++ reader must agree
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[5:25, 20:40] = (200, 10, 10)
    rgb[0:5, 20:40] = (1, 0, 0)
    rgb[25:30, 20:40] = (2, 0, 0)
    img = Image.fromarray(rgb)
    if mode == "1":
        img = img.convert("L").point(lambda v: 255 if v else 0).convert("1")
    elif mode == "I;16":
        img = Image.fromarray((np.array(img.convert("L")).astype(np.uint16) * 257))
    elif mode == "P":
        img = img.quantize(colors=4)
    else:
        img = img.convert(mode)
    gt, res = write_tree(tmp_path, scene(), [], ["m/x.png 26 0.9"])
    img.save(res / "m" / "x.png")
    ours = I.evaluate(str(gt), str(res), engine="cpp").to_dict()
    assert same(ours, I.evaluate(str(gt), str(res), engine="numpy").to_dict())
    assert same(ours, run_reference(str(gt), str(res)))
