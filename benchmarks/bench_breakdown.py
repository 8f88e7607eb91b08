#!/usr/bin/env python3
"""What the breakdowns cost: fastpq.evaluate with by_size, covering and boundary against plain evaluate.

Usage::

    python3 benchmarks/bench_breakdown.py [--data DIR] [--images N] [--repeat R] [--workers W]

A COCO-like dataset (640x480) is generated with :func:`fastpq.synthetic.generate_dataset` under
``--data`` (a temporary folder by default). Each configuration gets one untimed warm-up call (so the
PNGs are in the page cache), then ``R`` timed calls in this process; the table gives the median
wall-clock time of one full call (JSON and PNGs read), images per second, and the ratio to plain
evaluate.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import fastpq
from fastpq import synthetic

from _machine import machine_description, median_time  # benchmarks/_machine.py, next to this script

CONFIGURATIONS = (
    ("plain", {}),
    ("by_size", {"by_size": True}),
    ("covering", {"covering": True}),
    ("boundary", {"boundary": True}),
    ("all three", {"by_size": True, "covering": True, "boundary": True}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder for the generated dataset (default: a temporary one)")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=0, help="fastpq threads (default: all cores)")
    args = parser.parse_args()

    root = Path(args.data or tempfile.mkdtemp(prefix="fastpq-bench-breakdown-"))
    paths = synthetic.generate_dataset(root, synthetic.COCO_LIKE, args.images, seed=2024, workers=2)
    print(f"{args.images} COCO-like images (640x480), workers={args.workers or 'all'}; {machine_description()}")
    print()
    print("| evaluate(...) | median s | images/s | x plain |")
    print("|---|---:|---:|---:|")
    base = None
    for name, options in CONFIGURATIONS:
        median, _ = median_time(
            lambda: fastpq.evaluate(paths.gt_json, paths.pred_json, workers=args.workers, **options), args.repeat)
        base = median if base is None else base
        print(f"| {name} | {median:.3f} | {args.images / median:.0f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
