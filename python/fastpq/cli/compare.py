"""``fastpq compare`` (two predictions, a paired bootstrap) and ``fastpq consistency`` (two annotation
sets of the same images)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import _add_bootstrap_arguments, _add_png_reading_arguments


def _run_compare(args: argparse.Namespace) -> int:
    from ..analysis import compare_predictions

    comparison = compare_predictions(args.gt_json, args.pred_a_json, args.pred_b_json, args.gt_folder,
                                     args.a_folder, args.b_folder, n_resamples=args.bootstrap, seed=args.seed,
                                     ci=args.ci, workers=args.workers, max_pixels=args.max_pixels)
    if not args.quiet:
        print(comparison.table())
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(comparison.to_dict(), f, indent=1)
    return 0


def _run_consistency(args: argparse.Namespace) -> int:
    from ..analysis import consistency

    result = consistency(args.a_json, args.b_json, args.a_folder, args.b_folder,
                         prediction_crowd=args.prediction_crowd, n_resamples=args.bootstrap, seed=args.seed,
                         ci=args.ci, workers=args.workers, max_pixels=args.max_pixels)
    if not args.quiet:
        print(result.table())
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(result.to_dict(), f, indent=1)
    return 0


def register(commands: Any) -> None:
    """Adds the ``compare`` and ``consistency`` commands."""
    compare = commands.add_parser(
        "compare", help="is prediction B better than prediction A? PQ difference with a paired bootstrap interval",
        description="Score two predictions against the same ground truth and report B - A for PQ, SQ and RQ "
                    "(All, Things, Stuff) with a paired bootstrap interval (both predictions resampled with the same "
                    "images) and the share of resamples in which B beats A. Example: fastpq compare gt.json "
                    "model_a.json model_b.json --bootstrap 1000 --seed 0")
    compare.add_argument("gt_json", help="ground-truth COCO panoptic JSON file")
    compare.add_argument("pred_a_json", help="prediction A (the baseline): COCO panoptic JSON file")
    compare.add_argument("pred_b_json", help="prediction B: COCO panoptic JSON file")
    compare.add_argument("--gt-folder", default=None, help="ground-truth PNG folder (default: GT JSON path without .json)")
    compare.add_argument("--a-folder", default=None, help="PNG folder of A (default: its JSON path without .json)")
    compare.add_argument("--b-folder", default=None, help="PNG folder of B (default: its JSON path without .json)")
    _add_analysis_options(compare, default_resamples=1000)
    compare.set_defaults(run=_run_compare)
    agree = commands.add_parser(
        "consistency", help="annotator consistency: score one annotation set of the same images against another",
        description="Human consistency as in the panoptic segmentation paper: annotation set B is scored as a "
                    "prediction against A, and A against B (each with its crowd regions and void), and the two "
                    "directions are averaged (symmetric). The annotation scored as prediction has its crowd regions "
                    "turned into void by default (a prediction has no crowd label); --prediction-crowd segment keeps "
                    "them as ordinary segments. Both files are COCO panoptic ground-truth files (with iscrowd and "
                    "area). Example: fastpq consistency annotator1.json annotator2.json --bootstrap 1000")
    agree.add_argument("a_json", help="annotation set A: COCO panoptic ground-truth JSON file")
    agree.add_argument("b_json", help="annotation set B of the same images: COCO panoptic ground-truth JSON file")
    agree.add_argument("--a-folder", default=None, help="PNG folder of A (default: its JSON path without .json)")
    agree.add_argument("--b-folder", default=None, help="PNG folder of B (default: its JSON path without .json)")
    agree.add_argument("--prediction-crowd", choices=("void", "segment"), default="void",
                       help="what the crowd regions of the annotation scored as prediction become (default: %(default)s)")
    _add_analysis_options(agree, default_resamples=0)
    agree.set_defaults(run=_run_consistency)


def _add_analysis_options(parser: argparse.ArgumentParser, default_resamples: int) -> None:
    _add_bootstrap_arguments(parser, default_resamples)
    _add_png_reading_arguments(parser)
    parser.add_argument("--json", dest="json_out", default=None, help="also write the results to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
