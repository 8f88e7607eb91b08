"""InstanceAP (update per image, compute, merge, pickle) against cityscapesscripts 2.3.0 and
fastpq.instance.evaluate on generated trees."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fastpq.instance as I
from fastpq import _core
from fastpq.errors import FastPQError, ImageSizeMismatchError, InstancePredictionError
from fastpq.synthetic.cityscapes_instances import generate

from cityscapes_reference import run_reference


def same(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True, default=float) == json.dumps(b, sort_keys=True, default=float)


def images_of(gt: Path, res: Path, rle: str = "") -> list:
    """(image id, instanceIds array, [(mask, label, score)]) per image, read from the files."""
    out = []
    for g in sorted(Path(gt).rglob("*_gtFine_instanceIds.png")):
        key = "_".join(g.name.split("_")[:3])
        preds = []
        txt = next(Path(res).glob(key + "*.txt"))
        for line in txt.read_text().split("\n"):
            if line:
                rel, label, score = line.split(" ")
                m = np.array(Image.open(Path(res) / rel).convert("L")) != 0
                if rle:
                    counts = _core.rle_encode(m.astype(np.uint8))
                    m = {"size": list(m.shape), "counts": _core.rle_to_string(counts) if rle == "string" else counts}
                preds.append((m, int(label), float(score)))
        out.append((key, np.array(Image.open(g)), preds))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_pass_and_merged_halves_equal_reference(tmp_path: Path, seed: int) -> None:
    gt, res = generate(str(tmp_path), seed=seed, images=4, height=48, width=96, instances=9)
    ref = run_reference(str(gt), str(res))
    images = images_of(gt, res, rle=["", "list", "string"][seed])
    one = I.InstanceAP()
    for key, ids, preds in images:
        one.update(key, ids, preds)
    assert same(one.compute().to_dict(), ref)
    assert same(one.compute().to_dict(), I.evaluate(str(gt), str(res)).to_dict())
    a, b = I.InstanceAP(), I.InstanceAP()
    for i, (key, ids, preds) in enumerate(images):
        (a if i % 2 else b).update(key, ids, preds)
    assert same((a + b).compute().to_dict(), ref)
    restored = pickle.loads(pickle.dumps(b))
    assert same(pickle.loads(pickle.dumps(a)).merge(restored).compute().to_dict(), ref)
    assert len(a) == 2 and len(restored) == 2


def test_empty_and_reset() -> None:
    m = I.InstanceAP()
    r = m.compute()
    assert np.isnan(r.ap) and all(np.isnan(c.ap) for c in r.classes.values())
    ids = np.full((20, 30), 7, np.uint16)
    ids[2:12, 3:13] = 26001
    mask = ids == 26001
    m.update("a_000000_000000", ids, [(mask, 26, 0.7)])
    assert m.compute().classes["car"].ap == 1.0
    m.reset()
    assert len(m) == 0 and np.isnan(m.compute().ap)


def test_bad_updates_are_fastpq_errors() -> None:
    ids = np.full((20, 30), 7, np.uint16)
    m = I.InstanceAP()
    m.update("a_000000_000000", ids, [])
    with pytest.raises(FastPQError, match="already added"):
        m.update("a_000000_000000", ids, [])
    with pytest.raises(ImageSizeMismatchError, match="b_000000_000000"):
        m.update("b_000000_000000", ids, [(np.ones((5, 5), bool), 26, 0.5)])
    with pytest.raises(InstancePredictionError, match="label id 77"):
        m.update("c_000000_000000", ids, [(ids > 0, 77, 0.5)])
    with pytest.raises(InstancePredictionError, match="NaN"):
        m.update("d_000000_000000", ids, [(ids > 0, 26, float("nan"))])
    with pytest.raises(FastPQError, match="2-D integer"):
        m.update("e_000000_000000", ids.astype(float), [])
    other = I.InstanceAP()
    other.update("a_000000_000000", ids, [])
    with pytest.raises(FastPQError, match="in both"):
        m.merge(other)
    with pytest.raises(FastPQError, match="distances"):
        m.merge(I.InstanceAP(distances=True))
