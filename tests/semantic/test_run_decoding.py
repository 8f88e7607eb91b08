"""Label maps read from PNG files as runs of equal values: every way a file can be decoded gives the
counts of the same map given as an array.

8-bit greyscale ground truth beside 8-bit predictions, and 8- or 16-bit greyscale Cityscapes instance
maps (the instanceIds format), are decoded on runs (the panoptic reader's row kernels in their
grey mode, in the engine's semantic_confusion); palette and interlaced maps, and maps beside labels
of other types, are unfiltered row by row. The files are written by tests/pngwriter.py (its filter code, not Pillow's)
with a chosen filter type per row, so that Sub, Up, Average and Paeth are each undone on runs, on 1-
and 2-byte pixels. The array paths are themselves checked against the references in
test_vs_references.py.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fastpq.semantic as S
from fastpq.errors import FastPQError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pngwriter  # noqa: E402

H, W = 40, 72


def _scene(seed: int, noisy: bool = False):
    """Label ids, prediction and instance ids (Cityscapes' rule: id * 1000 + k for instances)."""
    rng = np.random.default_rng(seed)
    labels = np.full((H, W), 7, np.uint8)  # road
    inst = np.full((H, W), 7, np.int64)
    for k in range(6):
        y, x = rng.integers(0, H - 8), rng.integers(0, W - 12)
        h, w = rng.integers(3, 12), rng.integers(4, 20)
        cls = (26, 24, 33)[k % 3]  # car, person, bicycle: classes with instances
        labels[y:y + h, x:x + w] = cls
        inst[y:y + h, x:x + w] = cls * 1000 + k
    labels[:4] = 23  # sky, a stuff class: instance map holds the label id
    inst[:4] = 23
    if noisy:  # a value per pixel: a run per pixel
        inst = 26000 + rng.integers(0, 5000, (H, W))
    pred = labels.copy()
    flip = rng.random((H, W)) < 0.1
    pred[flip] = rng.choice([7, 23, 24, 26, 33], flip.sum())
    return labels, pred, inst


def _grey_png(values: np.ndarray, bit_depth: int, filters, *, color_type: int = 0, interlace: int = 0,
              palette: bool = False) -> bytes:
    """A greyscale (or palette) PNG of `values` with the given filter type per row."""
    h, w = values.shape
    if bit_depth == 16:
        samples = values.astype(">u2").view(np.uint8).reshape(h, w * 2)
        bpp = 2
    else:
        samples = values.astype(np.uint8)
        bpp = 1
    prior = np.zeros(samples.shape[1], np.uint8)
    raw = []
    for y in range(h):
        raw.append(pngwriter.filter_row(int(filters[y]), samples[y], prior, bpp))
        prior = samples[y]
    chunks = [(b"IHDR", pngwriter.ihdr_body(w, h, bit_depth, color_type, 0, 0, interlace))]
    if palette:
        chunks.append((b"PLTE", bytes(np.repeat(np.arange(256, dtype=np.uint8), 3))))
    chunks += [(b"IDAT", zlib.compress(b"".join(raw), 6)), (b"IEND", b"")]
    return pngwriter.png_file(chunks)


def _scene_files(tmp_path: Path, seed: int):
    """A scene and its label and prediction PNGs (Pillow's): labels, pred, inst, gt path, pred path."""
    labels, pred, inst = _scene(seed)
    return labels, pred, inst, _label_png(tmp_path, "gt.png", labels), _label_png(tmp_path, "pred.png", pred)


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _label_png(tmp_path: Path, name: str, labels: np.ndarray) -> str:
    path = tmp_path / name
    Image.fromarray(labels).save(path)
    return str(path)


def _counts(result):
    return [np.asarray(a) for a in result.state.instance_entries()] + [np.asarray(result.confusion)]


def _assert_same(a, b) -> None:
    for x, y in zip(_counts(a), _counts(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("bit_depth", [8, 16])
@pytest.mark.parametrize("noisy", [False, True])
def test_instance_pngs_count_like_arrays(tmp_path, bit_depth, noisy):
    # Every filter type on rows of all kinds: repeated, changed, first row.
    gts, preds, paths, arrays = [], [], [], []
    for seed in range(5):
        labels, pred, inst = _scene(seed, noisy)
        if bit_depth == 8:
            inst = np.where(inst >= 1000, 200 + inst % 50, inst)  # 8-bit maps hold no instance id >= 1000
        filters = np.random.default_rng(seed).integers(0, 5, H)
        gts.append(_label_png(tmp_path, f"{seed}_gt.png", labels))
        preds.append(_label_png(tmp_path, f"{seed}_pred.png", pred))
        paths.append(_write(tmp_path, f"{seed}_inst.png", _grey_png(inst, bit_depth, filters)))
        arrays.append(inst.astype(np.uint16))
    files = S.evaluate(gts, preds, preset="cityscapes", instances=paths)
    ref = S.evaluate(gts, preds, preset="cityscapes", instances=arrays)
    _assert_same(files, ref)
    general = S.evaluate(gts, preds, preset="cityscapes", instances=[a.astype(np.int64) for a in arrays])
    _assert_same(files, general)
    assert (len(files.state.instance_entries()[1]) > 0) == (bit_depth == 16)


@pytest.mark.parametrize("filter_type", pngwriter.FILTERS)
def test_each_filter_on_16_bit_instance_runs(tmp_path, filter_type):
    labels, pred, inst, gt, pr = _scene_files(tmp_path, 11)
    path = _write(tmp_path, "inst.png", _grey_png(inst, 16, [filter_type] * H))
    _assert_same(S.evaluate([gt], [pr], preset="cityscapes", instances=[path]),
                 S.evaluate([gt], [pr], preset="cityscapes", instances=[inst.astype(np.int64)]))


def test_palette_and_16_bit_labels_take_the_row_reader(tmp_path):
    labels, pred, inst, gt, pr = _scene_files(tmp_path, 5)
    small = np.where(inst >= 1000, 200 + inst % 50, inst)
    palette = _write(tmp_path, "pal.png", _grey_png(small, 8, [4] * H, color_type=3, palette=True))
    _assert_same(S.evaluate([gt], [pr], preset="cityscapes", instances=[palette]),
                 S.evaluate([gt], [pr], preset="cityscapes", instances=[small.astype(np.int64)]))
    # 16-bit ground-truth labels: the general path, which reads the instance map row by row
    gt16 = _write(tmp_path, "gt16.png", _grey_png(labels.astype(np.int64), 16, [1] * H))
    path = _write(tmp_path, "inst.png", _grey_png(inst, 16, [2] * H))
    _assert_same(S.evaluate([gt16], [pr], preset="cityscapes", instances=[path]),
                 S.evaluate([gt], [pr], preset="cityscapes", instances=[inst.astype(np.int64)]))


def test_an_interlaced_instance_map_gets_the_label_readers_message(tmp_path):
    labels, pred, inst, gt, pr = _scene_files(tmp_path, 2)
    path = _write(tmp_path, "inst.png", _grey_png(inst, 16, [0] * H, interlace=1))
    with pytest.raises(FastPQError, match=r"inst\.png.*is interlaced \(Adam7\); label maps must not be interlaced"):
        S.evaluate([gt], [pr], preset="cityscapes", instances=[path])


def test_broken_instance_maps_name_the_file(tmp_path):
    labels, pred, inst, gt, pr = _scene_files(tmp_path, 3)
    filters = [2] * H
    filters[17] = 7  # no such filter type
    raw = _grey_png(inst, 16, [0] * H)
    samples = inst.astype(">u2").view(np.uint8).reshape(H, W * 2)
    bad_filter = b"".join(bytes([f]) + (samples[y].tobytes() if f == 7 else
                                       pngwriter.filter_row(f, samples[y], samples[y - 1] if y else
                                                            np.zeros(W * 2, np.uint8), 2)[1:])
                          for y, f in enumerate(filters))
    path = _write(tmp_path, "inst_filter.png", pngwriter.encode_raw(W, H, bad_filter, bit_depth=16, color_type=0))
    with pytest.raises(FastPQError, match=r"inst_filter\.png.*invalid filter type 7 in row 17"):
        S.evaluate([gt], [pr], preset="cityscapes", instances=[path])
    chunks = pngwriter.chunks_of(raw)
    offset, _, body = next(c for c in chunks if c[1] == b"IDAT")
    damaged = bytearray(raw)
    damaged[offset + 8 + len(body) - 1] ^= 0xFF  # the Adler-32's last byte, CRC fixed up
    damaged[offset + 8 + len(body):offset + 12 + len(body)] = pngwriter.crc(b"IDAT", bytes(
        damaged[offset + 8:offset + 8 + len(body)])).to_bytes(4, "big")
    path = _write(tmp_path, "inst_adler.png", bytes(damaged))
    with pytest.raises(FastPQError, match=r"inst_adler\.png.*Adler-32 checksum mismatch"):
        S.evaluate([gt], [pr], preset="cityscapes", instances=[path])
    small = _write(tmp_path, "inst_small.png", _grey_png(inst[:, :-1], 16, [0] * H))
    with pytest.raises(FastPQError, match=r"label maps differ in size: ground truth '.*gt\.png' is 72x40 pixels "
                                          r"but instance map '.*inst_small\.png' is 71x40"):
        S.evaluate([gt], [pr], preset="cityscapes", instances=[small])
    with pytest.raises(FastPQError, match=r"missing\.png"):
        S.evaluate([gt], [pr], preset="cityscapes", instances=[str(tmp_path / "missing.png")])


def test_instance_png_bytes_in_memory(tmp_path):
    labels, pred, inst, gt, pr = _scene_files(tmp_path, 8)
    data = _grey_png(inst, 16, np.random.default_rng(8).integers(0, 5, H))
    _assert_same(S.evaluate([gt], [pr], preset="cityscapes", instances=[data]),
                 S.evaluate([gt], [pr], preset="cityscapes", instances=[inst.astype(np.int64)]))


@pytest.mark.parametrize("noisy", [False, True])
def test_ground_truth_pngs_count_like_arrays(tmp_path, noisy):
    gts, preds, labels_all, preds_all = [], [], [], []
    for seed in range(4):
        labels, pred, _ = _scene(20 + seed)
        if noisy:  # a label per pixel: a run per pixel
            labels = np.random.default_rng(seed).choice([7, 23, 24, 26, 33], (H, W)).astype(np.uint8)
        filters = np.random.default_rng(seed).integers(0, 5, H)
        gts.append(_write(tmp_path, f"{seed}_gt.png", _grey_png(labels, 8, filters)))
        preds.append(_label_png(tmp_path, f"{seed}_pred.png", pred))
        labels_all.append(labels)
        preds_all.append(pred)
    for preset in ("ade20k", "cityscapes"):
        options = {"instances": False} if preset == "cityscapes" else {}
        files = S.evaluate(gts, preds, preset=preset, **options)
        arrays = S.evaluate(labels_all, preds_all, preset=preset, **options)
        np.testing.assert_array_equal(files.confusion, arrays.confusion)
        assert files.confusion.sum() > 0


def test_ground_truth_runs_beside_other_predictions(tmp_path):
    # 16-bit predictions: the general path, which reads the ground truth row by row
    labels, pred, _ = _scene(30)
    gt = _write(tmp_path, "gt.png", _grey_png(labels, 8, [4] * H))
    pred16 = _write(tmp_path, "pred16.png", _grey_png(pred.astype(np.int64), 16, [1] * H))
    files = S.evaluate([gt], [pred16], preset="ade20k")
    arrays = S.evaluate([labels], [pred], preset="ade20k")
    np.testing.assert_array_equal(files.confusion, arrays.confusion)


def test_a_refused_ground_truth_label_is_found_in_a_run_decoded_png(tmp_path):
    labels = np.zeros((H, W), np.uint8)
    labels[9, 31] = 7  # one_hot(num_classes=5) raises on it in torchmetrics
    gt = _write(tmp_path, "gt_refused.png", _grey_png(labels, 8, [2] * H))
    pred = _label_png(tmp_path, "pred.png", np.zeros((H, W), np.uint8))
    with pytest.raises(FastPQError, match=r"gt_refused\.png.*label 7 at pixel \(x=31, y=9\)"):
        S.evaluate([gt], [pred], preset="torchmetrics-meaniou", num_classes=5)
    small = _label_png(tmp_path, "pred_small.png", np.zeros((H, W - 1), np.uint8))
    with pytest.raises(FastPQError, match=r"label maps differ in size: ground truth '.*gt_refused\.png' is 72x40 "
                                          r"pixels but prediction '.*pred_small\.png' is 71x40"):
        S.evaluate([gt], [small], preset="ade20k")


@pytest.mark.parametrize("seed", range(4))
def test_predictions_under_ground_truth_runs_of_every_length(tmp_path, seed):
    """Ground-truth runs of 1 to 60 pixels with predictions that change anywhere in them, at their
    first and last pixels too: each run's predicted bytes are counted sixteen at a time, the last
    test reading the run's final sixteen bytes."""
    rng = np.random.default_rng(seed)
    h, w, k = 24, 301, 9
    labels = np.zeros((h, w), np.uint8)
    for y in range(h):
        x = 0
        while x < w:
            n = int(rng.integers(1, 61))
            labels[y, x:x + n] = rng.integers(0, k)
            x += n
    pred = labels.copy()
    for y in range(h):  # a few changes a row, some of them in blocks
        for _ in range(int(rng.integers(0, 12))):
            x = int(rng.integers(0, w))
            pred[y, x:x + int(rng.integers(1, 4))] = rng.integers(0, k)
    pred[:, -1] = (pred[:, -1] + 1) % k  # the last pixel of every row's last run differs
    gt = _write(tmp_path, "gt.png", _grey_png(labels, 8, rng.integers(0, 5, h)))
    for prediction in (pred, _label_png(tmp_path, "pred.png", pred)):
        r = S.evaluate([gt], [prediction], preset="mmseg", num_classes=k, reduce_zero_label=False)
        expected = np.bincount(labels.ravel().astype(np.int64) * k + pred.ravel(), minlength=k * k).reshape(k, k)
        np.testing.assert_array_equal(r.confusion, expected)
