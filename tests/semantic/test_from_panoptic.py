"""fastpq.evaluate(..., semantic=True): the semantic scores of a panoptic prediction from the same
pass, against a numpy oracle that decodes both PNGs and maps every pixel to its segment's category
(ground-truth void ignored, a void prediction a miss), and the panoptic numbers unchanged."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from PIL import Image

import fastpq
from fastpq.synthetic import COCO_LIKE, generate_dataset, rgb_to_id


def _category_map(png_path, segments, index_of, void):
    ids = rgb_to_id(np.array(Image.open(png_path).convert("RGB")))
    table = {s["id"]: index_of[s["category_id"]] for s in segments}
    out = np.full(ids.shape, void, dtype=np.int64)
    for seg_id, k in table.items():
        out[ids == seg_id] = k
    return out


def _oracle(paths):
    gt = json.loads(paths.gt_json.read_text())
    pred = {a["image_id"]: a for a in json.loads(paths.pred_json.read_text())["annotations"]}
    index_of = {c["id"]: i for i, c in enumerate(gt["categories"])}
    k = len(index_of)
    m = np.zeros((k + 1, k + 1), dtype=np.int64)
    for ann in gt["annotations"]:
        g = _category_map(paths.gt_folder / ann["file_name"], ann["segments_info"], index_of, k)
        p_ann = pred[ann["image_id"]]
        p = _category_map(paths.pred_folder / p_ann["file_name"], p_ann["segments_info"], index_of, k)
        m += np.bincount(g.ravel() * (k + 1) + p.ravel(), minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    return m[:k]  # ground-truth void ignored


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    spec = dataclasses.replace(COCO_LIKE, height=48, width=64)
    return generate_dataset(tmp_path_factory.mktemp("pan"), spec, n_images=6, seed=4)


def test_semantic_of_a_panoptic_pass_equals_the_oracle(dataset):
    plain = fastpq.evaluate(dataset.gt_json, dataset.pred_json)
    r = fastpq.evaluate(dataset.gt_json, dataset.pred_json, semantic=True)
    assert r.to_dict() == plain.to_dict()
    assert plain.semantic is None
    s = r.semantic
    m = _oracle(dataset)
    k = m.shape[0]
    np.testing.assert_array_equal(s.confusion[:k].astype(np.int64), m)
    tp = np.diag(m[:, :k]).astype(float)
    g = m.sum(axis=1).astype(float)
    p = m[:, :k].sum(axis=0).astype(float)
    with np.errstate(invalid="ignore"):
        iou = tp / (g + p - tp)
    for c, expected in zip(r.classes, iou):
        got = s.classes[c.name].iou
        assert (math.isnan(got) and math.isnan(expected)) or got == expected
    with np.errstate(invalid="ignore"):
        assert s.miou == pytest.approx(float(np.nanmean(iou)), rel=1e-15)
    assert s.pixel_accuracy == tp.sum() / g.sum()
    assert s.n_images == 6


def test_semantic_rows_do_not_depend_on_chunks(dataset):
    from fastpq.analysis.semantic import image_rows
    from fastpq.panoptic.evaluation import evaluate_tables, prepare

    tables, categories = prepare(dataset.gt_json, dataset.pred_json, None, None)
    whole = evaluate_tables(tables, categories, semantic=True).semantic
    chunked = evaluate_tables(tables, categories, semantic=True, _chunk_images=4).semantic
    np.testing.assert_array_equal(whole.confusion, chunked.confusion)
    assert json.dumps(image_rows(whole)) == json.dumps(image_rows(chunked))
