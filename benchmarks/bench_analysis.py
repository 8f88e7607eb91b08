#!/usr/bin/env python3
"""Time fastpq.analysis: a 1000-resample bootstrap and a paired comparison over 5000 images.

Usage::

    python3 benchmarks/bench_analysis.py [--images 5000] [--resamples 1000] [--naive-resamples 10]

The per-image statistics come from a real fastpq evaluation of a generated dataset with COCO's
133 categories and COCO-like scene statistics (``fastpq.synthetic.COCO_LIKE`` drawn at 160 x 120
pixels, so that 5000 image pairs are quick to generate; the bootstrap only sees the per-image,
per-category sums, which do not depend on the image size). The dataset is written once under
``benchmarks/bench_data/`` (git-ignored) and reused.

Rows timed (median of --repeat runs after a warm-up):

* ``ImageStats.from_result``: the evaluation's per-image rows into the dense images x categories array;
* ``bootstrap``: ``fastpq.analysis.bootstrap`` on a result, the conversion above included;
* ``compare``: ``fastpq.analysis.compare`` of two evaluations (both conversions included);
* ``naive Python``: per resample, the rows of the drawn images summed per category in a Python
  loop and panopticapi's averaging recomputed; timed on --naive-resamples resamples and scaled
  linearly to the full count (said in the table).

The naive loop's intervals are checked against the vectorised ones on the resamples it ran.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

from _machine import machine_description, median_time  # benchmarks/_machine.py, next to this script

import fastpq
from fastpq import analysis, synthetic

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "benchmarks" / "bench_data"
SPEC = dataclasses.replace(synthetic.COCO_LIKE, name="coco-160x120", height=120, width=160)


def dataset(n_images: int, seed: int) -> synthetic.DatasetPaths:
    root = DATA / f"analysis_{SPEC.name}_{n_images}_{seed}"
    paths = synthetic.DatasetPaths(root / "gt.json", root / "gt", root / "pred.json", root / "pred")
    if not (root / "done").exists():
        print(f"generating {n_images} images in {root} ...", flush=True)
        synthetic.generate_dataset(root, SPEC, n_images, seed=seed, workers=2)
        (root / "done").write_text("ok\n")
    return paths


def naive_bootstrap(result: fastpq.PanopticResult, n_resamples: int, seed: int) -> List[float]:
    """All-category PQ of each resample, by plain Python loops over the per-image rows."""
    image_ids = [i for i, _ in result.images]
    rows_of: Dict[Any, List[Dict[str, Any]]] = {i: [] for i in image_ids}
    for row in result.per_image:
        rows_of[row["image_id"]].append(row)
    values = []
    for indices in analysis.resample_indices(len(image_ids), n_resamples, seed):
        sums: Dict[Any, List[float]] = {}
        for i in indices.tolist():
            for row in rows_of[image_ids[i]]:
                s = sums.setdefault(row["category_id"], [0, 0, 0, 0.0])
                s[0] += row["tp"]
                s[1] += row["fp"]
                s[2] += row["fn"]
                s[3] += row["iou"]
        pq, n = 0.0, 0
        for tp, fp, fn, iou in sums.values():
            if tp + fp + fn == 0:
                continue
            n += 1
            pq += iou / (tp + 0.5 * fp + 0.5 * fn)
        values.append(pq / n if n else math.nan)
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-resamples", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    paths = dataset(args.images, seed=2024)
    start = time.perf_counter()
    result_a = fastpq.evaluate(paths.gt_json, paths.pred_json, per_image=True)
    evaluate_time = time.perf_counter() - start
    # Prediction B: the ground truth itself, scored as a prediction (a second set of per-image rows).
    b_is_gt = _gt_is_a_valid_prediction(paths)
    result_b = fastpq.evaluate(paths.gt_json, paths.gt_json, paths.gt_folder, paths.gt_folder, per_image=True) \
        if b_is_gt else result_a
    r = args.resamples
    stats_a = analysis.ImageStats.from_result(result_a)

    # Correctness before timing: the naive loop and the vectorised code agree on the resamples both ran.
    k = args.naive_resamples
    naive = naive_bootstrap(result_a, k, seed=0)
    fast = analysis.resampled_scores([stats_a], k, 0)[0]["All"]["pq"]
    worst = max(abs(a - b) for a, b in zip(naive, fast.tolist()))
    if worst > 1e-12:
        print(f"naive and vectorised resample PQs differ by {worst}")
        return 1

    rows = [
        ("ImageStats.from_result (rows -> images x categories array)",
         median_time(lambda: analysis.ImageStats.from_result(result_a), args.repeat)[0], ""),
        (f"bootstrap, {r} resamples (conversion included)",
         median_time(lambda: analysis.bootstrap(result_a, r, seed=0), args.repeat)[0], ""),
        (f"compare A vs B, {r} paired resamples (both conversions included)",
         median_time(lambda: analysis.compare(result_a, result_b, r, seed=0), args.repeat)[0],
         "B: the GT scored as a prediction" if b_is_gt else
         "B: A's rows again (this GT is no valid prediction); the same work"),
    ]
    naive_time = median_time(lambda: naive_bootstrap(result_a, k, seed=0), max(1, args.repeat // 2))[0] * r / k
    rows.append((f"naive Python loop over rows, {r} resamples", naive_time,
                 f"measured on {k} resamples, scaled x{r // k}"))

    print(f"\nmachine: {machine_description()}")
    print(f"dataset: {args.images} images, {len(result_a.classes)} categories, {len(result_a.per_image)} "
          f"(image, category) rows; evaluation with per-image rows took {evaluate_time:.2f} s")
    print(f"check: naive and vectorised resample PQ agree within {worst:.1e} on {k} resamples\n")
    print(f"### Bootstrap over {args.images} images (median of {args.repeat} runs after a warm-up)\n")
    print("| step | wall time (s) | vs naive Python | note |")
    print("|---|---:|---:|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.3f} | {naive_time / seconds:,.0f}x | {note} |")
    b = analysis.bootstrap(result_a, r, seed=0)
    iv = b.intervals["All"]["pq"]
    print(f"\nPQ (All) = {100 * iv.estimate:.2f}, 95% interval [{100 * iv.lower:.2f}, {100 * iv.upper:.2f}]")
    target = rows[1][1]
    print(f"- target: {r}-resample bootstrap of {args.images} images well under a second: {target:.3f} s -> "
          f"{'MET' if target < 1 else 'NOT MET'}")
    return 0


def _gt_is_a_valid_prediction(paths: synthetic.DatasetPaths) -> bool:
    """COCO_LIKE writes GT segments without pixels, which a prediction may not have: check once."""
    try:
        fastpq.evaluate(paths.gt_json, paths.gt_json, paths.gt_folder, paths.gt_folder, workers=0)
        return True
    except fastpq.FastPQError:
        return False


if __name__ == "__main__":
    sys.exit(main())
