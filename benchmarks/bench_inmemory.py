#!/usr/bin/env python3
"""Throughput of in-memory panoptic quality: fastpq against torchmetrics, numpy and memory bandwidth.

Usage::

    python3 benchmarks/bench_inmemory.py [--coco N] [--cityscapes N] [--repeat R]
                                         [--torchmetrics-coco K] [--torchmetrics-cityscapes K]

Image pairs (ground truth and a perturbed prediction) are made in memory by
:func:`fastpq.synthetic.generate_image`: ``N`` COCO-size (480x640) and ``N`` Cityscapes-size
(1024x2048) pairs (defaults 64 and 16). Each size is one batch, scored by:

* ``fastpq.PanopticQuality``: ``update`` with the (N, H, W) uint32 id maps and the segments_info
  lists, then ``compute()``; with all cores (``workers=0``) and with one thread.
* ``fastpq.functional``: fastpq's torchmetrics-equal mode (``panoptic_quality_stats`` then
  ``panoptic_quality_compute``) on the (N, H, W, 2) int64 (category, instance) maps torchmetrics
  takes, as numpy arrays.
* numpy, panopticapi's core: per image, the key ``gt * 2^24 + pred``, ``np.unique`` with counts,
  then panopticapi's matching (crowd and void rules) in Python, summing in its order.
* torchmetrics ``PanopticQuality`` on the same (category, instance) maps as torch tensors: the
  first ``K`` images only (defaults 8 and 2; it needs about 1 s per COCO-size and 8 s per
  Cityscapes-size image here), timed once; its images/s is extrapolated from those.
* the memory-bandwidth bound: reading both uint32 id maps once (``np.bitwise_or.reduce`` and
  ``np.add.reduce`` over each, the faster of the two), on one thread and on every core (one chunk per
  thread; numpy releases the GIL in these reductions).

Each timing but torchmetrics' is the median of ``R`` runs after one warm-up run. Checks: fastpq's
per-category TP / FP / FN equal the numpy path's and its IoU sums and PQ within 1e-12
(panopticapi's rules); fastpq.functional's output equals torchmetrics' exactly on the K images
(torchmetrics' rules, which differ from panopticapi's in void and crowd handling, so those two
rows' numbers are not compared with the first ones). The tables report images/s, the speed-up
over torchmetrics and each time over the bandwidth bound (same number of threads), and the
targets: fastpq >= 50x torchmetrics and within 2x of the bandwidth bound (issue 13; 3x before).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import _machine  # benchmarks/_machine.py, next to this script
from _machine import median_time

import numpy as np

import fastpq
from fastpq import functional, synthetic

SEED = 2024
TOLERANCE = 1e-12
OFFSET = 1 << 24
VOID = 0


@dataclass
class Batch:
    """One size's images: id maps with segments_info, and the equivalent (category, instance) maps."""

    name: str
    spec: synthetic.DatasetSpec
    gt: np.ndarray                  # (N, H, W) uint32 ids
    pred: np.ndarray
    gt_segments: List[List[dict]]
    pred_segments: List[List[dict]]
    gt_pairs: np.ndarray            # (N, H, W, 2) int64 (category, instance)
    pred_pairs: np.ndarray

    @property
    def images(self) -> int:
        return self.gt.shape[0]


# ---------------------------------------------------------------------------
# Data


def _generate(task: Tuple[synthetic.DatasetSpec, int]) -> synthetic.GeneratedImage:
    spec, index = task
    return synthetic.generate_image(spec, index, SEED)


def to_pairs(id_map: np.ndarray, segments: Sequence[dict], things: set) -> np.ndarray:
    """(H, W, 2) int64 (category, instance) map: a thing's instance is its 1-based index in the
    image's segments_info, a stuff's 0; void and unlisted ids get category 0 (in neither set)."""
    table = {int(s["id"]): (int(s["category_id"]), k + 1 if s["category_id"] in things else 0)
             for k, s in enumerate(segments)}
    ids, inverse = np.unique(id_map, return_inverse=True)
    lut = np.array([table.get(int(i), (0, 0)) for i in ids], dtype=np.int64).reshape(-1, 2)
    return lut[inverse.reshape(id_map.shape)]


