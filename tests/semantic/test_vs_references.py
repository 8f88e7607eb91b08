"""Every semantic preset against its reference, on generated datasets written as real PNG files.

- cityscapes: cityscapesscripts 2.3.0 itself (PyPI), evaluateImgLists on the same files. Patch, as
  allowed and said: numpy >= 2.4 has no ``np.in1d``, which its iIoU path calls; it is pointed at
  ``np.isin`` for the duration of the call. Both its pure-Python path and, where the Cython kernel
  is built, that one.
- ade20k: an oracle written here from CSAILVision/sceneparsing evaluationCode/utils_eval.py
  (intersectionAndUnion, pixelAccuracy and the aggregation its docstrings give), on decoded pixels.
- mmseg: an oracle from mmseg/evaluation/metrics/iou_metric.py (IoUMetric.intersect_and_union with
  torch.histc per image, Python's sum of the per-image tensors, total_area_to_metrics, the
  summary rounding) in torch, on decoded pixels; its LoadAnnotations' reduce_zero_label.
- detectron2: an oracle from detectron2/evaluation/sem_seg_evaluation.py (bincount of
  (C+1)*pred + gt, ignore mapped to C, evaluate()'s formulas), on decoded pixels.
- torchmetrics: MulticlassJaccardIndex itself.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict

import numpy as np
import pytest
from PIL import Image

import fastpq.semantic as S
from fastpq.errors import LabelError
from fastpq.synthetic.semantic import write_ade20k_like, write_cityscapes_like


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN, recursively."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b)


def _load(path) -> np.ndarray:
    return np.array(Image.open(path))


# --- Cityscapes ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cityscapes_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("cs")
    return root, write_cityscapes_like(root, n_images=7, seed=3, height=48, width=96)


def _cityscapes_reference(triples, cython: bool):
    E = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    if cython and not E.CSUPPORT:
        pytest.skip("cityscapesscripts' Cython kernel is not built in this installation")
    saved = (getattr(np, "in1d", None), E.CSUPPORT, E.args.quiet, E.args.JSONOutput)
    np.in1d = np.isin  # removed in numpy 2.4; the reference's iIoU path calls it
    E.CSUPPORT = cython
    E.args.quiet, E.args.JSONOutput = True, False
    try:
        return E.evaluateImgLists([p for _, _, p in triples], [g for g, _, _ in triples], E.args)
    finally:
        if saved[0] is None:
            del np.in1d
        else:
            np.in1d = saved[0]
        E.CSUPPORT, E.args.quiet, E.args.JSONOutput = saved[1:]


@pytest.mark.parametrize("cython", [False, True])
def test_cityscapes_equals_cityscapesscripts(cityscapes_tree, cython):
    root, triples = cityscapes_tree
    ref = _cityscapes_reference(triples, cython)
    r = S.evaluate(root / "gtFine" / "val", root / "results", preset="cityscapes")
    ours = r.to_dict()
    for key in ref:
        if key == "perImageScores":
            continue
        assert _same(json.loads(json.dumps(ref[key])), json.loads(json.dumps(ours[key]))), key
    assert r.miou == ref["averageScoreClasses"] and r.miiou == ref["averageScoreInstClasses"]
    assert r.classes["car"].iiou == ref["classInstScores"]["car"]
    assert r.categories["vehicle"].iou == ref["categoryScores"]["vehicle"]
    np.testing.assert_array_equal(r.confusion, np.array(ref["confMatrix"], dtype=np.uint64))
    # the same from lists and from arrays
    arrays = S.evaluate([_load(g) for g, _, _ in triples], [_load(p) for _, _, p in triples], preset="cityscapes",
                        instances=[_load(i) for _, i, _ in triples])
    assert _same(json.loads(json.dumps(arrays.to_dict())), json.loads(json.dumps(ours)))


@pytest.mark.parametrize("inst_dtype", [np.uint16, np.int32, np.uint8])
def test_cityscapes_instance_counts_agree_across_paths(cityscapes_tree, inst_dtype):
    # uint16 instance arrays (and 16-bit PNGs) are counted from bytes beside the 8-bit label pairs;
    # int32 ones take the general run-by-run path: every count must agree. (uint8 maps hold no
    # instance id >= 1000: the instance counts are then empty on both paths.)
    root, triples = cityscapes_tree
    gts = [_load(g) for g, _, _ in triples]
    preds = [_load(p) for _, _, p in triples]
    insts = [_load(i).astype(np.int64) for _, i, _ in triples]
    if inst_dtype == np.uint8:
        insts = [np.where(i >= 1000, i % 256, i) for i in insts]
    fast = S.evaluate(gts, preds, preset="cityscapes", instances=[i.astype(inst_dtype) for i in insts])
    general = S.evaluate([g.astype(np.int64) for g in gts], preds, preset="cityscapes",
                         instances=[i.astype(np.int64) for i in insts])
    for a, b in zip(fast.state.instance_entries(), general.state.instance_entries()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(fast.state.entries(), general.state.entries()):
        np.testing.assert_array_equal(a, b)
    assert (len(fast.state.instance_entries()[1]) > 0) == (inst_dtype != np.uint8)
    assert _same(json.loads(json.dumps(fast.to_dict())), json.loads(json.dumps(general.to_dict())))


def test_cityscapes_quality_in_batches_equals_the_reference(cityscapes_tree):
    _, triples = cityscapes_tree
    ref = _cityscapes_reference(triples, False)
    m = S.SemanticQuality(preset="cityscapes")
    for g, i, p in triples:
        m.update(_load(g), _load(p), instances=_load(i))
    ours = m.compute().to_dict()
    for key in ("classScores", "classInstScores", "categoryScores", "categoryInstScores", "averageScoreInstClasses"):
        assert _same(json.loads(json.dumps(ref[key])), json.loads(json.dumps(ours[key]))), key


# --- ADE20K -------------------------------------------------------------------------------------

def _ade_reference(pairs, num_class=150):
    inter, union, correct, labelled = [], [], [], []
    for gt_path, pred_path in pairs:
        lab, pred = _load(gt_path).astype(np.int64), _load(pred_path).astype(np.int64)
        pred = pred * (lab > 0)
        hit = pred * (pred == lab)
        ai, _ = np.histogram(hit, bins=num_class, range=(1, num_class))
        ap, _ = np.histogram(pred, bins=num_class, range=(1, num_class))
        al, _ = np.histogram(lab, bins=num_class, range=(1, num_class))
        inter.append(ai)
        union.append(ap + al - ai)
        correct.append(np.sum((pred == lab) * (lab > 0)))
        labelled.append(np.sum(lab > 0))
    area_intersection, area_union = np.array(inter).T, np.array(union).T  # (classes, images)
    iou = 1.0 * np.sum(area_intersection, axis=1) / np.sum(np.spacing(1) + area_union, axis=1)
    accuracy = 1.0 * np.sum(correct) / (np.spacing(1) + np.sum(labelled))
    return {"pixel_accuracy": float(accuracy), "mean_iou": float(np.mean(iou)),
            "score": float((accuracy + np.mean(iou)) / 2), "iou": [float(v) for v in iou]}


def test_ade20k_equals_the_benchmark_rules(tmp_path):
    pairs = write_ade20k_like(tmp_path, n_images=9, seed=5)
    ref = _ade_reference(pairs)
    r = S.evaluate(tmp_path / "annotations" / "validation", tmp_path / "pred", preset="ade20k")
    assert r.to_dict() == ref
    assert r.score == ref["score"] and r.miou == ref["mean_iou"]


# --- mmseg --------------------------------------------------------------------------------------

def _mmseg_reference(pairs, num_classes, ignore_index=255, reduce_zero_label=False, metrics=("mIoU",)):
    torch = pytest.importorskip("torch")
    results = []
    for gt_path, pred_path in pairs:
        label = torch.from_numpy(_load(gt_path).astype(np.int64))
        if reduce_zero_label:
            label[label == 0] = 255
            label = label - 1
            label[label == 254] = 255
        pred = torch.from_numpy(_load(pred_path).astype(np.int64))
        mask = label != ignore_index
        pred, label = pred[mask], label[mask]
        hit = pred[pred == label]
        h = lambda x: torch.histc(x.float(), bins=num_classes, min=0, max=num_classes - 1)  # noqa: E731
        ai, ap, al = h(hit), h(pred), h(label)
        results.append((ai, ap + al - ai, ap, al))
    i, u, p, l = (sum(x) for x in zip(*results))
    ret = OrderedDict({"aAcc": i.sum() / l.sum()})
    for metric in metrics:
        if metric == "mIoU":
            ret["IoU"], ret["Acc"] = i / u, i / l
        elif metric == "mDice":
            ret["Dice"], ret["Acc"] = 2 * i / (p + l), i / l
        else:
            precision, recall = i / p, i / l
            ret["Fscore"] = torch.tensor([2 * (a * b) / (a + b) for a, b in zip(precision, recall)])
            ret["Precision"], ret["Recall"] = precision, recall
    ret = {k: v.numpy() for k, v in ret.items()}
    summary = OrderedDict()
    for k, v in ret.items():
        summary[k if k == "aAcc" else "m" + k] = np.round(np.nanmean(v) * 100, 2)
    per_class = {k: np.round(v * 100, 2) for k, v in ret.items() if k != "aAcc"}
    return summary, per_class


@pytest.mark.parametrize("reduce_zero_label", [False, True])
def test_mmseg_equals_iou_metric(tmp_path, reduce_zero_label):
    pairs = write_ade20k_like(tmp_path, n_images=6, seed=7)
    if not reduce_zero_label:  # class indices 0..149 with 255 ignored
        for g, p in pairs:
            lab, pred = _load(g).astype(np.int64), _load(p).astype(np.int64)
            Image.fromarray(np.where(lab == 0, 255, lab - 1).astype(np.uint8)).save(g)
            Image.fromarray(np.clip(pred - 1, 0, 149).astype(np.uint8)).save(p)
    else:
        for _, p in pairs:
            Image.fromarray(np.clip(_load(p).astype(np.int64) - 1, 0, 149).astype(np.uint8)).save(p)
    metrics = ["mIoU", "mDice", "mFscore"]
    summary, per_class = _mmseg_reference(pairs, 150, reduce_zero_label=reduce_zero_label, metrics=metrics)
    r = S.evaluate(pairs, preset="mmseg", num_classes=150, reduce_zero_label=reduce_zero_label, metrics=metrics)
    ours = r.to_dict()
    assert list(ours) == list(summary)
    for k in summary:
        assert _same(float(ours[k]), float(summary[k])), k
    for k in per_class:
        np.testing.assert_array_equal(np.asarray(r.per_class[k]), per_class[k])


# --- detectron2 -----------------------------------------------------------------------------------

def _detectron2_reference(pairs, num_classes, ignore_label, names):
    conf = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for gt_path, pred_path in pairs:
        gt = _load(gt_path).astype(int)
        pred = _load(pred_path).astype(int)
        gt[gt == ignore_label] = num_classes
        conf += np.bincount((num_classes + 1) * pred.reshape(-1) + gt.reshape(-1),
                            minlength=conf.size).reshape(conf.shape)
    acc = np.full(num_classes, np.nan, dtype=float)
    iou = np.full(num_classes, np.nan, dtype=float)
    tp = conf.diagonal()[:-1].astype(float)
    pos_gt = np.sum(conf[:-1, :-1], axis=0).astype(float)
    class_weights = pos_gt / np.sum(pos_gt)
    pos_pred = np.sum(conf[:-1, :-1], axis=1).astype(float)
    acc_valid = pos_gt > 0
    acc[acc_valid] = tp[acc_valid] / pos_gt[acc_valid]
    union = pos_gt + pos_pred - tp
    iou_valid = np.logical_and(acc_valid, union > 0)
    iou[iou_valid] = tp[iou_valid] / union[iou_valid]
    macc = np.sum(acc[acc_valid]) / np.sum(acc_valid)
    miou = np.sum(iou[iou_valid]) / np.sum(iou_valid)
    fiou = np.sum(iou[iou_valid] * class_weights[iou_valid])
    pacc = np.sum(tp) / np.sum(pos_gt)
    res = {"mIoU": 100 * miou, "fwIoU": 100 * fiou}
    for i, name in enumerate(names):
        res[f"IoU-{name}"] = 100 * iou[i]
    res["mACC"] = 100 * macc
    res["pACC"] = 100 * pacc
    for i, name in enumerate(names):
        res[f"ACC-{name}"] = 100 * acc[i]
    return {"sem_seg": res}


def test_detectron2_equals_sem_seg_evaluator(tmp_path):
    pairs = write_ade20k_like(tmp_path, n_images=6, seed=8)
    for g, p in pairs:  # 0 = ignore (255), classes 0..149; some classes only predicted
        lab = _load(g).astype(np.int64)
        Image.fromarray(np.where(lab == 0, 255, lab - 1).astype(np.uint8)).save(g)
        Image.fromarray(np.clip(_load(p).astype(np.int64) - 1, 0, 149).astype(np.uint8)).save(p)
    names = list(S.ADE20K_CLASSES)
    ref = _detectron2_reference(pairs, 150, 255, names)
    r = S.evaluate(pairs, preset="detectron2", num_classes=150, class_names=names)
    assert _same(r.to_dict(), ref)


# --- torchmetrics ---------------------------------------------------------------------------------

@pytest.mark.parametrize("average", ["macro", "micro", "weighted", "none"])
@pytest.mark.parametrize("ignore_index", [None, 0, 255, -1, -100])
def test_torchmetrics_equals_multiclass_jaccard_index(tmp_path, average, ignore_index):
    torch = pytest.importorskip("torch")
    from torchmetrics.classification import MulticlassJaccardIndex

    pairs = write_ade20k_like(tmp_path, n_images=4, seed=9)
    gts, preds = [], []
    for g, p in pairs:
        lab = _load(g).astype(np.int64)
        lab = np.where(lab > 20, lab % 20, lab)
        if ignore_index not in (None, 0):
            lab[lab == 0] = ignore_index
        gts.append(lab if ignore_index is not None and ignore_index < 0 else lab.astype(np.uint8))
        preds.append((_load(p).astype(np.int64) % 20).astype(np.uint8))
    metric = MulticlassJaccardIndex(num_classes=20, average=average, ignore_index=ignore_index)
    for g, p in zip(gts, preds):
        metric.update(torch.from_numpy(p.astype(np.int64)), torch.from_numpy(g.astype(np.int64)))
    ref = metric.compute().tolist()
    r = S.evaluate(gts, preds, preset="torchmetrics", num_classes=20, ignore_index=ignore_index, average=average)
    assert r.to_dict()["jaccard"] == ref


@pytest.mark.parametrize("preset", ["torchmetrics", "mmseg", "detectron2", None])
@pytest.mark.parametrize("bad", [-5, 300, 200])
def test_a_negative_ignore_index_skips_only_itself(preset, bad):
    """With ignore_index=-1 the value -1 is skipped; any other ground-truth value that is neither a
    class nor ignored is refused, inside the label table (200) or outside it (-5, 300), as it is
    with ignore_index=255 (torchmetrics fails on it too)."""
    g = np.array([[0, 1, 2, -1, 4]], np.int64)
    p = np.array([[0, 1, 2, 3, 4]], np.int64)
    r = S.evaluate([g], [p], preset=preset, num_classes=5, ignore_index=-1)
    assert int(r.confusion.sum()) == 4 and r.pixel_accuracy == 1.0
    g[0, 3] = bad
    with pytest.raises(LabelError, match=f"label {bad} at pixel \\(x=3, y=0\\)"):
        S.evaluate([g], [p], preset=preset, num_classes=5, ignore_index=-1)
    with pytest.raises(LabelError, match=f"label {bad} "):
        S.evaluate([g], [p], preset=preset, num_classes=5, ignore_index=[255, -1, -100])


# --- torchmetrics segmentation.MeanIoU (per-image averaging) --------------------------------------

def _meaniou_maps(tmp_path, k=12):
    """Generated ADE-like PNG pairs folded to k classes, one image all one class (a class in no other)."""
    pairs = write_ade20k_like(tmp_path, n_images=5, seed=4)
    gts, preds = [], []
    for g, p in pairs:
        gts.append((_load(g).astype(np.int64) % (k - 1)).astype(np.uint8))
        preds.append((_load(p).astype(np.int64) % (k - 1)).astype(np.uint8))
    gts[3][:] = k - 1
    preds[3][:] = k - 1
    return gts, preds


@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("per_class", [False, True])
def test_torchmetrics_meaniou_equals_mean_iou(tmp_path, include_background, per_class):
    torch = pytest.importorskip("torch")
    from torchmetrics.segmentation import MeanIoU

    k = 12
    gts, preds = _meaniou_maps(tmp_path, k)
    metric = MeanIoU(num_classes=k + 1, include_background=include_background, per_class=per_class,
                     input_format="index")
    for g, p in zip(gts, preds):  # one update per image, the order fastpq reproduces
        metric.update(torch.from_numpy(p.astype(np.int64))[None], torch.from_numpy(g.astype(np.int64))[None])
    ref = metric.compute().tolist()
    r = S.evaluate(gts, preds, preset="torchmetrics-meaniou", num_classes=k + 1,
                   include_background=include_background, per_class=per_class)
    assert r.to_dict()["mean_iou"] == ref
    overall = MeanIoU(num_classes=k + 1, include_background=include_background, input_format="index")
    for g, p in zip(gts, preds):
        overall.update(torch.from_numpy(p.astype(np.int64))[None], torch.from_numpy(g.astype(np.int64))[None])
    assert r.miou == float(overall.compute())
    # The same through SemanticQuality in two halves, merged.
    a = S.SemanticQuality(num_classes=k + 1, preset="torchmetrics-meaniou", include_background=include_background,
                          per_class=per_class)
    b = S.SemanticQuality(num_classes=k + 1, preset="torchmetrics-meaniou", include_background=include_background,
                          per_class=per_class)
    a.update(gts[:2], preds[:2])
    b.update(gts[2:], preds[2:])
    assert a.merge(b).compute().to_dict()["mean_iou"] == ref


@pytest.mark.parametrize("include_background", [True, False])
def test_torchmetrics_meaniou_of_one_scored_class_is_a_scalar_as_in_torchmetrics(include_background):
    """MeanIoU with per_class=True and a single class scored (num_classes=2 without background, or
    1) returns what Metric.compute returns for one element: a 0-d tensor, a float in its .tolist()."""
    torch = pytest.importorskip("torch")
    from torchmetrics.segmentation import MeanIoU

    k = 1 if include_background else 2
    g = np.array([[0, 1, 1, 0]], np.int64) % k
    p = np.array([[0, 1, 0, 0]], np.int64) % k
    metric = MeanIoU(num_classes=k, include_background=include_background, per_class=True, input_format="index")
    metric.update(torch.from_numpy(p)[None], torch.from_numpy(g)[None])
    ref = metric.compute().tolist()
    ours = S.evaluate([g], [p], preset="torchmetrics-meaniou", num_classes=k, include_background=include_background,
                      per_class=True).to_dict()["mean_iou"]
    assert type(ours) is type(ref) and ours == ref


def test_torchmetrics_meaniou_bootstrap_and_rows_average_per_image(tmp_path):
    from fastpq.analysis.semantic import bootstrap, image_rows

    k = 12
    gts, preds = _meaniou_maps(tmp_path, k)
    r = S.evaluate(gts, preds, preset="torchmetrics-meaniou", num_classes=k + 1, include_background=False)
    sums, counts = [], []  # the per-image IoUs of classes 1..k, from the arrays themselves
    for g, p in zip(gts, preds):
        ious = []
        for c in range(1, k + 1):
            union = np.count_nonzero((g == c) | (p == c))
            if union:
                ious.append(np.count_nonzero((g == c) & (p == c)) / union)
        sums.append(sum(ious))
        counts.append(len(ious))
    rows = image_rows(r)
    assert [row["miou"] for row in rows] == pytest.approx([s / n for s, n in zip(sums, counts)], abs=1e-15)
    boot = bootstrap(r, 50, seed=1)
    assert boot.intervals["miou"].estimate == pytest.approx(sum(sums) / sum(counts), abs=1e-15)
    assert abs(boot.intervals["miou"].estimate - r.miou) < 1e-6  # the headline is torchmetrics' float32


def test_torchmetrics_meaniou_refuses_what_mean_iou_refuses():
    from fastpq.errors import FastPQError, InvalidOptionError

    g = np.zeros((4, 5), dtype=np.uint8)
    p = g.copy()
    p[2, 3] = 7  # one_hot(num_classes=5) raises on it in torchmetrics
    with pytest.raises(FastPQError, match=r"label 7 at pixel \(x=3, y=2\)"):
        S.evaluate([g], [p], preset="torchmetrics-meaniou", num_classes=5)
    with pytest.raises(InvalidOptionError, match="no ignore_index"):
        S.evaluate([g], [g], preset="torchmetrics-meaniou", num_classes=5, ignore_index=255)
