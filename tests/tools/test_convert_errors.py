"""Bad input to fastpq.combine and fastpq.convert: each gets a FastPQError naming the image, the file
and the segment where there is one, never a built-in exception or a silently wrong output. Valid
outputs are checked against pycocotools' mask encoding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from fastpq import convert
from fastpq.errors import AnnotationKeyError, AnnotationTypeError, FastPQError

CATS = [{"id": 1, "name": "a", "isthing": 1, "color": [220, 20, 60]},
        {"id": 2, "name": "b", "isthing": 0, "color": [119, 11, 32]}]


def id_map() -> np.ndarray:
    """A 4x5 map: id 7 (category 1) on the top two rows, id 300 (category 2) at two pixels, void elsewhere."""
    m = np.zeros((4, 5), np.uint32)
    m[:2] = 7
    m[3, 1:3] = 300
    return m


def write_panoptic(root: Path, segments: List[Any]) -> Path:
    """A one-image panoptic set (JSON and PNG folder) with the given segments_info."""
    folder = root / "pan"
    folder.mkdir(parents=True, exist_ok=True)
    m = id_map()
    rgb = np.stack([m & 255, (m >> 8) & 255, (m >> 16) & 255], -1).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "1.png")
    path = root / "pan.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "1.jpg", "height": 4, "width": 5}],
                                "annotations": [{"image_id": 1, "file_name": "1.png", "segments_info": segments}],
                                "categories": CATS}))
    return path


CONVERTERS = {
    "detection": lambda p, out: convert.panoptic_to_detection(str(p), str(out) + ".json"),
    "semantic": lambda p, out: convert.panoptic_to_semantic(str(p), str(out)),
    "two_channel": lambda p, out: convert.panoptic_to_two_channel(str(p), str(out)),
}


# ---------------------------------------------------------------------------
# 1. segment ids of panoptic JSONs


def test_detection_masks_equal_pycocotools_for_int_ids(tmp_path):
    pan = write_panoptic(tmp_path, [{"id": 7, "category_id": 1, "iscrowd": 0}, {"id": 300, "category_id": 2}])
    data = convert.panoptic_to_detection(str(pan), str(tmp_path / "det.json"))
    assert data == json.loads((tmp_path / "det.json").read_text())
    m = id_map()
    anns = data["annotations"]
    assert [a["category_id"] for a in anns] == [1, 2] and [a["id"] for a in anns] == [0, 1]
    for a, sid in zip(anns, (7, 300)):
        expected = coco_mask.encode(np.asfortranarray((m == sid).astype(np.uint8)))
        assert a["segmentation"] == {"size": [4, 5], "counts": expected["counts"].decode()}
        assert coco_mask.decode(a["segmentation"]).sum() == (m == sid).sum() > 0


@pytest.mark.parametrize("segments, cls, what", [
    ([{"id": "7", "category_id": 1}], AnnotationTypeError, "'7'"),
    ([{"id": 7.0, "category_id": 1}], AnnotationTypeError, "7.0"),
    ([{"id": 2**70, "category_id": 1}, {"id": 7, "category_id": 1}], AnnotationTypeError, "not a 64-bit integer"),
    ([{"category_id": 1}, {"id": 7, "category_id": 1}], AnnotationKeyError, "no 'id'"),
    ([7], AnnotationTypeError, "not an object"),
    ({"id": 7}, AnnotationTypeError, "not a list"),
], ids=["string", "float", "huge", "missing", "not_object", "not_list"])
@pytest.mark.parametrize("converter", sorted(CONVERTERS))
def test_bad_segment_ids_are_refused_before_writing(tmp_path, segments, cls, what, converter):
    pan = write_panoptic(tmp_path, segments)
    out = tmp_path / "out"
    with pytest.raises(cls, match=f"image 1.*{what}|{what}.*image 1|ID 1.*{what}") as e:
        CONVERTERS[converter](pan, out)
    assert e.value.image_id == 1 and e.value.file == str(pan)
    assert not out.exists() and not Path(str(out) + ".json").exists()


# ---------------------------------------------------------------------------
# 2. combine: sizes, RLEs, colours, options, semantic maps, category ids

from fastpq.combine import combine  # noqa: E402
from fastpq.errors import (AnnotationError, ConversionError, InvalidOptionError,  # noqa: E402
                           LimitExceededError)
from fastpq.limits import check_image_size  # noqa: E402

IMAGES = [{"id": 1, "file_name": "1.jpg", "height": 4, "width": 5}]
SMALL_CATS = [{"id": 1, "isthing": 1, "color": [1, 2, 3]}, {"id": 2, "isthing": 0, "color": [4, 5, 6]}]


def image(**fields: Any) -> List[Any]:
    return [dict(IMAGES[0], **fields)]


def instance(**segmentation: Any) -> List[Any]:
    return [{"image_id": 1, "category_id": 1, "score": 1.0, "segmentation": segmentation}]


BAD_COMBINE = {
    "colour_int": (dict(categories=[{"id": 1, "isthing": 1, "color": 5}]), AnnotationTypeError, "colour 5"),
    "colour_none": (dict(categories=[{"id": 1, "isthing": 1, "color": None}]), AnnotationTypeError, "colour None"),
    "height_negative": (dict(images=image(height=-4)), AnnotationError, "image 1 has height -4"),
    "height_huge": (dict(images=image(height=2**33)), AnnotationError, "image 1 has height 8589934592"),
    "height_string": (dict(images=image(height="x")), AnnotationTypeError, "image 1 has height 'x'"),
    "height_bool": (dict(images=image(height=True)), AnnotationTypeError, "image 1 has height True"),
    "too_many_pixels": (dict(images=image(height=20000, width=20000)), LimitExceededError,
                        "image 1 is 20000x20000.*max_pixels"),
    "id_unhashable": (dict(images=image(id=[1])), AnnotationTypeError, r"image entry 0 has id \[1\]"),
    "id_twice": (dict(images=IMAGES * 2, semantic=None), AnnotationError, "image 1 is listed twice"),
    "instance_image_unhashable": (dict(instances=[{"image_id": {}, "category_id": 1, "score": 1,
                                                   "segmentation": []}]), AnnotationTypeError, "instance 0"),
    "category_unhashable": (dict(instances=[{"image_id": 1, "category_id": [1], "score": 1, "segmentation": []}]),
                            AnnotationError, r"image 1 has unknown category \[1\]"),
    "rle_size_negative": (dict(instances=instance(size=[-4, 5], counts=[20])), AnnotationTypeError,
                          r"instance 0 of image 1: RLE size \[-4, 5\]"),
    "rle_size_string": (dict(instances=instance(size=["a", 5], counts=[20])), AnnotationTypeError, "RLE size"),
    "rle_counts_dict": (dict(instances=instance(size=[4, 5], counts={"a": 1})), AnnotationTypeError,
                        "instance 0 of image 1: RLE counts"),
    "rle_counts_negative": (dict(instances=instance(size=[4, 5], counts=[-1, 21])), AnnotationTypeError,
                            "instance 0 of image 1: RLE counts"),
    "rle_counts_huge": (dict(instances=instance(size=[4, 5], counts=[0, 2**40])), AnnotationTypeError,
                        "instance 0 of image 1: RLE counts"),
    "rle_counts_sum": (dict(instances=instance(size=[4, 5], counts=[0, 2**31])), AnnotationError,
                       "instance 0 of image 1: RLE counts add up to 2147483648"),
    "semantic_short": (dict(semantic=[]), ConversionError, "semantic holds 0 maps for 1 images"),
    "semantic_long": (dict(semantic=[None, None]), ConversionError, "semantic holds 2 maps for 1 images"),
    "semantic_not_sequence": (dict(semantic=5), AnnotationTypeError, "semantic must be"),
    "void_string": (dict(void_value="x"), InvalidOptionError, "void_value"),
    "void_huge": (dict(void_value=2**70), InvalidOptionError, "void_value"),
    "threshold_nan": (dict(overlap_thr=float("nan")), InvalidOptionError, "overlap_thr"),
    "workers_negative": (dict(workers=-3), InvalidOptionError, "workers"),
    "max_pixels_zero": (dict(max_pixels=0), InvalidOptionError, "max_pixels"),
}


@pytest.mark.parametrize("case", sorted(BAD_COMBINE))
def test_combine_bad_input_gets_a_fastpq_error_naming_the_image(case):
    changes, cls, match = BAD_COMBINE[case]
    args: dict = dict(images=IMAGES, instances=[], semantic=[np.zeros((4, 5), np.uint8)], categories=SMALL_CATS)
    args.update(changes)
    options = {k: args.pop(k) for k in list(args) if k not in ("images", "instances", "semantic", "categories")}
    with pytest.raises(cls, match=match) as e:
        combine(args["images"], args["instances"], args["semantic"], args["categories"], **options)
    assert isinstance(e.value, FastPQError)
    if "image 1" in match:
        assert e.value.image_id == 1


def test_combine_valid_instance_rle_counts_list():
    """A list of run lengths (uncompressed RLE, column-major as pycocotools) paints the pixels pycocotools decodes."""
    mask = np.zeros((4, 5), np.uint8, order="F")
    mask[1:3, 1:4] = 1
    runs = [5, 2, 2, 2, 2, 2, 5]
    assert coco_mask.decode(coco_mask.frPyObjects({"size": [4, 5], "counts": runs}, 4, 5)).tolist() == mask.tolist()
    out = combine(IMAGES, instance(size=[4, 5], counts=runs), None, SMALL_CATS)[0]
    (seg,) = out.segments_info
    assert (out.ids == seg["id"]).tolist() == mask.astype(bool).tolist()
    assert seg["area"] == 6 and seg["bbox"] == [1, 1, 3, 2]


def test_combine_huge_category_ids_take_no_dense_table():
    """Category id 2**31 - 1 once made the core allocate an 8 GiB lookup table; now the stuff
    segments equal what the definition gives: each category's pixels, in ascending id order."""
    cats = [{"id": 2**31 - 1, "isthing": 0, "color": [1, 1, 1]}, {"id": 70_000, "isthing": 0, "color": [2, 1, 1]},
            {"id": 5, "isthing": 0, "color": [3, 1, 1]}, {"id": 9, "isthing": 1, "color": [4, 1, 1]}]
    sem = np.zeros((4, 5), np.int32)
    sem[0, :3] = 2**31 - 1
    sem[1, 1] = 70_000
    sem[2] = 5
    sem[3, 4] = 2**31 - 2  # neither a category nor void
    with pytest.raises(ConversionError, match=r"image 1: the semantic map has value 2147483646 at \(x=4, y=3\)") as e:
        combine(IMAGES, [], [sem], cats, stuff_area_limit=1)
    assert e.value.image_id == 1
    sem[3, 4] = 0
    out = combine(IMAGES, [], [sem], cats, stuff_area_limit=1)[0]
    assert [s["category_id"] for s in out.segments_info] == [5, 70_000, 2**31 - 1]
    for s in out.segments_info:
        expected = sem == s["category_id"]
        assert s["id"] == sum(v << (8 * k) for k, v in enumerate(cats[[c["id"] for c in cats].index(s["category_id"])]["color"]))
        assert (out.ids == s["id"]).tolist() == expected.tolist() and s["area"] == expected.sum()
    assert ((out.ids == 0) == (sem == 0)).all()


