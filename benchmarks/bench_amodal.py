"""Amodal AR (the COCOA evaluation): fastpq against pycocotools and hotcoco, in one run.

Generates a COCOA-like dataset (fastpq.synthetic_amodal: 40 images of 240x320, up to about 1000
proposals each), then times, end to end from the JSON files, all 12 settings (kind x occlusion)
at 1 / 10 / 100 / 1000 proposals:

- fastpq.amodal.amodal_ar;
- stock pycocotools COCOeval set up the COCOA way (tests/amodal_reference.py: one run per setting);
- the same harness with hotcoco's pycocotools-compatible COCO and COCOeval.

It checks that every AR agrees within 1e-12 and prints the times and ratios.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import amodal_reference  # noqa: E402
from _machine import median_time  # noqa: E402  # benchmarks/_machine.py, next to this script

import fastpq  # noqa: E402
from fastpq.amodal import amodal_ar  # noqa: E402
from fastpq.synthetic_amodal import generate_amodal_dataset  # noqa: E402

AR = Dict[str, Dict[str, Dict[int, float]]]


def with_hotcoco(gt: Path, proposals: Path) -> AR:
    """The reference harness with hotcoco's COCO / COCOeval in place of pycocotools'."""
    import hotcoco

    saved = amodal_reference.COCO, amodal_reference.COCOeval
    amodal_reference.COCO, amodal_reference.COCOeval = hotcoco.COCO, hotcoco.COCOeval
    try:
        return amodal_reference.reference_amodal_ar(gt, proposals)
    finally:
        amodal_reference.COCO, amodal_reference.COCOeval = saved


def first_difference(a: AR, b: AR) -> str:
    for kind in a:
        for occ in a[kind]:
            for k in a[kind][occ]:
                if abs(a[kind][occ][k] - b[kind][occ][k]) > 1e-12:
                    return f"{kind}/{occ}/AR@{k}: {a[kind][occ][k]!r} != {b[kind][occ][k]!r}"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench_data" / "amodal")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--proposals", type=int, default=1000, help="at most this many per image")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the slower tools (fastpq: 3x this)")
    args = parser.parse_args()

    gt, proposals = generate_amodal_dataset(args.data, n_images=args.images, max_proposals=args.proposals, seed=0)
    tools: List[Tuple[str, Callable[[], AR], int]] = [
        ("fastpq", lambda: amodal_ar(gt, proposals).to_dict(), 3 * args.repeat),
        ("pycocotools", lambda: amodal_reference.reference_amodal_ar(gt, proposals), args.repeat),
        ("hotcoco", lambda: with_hotcoco(gt, proposals), args.repeat),
    ]
    measured: Dict[str, Tuple[float, AR]] = {}
    for name, fn, repeat in tools:
        print(f"Running {name} ...", flush=True)
        measured[name] = median_time(fn, repeat)
    reference = measured["pycocotools"][1]
    for name, (_, result) in measured.items():
        diff = first_difference(result, reference)
        if diff:
            print(f"{name} disagrees with pycocotools: {diff}")
            return 1
    print("fastpq, pycocotools and hotcoco agree: 12 settings x 4 AR values within 1e-12")
    print(f"fastpq.build_info(): {fastpq.build_info()}")
    print(f"\n### COCOA-like, {args.images} images of 240x320, up to {args.proposals} proposals each\n")
    print("| tool | wall time (s) | fastpq speed-up |")
    print("|---|---:|---:|")
    fast = measured["fastpq"][0]
    for name, (seconds, _) in measured.items():
        print(f"| {name} | {seconds:.3f} | {seconds / fast:.1f}x |")
    ratio_py, ratio_hc = measured["pycocotools"][0] / fast, measured["hotcoco"][0] / fast
    print("\n## Targets\n")
    print(f"- fastpq >= 25x pycocotools: {ratio_py:.1f}x -> {'MET' if ratio_py >= 25 else 'NOT MET'}")
    print(f"- fastpq >= 10x hotcoco: {ratio_hc:.1f}x -> {'MET' if ratio_hc >= 10 else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
