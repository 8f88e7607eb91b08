"""Tests of the synthetic COCO panoptic dataset generator."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
from PIL import Image


def _load_synthetic():
    """Import fastpq.synthetic, or load the file directly when the package can't be imported
    (e.g. its compiled extension is not built)."""
    try:
        from fastpq import synthetic
        return synthetic
    except ImportError:
        path = Path(__file__).resolve().parents[1] / "python" / "fastpq" / "synthetic.py"
        spec = importlib.util.spec_from_file_location("fastpq_synthetic_standalone", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module


synthetic = _load_synthetic()

TINY = synthetic.DatasetSpec("tiny", 72, 96, 12, 5)


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _folder_bytes(root: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _pixel_counts(id_map: np.ndarray) -> Dict[int, int]:
    ids, counts = np.unique(id_map, return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts) if i != synthetic.VOID}


def _images(spec, n: int, seed: int = 0) -> List["synthetic.GeneratedImage"]:
    return [synthetic.generate_image(spec, i, seed) for i in range(n)]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> "synthetic.DatasetPaths":
    return synthetic.generate_dataset(tmp_path_factory.mktemp("tiny"), TINY, 12, seed=3)


def test_png_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    id_map = rng.integers(0, synthetic.MAX_SEGMENT_ID, size=(17, 23)).astype(np.uint32)
    id_map[0, :3] = [0, 1, synthetic.MAX_SEGMENT_ID - 1]
    rgb = synthetic.id_to_rgb(id_map)
    assert rgb.dtype == np.uint8 and rgb.shape == (17, 23, 3)
    assert np.array_equal(synthetic.rgb_to_id(rgb), id_map)

    synthetic.write_png(tmp_path / "a.png", id_map)
    with Image.open(tmp_path / "a.png") as image:
        assert image.mode == "RGB"
        decoded = np.asarray(image, dtype=np.uint32)
    assert np.array_equal(decoded[..., 0] + 256 * decoded[..., 1] + 65536 * decoded[..., 2], id_map)
    assert np.array_equal(synthetic.read_png(tmp_path / "a.png"), id_map)


def test_layout(tiny_dataset):
    paths = tiny_dataset
    assert paths.gt_folder == paths.gt_json.with_suffix("")
    assert paths.pred_folder == paths.pred_json.with_suffix("")
    gt, pred = _load(paths.gt_json), _load(paths.pred_json)
    assert len(gt["images"]) == len(gt["annotations"]) == len(pred["annotations"]) == 12
    assert {a["image_id"] for a in pred["annotations"]} == {i["id"] for i in gt["images"]}
    for image, ann in zip(gt["images"], gt["annotations"]):
        assert ann["image_id"] == image["id"]
        assert (image["height"], image["width"]) == (TINY.height, TINY.width)
        assert (paths.gt_folder / ann["file_name"]).is_file()
    for ann in pred["annotations"]:
        assert (paths.pred_folder / ann["file_name"]).is_file()


def test_same_seed_same_bytes_whatever_the_workers(tmp_path, tiny_dataset):
    again = synthetic.generate_dataset(tmp_path / "again", TINY, 12, seed=3, workers=1)
    parallel = synthetic.generate_dataset(tmp_path / "parallel", TINY, 12, seed=3, workers=2)
    reference = _folder_bytes(tiny_dataset.gt_json.parent)
    assert len(reference) == 2 + 2 * 12
    assert _folder_bytes(again.gt_json.parent) == reference
    assert _folder_bytes(parallel.gt_json.parent) == reference


def test_different_seeds_differ(tmp_path, tiny_dataset):
    other = synthetic.generate_dataset(tmp_path, TINY, 12, seed=4)
    assert other.gt_json.read_bytes() != tiny_dataset.gt_json.read_bytes()


def test_gt_areas_and_boxes_match_pixels(tiny_dataset):
    gt = _load(tiny_dataset.gt_json)
    for ann in gt["annotations"]:
        id_map = synthetic.read_png(tiny_dataset.gt_folder / ann["file_name"])
        for segment in ann["segments_info"]:
            ys, xs = np.nonzero(id_map == segment["id"])
            assert segment["area"] == ys.size
            if ys.size:
                box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
                assert segment["bbox"] == [int(v) for v in box]


@pytest.mark.parametrize("which", ["gt", "pred"])
def test_ids_unique_and_24_bit(tiny_dataset, which):
    data = _load(getattr(tiny_dataset, f"{which}_json"))
    for ann in data["annotations"]:
        ids = [s["id"] for s in ann["segments_info"]]
        assert len(ids) == len(set(ids))
        assert all(0 < i < synthetic.MAX_SEGMENT_ID for i in ids)


def test_predictions_are_valid_for_panopticapi(tiny_dataset):
    pred = _load(tiny_dataset.pred_json)
    category_ids = {c["id"] for c in pred["categories"]}
    for ann in pred["annotations"]:
        assert all(set(s) == {"id", "category_id"} for s in ann["segments_info"])
        assert all(s["category_id"] in category_ids for s in ann["segments_info"])
        id_map = synthetic.read_png(tiny_dataset.pred_folder / ann["file_name"])
        assert set(_pixel_counts(id_map)) == {s["id"] for s in ann["segments_info"]}


def test_gt_edge_cases_when_forced():
    spec = dataclasses.replace(TINY, empty_gt_segment_prob=1.0, unlisted_gt_id_prob=1.0)
    for image in _images(spec, 4):
        listed = {s["id"] for s in image.gt_segments}
        in_png = set(_pixel_counts(image.gt_id_map))
        assert len(listed - in_png) == 1
        assert len(in_png - listed) == 1
        assert [s["area"] for s in image.gt_segments if s["id"] not in in_png] == [0]
        assert set(_pixel_counts(image.pred_id_map)) == {s["id"] for s in image.pred_segments}


def test_gt_edge_cases_off():
    spec = dataclasses.replace(TINY, empty_gt_segment_prob=0.0, unlisted_gt_id_prob=0.0)
    for image in _images(spec, 4):
        assert set(_pixel_counts(image.gt_id_map)) == {s["id"] for s in image.gt_segments}


@pytest.mark.parametrize("spec", [synthetic.COCO_LIKE, synthetic.CITYSCAPES_LIKE], ids=lambda s: s.name)
def test_realistic_specs_have_crowds_and_void(spec):
    images = _images(spec, 6)
    thing_ids = set(spec.thing_ids)
    crowds = [s for image in images for s in image.gt_segments if s["iscrowd"]]
    assert crowds and all(s["category_id"] in thing_ids for s in crowds)
    assert any((image.gt_id_map == synthetic.VOID).any() for image in images)
    assert any((image.pred_id_map == synthetic.VOID).any() for image in images)
    for image in images:
        assert image.gt_id_map.shape == (spec.height, spec.width)
        assert image.gt_id_map.dtype == np.uint32


def test_category_lists():
    for spec in (synthetic.COCO_LIKE, synthetic.CITYSCAPES_LIKE, TINY):
        categories = spec.categories()
        ids = [c["id"] for c in categories]
        assert ids == sorted(ids) and len(ids) == spec.n_categories
        assert sum(c["isthing"] for c in categories) == spec.n_things
        assert ids[-1] - ids[0] + 1 > len(ids), "ids should not be contiguous"
    assert synthetic.COCO_LIKE.categories()[0]["id"] == 1
    assert synthetic.COCO_LIKE.categories()[-1]["id"] == 200


def _match_counts(image: "synthetic.GeneratedImage") -> Tuple[int, int, int]:
    """TP, FP, FN of one image under PQ's IoU > 0.5 rule (crowd and void handling simplified)."""
    gt = {s["id"]: s for s in image.gt_segments if not s["iscrowd"]}
    pred = {s["id"]: s for s in image.pred_segments}
    gt_area, pred_area = _pixel_counts(image.gt_id_map), _pixel_counts(image.pred_id_map)
    pairs, counts = np.unique(image.gt_id_map.astype(np.uint64) << np.uint64(24) | image.pred_id_map,
                              return_counts=True)
    tp = 0
    for pair, intersection in zip(pairs.tolist(), counts.tolist()):
        g, p = pair >> 24, pair & 0xFFFFFF
        if g in gt and p in pred and gt[g]["category_id"] == pred[p]["category_id"]:
            tp += intersection / (gt_area[g] + pred_area[p] - intersection) > 0.5
    return tp, len(pred) - tp, len(gt) - tp


@pytest.mark.parametrize("spec", [synthetic.COCO_LIKE, TINY], ids=lambda s: s.name)
def test_predictions_mix_hits_and_mistakes(spec):
    totals = np.zeros(3, dtype=int)
    for image in _images(spec, 8):
        counts = _match_counts(image)
        assert counts[0] > 0
        totals += counts
    assert (totals > 0).all()
    assert totals[0] > max(totals[1], totals[2]) / 2


def test_spec_validation():
    with pytest.raises(ValueError):
        synthetic.DatasetSpec("bad", 64, 64, 5, 5)
    with pytest.raises(ValueError):
        synthetic.DatasetSpec("bad", 64, 64, 5, 2, thing_ids=(1, 2), stuff_ids=(3,))