def test_check_image_size_is_shared():
    assert check_image_size(4, np.int64(5), 20, "a") == (4, 5)
    with pytest.raises(LimitExceededError, match="image 'a' is 4x6") as e:
        check_image_size(4, 6, 20, "a", "x.json")
    assert e.value.image_id == "a" and e.value.file == "x.json"


def test_detection_to_panoptic_checks_sizes_and_rles(tmp_path):
    base = {"images": [{"id": 3, "file_name": "3.jpg", "height": 4, "width": 5}], "categories": SMALL_CATS,
            "annotations": [{"id": 0, "image_id": 3, "category_id": 1, "segmentation": {"size": [4, 5],
                                                                                     "counts": [-1, 21]}}]}
    det = tmp_path / "det.json"
    det.write_text(json.dumps(base))
    with pytest.raises(AnnotationTypeError, match="image 3: annotation 0: RLE counts") as e:
        convert.detection_to_panoptic(str(det), str(tmp_path / "p.json"))
    assert e.value.image_id == 3 and e.value.file == str(det)
    base["images"][0]["height"] = 10**6
    det.write_text(json.dumps(base))
    with pytest.raises(LimitExceededError, match="image 3 is 1000000x5") as e:
        convert.detection_to_panoptic(str(det), str(tmp_path / "p.json"), max_pixels=10**6)
    assert e.value.image_id == 3 and e.value.file == str(det)


