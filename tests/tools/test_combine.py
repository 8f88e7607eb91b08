"""fastpq.combine against panopticapi's combine_semantic_and_instance_predictions (panopticapi-lite
from PyPI), run end to end on the same files, and against hand-computed cases.

panopticapi chooses thing ids with numpy's random state, so outputs are compared segment by
segment, in order: same category, same pixels. Stuff ids are deterministic in both (the category
colour) and compared as ids. Segments panopticapi lists without pixels (possible only with
overlap_thr >= 1 or stuff_area_limit <= 0) are left out by fastpq by design.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from panopticapi.combine_semantic_and_instance_predictions import combine_predictions as reference_combine
from fastpq import synthetic
from fastpq.combine import combine, combine_predictions
from fastpq.errors import AnnotationError, ConversionError, FastPQError, PngNotFoundError


def rle(mask: np.ndarray) -> Dict[str, Any]:
    r = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode()}


def read_ids(path: Path) -> np.ndarray:
    rgb = np.array(Image.open(path), dtype=np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def semantic_json(image_id: Any, semantic: np.ndarray, void: int = 0) -> List[Dict[str, Any]]:
    """panopticapi's semantic input (one RLE per category, ascending id) of a category map."""
    return [{"image_id": image_id, "category_id": int(c), "segmentation": rle(semantic == c)}
            for c in np.unique(semantic) if c != void]


class Inputs:
    """One dataset's inputs written as both tools take them."""

    def __init__(self, root: Path, images: List[Dict[str, Any]], categories: List[Dict[str, Any]],
                 instances: List[Dict[str, Any]], semantic: Dict[Any, np.ndarray]) -> None:
        self.root, self.images, self.categories = root, images, categories
        self.instances, self.semantic = instances, semantic
        root.mkdir(parents=True, exist_ok=True)
        self.images_json = root / "images.json"
        self.images_json.write_text(json.dumps({"images": images, "categories": categories}))
        self.categories_json = root / "categories.json"
        self.categories_json.write_text(json.dumps(categories))
        self.instances_json = root / "instances.json"
        self.instances_json.write_text(json.dumps(instances))
        self.semseg_json = root / "semseg.json"
        self.semseg_json.write_text(json.dumps([s for img in images for s in semantic_json(img["id"], semantic[img["id"]])]))
        self.semantic_folder = root / "semantic"
        self.semantic_folder.mkdir(exist_ok=True)
        for img in images:
            Image.fromarray(semantic[img["id"]]).save(self.semantic_folder / (os.path.splitext(img["file_name"])[0] + ".png"))

    def run_reference(self, name: str, confidence_thr: float, overlap_thr: float, stuff_area_limit: float) -> Path:
        out = self.root / f"{name}.json"
        reference_combine(str(self.semseg_json), str(self.instances_json), str(self.images_json),
                          str(self.categories_json), str(self.root / name), str(out), confidence_thr,
                          overlap_thr, stuff_area_limit)
        return out

    def run_fastpq(self, name: str, confidence_thr: float, overlap_thr: float, stuff_area_limit: float,
                   workers: int = 2) -> Path:
        out = self.root / f"{name}.json"
        combine_predictions(str(self.instances_json), str(self.images_json), str(out),
                            semantic_folder=str(self.semantic_folder), categories_json=str(self.categories_json),
                            confidence_thr=confidence_thr, overlap_thr=overlap_thr,
                            stuff_area_limit=stuff_area_limit, workers=workers)
        return out


