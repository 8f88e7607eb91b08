"""The ``fastpq`` command line: ``fastpq pq`` scores COCO panoptic files, ``fastpq demo`` makes a
small example dataset and scores it."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from typing import Any, Optional, Sequence

from .errors import FastPQError
from .panoptic import DEFAULT_MAX_PIXELS, evaluate
from .results import PanopticResult


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // total if total else width
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                          f"({rate:.0f} images/s)")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _add_pq_arguments(parser: argparse.ArgumentParser) -> None:
    # panopticapi's own flag names are accepted too, so its command lines keep working.
    parser.add_argument("--gt-json", "--gt_json_file", dest="gt_json", required=True,
                        help="ground-truth COCO panoptic JSON file")
    parser.add_argument("--pred-json", "--pred_json_file", dest="pred_json", required=True,
                        help="prediction COCO panoptic JSON file")
    parser.add_argument("--gt-folder", "--gt_folder", dest="gt_folder", default=None,
                        help="ground-truth PNG folder (default: the GT JSON path without .json)")
    parser.add_argument("--pred-folder", "--pred_folder", dest="pred_folder", default=None,
                        help="prediction PNG folder (default: the prediction JSON path without .json)")
    parser.add_argument("--workers", type=int, default=0, help="threads decoding images (default: all cores)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help="refuse PNGs with more pixels than this (default: %(default)s)")
    parser.add_argument("--json", dest="json_out", default=None,
                        help="also write the results (panopticapi's dict plus per-class counts) to this file")
    parser.add_argument("--per-class", action="store_true", help="print a line per category")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    _add_breakdown_arguments(parser)


def _add_breakdown_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by-size", action="store_true",
                        help="also PQ by GT segment size: small < 32^2 <= medium < 96^2 <= large pixels")
    parser.add_argument("--covering", action="store_true",
                        help="also parsing covering (TensorFlow DeepLab's ParsingCovering, areas per image size)")
    parser.add_argument("--boundary", action="store_true",
                        help="also boundary PQ (the Boundary IoU API's: min(mask IoU, boundary IoU))")
    parser.add_argument("--boundary-dilation-ratio", type=float, default=0.02,
                        help="boundary band width as a fraction of the image diagonal (default: %(default)s)")


def _breakdown_options(args: argparse.Namespace) -> dict:
    return {"by_size": args.by_size, "covering": args.covering, "boundary": args.boundary,
            "boundary_dilation_ratio": args.boundary_dilation_ratio}


def _print_breakdowns(result: PanopticResult) -> None:
    from .breakdown import size_table

    if result.by_size is not None:
        print("\nPQ by segment size")
        print(size_table(result.by_size))
    if result.covering is not None:
        print("\nParsing covering")
        print(result.covering.table())
    if result.boundary is not None:
        print("\nBoundary PQ")
        print(result.boundary.table())


def _breakdowns_json(result: PanopticResult) -> dict:
    """The breakdowns that were computed, JSON-ready (NaN as null)."""
    out: dict = {}
    if result.by_size is not None:
        out["by_size"] = {size: results_json(r) for size, r in result.by_size.items()}
    if result.covering is not None:
        out["covering"] = {
            **{name: {"pc": None if math.isnan(g.pc) else g.pc, "n": g.n} for name, g in result.covering.groups.items()},
            "normalize_by_image_size": result.covering.normalize_by_image_size,
            "per_class": [{"category_id": c.category_id, "name": c.name, "isthing": c.isthing, "pc": c.pc,
                           "weighted_iou": c.weighted_iou, "gt_area": c.gt_area} for c in result.covering.classes],
        }
    if result.boundary is not None:
        out["boundary"] = results_json(result.boundary)
    return out


def results_json(result: PanopticResult) -> dict:
    """A JSON-ready dict: groups (NaN as null), per-class scores and counts."""

    def number(x: float) -> Optional[float]:
        return None if isinstance(x, float) and math.isnan(x) else x

    return {
        **{name: {"pq": number(g.pq), "sq": number(g.sq), "rq": number(g.rq), "n": g.n}
           for name, g in result.groups.items()},
        "per_class": [{"category_id": c.category_id, "name": c.name, "isthing": c.isthing, "pq": c.pq,
                       "sq": c.sq, "rq": c.rq, "tp": c.tp, "fp": c.fp, "fn": c.fn, "iou": c.iou}
                      for c in result.classes],
    }


def _run_pq(args: argparse.Namespace) -> int:
    progress = None if args.quiet else ProgressBar("scoring")
    result = evaluate(args.gt_json, args.pred_json, args.gt_folder, args.pred_folder, workers=args.workers,
                      max_pixels=args.max_pixels, progress=progress if progress and progress.enabled else None,
                      **_breakdown_options(args))
    if not args.quiet:
        print(result.table())
        if args.per_class:
            print()
            print(result.class_table())
        _print_breakdowns(result)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({**results_json(result), **_breakdowns_json(result)}, f, indent=1)
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    try:
        from .synthetic import COCO_LIKE, generate_dataset
    except ImportError as e:
        raise FastPQError(f"the demo needs Pillow to draw its example images ({e}): pip install 'fastpq[demo]'")

    root = args.dir or tempfile.mkdtemp(prefix="fastpq-demo-")
    paths = generate_dataset(root, COCO_LIKE, args.images, seed=args.seed, workers=2)
    print(f"generated {args.images} COCO-like images with perturbed predictions in {root}")
    start = time.perf_counter()
    result = evaluate(paths.gt_json, paths.pred_json)
    elapsed = time.perf_counter() - start
    print(result.table())
    print(f"scored {args.images} image pairs in {elapsed:.3f} s")
    return 0


def _run_amodal(args: argparse.Namespace) -> int:
    from .amodal import amodal_ar

    result = amodal_ar(args.gt, args.proposals, use_visible=args.visible,
                       use_amodal_proposals=args.amodal_proposals, workers=args.workers)
    if not args.quiet:
        print(result.cocoa_printout() if args.cocoa_format else result.table())
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(result.to_dict(), f, indent=1)
    return 0


def _run_amodal_stats(args: argparse.Namespace) -> int:
    from .amodal_stats import amodal_stats

    stats = amodal_stats(args.gt)
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        print(f"{key:{width}s}  {value:.4f}" if isinstance(value, float) else f"{key:{width}s}  {value}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(stats, f, indent=1)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastpq", description="Fast, exact panoptic quality (PQ, SQ, RQ) for COCO panoptic files.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    pq = commands.add_parser("pq", help="score a COCO panoptic prediction against its ground truth",
                             description="Score a COCO panoptic prediction (JSON + PNG folder) against its ground "
                                         "truth; the numbers equal panopticapi's pq_compute.")
    _add_pq_arguments(pq)
    pq.set_defaults(run=_run_pq)
    amodal = commands.add_parser(
        "amodal", help="average recall of proposals on COCO Amodal (COCOA) annotations",
        description="The COCOA evaluation: AR at 1, 10, 100 and 1000 proposals per image over IoU 0.50:0.05:0.95, "
                    "for all regions, things and stuff, by occlusion (none / partial / heavy).")
    amodal.add_argument("--gt", required=True, help="COCOA ground-truth JSON")
    amodal.add_argument("--proposals", required=True, nargs="+",
                        help="proposal JSON files (lists of {image_id, segmentation, score}), concatenated in order")
    amodal.add_argument("--visible", action="store_true", help="match against visible masks instead of amodal ones")
    amodal.add_argument("--amodal-proposals", action="store_true",
                        help="use each proposal's amodal_mask (or amodalMask) where it has one")
    amodal.add_argument("--cocoa-format", action="store_true",
                        help="print the text amodalAPI's batchEval.py prints instead of the table")
    amodal.add_argument("--workers", type=int, default=0, help="threads (default: all cores)")
    amodal.add_argument("--json", dest="json_out", default=None, help="also write the AR values to this file")
    amodal.add_argument("--quiet", action="store_true", help="print nothing but errors")
    amodal.set_defaults(run=_run_amodal)
    stats = commands.add_parser(
        "amodal-stats", help="dataset statistics of a COCO Amodal ground truth",
        description="Regions per annotation, points per polygon, pixel coverage, occlusion, and the simplicity and "
                    "convexity of amodal and visible masks (see fastpq.amodal_stats for the estimators).")
    stats.add_argument("gt", help="COCOA ground-truth JSON")
    stats.add_argument("--json", dest="json_out", default=None, help="also write the statistics to this file")
    stats.set_defaults(run=_run_amodal_stats)
    demo = commands.add_parser("demo", help="generate a small COCO-like example and score it",
                               description="Generate a small COCO-like dataset with perturbed predictions and "
                                           "score it.")
    demo.add_argument("--dir", default=None, help="where to write it (default: a new temporary folder)")
    demo.add_argument("--images", type=int, default=20, help="number of images (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.set_defaults(run=_run_demo)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: runs a command; bad input ends with a one-line message and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (FastPQError, OSError) as e:
        print(f"fastpq: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastpq: interrupted", file=sys.stderr)
        return 130


def _one_line(e: BaseException) -> str:
    text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    return " ".join(str(text).split())


if __name__ == "__main__":
    sys.exit(main())
