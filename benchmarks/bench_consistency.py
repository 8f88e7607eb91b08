"""Amodal region consistency (annotator agreement, Zhu et al.): fastpq against the numpy oracle, in one run.

Generates a BSDS-like multi-annotator dataset (fastpq.synthetic.bsds: by default 500 images of
321x481 with 6 annotators each), then times, end to end from the JSON file, every ordered
annotator pair's P, R and F and the median, for amodal and visible masks:

- fastpq.amodal.consistency.region_consistency (C++ matching, parallel over images);
- the numpy oracle of the tests (tests/amodal_consistency_oracle.py: pycocotools decode, IoU by
  matrix product, matching in Python).

Every figure (each pair's counts, P, R, F, and the medians) must be equal, bit for bit; the script
fails otherwise. Prints the times (median of --repeat runs) and the ratios.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import amodal_consistency_oracle as oracle  # noqa: E402
from _machine import machine_description, median_time  # noqa: E402

from fastpq.amodal.consistency import region_consistency  # noqa: E402
from fastpq.synthetic.bsds import generate_bsds_dataset  # noqa: E402


def check_equal(result, rows) -> str:
    """'' when every pair's figures are bit-identical, else the first difference."""
    if result.n_pairs != len(rows):
        return f"{result.n_pairs} pairs != {len(rows)}"
    for column in ("image", "x", "y", "regions_x", "regions_y", "matched_x", "matched_y", "precision", "recall", "f"):
        expected = np.array([row[column] for row in rows])
        if not np.array_equal(result.pairs[column], expected, equal_nan=True):
            return f"column {column} differs"
    median = oracle.oracle_median(rows)
    if not (result.median == median or (np.isnan(result.median) and np.isnan(median))):
        return f"median {result.median!r} != {median!r}"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench_data" / "consistency")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--annotators", type=int, default=6)
    parser.add_argument("--height", type=int, default=321)
    parser.add_argument("--width", type=int, default=481)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the oracle (fastpq: 3x this)")
    parser.add_argument("--workers", type=int, default=0, help="fastpq threads (0: all cores)")
    args = parser.parse_args()

    path = generate_bsds_dataset(args.data, n_images=args.images, height=args.height, width=args.width, seed=0,
                                 annotators=(args.annotators, args.annotators))
    print(f"machine: {machine_description()}")
    print(f"data: {args.images} images of {args.height}x{args.width}, {args.annotators} annotators each "
          f"({path.stat().st_size / 1e6:.1f} MB JSON)")
    header = f"{'masks':8s} {'pairs':>7s} {'median F':>9s} {'fastpq 1 thread':>16s} {'fastpq':>10s} " \
             f"{'numpy oracle':>13s} {'ratio':>8s} {'ratio 1 thr.':>12s}  equal"
    print(header)
    print("-" * len(header))
    failed = False
    for use_visible in (False, True):
        t1, _ = median_time(lambda: region_consistency(path, use_visible=use_visible, workers=1), 3 * args.repeat)
        tn, result = median_time(lambda: region_consistency(path, use_visible=use_visible, workers=args.workers),
                                 3 * args.repeat)
        to, rows = median_time(lambda: oracle.oracle_pairs(path, use_visible), args.repeat, warmup=0)
        difference = check_equal(result, rows)
        failed |= bool(difference)
        print(f"{'visible' if use_visible else 'amodal':8s} {result.n_pairs:7d} {result.median:9.4f} {t1:14.3f} s "
              f"{tn:8.3f} s {to:11.3f} s {to / tn:7.1f}x {to / t1:11.1f}x  {difference or 'yes'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
