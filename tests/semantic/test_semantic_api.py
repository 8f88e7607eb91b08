"""fastpq.semantic's Python layer: inputs of every kind, SemanticQuality (batches, merge, pickle),
errors naming the file, per-image rows and the bootstrap against numpy oracles, the CLI and the
report, and the label tables against cityscapesscripts."""

from __future__ import annotations

import io
import json
import math
import pickle

import numpy as np
import pytest
from PIL import Image

import fastpq.semantic as S
from fastpq.errors import (FastPQError, ImageSetMismatchError, ImageSizeMismatchError, InvalidOptionError,
                           LabelError, MissingPredictionError, PngError)

K = 7


def _maps(seed: int, n: int = 5, shape=(24, 40), k: int = K, ignore: int = 255):
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(n):
        g = rng.integers(0, k, size=(shape[0] // 4, shape[1] // 4)).repeat(4, 0).repeat(4, 1).astype(np.uint8)
        g[rng.random(shape) < 0.05] = ignore
        p = np.where(rng.random(shape) < 0.3, rng.integers(0, k, size=shape), np.where(g == ignore, 0, g))
        gts.append(g)
        preds.append(p.astype(np.uint8))
    return gts, preds


def _confusion_oracle(gts, preds, k=K, ignore=255):
    m = np.zeros((k, k), dtype=np.uint64)
    for g, p in zip(gts, preds):
        keep = g != ignore
        m += np.bincount(g[keep].astype(np.int64) * k + p[keep], minlength=k * k).reshape(k, k).astype(np.uint64)
    return m


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _write(tmp_path, gts, preds):
    gdir, pdir = tmp_path / "gt", tmp_path / "pred"
    gdir.mkdir()
    pdir.mkdir()
    for i, (g, p) in enumerate(zip(gts, preds)):
        Image.fromarray(g).save(gdir / f"img_{i:03d}.png")
        Image.fromarray(p).save(pdir / f"img_{i:03d}.png")
    return gdir, pdir


def test_every_input_kind_counts_the_same_matrix(tmp_path):
    import torch

    gts, preds = _maps(0)
    expected = _confusion_oracle(gts, preds)
    gdir, pdir = _write(tmp_path, gts, preds)
    files_g = sorted(str(p) for p in gdir.glob("*.png"))
    files_p = sorted(str(p) for p in pdir.glob("*.png"))
    kw = dict(preset="mmseg", num_classes=K)
    results = [
        S.evaluate(gdir, pdir, **kw),
        S.evaluate(files_g, files_p, **kw),
        S.evaluate(list(zip(files_g, files_p)), **kw),
        S.evaluate([_png(g) for g in gts], [_png(p) for p in preds], **kw),
        S.evaluate(gts, preds, **kw),
        S.evaluate(np.stack(gts), np.stack(preds).astype(np.int64), **kw),
        S.evaluate([torch.from_numpy(g.astype(np.int32)) for g in gts], [torch.from_numpy(p) for p in preds], **kw),
    ]
    for r in results:
        np.testing.assert_array_equal(r.confusion, expected)
        assert r.to_dict() == results[0].to_dict()


@pytest.mark.parametrize("left,right", [
    (dict(preset="torchmetrics"), dict(preset="torchmetrics", ignore_index=0)),
    (dict(preset="mmseg"), dict(preset="mmseg", reduce_zero_label=True)),
    (dict(preset="mmseg"), dict(preset="mmseg", label_map={1: 2})),
    (dict(preset="torchmetrics", average="macro"), dict(preset="torchmetrics", average="micro")),
    (dict(preset=None, ignore_index=-1), dict(preset=None, ignore_index=-100)),
], ids=["ignore_index", "reduce_zero_label", "label_map", "average", "negative ignore"])
def test_quality_merge_refuses_other_options(left, right):
    """Counts taken under other options mean other things: merging them would score neither way."""
    gts, preds = _maps(2, n=2)
    gts = [np.where(g == 255, 0, g) for g in gts]  # a class under every option here
    a, b = S.SemanticQuality(num_classes=K, **left), S.SemanticQuality(num_classes=K, **right)
    a.update(gts[0], preds[0])
    b.update(gts[1], preds[1])
    with pytest.raises(ValueError, match="different options"):
        a.merge(b)
    assert a.n_images == 1
    same = S.SemanticQuality(num_classes=K, **left)
    same.update(gts[1], preds[1])
    assert a.merge(same).n_images == 2


def test_quality_merge_takes_the_same_options_spelt_otherwise():
    gts, preds = _maps(2, n=2)
    a = S.SemanticQuality(num_classes=K, preset="mmseg", ignore_index=255, label_map={1: 2, 3: 4},
                          nan_to_num=float("nan"))
    b = S.SemanticQuality(num_classes=K, preset="mmseg", ignore_index=[255], label_map={3: 4, 1: 2},
                          nan_to_num=float("nan"))
    a.update(gts[0], preds[0])
    b.update(gts[1], preds[1])
    whole = S.evaluate(gts, preds, preset="mmseg", num_classes=K, label_map={1: 2, 3: 4}, nan_to_num=float("nan"))
    assert repr(a.merge(b).compute().to_dict()) == repr(whole.to_dict())  # NaN-safe


def test_cityscapes_quality_needs_every_instance_map_or_instances_false():
    """The reference reads every image's instanceIds: an update without them would count its false
    positives but none of its instances, a silently wrong iIoU."""
    gt = np.full((4, 4), 7, np.uint8)
    gt[:2] = 26  # road and a car
    pred = np.full((4, 4), 26, np.uint8)
    inst = np.where(gt == 26, 26001, 7).astype(np.uint16)
    q = S.SemanticQuality(preset="cityscapes")
    with pytest.raises(InvalidOptionError, match="instances=False"):
        q.update(gt, pred)
    assert q.n_images == 0
    q.update(gt, pred, inst)
    both = S.evaluate([gt], [pred], preset="cityscapes", instances=[inst])
    assert json.dumps(q.compute().to_dict()) == json.dumps(both.to_dict()) and both.classes["car"].iiou is not None

    plain = pickle.loads(pickle.dumps(S.SemanticQuality(preset="cityscapes", instances=False)))
    plain.update(gt, pred)
    without = S.evaluate([gt], [pred], preset="cityscapes", instances=False)
    r = plain.compute()
    assert r.classes["car"].iiou is None and r.miiou is None
    assert json.dumps(r.to_dict()) == json.dumps(without.to_dict())
    with pytest.raises(TypeError, match="instances=False"):
        plain.update(gt, pred, inst)
    with pytest.raises(ValueError, match="different options"):
        q.merge(plain)
    with pytest.raises(InvalidOptionError, match="only scored by the cityscapes preset"):
        S.SemanticQuality(num_classes=K, preset="mmseg", instances=True)


@pytest.mark.parametrize("preset,options,named", [
    ("mmseg", dict(num_classes=K, ignore_indx=3), "'ignore_indx'"),
    ("torchmetrics", dict(num_classes=K, averge="micro"), "'averge'"),
    ("detectron2", dict(num_classes=K, average="micro"), "'average'"),
    (None, dict(num_classes=K, metrics=["mIoU"]), "'metrics'"),
    ("ade20k", dict(reduce_zero_label=True), "reduce_zero_label"),
    ("ade20k", dict(num_classes=10, ignore_index=3), "ignore_index, num_classes"),
    ("ade20k", dict(label_map={3: 2}), "label_map"),
    ("cityscapes", dict(ignore_index=24), "ignore_index"),
    ("cityscapes", dict(average="micro"), "'average'"),
    ("mmseg", dict(num_classes=K, pred_format="trainIds"), "pred_format"),
])
def test_options_a_preset_does_not_use_are_refused(preset, options, named):
    """A misspelt option, or one the preset's reference has no use for, would leave the scores as if
    it had not been given: refused, naming it, in evaluate and SemanticQuality alike."""
    g = np.array([[0, 1, 2, 3]], np.uint8)
    with pytest.raises(InvalidOptionError, match=named):
        S.evaluate([g], [g], preset=preset, **options)
    with pytest.raises(InvalidOptionError, match=named):
        S.SemanticQuality(preset=preset, **options)


def test_ade20k_takes_its_own_class_count():
    g = np.array([[0, 1, 2, 150]], np.uint8)
    assert S.evaluate([g], [g], preset="ade20k", num_classes=150).to_dict() == \
        S.evaluate([g], [g], preset="ade20k").to_dict()


def test_quality_batches_merge_and_pickle_equal_one_evaluation():
    gts, preds = _maps(1, n=8)
    whole = S.evaluate(gts, preds, preset="mmseg", num_classes=K, metrics=["mIoU", "mDice", "mFscore"])
    a = S.SemanticQuality(num_classes=K, preset="mmseg", metrics=["mIoU", "mDice", "mFscore"])
    b = S.SemanticQuality(num_classes=K, preset="mmseg", metrics=["mIoU", "mDice", "mFscore"])
    a.update(np.stack(gts[:3]), np.stack(preds[:3]))
    a.update(gts[3], preds[3])
    for g, p in zip(gts[4:], preds[4:]):
        b.update(g, p)
    b = pickle.loads(pickle.dumps(b))
    merged = pickle.loads(pickle.dumps(a.merge(b)))
    r = merged.compute()
    assert merged.n_images == 8
    np.testing.assert_array_equal(r.confusion, whole.confusion)
    assert r.to_dict() == whole.to_dict()
    for key in whole.per_class:
        np.testing.assert_array_equal(np.asarray(r.per_class[key]), np.asarray(whole.per_class[key]))
    merged.reset()
    assert merged.n_images == 0


@pytest.mark.parametrize("preset", [None, "mmseg", "detectron2", "torchmetrics"])
def test_plain_scores_follow_the_counts(preset):
    gts, preds = _maps(2)
    r = S.evaluate(gts, preds, preset=preset, num_classes=K, ignore_index=255)
    m = _confusion_oracle(gts, preds).astype(np.float64)
    tp, g, p = np.diag(m), m.sum(1), m.sum(0)
    iou = tp / (g + p - tp)
    for k in range(K):
        assert r.classes[str(k)].iou == pytest.approx(iou[k], rel=1e-6)
    assert r.miou == pytest.approx(np.mean(iou), rel=1e-6)
    assert r.pixel_accuracy == pytest.approx(tp.sum() / g.sum(), rel=1e-6)


def test_label_outside_the_classes_names_file_value_and_pixel(tmp_path):
    gts, preds = _maps(3, n=3)
    preds[1][5, 9] = 200
    gdir, pdir = _write(tmp_path, gts, preds)
    with pytest.raises(LabelError) as e:
        S.evaluate(gdir, pdir, preset="mmseg", num_classes=K)
    text = str(e.value)
    assert "img_001.png" in text and "200" in text and "x=9" in text and "y=5" in text
    gts[2][3, 4] = 9  # not a class, not ignored
    with pytest.raises(LabelError, match="9"):
        S.evaluate(gts, [np.zeros_like(g) for g in gts], preset="mmseg", num_classes=K)


def test_bad_files_are_clear_errors(tmp_path):
    gts, preds = _maps(4, n=3)
    gdir, pdir = _write(tmp_path, gts, preds)
    (pdir / "img_001.png").unlink()
    with pytest.raises(MissingPredictionError, match="img_001.png"):
        S.evaluate(gdir, pdir, preset="ade20k")
    Image.fromarray(preds[1]).save(pdir / "img_001.png")
    Image.fromarray(preds[1]).save(pdir / "extra.png")
    with pytest.raises(ImageSetMismatchError, match="extra.png"):
        S.evaluate(gdir, pdir, preset="mmseg", num_classes=K)
    (pdir / "extra.png").unlink()
    Image.fromarray(preds[1][:, :-4]).save(pdir / "img_001.png")
    with pytest.raises(ImageSizeMismatchError, match="img_001.png"):
        S.evaluate(gdir, pdir, preset="mmseg", num_classes=K)
    (pdir / "img_001.png").write_bytes(_png(preds[1])[:60])
    with pytest.raises(PngError, match="img_001.png"):
        S.evaluate(gdir, pdir, preset="mmseg", num_classes=K)
    with pytest.raises(FastPQError):
        S.evaluate(gts, preds[:2], preset="mmseg", num_classes=K)


def test_per_image_rows_equal_one_image_evaluations():
    from fastpq.analysis.semantic import image_rows

    gts, preds = _maps(5)
    r = S.evaluate(gts, preds, num_classes=K, ignore_index=255)
    rows = image_rows(r)
    assert len(rows) == len(gts)
    for row, g, p in zip(rows, gts, preds):
        one = S.evaluate([g], [p], num_classes=K, ignore_index=255)
        assert row["miou"] == pytest.approx(one.miou, rel=1e-12)
        assert row["pixel_accuracy"] == pytest.approx(one.pixel_accuracy, rel=1e-12)
        for k in range(K):
            value = row[f"iou/{k}"]
            assert (value is None and math.isnan(one.classes[str(k)].iou)) or value == pytest.approx(
                one.classes[str(k)].iou, rel=1e-12)


def test_bootstrap_equals_a_numpy_resampling_oracle():
    from fastpq.analysis import resample_indices
    from fastpq.analysis.semantic import bootstrap

    gts, preds = _maps(6, n=9)
    r = S.evaluate(gts, preds, num_classes=K, ignore_index=255)
    boot = bootstrap(r, n_resamples=40, seed=3)
    per_image = [_confusion_oracle([g], [p]).astype(np.float64) for g, p in zip(gts, preds)]
    samples = []
    for idx in resample_indices(len(gts), 40, 3):
        m = sum(per_image[i] for i in idx)
        tp, g, p = np.diag(m), m.sum(1), m.sum(0)
        union = g + p - tp
        samples.append(np.mean(tp[union > 0] / union[union > 0]))
    lower, upper = np.percentile(samples, [2.5, 97.5])
    assert boot.intervals["miou"].lower == pytest.approx(lower, rel=1e-12)
    assert boot.intervals["miou"].upper == pytest.approx(upper, rel=1e-12)
    assert boot.to_dict() == bootstrap(r, n_resamples=40, seed=3).to_dict()


def test_cli_writes_json_rows_and_report(tmp_path, capsys):
    from fastpq.cli import main

    gts, preds = _maps(7, n=3)
    gdir, pdir = _write(tmp_path, gts, preds)
    out, rows, page = tmp_path / "o.json", tmp_path / "rows.csv", tmp_path / "r.html"
    assert main(["semseg", str(gdir), str(pdir), "--preset", "detectron2", "--num-classes", str(K), "--json",
                 str(out), "--per-image", str(rows), "--bootstrap", "20", "--report", str(page)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    ref = S.evaluate(gdir, pdir, preset="detectron2", num_classes=K).to_dict()
    assert data["reference"]["sem_seg"]["mIoU"] == pytest.approx(ref["sem_seg"]["mIoU"], rel=1e-15)
    assert "bootstrap" in data and len(rows.read_text().splitlines()) == 4
    assert "<svg" in page.read_text() and "Confusion matrix" in page.read_text()
    assert "mean" in printed
    (pdir / "img_000.png").unlink()
    assert main(["semseg", str(gdir), str(pdir), "--preset", "detectron2", "--num-classes", str(K)]) == 1
    assert "img_000.png" in capsys.readouterr().err


def test_label_tables_equal_cityscapesscripts():
    labels = pytest.importorskip("cityscapesscripts.helpers.labels")
    ours = [(l.id, l.name, l.train_id, l.category, l.has_instances, l.ignore_in_eval) for l in S.CITYSCAPES_LABELS]
    theirs = [(l.id, l.name, l.trainId, l.category, l.hasInstances, l.ignoreInEval) for l in labels.labels if l.id >= 0]
    assert ours == theirs
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as E
    from fastpq.semantic.labels import CITYSCAPES_AVG_CLASS_SIZE

    assert CITYSCAPES_AVG_CLASS_SIZE == E.args.avgClassSize
    assert len(S.ADE20K_CLASSES) == 150 == len(set(S.ADE20K_CLASSES))


def test_train_ids_map_back_to_label_ids():
    from fastpq.semantic.labels import cityscapes_train_id_to_label_id

    rng = np.random.default_rng(8)
    ids = np.array([l.id for l in S.CITYSCAPES_LABELS if not l.ignore_in_eval])
    gt = rng.choice(ids, size=(16, 16)).astype(np.uint8)
    to_label = cityscapes_train_id_to_label_id()
    to_train = {v: k for k, v in to_label.items() if k != 255}
    pred_train = np.vectorize(to_train.get)(gt).astype(np.uint8)
    pred_train[0, :4] = 255
    a = S.evaluate([gt], [pred_train], preset="cityscapes", pred_format="trainIds", instances=False)
    pred_label = gt.copy()
    pred_label[0, :4] = 0
    b = S.evaluate([gt], [pred_label], preset="cityscapes", instances=False)
    assert json.dumps(a.to_dict()["classScores"]) == json.dumps(b.to_dict()["classScores"])


def test_a_zero_stride_giant_is_refused_before_any_copy():
    from fastpq.errors import LimitExceededError

    giant = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=np.uint8), shape=(100000, 100000), strides=(0, 0))
    with pytest.raises(LimitExceededError, match="max_pixels"):
        S.evaluate([giant], [giant], num_classes=K)
    with pytest.raises(LimitExceededError):
        S.SemanticQuality(num_classes=K).update(giant, giant)


def _runs_and_noise(rng, h, w, k, noise, max_cuts=3):
    """Rows of long runs that change value at random places, plus isolated noise pixels: every branch
    of the byte-pair counter (eight or 32 equal pixels, a few others, a block of a new value, several
    new values in one block, row tails)."""
    g = np.zeros((h, w), dtype=np.uint8)
    for y in range(h):
        cuts = np.sort(rng.integers(0, w + 1, size=rng.integers(0, max_cuts + 1)))
        row = np.empty(w, dtype=np.uint8)
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, w]):
            row[lo:hi] = rng.integers(0, k)
        g[y] = row
    p = np.where(rng.random((h, w)) < noise, rng.integers(0, k, size=(h, w)), g).astype(np.uint8)
    return g, p


