"""fastpq.convert: round trips that must be exact, on the real COCO sample (whose detection JSON
and 2-channel PNGs are the same segments in other forms) and on generated data; RLEs against
pycocotools; the Cityscapes converter against cityscapesscripts' createPanopticImgs (PyPI) on
generated Cityscapes-style files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic
from fastpq import convert
from fastpq.errors import ConversionError, PngNotFoundError


def read_ids(path: Path) -> np.ndarray:
    rgb = np.array(Image.open(path), dtype=np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def segments_by_content(json_path: Path, folder: Path, strict: bool = True) -> Dict[Any, List[Tuple]]:
    """Per image: sorted (category, iscrowd, area, bbox, mask bytes) of every segment; ids left out,
    since converters choose new ones. Also checks that area and bbox describe the mask and (if
    strict) that the PNG has no id the JSON does not list."""
    data = json.loads(json_path.read_text())
    out = {}
    for ann in data["annotations"]:
        ids = read_ids(folder / ann["file_name"])
        rows = []
        for s in ann["segments_info"]:
            mask = ids == s["id"]
            ys, xs = np.nonzero(mask)
            assert s["area"] == mask.sum()
            assert list(s["bbox"]) == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            rows.append((s["category_id"], s.get("iscrowd", 0), int(s["area"]), list(s["bbox"]), mask.tobytes()))
        listed = {s["id"] for s in ann["segments_info"]}
        assert not strict or set(np.unique(ids).tolist()) - {0} == listed
        out[ann["image_id"]] = sorted(rows)
    return out


@pytest.fixture
def sample(coco_sample, tmp_path) -> Path:
    """A writable copy of the sample (the converters' default PNG folder is next to the JSON)."""
    root = tmp_path / "sample"
    shutil.copytree(coco_sample, root)
    return root


def test_sample_panoptic_to_detection_equals_its_detection_json(sample, tmp_path):
    out = tmp_path / "det.json"
    convert.panoptic_to_detection(str(sample / "panoptic_examples.json"), str(out))
    ours = json.loads(out.read_text())
    theirs = json.loads((sample / "panoptic_coco_detection_format.json").read_text())
    assert ours["annotations"] == theirs["annotations"]
    # panopticapi's converter drops "isthing" and "color"; the sample's file kept "color"
    assert ours["categories"] == [{k: v for k, v in c.items() if k != "color"} for c in theirs["categories"]]
    assert ours["images"] == theirs["images"]


def test_sample_panoptic_to_two_channel_equals_its_png(sample, tmp_path):
    convert.panoptic_to_two_channel(str(sample / "panoptic_examples.json"), str(tmp_path / "2ch"))
    for f in sorted((sample / "panoptic_examples_2ch_format").iterdir()):
        np.testing.assert_array_equal(np.array(Image.open(tmp_path / "2ch" / f.name)), np.array(Image.open(f)))


def test_sample_two_channel_and_detection_back_to_panoptic(sample, tmp_path):
    gt = segments_by_content(sample / "panoptic_examples.json", sample / "panoptic_examples")
    images_json = str(sample / "panoptic_examples.json")
    convert.two_channel_to_panoptic(str(sample / "panoptic_examples_2ch_format"), images_json,
                                    str(tmp_path / "from2ch.json"))
    assert segments_by_content(tmp_path / "from2ch.json", tmp_path / "from2ch") == gt
    convert.detection_to_panoptic(str(sample / "panoptic_coco_detection_format.json"), str(tmp_path / "fromdet.json"),
                                  categories_json=str(sample / "panoptic_coco_categories.json"))
    assert segments_by_content(tmp_path / "fromdet.json", tmp_path / "fromdet") == gt
    # the first segment of each category in an image takes the category colour, as panopticapi
    colors = {c["id"]: c["color"] for c in json.loads((sample / "panoptic_coco_categories.json").read_text())}
    for ann in json.loads((tmp_path / "fromdet.json").read_text())["annotations"]:
        first = {}
        for s in ann["segments_info"]:
            first.setdefault(s["category_id"], s["id"])
        for c, sid in first.items():
            r, g, b = colors[c]
            assert sid == r + 256 * g + 65536 * b


def test_generated_round_trips_are_exact(coco_like, tmp_path):
    # the generated GT has a few PNG ids its JSON does not list (void for panopticapi)
    gt = segments_by_content(coco_like.gt_json, coco_like.gt_folder, strict=False)
    with pytest.raises(ConversionError, match="does not list"):
        convert.panoptic_to_detection(str(coco_like.gt_json), str(tmp_path / "x.json"),
                                      panoptic_folder=str(coco_like.gt_folder))
    assert sum(map(len, gt.values())) > 50
    # some generated images have two crowd regions of one category, which the 2-channel format
    # cannot tell apart as (category, 255): there crowd regions are numbered as instances
    convert.panoptic_to_two_channel(str(coco_like.gt_json), str(tmp_path / "2ch"), panoptic_folder=str(coco_like.gt_folder),
                                    unlisted_as_void=True, crowd_instance=None)
    convert.two_channel_to_panoptic(str(tmp_path / "2ch"), str(coco_like.gt_json), str(tmp_path / "back2ch.json"),
                                    crowd_instance=None)
    no_crowd = {k: sorted((row[0], 0) + row[2:] for row in rows) for k, rows in gt.items()}
    assert any(row[1] for rows in gt.values() for row in rows)
    assert segments_by_content(tmp_path / "back2ch.json", tmp_path / "back2ch") == no_crowd
    det = convert.panoptic_to_detection(str(coco_like.gt_json), str(tmp_path / "det.json"),
                                        panoptic_folder=str(coco_like.gt_folder), unlisted_as_void=True)
    convert.detection_to_panoptic(str(tmp_path / "det.json"), str(tmp_path / "backdet.json"),
                                  categories_json=str(coco_like.gt_json))
    assert segments_by_content(tmp_path / "backdet.json", tmp_path / "backdet") == gt
    # every RLE is pycocotools' encoding of the segment's mask
    by_image = {a["image_id"]: a for a in json.loads(coco_like.gt_json.read_text())["annotations"]}
    seen = 0
    for ann in by_image.values():
        ids = read_ids(coco_like.gt_folder / ann["file_name"])
        expected = [coco_mask.encode(np.asfortranarray((ids == s["id"]).astype(np.uint8)))["counts"].decode()
                    for s in ann["segments_info"]]
        got = [d["segmentation"]["counts"] for d in det["annotations"] if d["image_id"] == ann["image_id"]]
        assert got == expected
        seen += len(got)
    assert [d["id"] for d in det["annotations"]] == list(range(seen))


def test_panoptic_to_semantic(coco_like, tmp_path):
    data = json.loads(coco_like.gt_json.read_text())
    isthing = {c["id"]: c["isthing"] for c in data["categories"]}
    for things_other, void in ((False, 0), (True, 255)):
        out = tmp_path / f"sem{things_other}"
        convert.panoptic_to_semantic(str(coco_like.gt_json), str(out), panoptic_folder=str(coco_like.gt_folder),
                                     void=void, things_other=things_other, unlisted_as_void=True)
        for ann in data["annotations"]:
            ids = read_ids(coco_like.gt_folder / ann["file_name"])
            expected = np.full(ids.shape, void, np.uint8)
            for s in ann["segments_info"]:  # painted one segment at a time, as panopticapi does
                expected[ids == s["id"]] = 183 if things_other and isthing[s["category_id"]] else s["category_id"]
            got = Image.open(out / ann["file_name"])
            assert got.mode == "L"
            np.testing.assert_array_equal(np.array(got), expected)


# ---------------------------------------------------------------------------
# Cityscapes


def write_cityscapes(root: Path, rng: np.random.Generator) -> None:
    """gtFine/{val,train}/<city>/*_gtFine_instanceIds.png: stuff classes, ignored classes, crowd
    regions (class id < 1000) and instances (class * 1000 + k), as 16-bit PNGs."""
    for set_name, n in (("val", 3), ("train", 2)):
        for k in range(n):
            city = ("aachen", "bochum", "ulm")[k % 3]
            folder = root / "gtFine" / set_name / city
            folder.mkdir(parents=True, exist_ok=True)
            h, w = 64 + 8 * k, 96
            img = rng.choice(np.array([0, 1, 3, 4, 7, 8, 11, 17, 21, 23]), size=(h // 8, w // 8))
            img = np.kron(img, np.ones((8, 8), np.int64))
            for j in range(int(rng.integers(3, 9))):
                cls = int(rng.choice([24, 25, 26, 27, 28, 31, 32, 33]))
                y, x = int(rng.integers(0, h - 10)), int(rng.integers(0, w - 10))
                value = cls if j == 0 else cls * 1000 + j
                img[y:y + int(rng.integers(3, 12)), x:x + int(rng.integers(3, 20))] = value
            img[0, 0] = 29  # caravan: a thing class ignored in evaluation
            name = f"{city}_{k:06d}_000019_gtFine_instanceIds.png"
            Image.fromarray(img.astype(np.uint16)).save(folder / name)


@pytest.mark.parametrize("use_train_id", [False, True])
def test_cityscapes_equals_create_panoptic_imgs(tmp_path, use_train_id, capsys):
    write_cityscapes(tmp_path, np.random.default_rng(7))
    ref, ours = tmp_path / "ref", tmp_path / "ours"
    ref.mkdir()
    convert2panoptic(str(tmp_path / "gtFine"), str(ref), use_train_id, ["val", "train"])
    written = convert.cityscapes_to_panoptic(str(tmp_path / "gtFine"), str(ours), use_train_id=use_train_id,
                                             set_names=["val", "train"])
    assert len(written) == 2
    n_segments = 0
    for json_file in sorted(ref.glob("*.json")):
        assert (ours / json_file.name).read_text() == json_file.read_text()
        data = json.loads(json_file.read_text())
        n_segments += sum(len(a["segments_info"]) for a in data["annotations"])
        assert any(s["iscrowd"] for a in data["annotations"] for s in a["segments_info"])
        for ann in data["annotations"]:
            folder = json_file.with_suffix("").name
            np.testing.assert_array_equal(np.array(Image.open(ours / folder / ann["file_name"])),
                                          np.array(Image.open(ref / folder / ann["file_name"])))
    assert n_segments > 20


def test_cityscapes_missing_set(tmp_path):
    (tmp_path / "gtFine" / "val").mkdir(parents=True)
    with pytest.raises(ConversionError, match="no files for the val set"):
        convert.cityscapes_to_panoptic(str(tmp_path / "gtFine"), str(tmp_path), set_names=["val"])


# ---------------------------------------------------------------------------
# Bad input


def test_bad_inputs_name_image_and_file(sample, tmp_path):
    pan_json = sample / "panoptic_examples.json"
    data = json.loads(pan_json.read_text())
    # a segment dropped from the JSON: its PNG id is unlisted
    broken = json.loads(json.dumps(data))
    dropped = broken["annotations"][0]["segments_info"].pop(0)
    (sample / "broken.json").write_text(json.dumps(broken))
    for fn in (lambda: convert.panoptic_to_detection(str(sample / "broken.json"), str(tmp_path / "d.json"),
                                                     panoptic_folder=str(sample / "panoptic_examples")),
               lambda: convert.panoptic_to_semantic(str(sample / "broken.json"), str(tmp_path / "s"),
                                                    panoptic_folder=str(sample / "panoptic_examples")),
               lambda: convert.panoptic_to_two_channel(str(sample / "broken.json"), str(tmp_path / "t"),
                                                       panoptic_folder=str(sample / "panoptic_examples"))):
        with pytest.raises(ConversionError, match="142238.*does not list") as e:
            fn()
        assert e.value.image_id == 142238 and e.value.segment_id == dropped["id"]
        assert e.value.file.endswith("000000142238.png")
    # a 2-channel PNG with a category the list lacks
    two = tmp_path / "2ch"
    shutil.copytree(sample / "panoptic_examples_2ch_format", two)
    px = np.array(Image.open(two / "000000439180.png"))
    px[0, 0] = (250, 0, 0)
    Image.fromarray(px).save(two / "000000439180.png")
    with pytest.raises(ConversionError, match="439180.*category 250"):
        convert.two_channel_to_panoptic(str(two), str(pan_json), str(tmp_path / "o.json"))
    (two / "000000439180.png").unlink()
    with pytest.raises(PngNotFoundError, match="439180"):
        convert.two_channel_to_panoptic(str(two), str(pan_json), str(tmp_path / "o.json"))
    # overlapping detection masks
    det = json.loads((sample / "panoptic_coco_detection_format.json").read_text())
    det["annotations"].append(dict(det["annotations"][0], id=99))
    (sample / "overlap.json").write_text(json.dumps(det))
    with pytest.raises(ConversionError, match="annotation 99 overlaps annotation 0"):
        convert.detection_to_panoptic(str(sample / "overlap.json"), str(tmp_path / "p.json"),
                                      categories_json=str(sample / "panoptic_coco_categories.json"))
    # two crowd regions of one category cannot both be (category, 255)
    crowded = json.loads(json.dumps(data))
    segs = crowded["annotations"][0]["segments_info"]
    persons = [s for s in segs if s["category_id"] == 1 and not s["iscrowd"]]
    persons[0]["iscrowd"] = 1
    (sample / "crowded.json").write_text(json.dumps(crowded))
    with pytest.raises(ConversionError, match="would both be"):
        convert.panoptic_to_two_channel(str(sample / "crowded.json"), str(tmp_path / "c"),
                                        panoptic_folder=str(sample / "panoptic_examples"))


def test_cli_convert(sample, tmp_path, capsys):
    from fastpq.cli import main

    out = tmp_path / "det.json"
    assert main(["convert", "panoptic2detection", str(sample / "panoptic_examples.json"), str(out)]) == 0
    theirs = json.loads((sample / "panoptic_coco_detection_format.json").read_text())
    assert json.loads(out.read_text())["annotations"] == theirs["annotations"]
    assert main(["convert", "detection2panoptic", str(out), str(tmp_path / "pan.json"),
                 "--categories", str(sample / "panoptic_coco_categories.json")]) == 0
    assert segments_by_content(tmp_path / "pan.json", tmp_path / "pan") == \
        segments_by_content(sample / "panoptic_examples.json", sample / "panoptic_examples")
    assert main(["convert", "2ch2panoptic", str(sample / "panoptic_examples_2ch_format"), str(tmp_path / "x.json")]) == 1
    assert "needs --images" in capsys.readouterr().err
