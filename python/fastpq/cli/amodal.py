"""``fastpq amodal`` (the COCOA average recall) and ``fastpq amodal-stats``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..io.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_PROPOSALS_PER_IMAGE
from ._common import _add_limit_arguments, _positive_int


def _run_amodal(args: argparse.Namespace) -> int:
    from ..amodal.ar import amodal_ar

    result = amodal_ar(args.gt, args.proposals, use_visible=args.visible,
                       use_amodal_proposals=args.amodal_proposals, workers=args.workers, strict=args.strict,
                       max_proposals_per_image=args.max_proposals_per_image, max_json_bytes=args.max_json_bytes,
                       max_pixels=args.max_pixels)
    if not args.quiet:
        print(result.cocoa_printout() if args.cocoa_format else result.table())
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(result.to_dict(), f, indent=1)
    return 0


def _run_amodal_stats(args: argparse.Namespace) -> int:
    from ..amodal.stats import amodal_stats, amodal_stats_by_annotator

    if args.annotators:
        stats: Any = amodal_stats_by_annotator(args.gt)
        columns = {"pooled": stats["pooled"], **stats["annotators"]}
        keys = list(stats["pooled"])
        width = max(len(k) for k in keys)
        cell = max([10] + [len(str(name)) for name in columns])
        print(f"{'':{width}s}  " + "  ".join(f"{str(name):>{cell}s}" for name in columns))
        for key in keys:
            values = [c[key] for c in columns.values()]
            print(f"{key:{width}s}  " + "  ".join(f"{v:{cell}.4f}" if isinstance(v, float) else f"{v:{cell}d}"
                                                  for v in values))
    else:
        stats = amodal_stats(args.gt)
        width = max(len(k) for k in stats)
        for key, value in stats.items():
            print(f"{key:{width}s}  {value:.4f}" if isinstance(value, float) else f"{key:{width}s}  {value}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(stats, f, indent=1)
    return 0


def register(commands: Any) -> None:
    """Adds the ``amodal`` and ``amodal-stats`` commands."""
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
    _add_limit_arguments(amodal)
    amodal.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS,
                        help="refuse images larger than this, height x width (default: %(default)s)")
    amodal.add_argument("--max-proposals-per-image", type=_positive_int, default=DEFAULT_MAX_PROPOSALS_PER_IMAGE,
                        help="refuse images with more proposals than this (default: %(default)s)")
    amodal.add_argument("--json", dest="json_out", default=None, help="also write the AR values to this file")
    amodal.add_argument("--quiet", action="store_true", help="print nothing but errors")
    amodal.set_defaults(run=_run_amodal)
    stats = commands.add_parser(
        "amodal-stats", help="dataset statistics of a COCO Amodal ground truth",
        description="Regions per annotation, points per polygon, pixel coverage, occlusion, and the simplicity and "
                    "convexity of amodal and visible masks (see fastpq.amodal_stats for the estimators).")
    stats.add_argument("gt", help="COCOA ground-truth JSON")
    stats.add_argument("--annotators", action="store_true",
                       help="every annotation of a multi-annotator file (BSDS amodal): per author and pooled")
    stats.add_argument("--json", dest="json_out", default=None, help="also write the statistics to this file")
    stats.set_defaults(run=_run_amodal_stats)
