"""The distance rows (AP 100 m, AP 50 m): fastpq against cityscapesscripts 2.3.0 run with
distanceAvailable and a gtInstances.json carrying the same distances (the only way it takes them),
and fastpq's distances from disparity maps against a per-pixel oracle of its documented rule (the
reference has no code computing distances: see fastpq.instance.distances)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fastpq.instance as I
from fastpq.errors import FastPQError
from fastpq.instance.distances import cityscapes_distances, distances_from_disparity
from fastpq.synthetic.cityscapes_instances import generate

from cityscapes_reference import run_reference
from test_instance_metric import images_of, same


def random_distances(gt: Path, seed: int) -> dict:
    """Per image, most instances near (well inside 50 m, dense stereo), some far or sparse, some left out."""
    rng = np.random.default_rng(seed)
    out = {}
    for g in sorted(Path(gt).rglob("*_gtFine_instanceIds.png")):
        key = "_".join(g.name.split("_")[:3])
        ids = [int(v) for v in np.unique(np.array(Image.open(g))) if v >= 1000]
        d = {}
        for v in ids:
            r = rng.random()
            if r < 0.6:
                d[v] = (float(rng.uniform(2, 49)), float(rng.uniform(0.5, 1)))
            elif r < 0.75:
                d[v] = (float(rng.uniform(50.5, 99)), float(rng.uniform(0.5, 1)))
            elif r < 0.85:
                d[v] = (float(rng.uniform(101, 300)), float(rng.uniform(0.5, 1)))
            elif r < 0.95:
                d[v] = (float(rng.uniform(2, 40)), float(rng.uniform(0, 0.49)))
        out[key] = d
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distance_rows_equal_reference(tmp_path: Path, seed: int) -> None:
    gt, res = generate(str(tmp_path), seed=seed, images=3, height=96, width=192, instances=12)
    distances = random_distances(gt, seed)
    ref = run_reference(str(gt), str(res), distances)
    assert len(ref["resultApMatrix"]) == 3 and "allAp50m" in ref["averages"]
    rows = [json.dumps(r) for r in ref["resultApMatrix"]]
    assert rows[0] != rows[1] != rows[2]  # the distances matter
    ours = I.evaluate(str(gt), str(res), distances=distances)
    assert same(ours.to_dict(), ref)
    metric = I.InstanceAP(distances=True)
    for key, ids, preds in images_of(gt, res):
        metric.update(key, ids, preds, distances=distances[key])
    assert same(metric.compute().to_dict(), ref)
    without = I.evaluate(str(gt), str(res)).to_dict()  # the first row does not depend on distances
    assert json.dumps(without["resultApMatrix"][0]) == json.dumps(ref["resultApMatrix"][0])


@pytest.mark.parametrize("seed", [3, 4])
def test_nan_distances_are_neither_near_nor_far_as_in_the_reference(tmp_path: Path, seed: int) -> None:
    """The reference keeps an instance when medDist <= th and distConf >= conf, and ignores its
    pixels when medDist > th or distConf < conf: a NaN passes neither test."""
    gt, res = generate(str(tmp_path), seed=seed, images=3, height=96, width=192, instances=12)
    distances = random_distances(gt, seed)
    rng = np.random.default_rng(seed)
    for d in distances.values():
        for v, (dist, conf) in list(d.items()):
            r = rng.random()
            d[v] = (float("nan"), conf) if r < 0.3 else (dist, float("nan")) if r < 0.45 else (dist, conf)
    ref = run_reference(str(gt), str(res), distances)
    assert same(I.evaluate(str(gt), str(res), distances=distances).to_dict(), ref)
    assert same(I.evaluate(str(gt), str(res), distances=distances, engine="numpy").to_dict(), ref)


def test_distances_from_disparity_follow_the_documented_rule(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    ids = np.full((30, 40), 7, np.uint16)
    ids[3:20, 5:25] = 26001
    ids[10:28, 20:38] = 24002
    ids[0:2, 0:3] = 33000
    disp = rng.integers(0, 3000, size=ids.shape).astype(np.uint16)
    disp[rng.random(ids.shape) < 0.3] = 0
    disp[0:2, 0:3] = 0  # an instance without valid disparity
    camera = {"extrinsic": {"baseline": 0.22}, "intrinsic": {"fx": 2260.0}}
    Image.fromarray(disp).save(tmp_path / "d.png")
    (tmp_path / "c.json").write_text(json.dumps(camera))
    got = distances_from_disparity(ids, tmp_path / "d.png", tmp_path / "c.json")
    expected = {}
    for v in sorted({int(x) for x in ids.ravel() if x >= 1000}):
        depths, total = [], 0
        for y in range(ids.shape[0]):
            for x in range(ids.shape[1]):
                if ids[y, x] == v:
                    total += 1
                    if disp[y, x] > 1:
                        depths.append(0.22 * 2260.0 / ((float(disp[y, x]) - 1.0) / 256.0))
        expected[v] = (statistics.median(depths) if depths else -1.0, len(depths) / total)
    assert got.keys() == expected.keys()
    for v in expected:
        assert got[v][1] == expected[v][1]
        assert got[v][0] == pytest.approx(expected[v][0], rel=1e-12)
    assert got[33000] == (-1.0, 0.0)


def test_cityscapes_distances_find_files(tmp_path: Path) -> None:
    gt, res = generate(str(tmp_path), seed=3, images=2, height=32, width=64, instances=4)
    keys = sorted("_".join(g.name.split("_")[:3]) for g in Path(gt).rglob("*_instanceIds.png"))
    (tmp_path / "disparity" / "val" / "synth").mkdir(parents=True)
    (tmp_path / "camera" / "val" / "synth").mkdir(parents=True)
    for k in keys[:1]:
        Image.fromarray(np.full((32, 64), 500, np.uint16)).save(tmp_path / "disparity" / "val" / "synth" / f"{k}_disparity.png")
        (tmp_path / "camera" / "val" / "synth" / f"{k}_camera.json").write_text(
            json.dumps({"extrinsic": {"baseline": 0.2}, "intrinsic": {"fx": 2000.0}}))
    with pytest.raises(FastPQError, match=keys[1]):
        cityscapes_distances(gt, str(tmp_path / "disparity"), str(tmp_path / "camera"))
    only_first = cityscapes_distances([next(Path(gt).rglob(f"{keys[0]}*_instanceIds.png"))],
                                      str(tmp_path / "disparity"), str(tmp_path / "camera"))
    depth = 0.2 * 2000.0 / (499 / 256)
    assert all(v == (pytest.approx(depth), 1.0) for v in only_first[keys[0]].values())
