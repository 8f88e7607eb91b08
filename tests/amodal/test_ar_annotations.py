"""amodal_ar(..., annotations="first" | "each" | "best") on multi-annotator files, against stock
pycocotools COCOeval set up the COCOA way (tests/amodal_reference.py) on rewritten files: "each"
is the COCOA evaluation of a file where every annotation is an image of its own (with the image's
proposals), "best" that of the file holding each image's best annotation, chosen by its recall."""

from __future__ import annotations

import json

import numpy as np
import pytest

import amodal_reference
import fastpq
from fastpq.amodal import amodal_ar
from fastpq.synthetic.bsds import generate_bsds_dataset

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi_ar")
    gt_path = generate_bsds_dataset(root, n_images=5, height=96, width=128, seed=8, annotators=(2, 4))
    gt = json.loads(gt_path.read_text())
    rng = np.random.default_rng(2)
    proposals = []
    for ann in gt["annotations"][::2]:  # some annotators' regions are proposed, with noisy scores
        for region in ann["regions"]:
            proposals.append({"image_id": ann["image_id"], "segmentation": region["segmentation"],
                              "score": float(np.round(rng.random(), 2))})
    prop_path = root / "proposals.json"
    prop_path.write_text(json.dumps(proposals))
    return gt_path, prop_path, gt, proposals


def split_file(gt, proposals, choose):
    """A COCOA file with one image per chosen (image, annotation) and the proposals copied to it."""
    images = {im["id"]: im for im in gt["images"]}
    by_image = {}
    for ann in gt["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    new_images, new_anns, new_props = [], [], []
    for image_id, anns in by_image.items():
        for k, ann in enumerate(anns):
            if not choose(image_id, k):
                continue
            new_id = image_id * 100 + k
            new_images.append(dict(images[image_id], id=new_id))
            new_anns.append(dict(ann, image_id=new_id, id=len(new_anns) + 1))
            new_props += [dict(p, image_id=new_id) for p in proposals if p["image_id"] == image_id]
    return {"images": new_images, "annotations": new_anns}, new_props


def assert_ar_equal(got, expected):
    for kind, by_occ in expected.items():
        for occ, by_k in by_occ.items():
            for k, value in by_k.items():
                assert got[kind][occ][k] == pytest.approx(value, abs=1e-12), (kind, occ, k)


def test_first_is_the_default_and_amodalapis(multi):
    gt_path, prop_path, _, _ = multi
    expected = amodal_reference.reference_amodal_ar(gt_path, prop_path)
    assert_ar_equal(amodal_ar(gt_path, prop_path).to_dict(), expected)
    assert_ar_equal(amodal_ar(gt_path, prop_path, annotations="first").to_dict(), expected)


@pytest.mark.parametrize("use_visible", [False, True])
def test_each_equals_every_annotation_as_its_own_image(multi, use_visible):
    gt_path, prop_path, gt, proposals = multi
    split_gt, split_props = split_file(gt, proposals, lambda image_id, k: True)
    expected = amodal_reference.reference_amodal_ar(split_gt, split_props, use_visible=use_visible)
    got = amodal_ar(gt_path, prop_path, annotations="each", use_visible=use_visible)
    assert_ar_equal(got.to_dict(), expected)
    assert got.regions["all"]["all"] == sum(len(a["regions"]) for a in gt["annotations"])


def test_best_equals_the_file_of_each_images_best_annotation(multi):
    gt_path, prop_path, gt, proposals = multi
    recall = {}
    for ann_index, ann in enumerate(gt["annotations"]):
        k = [a["id"] for a in gt["annotations"] if a["image_id"] == ann["image_id"]].index(ann["id"])
        one_gt, one_props = split_file(gt, proposals, lambda image_id, j, a=ann, k=k: image_id == a["image_id"] and j == k)
        recall[(ann["image_id"], k)] = amodal_reference.amodaleval_ar(one_gt, one_props)["all"]["all"][1000]
    best = {}
    for (image_id, k), value in recall.items():
        if image_id not in best or value > recall[(image_id, best[image_id])]:
            best[image_id] = k
    best_gt, best_props = split_file(gt, proposals, lambda image_id, k: best[image_id] == k)
    got = amodal_ar(gt_path, prop_path, annotations="best", per_image=True)
    assert_ar_equal(got.to_dict(), amodal_reference.reference_amodal_ar(best_gt, best_props))
    chosen = {row["image_id"]: row["annotation"] for row in got.per_image}
    assert chosen == best
    assert len(set(best.values())) > 1 or any(v != 0 for v in best.values())  # not always the first


def test_unknown_mode_is_refused(multi):
    gt_path, prop_path, _, _ = multi
    with pytest.raises(fastpq.FastPQError, match="annotations must be one of first, each, best"):
        amodal_ar(gt_path, prop_path, annotations="all")