def make_batch(name: str, spec: synthetic.DatasetSpec, n: int) -> Batch:
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        generated = pool.map(_generate, [(spec, i) for i in range(n)])
    things = set(spec.thing_ids)
    gt_pairs = np.empty((n, spec.height, spec.width, 2), dtype=np.int64)
    pred_pairs = np.empty_like(gt_pairs)
    for i, g in enumerate(generated):
        gt_pairs[i] = to_pairs(g.gt_id_map, g.gt_segments, things)
        pred_pairs[i] = to_pairs(g.pred_id_map, g.pred_segments, things)
    return Batch(name, spec, np.stack([g.gt_id_map for g in generated]).astype(np.uint32),
                 np.stack([g.pred_id_map for g in generated]).astype(np.uint32),
                 [g.gt_segments for g in generated], [g.pred_segments for g in generated], gt_pairs, pred_pairs)


# ---------------------------------------------------------------------------
# The contenders


def run_fastpq(batch: Batch, workers: int) -> fastpq.PanopticResult:
    evaluator = fastpq.PanopticQuality(batch.spec.categories(), workers=workers)
    evaluator.update(batch.gt, batch.pred, batch.gt_segments, batch.pred_segments)
    return evaluator.compute()


def run_functional(batch: Batch, images: Optional[int] = None) -> np.ndarray:
    n = batch.images if images is None else images
    stats = functional.panoptic_quality_stats(batch.pred_pairs[:n], batch.gt_pairs[:n], set(batch.spec.thing_ids),
                                              set(batch.spec.stuff_ids), allow_unknown_preds_category=True)
    return functional.panoptic_quality_compute(*stats, return_sq_and_rq=True, return_per_class=True)


def run_torchmetrics(batch: Batch, images: int, crop: Optional[int] = None) -> Any:
    """torchmetrics' PanopticQuality (update, then compute) on the first ``images`` pair maps
    (cropped to ``crop`` x ``crop`` pixels for a warm-up)."""
    import torch
    from torchmetrics.detection import PanopticQuality

    window = (slice(0, images), slice(0, crop), slice(0, crop))
    metric = PanopticQuality(set(batch.spec.thing_ids), set(batch.spec.stuff_ids), allow_unknown_preds_category=True,
                             return_sq_and_rq=True, return_per_class=True)
    metric.update(torch.from_numpy(np.ascontiguousarray(batch.pred_pairs[window])),
                  torch.from_numpy(np.ascontiguousarray(batch.gt_pairs[window])))
    return metric.compute()


def run_numpy(batch: Batch) -> Dict[int, List[float]]:
    """panopticapi's pq_compute_single_core on maps in memory: per category [tp, fp, fn, iou]."""
    stats = {c["id"]: [0, 0, 0, 0.0] for c in batch.spec.categories()}
    for gt, pred, gt_info, pred_info in zip(batch.gt, batch.pred, batch.gt_segments, batch.pred_segments):
        gt_segms = {s["id"]: s for s in gt_info}
        pred_segms = {s["id"]: dict(s) for s in pred_info}
        labels, counts = np.unique(gt.astype(np.uint64) * OFFSET + pred, return_counts=True)
        gt_pred_map = {}
        pred_area: Dict[int, int] = {}
        for label, count in zip(labels.tolist(), counts.tolist()):
            gt_id, pred_id = label // OFFSET, label % OFFSET
            gt_pred_map[(gt_id, pred_id)] = count
            pred_area[pred_id] = pred_area.get(pred_id, 0) + count
        for pred_id, segment in pred_segms.items():
            segment["area"] = pred_area[pred_id]
        gt_matched, pred_matched = set(), set()
        for (gt_id, pred_id), intersection in gt_pred_map.items():
            if gt_id not in gt_segms or pred_id not in pred_segms:
                continue
            g, p = gt_segms[gt_id], pred_segms[pred_id]
            if g["iscrowd"] == 1 or g["category_id"] != p["category_id"]:
                continue
            union = p["area"] + g["area"] - intersection - gt_pred_map.get((VOID, pred_id), 0)
            iou = intersection / union
            if iou > 0.5:
                entry = stats[g["category_id"]]
                entry[0] += 1
                entry[3] += iou
                gt_matched.add(gt_id)
                pred_matched.add(pred_id)
        crowd_by_category = {}
        for gt_id, g in gt_segms.items():
            if gt_id in gt_matched:
                continue
            if g["iscrowd"] == 1:
                crowd_by_category[g["category_id"]] = gt_id
                continue
            stats[g["category_id"]][2] += 1
        for pred_id, p in pred_segms.items():
            if pred_id in pred_matched:
                continue
            intersection = gt_pred_map.get((VOID, pred_id), 0)
            if p["category_id"] in crowd_by_category:
                intersection += gt_pred_map.get((crowd_by_category[p["category_id"]], pred_id), 0)
            if intersection / p["area"] > 0.5:
                continue
            stats[p["category_id"]][1] += 1
    return stats


