"""``fastpq pq`` (panopticapi's pq_compute, with per-class tables, breakdowns, per-image rows and
bootstrap intervals) and ``fastpq demo``."""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from typing import Any, Optional

from ..errors import FastPQError
from ..io.limits import DEFAULT_MAX_SEGMENTS_PER_IMAGE
from ..panoptic.evaluation import evaluate
from ..panoptic.results import PanopticResult
from ._common import (ProgressBar, _add_bootstrap_arguments, _add_limit_arguments, _add_png_reading_arguments,
                      _positive_float, _positive_int)


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
    _add_png_reading_arguments(parser)
    _add_limit_arguments(parser)
    parser.add_argument("--max-segments-per-image", type=_positive_int, default=DEFAULT_MAX_SEGMENTS_PER_IMAGE,
                        help="refuse images listing more segments than this (default: %(default)s)")
    parser.add_argument("--time-budget", type=_positive_float, default=None, metavar="SECONDS",
                        help="give up with an error after this many seconds (default: no budget)")
    parser.add_argument("--json", dest="json_out", default=None,
                        help="also write the results (panopticapi's dict plus per-class counts) to this file")
    parser.add_argument("--per-class", action="store_true", help="print a line per category")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--per-image", dest="per_image_out", default=None, metavar="OUT",
                        help="write one row per image (image_id, file_name, PQ/SQ/RQ of All/Things/Stuff, TP/FP/FN) "
                             "to OUT.csv or OUT.json; NaN (a group without segments) is written empty / null")
    _add_bootstrap_arguments(parser, default_resamples=0)
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
    from ..panoptic.breakdown import size_table

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
    per_image = bool(args.per_image_out or args.bootstrap)
    result = evaluate(args.gt_json, args.pred_json, args.gt_folder, args.pred_folder, workers=args.workers,
                      max_pixels=args.max_pixels, progress=progress if progress and progress.enabled else None,
                      strict=args.strict, max_segments_per_image=args.max_segments_per_image,
                      max_json_bytes=args.max_json_bytes, time_budget=args.time_budget,
                      per_image=per_image, **_breakdown_options(args))
    intervals = None
    if per_image:
        from .. import analysis

        if args.per_image_out:
            analysis.write_rows(analysis.per_image_scores(result), args.per_image_out)
        if args.bootstrap:
            intervals = analysis.bootstrap(result, args.bootstrap, seed=args.seed, ci=args.ci)
    if not args.quiet:
        print(result.table())
        if intervals is not None:
            print()
            print(intervals.table())
        if args.per_class:
            print()
            print(result.class_table())
        _print_breakdowns(result)
    if args.json_out:
        out = {**results_json(result), **_breakdowns_json(result)}
        if intervals is not None:
            out["bootstrap"] = intervals.to_dict()
        with open(args.json_out, "w") as f:
            json.dump(out, f, indent=1)
    return 0




def _run_demo(args: argparse.Namespace) -> int:
    try:
        from ..synthetic import COCO_LIKE, generate_dataset
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


def register(commands: Any) -> None:
    """Adds the ``pq`` and ``demo`` commands."""
    pq = commands.add_parser("pq", help="score a COCO panoptic prediction against its ground truth",
                             description="Score a COCO panoptic prediction (JSON + PNG folder) against its ground "
                                         "truth; the numbers equal panopticapi's pq_compute.")
    _add_pq_arguments(pq)
    pq.set_defaults(run=_run_pq)
    demo = commands.add_parser("demo", help="generate a small COCO-like example and score it",
                               description="Generate a small COCO-like dataset with perturbed predictions and "
                                           "score it.")
    demo.add_argument("--dir", default=None, help="where to write it (default: a new temporary folder)")
    demo.add_argument("--images", type=int, default=20, help="number of images (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.set_defaults(run=_run_demo)
