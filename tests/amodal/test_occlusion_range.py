"""Occlusion rates outside [0, 1]: amodalAPI's "all" setting is the closed range [0, 1]
(myPyAmodalEvalDemo.evalWrapper sets occRng = [0, 1]; AmodalEval.evaluateImg ignores a region
when ``occlude_rate < lo or occlude_rate > hi``), so such a region is ignored in every setting."""

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

#: Out of range on both sides, by a hair and by far, next to the bounds themselves.
RATES = (-0.5, -1e-12, 1.0 + 1e-12, 1.5, 0.0, 1.0, -3.0, 7.25)


@pytest.fixture(scope="module")
def skewed(tmp_path_factory):
    """A generated COCOA dataset whose first annotations carry out-of-range occlusion rates."""
    root = tmp_path_factory.mktemp("occlusion")
    gt_path, proposals = generate_amodal_dataset(root, n_images=10, max_proposals=300, seed=11)
    gt = json.loads(gt_path.read_text())
    first = amodal_reference.first_annotations(gt)
    changed = 0
    for ann in first.values():
        for index, region in enumerate(ann["regions"]):
            if index % 3 == 1:
                region["occlude_rate"] = RATES[changed % len(RATES)]
                changed += 1
    path = root / "skewed_gt.json"
    path.write_text(json.dumps(gt))
    return path, proposals, gt


@pytest.mark.parametrize("use_visible", [False, True])
def test_out_of_range_rates_are_ignored_in_every_setting(skewed, use_visible):
    path, proposals, _ = skewed
    got = amodal_ar(path, proposals, use_visible=use_visible).to_dict()
    for expected in (amodal_reference.reference_amodal_ar(path, proposals, use_visible=use_visible),
                     amodal_reference.amodaleval_ar(path, proposals, use_visible=use_visible)):
        for kind, by_occ in expected.items():
            for occ, by_k in by_occ.items():
                for k, value in by_k.items():
                    assert got[kind][occ][k] == pytest.approx(value, abs=1e-12), (kind, occ, k)


def test_region_counts_leave_out_of_range_rates_out(skewed):
    path, proposals, gt = skewed
    result = amodal_ar(path, proposals)
    regions = [r for ann in amodal_reference.first_annotations(gt).values() for r in ann["regions"]]
    in_range = [r for r in regions if 0 <= r["occlude_rate"] <= 1]
    assert len(in_range) < len(regions)
    assert result.regions["all"]["all"] == len(in_range)
    assert result.regions["things"]["all"] == sum(1 for r in in_range if not r["isStuff"])
    assert result.regions["stuff"]["all"] == sum(1 for r in in_range if r["isStuff"])


@pytest.mark.parametrize("rate", [-0.5, -1e-12, 1.0 + 1e-12, 1.5])
def test_strict_refuses_out_of_range_rate_naming_image_and_region(skewed, tmp_path, rate):
    path, proposals, gt = skewed
    first = amodal_reference.first_annotations(gt)
    image_id = sorted(first)[2]
    for ann in gt["annotations"]:
        for region in ann["regions"]:
            region["occlude_rate"] = min(max(region["occlude_rate"], 0.0), 1.0)
    first[image_id]["regions"][2]["occlude_rate"] = rate
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(gt))
    amodal_ar(bad, proposals)  # accepted without strict
    with pytest.raises(fastpq.StrictModeError, match=rf"image with ID {image_id}, region 2 .*{rate!r}") as info:
        amodal_ar(bad, proposals, strict=True)
    assert info.value.image_id == image_id
    assert amodal_ar(path.parent / "amodal_gt.json", proposals, strict=True).to_dict()  # in range: accepted