def _read_both(arrays: Sequence[np.ndarray], reduce: Callable[[np.ndarray], Any]) -> None:
    for a in arrays:
        reduce(a)


# ---------------------------------------------------------------------------
# Timing and checks


def bandwidth_time(batch: Batch, threads: int, repeat: int) -> float:
    """Seconds to read both id maps once on ``threads`` threads (one chunk of each map per thread):
    the faster of ``np.bitwise_or.reduce`` and ``np.add.reduce`` (numpy releases the GIL in them)."""
    flat = [batch.gt.reshape(-1), batch.pred.reshape(-1)]
    chunks = [c for a in flat for c in np.array_split(a, threads)]
    parts = [chunks[k::threads] for k in range(threads)]
    best = float("inf")
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for reduce in (np.bitwise_or.reduce, lambda a: np.add.reduce(a, dtype=np.uint32)):
            if threads == 1:
                run = lambda: _read_both(flat, reduce)  # noqa: E731
            else:
                run = lambda: list(pool.map(lambda part: _read_both(part, reduce), parts))  # noqa: E731
            best = min(best, median_time(run, repeat)[0])
    return best


def check_fastpq_against_numpy(result: fastpq.PanopticResult, numpy_stats: Dict[int, List[float]]) -> str:
    worst = 0.0
    for c in result.classes:
        tp, fp, fn, iou = numpy_stats[c.category_id]
        if (c.tp, c.fp, c.fn) != (tp, fp, fn):
            raise AssertionError(f"category {c.category_id}: fastpq tp/fp/fn {(c.tp, c.fp, c.fn)}, numpy {(tp, fp, fn)}")
        worst = max(worst, abs(c.iou - iou))
    present = [(s[3], s[0], s[1], s[2]) for s in numpy_stats.values() if s[0] + s[1] + s[2] > 0]
    numpy_pq = sum(iou / (tp + 0.5 * fp + 0.5 * fn) for iou, tp, fp, fn in present) / len(present)
    worst = max(worst, abs(result.pq - numpy_pq))
    if worst > TOLERANCE:
        raise AssertionError(f"fastpq and numpy differ by {worst:.3g} (> {TOLERANCE})")
    return f"fastpq = numpy: TP/FP/FN equal, IoU sums and PQ within {worst:.1g} (PQ {result.pq:.6f})"


def machine_description() -> str:
    """The machine, and the versions of what is compared."""
    import torch
    import torchmetrics
    return (f"{_machine.machine_description()}, numpy {np.__version__}, torch {torch.__version__}, "
            f"torchmetrics {torchmetrics.__version__}, fastpq {fastpq.__version__} ({fastpq.build_info()})")