@pytest.mark.parametrize("width", [1, 2, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 61, 64, 95, 300, 1000])
def test_byte_pair_counts_equal_bincount_at_every_width(width):
    rng = np.random.default_rng(width)
    for noise in (0.0, 0.02, 0.3, 1.0):
        for max_cuts in (3, max(3, width // 6), width):  # a few boundaries a row, one in six pixels, any
            pairs = [_runs_and_noise(rng, 13, width, K, noise, max_cuts) for _ in range(4)]
            gts, preds = [g for g, _ in pairs], [p for _, p in pairs]
            r = S.evaluate(gts, preds, preset="mmseg", num_classes=K, workers=1)
            assert np.array_equal(r.confusion, _confusion_oracle(gts, preds)), (width, noise, max_cuts)


def test_counts_after_a_refused_image_are_not_polluted():
    """An image that stops at a refused label leaves nothing behind for the next evaluation on the
    same thread (its per-thread histogram is cleared, not reused half-filled)."""
    rng = np.random.default_rng(11)
    g, p = _runs_and_noise(rng, 40, 64, K, 0.1)
    bad = p.copy()
    bad[30, 50] = 200
    with pytest.raises(LabelError, match="x=50"):
        S.evaluate([g], [bad], preset="mmseg", num_classes=K, workers=1)
    r = S.evaluate([g], [p], preset="mmseg", num_classes=K, workers=1)
    assert np.array_equal(r.confusion, _confusion_oracle([g], [p]))


@pytest.mark.parametrize("dtype", [">u2", ">i4", ">i8", "<u2", "<i8"])
def test_label_arrays_of_either_byte_order_score_by_their_values(dtype):
    """A big-endian map holds the same labels as a native one (torchmetrics and numpy read values,
    not bytes); the engine itself refuses a byte-swapped array rather than read its bytes."""
    from fastpq import _core

    rng = np.random.default_rng(5)
    gt, pred = (rng.integers(0, K, (7, 11)) for _ in range(2))
    ordered = [a.astype(dtype) for a in (gt, pred)]
    assert np.array_equal(ordered[0], gt)  # same values, whatever the bytes
    for preset in ("mmseg", "torchmetrics", "detectron2"):
        r = S.evaluate([ordered[0]], [ordered[1]], preset=preset, num_classes=K)
        assert np.array_equal(r.confusion, _confusion_oracle([gt], [pred])), preset
    m = S.SemanticQuality(num_classes=K, preset="mmseg")
    m.update(ordered[0], ordered[1])
    assert np.array_equal(m.compute().confusion, _confusion_oracle([gt], [pred]))
    lut = np.arange(K, dtype=np.int32)
    if not np.dtype(dtype).isnative:
        with pytest.raises(ValueError, match="native byte order"):
            _core.semantic_confusion([ordered[0]], [pred], None, lut, lut, -2, -2, K, K)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.int64])
def test_unaligned_label_arrays_are_read_as_aligned_ones(dtype):
    """Arrays at odd addresses (numpy allows such views) score as their aligned copies; the engine
    itself refuses them rather than read through a misaligned pointer."""
    from fastpq import _core

    rng = np.random.default_rng(4)
    gt, pred = (rng.integers(0, K, (7, 11)).astype(dtype) for _ in range(2))

    def unaligned(a):
        buf = np.zeros(a.nbytes + 1, np.uint8)
        out = np.frombuffer(buf.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
        out[...] = a
        assert not out.flags.aligned
        return out

    r = S.evaluate([unaligned(gt)], [unaligned(pred)], preset="mmseg", num_classes=K)
    assert np.array_equal(r.confusion, _confusion_oracle([gt], [pred]))
    lut = np.arange(K, dtype=np.int32)
    with pytest.raises(ValueError, match="aligned"):
        _core.semantic_confusion([unaligned(gt)], [pred], None, lut, lut, -2, -2, K, K)