def assert_same_panoptic(ref_json: Path, ours_json: Path, categories: Sequence[Dict[str, Any]]) -> int:
    """Segment-wise equality in order; returns how many segments were compared."""
    isthing = {c["id"]: c["isthing"] for c in categories}
    color_id = {c["id"]: c["color"][0] + 256 * c["color"][1] + 65536 * c["color"][2] for c in categories}
    ref, ours = json.loads(ref_json.read_text()), json.loads(ours_json.read_text())
    assert [a["image_id"] for a in ref["annotations"]] == [a["image_id"] for a in ours["annotations"]]
    assert ours["images"] == ref["images"]
    compared = 0
    for ra, oa in zip(ref["annotations"], ours["annotations"]):
        assert oa["file_name"] == ra["file_name"]
        rmap = read_ids(ref_json.with_suffix("") / ra["file_name"])
        omap = read_ids(ours_json.with_suffix("") / oa["file_name"])
        assert rmap.shape == omap.shape
        rsegs = [s for s in ra["segments_info"] if (rmap == s["id"]).any()]
        osegs = oa["segments_info"]
        assert [s["category_id"] for s in osegs] == [s["category_id"] for s in rsegs]
        for rs, os_ in zip(rsegs, osegs):
            mask = omap == os_["id"]
            np.testing.assert_array_equal(mask, rmap == rs["id"])
            assert os_["area"] == int(mask.sum())
            ys, xs = np.nonzero(mask)
            assert os_["bbox"] == [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
            assert os_["iscrowd"] == 0
            if not isthing[os_["category_id"]]:
                assert os_["id"] == rs["id"] == color_id[os_["category_id"]]
        np.testing.assert_array_equal(omap == 0, rmap == 0)
        assert len({s["id"] for s in osegs}) == len(osegs)
        compared += len(osegs)
    return compared


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Inputs:
    """COCO-like images: instances from both the GT and the perturbed prediction's things (so they
    overlap), scores rounded to one decimal (so there are ties), the prediction's categories as the
    semantic map (things included, which the heuristic must ignore)."""
    rng = np.random.default_rng(5)
    images, instances, semantic = [], [], {}
    spec = synthetic.COCO_LIKE
    cats = {c["id"]: c for c in spec.categories()}
    for index in range(4):
        g = synthetic.generate_image(spec, index, seed=3)
        image_id = g.image["id"]
        images.append(g.image)
        for id_map, segments in ((g.gt_id_map, g.gt_segments), (g.pred_id_map, g.pred_segments)):
            for s in segments:
                if cats[s["category_id"]]["isthing"]:
                    instances.append({"image_id": image_id, "category_id": s["category_id"],
                                      "score": round(float(rng.uniform(0.2, 1.0)), 1),
                                      "segmentation": rle(id_map == s["id"])})
        order = rng.permutation(len(instances))
        instances = [instances[i] for i in order]
        sem = np.zeros(g.pred_id_map.shape, np.uint8)
        for s in g.pred_segments:
            sem[g.pred_id_map == s["id"]] = s["category_id"]
        semantic[image_id] = sem
    return Inputs(tmp_path_factory.mktemp("combine_generated"), images, spec.categories(), instances, semantic)


@pytest.mark.parametrize("confidence_thr, overlap_thr, stuff_area_limit", [
    (0.5, 0.5, 64 * 64),      # panopticapi's defaults
    (0.0, 0.3, 0),
    (0.35, 0.0, 200.5),
    (0.7, 0.9, 1),
    (0.5, 1.0, 64 * 64),     # fully covered instances are accepted by panopticapi, without pixels
])
def test_combine_equals_panopticapi_on_generated_data(generated, confidence_thr, overlap_thr, stuff_area_limit):
    name = f"c{confidence_thr}_o{overlap_thr}_s{stuff_area_limit}"
    ref = generated.run_reference("ref_" + name, confidence_thr, overlap_thr, stuff_area_limit)
    ours = generated.run_fastpq("ours_" + name, confidence_thr, overlap_thr, stuff_area_limit)
    assert assert_same_panoptic(ref, ours, generated.categories) > 10


def test_combine_is_deterministic_across_workers(generated):
    a = generated.run_fastpq("det_1", 0.5, 0.5, 4096, workers=1)
    b = generated.run_fastpq("det_4", 0.5, 0.5, 4096, workers=4)
    assert json.loads(a.read_text()) == json.loads(b.read_text())
    for f in sorted(a.with_suffix("").iterdir()):
        np.testing.assert_array_equal(read_ids(f), read_ids(b.with_suffix("") / f.name))


CATS = [
    {"id": 1, "name": "a", "isthing": 1, "color": [10, 0, 0]},
    {"id": 2, "name": "b", "isthing": 1, "color": [20, 0, 0]},
    {"id": 7, "name": "s", "isthing": 0, "color": [0, 7, 0]},
    {"id": 9, "name": "t", "isthing": 0, "color": [0, 9, 0]},
]


def box(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_hand_computed_case():
    # 4x6 image. A (score .9, cat 1) covers columns 0-2, B (.8, cat 2) columns 2-4: 4 of its 12
    # pixels taken (1/3 <= 0.5), so B keeps columns 3-4. C (.7, cat 1) columns 1-3 is 12/12 taken:
    # dropped. D (.4) is below the confidence threshold. Stuff 7 fills column 5 rows 0-2 (3 pixels,
    # kept with limit 3); stuff 9 has row 3 of column 5 only (1 pixel, dropped). The first segment
    # of each thing category takes the category colour.
    h, w = 4, 6
    img = {"id": 5, "file_name": "x.jpg", "height": h, "width": w}
    inst = [{"image_id": 5, "category_id": 1, "score": 0.9, "segmentation": rle(box(h, w, 0, 4, 0, 3))},
            {"image_id": 5, "category_id": 2, "score": 0.8, "segmentation": rle(box(h, w, 0, 4, 2, 5))},
            {"image_id": 5, "category_id": 1, "score": 0.7, "segmentation": rle(box(h, w, 0, 4, 1, 4))},
            {"image_id": 5, "category_id": 2, "score": 0.4, "segmentation": rle(box(h, w, 0, 4, 5, 6))}]
    sem = np.full((h, w), 7, np.uint8)
    sem[3, 5] = 9
    sem[0, 0] = 1  # a thing category in the semantic map: ignored
    (out,) = combine([img], inst, [sem], CATS, stuff_area_limit=3)
    expected = np.zeros((h, w), np.uint32)
    expected[:, 0:3] = 10
    expected[:, 3:5] = 20
    expected[0:3, 5] = 7 * 256
    np.testing.assert_array_equal(out.ids, expected)
    assert out.segments_info == [
        {"id": 10, "category_id": 1, "iscrowd": 0, "area": 12, "bbox": [0, 0, 3, 4]},
        {"id": 20, "category_id": 2, "iscrowd": 0, "area": 8, "bbox": [3, 0, 2, 4]},
        {"id": 1792, "category_id": 7, "iscrowd": 0, "area": 3, "bbox": [5, 0, 1, 3]},
    ]
    assert out.file_name == "x.png"


def test_ties_keep_input_order_like_panopticapi(tmp_path):
    # Two instances with equal scores cover the same pixels: the first in the input wins, the
    # second is dropped (fully overlapped). Checked against panopticapi, both input orders.
    h, w = 8, 8
    img = {"id": 1, "file_name": "t.jpg", "height": h, "width": w}
    a = {"image_id": 1, "category_id": 1, "score": 0.6, "segmentation": rle(box(h, w, 0, 6, 0, 6))}
    b = {"image_id": 1, "category_id": 2, "score": 0.6, "segmentation": rle(box(h, w, 1, 7, 1, 7))}
    sem = np.full((h, w), 9, np.uint8)
    for k, order in enumerate(([a, b], [b, a])):
        inputs = Inputs(tmp_path / f"o{k}", [img], CATS, order, {1: sem})
        ref = inputs.run_reference("ref", 0.5, 0.5, 1)
        ours = inputs.run_fastpq("ours", 0.5, 0.5, 1)
        assert assert_same_panoptic(ref, ours, CATS) == 2
        first = json.loads(ours.read_text())["annotations"][0]["segments_info"][0]
        assert first["category_id"] == order[0]["category_id"] and first["area"] == 36


def test_many_things_of_one_category_get_distinct_ids():
    h, w = 40, 40
    img = {"id": 1, "file_name": "m.jpg", "height": h, "width": w}
    inst = [{"image_id": 1, "category_id": 1, "score": 1.0, "segmentation": rle(box(h, w, y, y + 1, 0, w))}
            for y in range(h)]
    (out,) = combine([img], inst, None, CATS)
    ids = [s["id"] for s in out.segments_info]
    assert len(set(ids)) == h and ids[0] == 10 and 0 not in ids
    for s in ids[1:]:  # colours near the category's, as panopticapi's IdGenerator draws them
        r, g, b = s % 256, s // 256 % 256, s // 65536
        assert r <= 40 and g <= 30 and b <= 30
    np.testing.assert_array_equal(out.ids[:, 0], ids)


def test_real_sample(coco_sample, tmp_path):
    """The sample's detection-format JSON as instances (all scores 1: ties everywhere, input order
    decides), the GT's stuff as the semantic map; against panopticapi, and the result is the GT
    itself (its segments do not overlap), crowd regions becoming plain segments."""
    det = json.loads((coco_sample / "panoptic_coco_detection_format.json").read_text())
    gt = json.loads((coco_sample / "panoptic_examples.json").read_text())
    categories = json.loads((coco_sample / "panoptic_coco_categories.json").read_text())
    isthing = {c["id"]: c["isthing"] for c in categories}
    instances = [dict(a, score=1.0) for a in det["annotations"] if isthing[a["category_id"]]]
    semantic = {}
    for ann in gt["annotations"]:
        ids = read_ids(coco_sample / "panoptic_examples" / ann["file_name"])
        sem = np.zeros(ids.shape, np.uint8)
        for s in ann["segments_info"]:
            sem[ids == s["id"]] = s["category_id"]
        semantic[ann["image_id"]] = sem
    inputs = Inputs(tmp_path, gt["images"], categories, instances, semantic)
    ref = inputs.run_reference("ref", 0.5, 0.5, 0)
    ours = inputs.run_fastpq("ours", 0.5, 0.5, 0)
    assert assert_same_panoptic(ref, ours, categories) == 50
    out = json.loads(ours.read_text())
    for ga, oa in zip(gt["annotations"], out["annotations"]):
        gmap = read_ids(coco_sample / "panoptic_examples" / ga["file_name"])
        omap = read_ids(ours.with_suffix("") / oa["file_name"])
        got = sorted((s["category_id"], s["area"], s["bbox"], (omap == s["id"]).tobytes()) for s in oa["segments_info"])
        want = sorted((s["category_id"], s["area"], s["bbox"], (gmap == s["id"]).tobytes()) for s in ga["segments_info"])
        assert got == want


def test_bad_inputs_name_the_image():
    h, w = 4, 4
    img = {"id": 3, "file_name": "e.jpg", "height": h, "width": w}
    good = {"image_id": 3, "category_id": 1, "score": 0.9, "segmentation": rle(box(h, w, 0, 2, 0, 2))}
    with pytest.raises(ConversionError, match=r"image 3: .*value 42 .*neither a category"):
        combine([img], [good], [np.full((h, w), 42, np.uint8)], CATS)
    # The first bad pixel in row-major order is named, mid-run and after void and valid pixels.
    sem = np.zeros((h, w), np.uint8)
    sem[0, 2:] = 7
    sem[1, :] = [0, 42, 42, 43]
    sem[2, 0] = 41
    with pytest.raises(ConversionError, match=r"value 42 at \(x=1, y=1\)"):
        combine([img], [good], [sem], CATS)
    with pytest.raises(ConversionError, match=r"image 3: instance 0 has a 5x4 mask in a 4x4 image"):
        combine([img], [dict(good, segmentation=rle(np.ones((5, 4), bool)))], None, CATS)
    with pytest.raises(AnnotationError, match="unknown category 4"):
        combine([img], [dict(good, category_id=4)], None, CATS)
    with pytest.raises(AnnotationError, match="stuff category 7"):
        combine([img], [dict(good, category_id=7)], None, CATS)
    with pytest.raises(AnnotationError, match="score nan"):
        combine([img], [dict(good, score=float("nan"))], None, CATS)
    with pytest.raises(AnnotationError, match="image 8"):
        combine([img], [dict(good, image_id=8)], None, CATS)
    with pytest.raises(FastPQError, match="counts"):
        combine([img], [dict(good, segmentation={"size": [h, w], "counts": [3, 2]})], None, CATS)
    with pytest.raises(ConversionError, match="shape"):
        combine([img], [], [np.zeros((2, 2), np.uint8)], CATS)
    with pytest.raises(AnnotationError, match="share the colour"):
        combine([img], [], None, CATS + [{"id": 11, "isthing": 0, "color": [0, 7, 0]}])
    # the void value is configurable; None makes every value a category
    (out,) = combine([img], [], [np.full((h, w), 9, np.uint8)], CATS, void_value=9, stuff_area_limit=0)
    assert out.segments_info == [] and not out.ids.any()
    with pytest.raises(ConversionError, match="value 0"):
        combine([img], [], [np.zeros((h, w), np.uint8)], CATS, void_value=None)


def test_missing_semantic_png(tmp_path):
    (tmp_path / "images.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "height": 2,
                                                                   "width": 2}], "categories": CATS}))
    (tmp_path / "inst.json").write_text("[]")
    (tmp_path / "sem").mkdir()
    with pytest.raises(PngNotFoundError, match="image 1") as e:
        combine_predictions(str(tmp_path / "inst.json"), str(tmp_path / "images.json"), str(tmp_path / "out.json"),
                            semantic_folder=str(tmp_path / "sem"))
    assert e.value.file.endswith("a.png")


def test_cli_combine(generated, capsys):
    from fastpq.cli import main

    out = generated.root / "cli.json"
    assert main(["combine", "--instances", str(generated.instances_json), "--semantic", str(generated.semantic_folder),
                 "--images", str(generated.images_json), "--output", str(out), "--overlap-thr", "0.3",
                 "--stuff-area-limit", "100"]) == 0
    assert "combined 4 images" in capsys.readouterr().out
    ref = generated.run_reference("cli_ref", 0.5, 0.3, 100)
    assert assert_same_panoptic(ref, out, generated.categories) > 10
    assert main(["combine", "--instances", str(generated.instances_json), "--semantic", "/nonexistent",
                 "--images", str(generated.images_json), "--output", str(out)]) == 1
    assert "does not exist" in capsys.readouterr().err