def bench(batch: Batch, repeat: int, torchmetrics_images: int) -> Tuple[List[Tuple[str, float, int, int]], List[str]]:
    """Rows (label, seconds, images, threads) and check lines."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    rows = []
    notes = []
    t_all, result = median_time(lambda: run_fastpq(batch, 0), repeat)
    rows.append((f"fastpq.PanopticQuality ({cores} threads)", t_all, batch.images, cores))
    t_one, result_one = median_time(lambda: run_fastpq(batch, 1), repeat)
    rows.append(("fastpq.PanopticQuality (1 thread)", t_one, batch.images, 1))
    assert result_one.to_dict() == result.to_dict()
    t_functional, _ = median_time(lambda: run_functional(batch), repeat)
    rows.append(("fastpq.functional (torchmetrics mode) †", t_functional, batch.images, 1))
    t_numpy, numpy_stats = median_time(lambda: run_numpy(batch), repeat)
    rows.append(("numpy np.unique + panopticapi matching", t_numpy, batch.images, 1))
    notes.append(check_fastpq_against_numpy(result, numpy_stats))

    run_torchmetrics(batch, 1, crop=32)  # warm-up: imports, first-call costs
    start = time.perf_counter()
    reference = run_torchmetrics(batch, torchmetrics_images)
    t_torchmetrics = time.perf_counter() - start
    rows.append((f"torchmetrics PanopticQuality ({torchmetrics_images} images) †", t_torchmetrics,
                 torchmetrics_images, 1))
    ours = run_functional(batch, torchmetrics_images)
    if not np.array_equal(ours, reference.numpy(), equal_nan=True):
        raise AssertionError("fastpq.functional differs from torchmetrics")
    notes.append(f"fastpq.functional = torchmetrics exactly on the {torchmetrics_images} images it scored "
                 "(per-class PQ, SQ, RQ)")

    rows.append(("bandwidth bound: read both maps (1 thread)", bandwidth_time(batch, 1, repeat), batch.images, 1))
    rows.append((f"bandwidth bound: read both maps ({cores} threads)", bandwidth_time(batch, cores, repeat),
                 batch.images, cores))
    return rows, notes


def print_table(batch: Batch, rows: List[Tuple[str, float, int, int]], notes: List[str]) -> None:
    spec = batch.spec
    bytes_read = batch.gt.nbytes + batch.pred.nbytes
    per_image = {label: seconds / images for label, seconds, images, _ in rows}
    torchmetrics_label = next(label for label in per_image if label.startswith("torchmetrics"))
    bound = {threads: seconds / images for label, seconds, images, threads in rows if label.startswith("bandwidth")}
    print(f"\n### {batch.name}: {batch.images} image pairs of {spec.height}x{spec.width} "
          f"({bytes_read / 2**20:.0f} MiB of uint32 id maps)\n")
    print("| method | time / batch (s) | images/s | vs torchmetrics | / bandwidth bound |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, seconds, images, threads in rows:
        t = seconds / images
        batch_seconds = t * batch.images
        speedup = per_image[torchmetrics_label] / t
        over_bound = t / bound[threads] if threads in bound else float("nan")
        extrapolated = "*" if images != batch.images else ""
        print(f"| {label} | {batch_seconds:.4f}{extrapolated} | {1 / t:,.1f} | {speedup:,.1f}x | {over_bound:.2f}x |")
    fastpq_all = rows[0]
    cores = fastpq_all[3]
    speedup = per_image[torchmetrics_label] / per_image[fastpq_all[0]]
    ratio_all = per_image[fastpq_all[0]] / bound[cores]
    ratio_one = per_image[rows[1][0]] / bound[1]
    print(f"\n(* extrapolated from the images scored. † reads the (N, H, W, 2) int64 (category, instance) maps, "
          f"{(batch.gt_pairs.nbytes + batch.pred_pairs.nbytes) / bytes_read:.0f}x the bytes of the two uint32 id maps "
          "the bound is measured on.) Bandwidth bound: "
          f"{bytes_read / (bound[1] * batch.images) / 1e9:.1f} GB/s on 1 thread, "
          f"{bytes_read / (bound[cores] * batch.images) / 1e9:.1f} GB/s on {cores}.")
    for note in notes:
        print(f"- check: {note}")
    print(f"- target >= 50x torchmetrics: {'met' if speedup >= 50 else 'MISSED'} ({speedup:,.0f}x)")
    print(f"- target within 2x of the bandwidth bound: {'met' if ratio_all <= 2 else 'MISSED'} "
          f"({ratio_all:.2f}x on {cores} threads, {ratio_one:.2f}x on 1 thread)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coco", type=int, default=64, help="COCO-size (480x640) image pairs")
    parser.add_argument("--cityscapes", type=int, default=16, help="Cityscapes-size (1024x2048) image pairs")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--torchmetrics-coco", type=int, default=8, help="COCO-size images torchmetrics scores")
    parser.add_argument("--torchmetrics-cityscapes", type=int, default=2,
                        help="Cityscapes-size images torchmetrics scores")
    args = parser.parse_args(argv)

    print(f"Machine: {machine_description()}")
    for name, spec, n, k in (("COCO-size", synthetic.COCO_LIKE, args.coco, args.torchmetrics_coco),
                             ("Cityscapes-size", synthetic.CITYSCAPES_LIKE, args.cityscapes,
                              args.torchmetrics_cityscapes)):
        if n <= 0:
            continue
        batch = make_batch(name, spec, n)
        rows, notes = bench(batch, args.repeat, max(1, min(k, n)))
        print_table(batch, rows, notes)
        sys.stdout.flush()
        del batch
    return 0


if __name__ == "__main__":
    sys.exit(main())