# ---------------------------------------------------------------------------
# 3. output file names that would leave the output folder

ESCAPING_NAMES = ["../escape.jpg", "/tmp/escape.jpg", "a/../../escape.jpg", "..\\escape.jpg", "C:escape.jpg"]


@pytest.mark.parametrize("name", ESCAPING_NAMES)
def test_combine_refuses_file_names_leaving_the_output_folder(tmp_path, name):
    images = tmp_path / "images.json"
    images.write_text(json.dumps({"images": [{"id": 1, "file_name": name, "height": 4, "width": 5}],
                                  "categories": SMALL_CATS}))
    (tmp_path / "inst.json").write_text("[]")
    with pytest.raises(ConversionError, match="image 1: file_name .* not a relative path inside") as e:
        from fastpq.combine import combine_predictions
        combine_predictions(str(tmp_path / "inst.json"), str(images), str(tmp_path / "out" / "c.json"))
    assert e.value.image_id == 1 and e.value.file == str(images)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConversionError, match="image 1: file_name") as e:
        combine(image(file_name=name), [], None, SMALL_CATS)


@pytest.mark.parametrize("name", ESCAPING_NAMES)
@pytest.mark.parametrize("converter", ["semantic", "two_channel"])
def test_converters_refuse_file_names_leaving_the_output_folder(tmp_path, name, converter):
    pan = write_panoptic(tmp_path, [{"id": 7, "category_id": 1}, {"id": 300, "category_id": 2}])
    data = json.loads(pan.read_text())
    data["annotations"][0]["file_name"] = name
    pan.write_text(json.dumps(data))
    with pytest.raises(ConversionError, match="image 1: file_name") as e:
        CONVERTERS[converter](pan, tmp_path / "out")
    assert e.value.image_id == 1 and e.value.file == str(pan)
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.png").exists()


