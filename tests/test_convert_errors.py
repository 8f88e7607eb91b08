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
    ([{"id": 2**70, "category_id": 1}, {"id": 7, "category_id": 1}], AnnotationTypeError, "not an integer"),
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
