"""fastpq.amodal_ar against stock pycocotools COCOeval set up the COCOA way."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import fastpq
from fastpq.amodal import amodal_ar
from fastpq.synthetic_amodal import generate_amodal_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import amodal_reference  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return generate_amodal_dataset(tmp_path_factory.mktemp("amodal"), n_images=12, max_proposals=400, seed=5)


def assert_ar_close(got, expected, tol=1e-12):
    for kind, by_occ in expected.items():
        for occ, by_k in by_occ.items():
            for k, value in by_k.items():
                assert got[kind][occ][k] == pytest.approx(value, abs=tol), (kind, occ, k)


@pytest.mark.parametrize("use_visible", [False, True])
def test_equals_pycocotools_cocoa_setup(dataset, use_visible):
    gt, proposals = dataset
    expected = amodal_reference.reference_amodal_ar(gt, proposals, use_visible=use_visible)
    assert_ar_close(amodal_ar(gt, proposals, use_visible=use_visible).to_dict(), expected)


def test_workers_do_not_change_the_result(dataset):
    gt, proposals = dataset
    assert amodal_ar(gt, proposals, workers=1).to_dict() == amodal_ar(gt, proposals, workers=2).to_dict()


def test_several_proposal_files_are_concatenated(dataset, tmp_path):
    gt, proposals = dataset
    data = json.loads(Path(proposals).read_text())
    half = len(data) // 2
    (tmp_path / "a.json").write_text(json.dumps(data[:half]))
    (tmp_path / "b.json").write_text(json.dumps(data[half:]))
    assert amodal_ar(gt, [tmp_path / "a.json", tmp_path / "b.json"]).to_dict() == amodal_ar(gt, proposals).to_dict()


def test_setting_without_regions_is_minus_one(tmp_path):
    gt, proposals = generate_amodal_dataset(tmp_path, n_images=4, max_proposals=50, seed=2, with_stuff=False)
    result = amodal_ar(gt, proposals).to_dict()
    assert all(v == -1.0 for occ in result["stuff"].values() for v in occ.values())
    assert_ar_close(result, amodal_reference.reference_amodal_ar(gt, proposals))


def test_bad_input_names_the_image(dataset, tmp_path):
    gt, proposals = dataset
    data = json.loads(Path(proposals).read_text())
    data[0]["score"] = float("nan")
    (tmp_path / "nan.json").write_text(json.dumps(data).replace("NaN", "NaN"))
    with pytest.raises(fastpq.AnnotationError, match="score NaN"):
        amodal_ar(gt, tmp_path / "nan.json")
    data = json.loads(Path(proposals).read_text())
    data[0]["segmentation"] = {"size": [1, 1], "counts": "0"}
    (tmp_path / "size.json").write_text(json.dumps(data))
    with pytest.raises(fastpq.AnnotationError, match=f"In the image with ID {data[0]['image_id']}"):
        amodal_ar(gt, tmp_path / "size.json")


@pytest.mark.parametrize("segmentation", [
    {"counts": [-5, 10]}, {"counts": [10**12, 5]}, {"counts": [2**70]}, {"counts": ["a"]}, {"counts": [[1]]},
    {"counts": [float("inf")]}, {"counts": [float("nan")]}, {"size": 5, "counts": "0"}, [["a", "b", "c"]],
], ids=["negative", "huge", "beyond-64-bits", "string", "nested", "inf", "nan", "size-int", "polygon-strings"])
def test_a_segmentation_that_cannot_be_read_names_the_image(dataset, tmp_path, segmentation):
    """Whatever a proposal's segmentation holds, a FastPQError naming the image, never a bare
    TypeError / ValueError / OverflowError / MaskError."""
    gt, proposals = dataset
    data = json.loads(Path(proposals).read_text())
    data[0]["segmentation"] = segmentation
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(fastpq.AnnotationError, match=f"In the image with ID {data[0]['image_id']} a proposal"):
        amodal_ar(gt, tmp_path / "bad.json")


def test_cli_prints_the_table_and_writes_json(dataset, tmp_path, capsys):
    from fastpq.cli import main

    gt, proposals = dataset
    out = tmp_path / "ar.json"
    assert main(["amodal", "--gt", str(gt), "--proposals", str(proposals), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "AR@1000" in printed and printed.count("\n") >= 5
    written = json.loads(out.read_text())
    expected = amodal_reference.reference_amodal_ar(gt, proposals)
    assert_ar_close({kind: {occ: {int(k): v for k, v in by_k.items()} for occ, by_k in by_occ.items()}
                     for kind, by_occ in written.items()}, expected)
    assert main(["amodal", "--gt", str(tmp_path / "missing.json"), "--proposals", str(proposals)]) == 1
    assert capsys.readouterr().err.startswith("fastpq: error: cannot read ground-truth JSON file")


def test_cocoa_printout_amodal_proposals_and_per_image_rows(dataset):
    gt, proposals = dataset
    result = fastpq.amodal_ar(gt, proposals, per_image=True)
    assert result.cocoa_printout() == amodal_reference.format_printout(amodal_reference.reference_amodal_ar(gt, proposals))
    with_amodal = amodal_ar(gt, proposals, use_amodal_proposals=True).to_dict()
    assert_ar_close(with_amodal, amodal_reference.reference_amodal_ar(gt, proposals, use_amodal_dt=True))
    rows = [r for r in result.per_image if r["kind"] == "all" and r["occlusion"] == "all"]
    assert len(rows) == len(json.loads(Path(gt).read_text())["images"])
    # Per-image recall weighted by regions gives back the pooled AR.
    total = sum(r["regions"] for r in rows if r["regions"] > 0)
    pooled = sum(r["recall@100"] * r["regions"] for r in rows if r["regions"] > 0) / total
    assert pooled == pytest.approx(result.ar["all"]["all"][100], abs=1e-12)


def test_per_instance_layout_gives_the_same_numbers(dataset, tmp_path):
    """COCOA-cls / D2S style: one COCO annotation per region, carrying the same fields."""
    gt, proposals = dataset
    data = json.loads(Path(gt).read_text())
    first = {}
    for ann in data["annotations"]:
        first.setdefault(ann["image_id"], ann)
    instances = []
    for image in data["images"]:
        for region in first.get(image["id"], {"regions": []})["regions"]:
            instances.append({"id": len(instances) + 1, "image_id": image["id"], **region})
    per_instance = tmp_path / "instances.json"
    per_instance.write_text(json.dumps({"images": data["images"], "annotations": instances}))
    assert amodal_ar(per_instance, proposals).to_dict() == amodal_ar(gt, proposals).to_dict()
