"""Amodal annotator consistency (Zhu et al.): fastpq against the numpy oracles, in one run.

Generates a BSDS-like multi-annotator dataset (fastpq.synthetic.bsds: by default 500 images of
321x481 with 6 annotators each, kept in --data and reused while its parameters match), then times,
end to end from the JSON file, every ordered annotator pair's P, R and F and the median, for region
and edge consistency on amodal and visible masks:

- fastpq.amodal.consistency.region_consistency and fastpq.amodal.edge_consistency.edge_consistency
  (C++, parallel over images), on all images, with 1 thread and with --workers;
- the numpy oracles of the tests (tests/amodal_consistency_oracle.py: pycocotools decode, IoU by
  matrix product, matching in Python; tests/amodal_edge_oracle.py: seg2bmap in numpy, scipy's
  Dinic max flow for the matching). The oracles are slow, so they run on the first
  --oracle-images images and their time is scaled to the whole set (linear in images: every image
  costs the same on average); the table says so. --oracle-images equal to --images runs them on all.

Every figure the oracle computes (each pair's counts, P, R, F, and the median) must equal fastpq's
for the same images, bit for bit; the script fails otherwise. Times are medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import amodal_consistency_oracle as oracle  # noqa: E402
import amodal_edge_oracle as edge_oracle  # noqa: E402
from _machine import machine_description, median_time  # noqa: E402

from fastpq.amodal.consistency import COLUMNS, region_consistency  # noqa: E402
from fastpq.amodal.edge_consistency import EDGE_COLUMNS, edge_consistency  # noqa: E402
from fastpq.synthetic.bsds import generate_bsds_dataset  # noqa: E402


def check_equal(result, rows, columns, n_images=None) -> str:
    """'' when every pair's figures (of the first n_images images) are bit-identical, else the first difference."""
    keep = np.ones(result.n_pairs, bool) if n_images is None else result.pairs["image"] < n_images
    if int(keep.sum()) != len(rows):
        return f"{int(keep.sum())} pairs != {len(rows)}"
    for column in columns:
        expected = np.array([row[column] for row in rows])
        if not np.array_equal(result.pairs[column][keep], expected, equal_nan=True):
            return f"column {column} differs"
    if n_images is None:
        median = oracle.oracle_median(rows)
        if not (result.median == median or (np.isnan(result.median) and np.isnan(median))):
            return f"median {result.median!r} != {median!r}"
    return ""


def dataset(root: Path, images: int, annotators: int, height: int, width: int) -> Path:
    """The generated dataset, reused when its stamp matches (generating 500 images takes minutes)."""
    stamp = {"images": images, "annotators": annotators, "height": height, "width": width, "seed": 0}
    path, stamp_path = root / "bsds_amodal.json", root / "stamp.json"
    if not (path.exists() and stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp):
        path = generate_bsds_dataset(root, n_images=images, height=height, width=width, seed=0,
                                     annotators=(annotators, annotators))
        stamp_path.write_text(json.dumps(stamp))
    return path


def subset(path: Path, n_images: int, out: Path) -> Path:
    """The first n_images images of the file and their annotations, as a file of their own."""
    gt = json.loads(path.read_text())
    keep = {im["id"] for im in gt["images"][:n_images]}
    out.write_text(json.dumps({"images": gt["images"][:n_images],
                               "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]}))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench_data" / "consistency")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--annotators", type=int, default=6)
    parser.add_argument("--height", type=int, default=321)
    parser.add_argument("--width", type=int, default=481)
    parser.add_argument("--oracle-images", type=int, default=50, help="images the oracles run on (scaled)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of fastpq (the oracles run once)")
    parser.add_argument("--oracle-repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="fastpq threads (0: all cores)")
    parser.add_argument("--only", choices=("region", "edge"), default=None, help="one measure only")
    args = parser.parse_args()

    path = dataset(args.data, args.images, args.annotators, args.height, args.width)
    n_oracle = min(args.oracle_images, args.images)
    small = path if n_oracle == args.images else subset(path, n_oracle, args.data / f"first_{n_oracle}.json")
    scale = args.images / n_oracle
    print(f"machine: {machine_description()}")
    print(f"data: {args.images} images of {args.height}x{args.width}, {args.annotators} annotators each "
          f"({path.stat().st_size / 1e6:.1f} MB JSON); oracles on the first {n_oracle} images, "
          f"times scaled x{scale:g}")
    measures = [("region", region_consistency, lambda p, v: oracle.oracle_pairs(p, v), COLUMNS),
                ("edge", edge_consistency, lambda p, v: edge_oracle.oracle_edge_pairs(p, v), EDGE_COLUMNS)]
    header = "| measure | masks | pairs | median F | fastpq 1 thread (s) | fastpq (s) | numpy oracle (s) | " \
             "vs 1 thread | vs fastpq | equal |"
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    failed = False
    for name, run, run_oracle, columns in measures:
        if args.only and name != args.only:
            continue
        for use_visible in (False, True):
            t1, _ = median_time(lambda: run(path, use_visible=use_visible, workers=1), args.repeat)
            tn, result = median_time(lambda: run(path, use_visible=use_visible, workers=args.workers), args.repeat)
            to, rows = median_time(lambda: run_oracle(small, use_visible), args.oracle_repeat, warmup=0)
            difference = check_equal(run(small, use_visible=use_visible, workers=args.workers), rows, columns)
            difference = difference or check_equal(result, rows, columns, n_oracle)
            failed |= bool(difference)
            oracle_note = f"{to * scale:.1f}" + ("" if scale == 1 else f" ({n_oracle} images: {to:.2f}, x{scale:g})")
            print(f"| {name} | {'visible' if use_visible else 'amodal'} | {result.n_pairs} | {result.median:.4f} | "
                  f"{t1:.3f} | {tn:.3f} | {oracle_note} | {to * scale / t1:.1f}x | {to * scale / tn:.1f}x | "
                  f"{difference or 'yes'} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