def test_detection_to_panoptic_refuses_escaping_names_and_keeps_sub_folders(tmp_path):
    mask = np.zeros((4, 5), np.uint8, order="F")
    mask[:2] = 1
    rle = coco_mask.encode(mask)
    rle["counts"] = rle["counts"].decode()
    det = tmp_path / "det.json"
    data = {"images": [{"id": 3, "file_name": "../escape.jpg", "height": 4, "width": 5}], "categories": SMALL_CATS,
            "annotations": [{"id": 0, "image_id": 3, "category_id": 1, "segmentation": rle}]}
    det.write_text(json.dumps(data))
    with pytest.raises(ConversionError, match="image 3: file_name '../escape.jpg'") as e:
        convert.detection_to_panoptic(str(det), str(tmp_path / "out" / "p.json"))
    assert e.value.file == str(det) and not (tmp_path / "out").exists()
    data["images"][0]["file_name"] = "sub/ok.jpg"
    det.write_text(json.dumps(data))
    out = convert.detection_to_panoptic(str(det), str(tmp_path / "out" / "p.json"))
    png = np.array(Image.open(tmp_path / "out" / "p" / "sub" / "ok.png"), np.uint32)
    ids = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
    (seg,) = out["annotations"][0]["segments_info"]
    assert out["annotations"][0]["file_name"] == "sub/ok.png" and (ids == seg["id"]).tolist() == mask.astype(bool).tolist()
