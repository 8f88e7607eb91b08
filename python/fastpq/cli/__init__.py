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

from ..errors import FastPQError
from ..io.limits import (DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_MAX_PROPOSALS_PER_IMAGE,
                     DEFAULT_MAX_SEGMENTS_PER_IMAGE)
from ..panoptic.evaluation import evaluate
from ..panoptic.results import PanopticResult


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


def _add_bootstrap_arguments(parser: argparse.ArgumentParser, default_resamples: int) -> None:
    parser.add_argument("--bootstrap", type=int, default=default_resamples, metavar="N",
                        help="bootstrap confidence intervals from N resamples of the images, drawn with replacement "
                             + ("(default: 0, no intervals)" if not default_resamples else "(default: %(default)s)"))
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the resampling (numpy PCG64); the same seed gives the same intervals "
                             "(default: %(default)s)")
    parser.add_argument("--ci", type=float, default=0.95,
                        help="confidence level of the percentile intervals (default: %(default)s)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _add_png_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """--workers and --max-pixels, for every command that scores PNG pairs."""
    parser.add_argument("--workers", type=int, default=0, help="threads decoding images (default: all cores)")
    parser.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS,
                        help="refuse PNGs with more pixels than this (default: %(default)s)")


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options an evaluation server sets for untrusted submissions, common to pq and amodal."""
    parser.add_argument("--strict", action="store_true",
                        help="refuse what the reference tools silently accept (duplicate image or segment ids, "
                             "entries for unknown images, file names leaving their folder, ...)")
    parser.add_argument("--max-json-bytes", type=_positive_int, default=DEFAULT_MAX_JSON_BYTES,
                        help="refuse larger JSON files (default: %(default)s)")


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


def _add_analysis_commands(commands: Any) -> None:
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
    from ..amodal.stats import amodal_stats

    stats = amodal_stats(args.gt)
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        print(f"{key:{width}s}  {value:.4f}" if isinstance(value, float) else f"{key:{width}s}  {value}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(stats, f, indent=1)
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from ..tools.report import write_report

    result = write_report(args.gt_json, args.pred_json, args.output, args.gt_folder, args.pred_folder,
                          worst=args.worst, workers=args.workers, max_pixels=args.max_pixels, title=args.title)
    if not args.quiet:
        print(result.table())
        print(f"report written to {args.output}")
    return 0


def _add_report_command(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="score a prediction and write a self-contained HTML report",
        description="Score a COCO panoptic prediction and write one self-contained HTML file: the summary table, "
                    "PQ per class, SQ against RQ per class and the worst images with TP / FP / FN segments coloured.")
    report.add_argument("gt_json", help="ground-truth COCO panoptic JSON file")
    report.add_argument("pred_json", help="prediction COCO panoptic JSON file")
    report.add_argument("--gt-folder", default=None,
                        help="ground-truth PNG folder (default: the JSON path without .json)")
    report.add_argument("--pred-folder", default=None,
                        help="prediction PNG folder (default: the JSON path without .json)")
    report.add_argument("-o", "--output", required=True, help="the HTML file to write")
    report.add_argument("--worst", type=int, default=8, help="how many worst images to draw (default: %(default)s)")
    report.add_argument("--title", default=None, help="the page title (default: from the prediction file name)")
    _add_png_reading_arguments(report)
    report.add_argument("--quiet", action="store_true", help="print nothing but errors")
    report.set_defaults(run=_run_report)


def _run_combine(args: argparse.Namespace) -> int:
    from ..tools.combine import combine_predictions

    data = combine_predictions(args.instances, args.images, args.output, semantic_folder=args.semantic,
                               categories_json=args.categories, output_folder=args.output_folder,
                               confidence_thr=args.confidence_thr, overlap_thr=args.overlap_thr,
                               stuff_area_limit=args.stuff_area_limit,
                               void_value=None if args.void < 0 else args.void, workers=args.workers)
    n = sum(len(a["segments_info"]) for a in data["annotations"])
    print(f"combined {len(data['annotations'])} images into {n} segments: {args.output}")
    return 0


def _run_convert(args: argparse.Namespace) -> int:
    from ..tools import convert

    kind = args.kind
    if kind == "2ch2panoptic" and not args.images:
        raise FastPQError("2ch2panoptic needs --images: the COCO JSON listing the images to convert")
    if kind == "2ch2panoptic":
        convert.two_channel_to_panoptic(args.input, args.images, args.output, categories_json=args.categories,
                                        output_folder=args.output_folder, void=args.void,
                                        crowd_instance=None if args.no_crowd else convert.CROWD_INSTANCE,
                                        workers=args.workers)
    elif kind == "panoptic2detection":
        convert.panoptic_to_detection(args.input, args.output, panoptic_folder=args.panoptic_folder,
                                      categories_json=args.categories, things_only=args.things_only,
                                      unlisted_as_void=args.unlisted_as_void, workers=args.workers)
    elif kind == "detection2panoptic":
        convert.detection_to_panoptic(args.input, args.output, categories_json=args.categories,
                                      output_folder=args.output_folder, workers=args.workers)
    elif kind == "panoptic22ch":
        convert.panoptic_to_two_channel(args.input, args.output, panoptic_folder=args.panoptic_folder,
                                        categories_json=args.categories, void=args.void,
                                        crowd_instance=None if args.no_crowd else convert.CROWD_INSTANCE,
                                        unlisted_as_void=args.unlisted_as_void, workers=args.workers)
    elif kind == "panoptic2semantic":
        convert.panoptic_to_semantic(args.input, args.output, panoptic_folder=args.panoptic_folder,
                                     categories_json=args.categories, void=args.void,
                                     things_other=args.things_other, unlisted_as_void=args.unlisted_as_void,
                                     workers=args.workers)
    elif kind == "cityscapes2panoptic":
        for path in convert.cityscapes_to_panoptic(args.input, args.output, use_train_id=args.use_train_id,
                                                   set_names=args.set_names, workers=args.workers):
            print(f"wrote {path}")
        return 0
    print(f"wrote {args.output}")
    return 0


_CONVERT_KINDS = {
    "2ch2panoptic": "INPUT: folder of 2-channel PNGs (R category, G instance); needs --images; OUTPUT: panoptic JSON",
    "panoptic22ch": "INPUT: panoptic JSON; OUTPUT: folder for 2-channel PNGs",
    "panoptic2semantic": "INPUT: panoptic JSON; OUTPUT: folder for PNGs of category ids (void: --void)",
    "panoptic2detection": "INPUT: panoptic JSON; OUTPUT: COCO detection JSON (one RLE annotation per segment)",
    "detection2panoptic": "INPUT: COCO detection JSON (non-overlapping masks); OUTPUT: panoptic JSON; needs "
                          "--categories unless the input's categories have isthing and color",
    "cityscapes2panoptic": "INPUT: Cityscapes gtFine folder; OUTPUT: folder for cityscapes_panoptic_<set>.json "
                           "and PNGs (as cityscapesscripts' createPanopticImgs)",
}


def _add_combine_and_convert(commands: Any) -> None:
    combine = commands.add_parser(
        "combine", help="combine instance and semantic predictions into a COCO panoptic prediction",
        description="panopticapi's combination heuristic (combine_semantic_and_instance_predictions.py): instances "
                    "by descending score take their free pixels unless too much of them is taken; stuff comes from "
                    "the semantic PNGs where no instance is. Writes a panoptic JSON and a PNG folder.",
        epilog="example: fastpq combine --instances maskrcnn_results.json --semantic semseg_pngs/ "
               "--images panoptic_val2017.json --output combined.json")
    combine.add_argument("--instances", "--instseg_json_file", dest="instances", required=True,
                         help="COCO detection results: image_id, category_id, score, segmentation (RLE or polygons)")
    combine.add_argument("--semantic", default=None,
                         help="folder of single-channel PNGs of category ids, one per image named as the image "
                              "with .png (default: no stuff)")
    combine.add_argument("--images", "--images_json_file", dest="images", required=True,
                         help="COCO JSON whose images are combined (its categories are used unless --categories)")
    combine.add_argument("--categories", "--categories_json_file", dest="categories", default=None,
                         help="COCO panoptic categories JSON (with isthing and color)")
    combine.add_argument("--output", "--panoptic_json_file", dest="output", required=True,
                         help="panoptic JSON to write")
    combine.add_argument("--output-folder", "--segmentations_folder", dest="output_folder", default=None,
                         help="folder for the panoptic PNGs (default: the output JSON path without .json)")
    combine.add_argument("--confidence-thr", "--confidence_thr", dest="confidence_thr", type=float, default=0.5,
                         help="drop instances scoring less (default: %(default)s)")
    combine.add_argument("--overlap-thr", "--overlap_thr", dest="overlap_thr", type=float, default=0.5,
                         help="drop instances with more than this fraction of pixels already taken (default: %(default)s)")
    combine.add_argument("--stuff-area-limit", "--stuff_area_limit", dest="stuff_area_limit", type=float,
                         default=64 * 64, help="drop stuff segments with fewer pixels (default: %(default)s)")
    combine.add_argument("--void", type=int, default=0,
                         help="semantic value of pixels without a category; -1: none (default: %(default)s)")
    combine.add_argument("--workers", type=int, default=0, help="threads (default: all cores)")
    combine.set_defaults(run=_run_combine)

    conv = commands.add_parser(
        "convert", help="convert between COCO panoptic and 2-channel, semantic, detection and Cityscapes formats",
        description="Convert segmentation files. KIND is one of:\n" +
                    "\n".join(f"  {k}: {v}" for k, v in _CONVERT_KINDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  fastpq convert panoptic2detection panoptic_val2017.json detections.json\n"
               "  fastpq convert 2ch2panoptic pngs_2ch/ panoptic.json --images images.json --categories cats.json\n"
               "  fastpq convert cityscapes2panoptic cityscapes/gtFine out/ --set-names val")
    conv.add_argument("kind", choices=sorted(_CONVERT_KINDS), metavar="KIND", help="the conversion (see above)")
    conv.add_argument("input", help="the input file or folder (see KIND)")
    conv.add_argument("output", help="the output file or folder (see KIND)")
    conv.add_argument("--images", default=None, help="2ch2panoptic: COCO JSON listing the images")
    conv.add_argument("--categories", default=None,
                      help="COCO panoptic categories JSON (default: the input's / the images JSON's categories)")
    conv.add_argument("--panoptic-folder", default=None,
                      help="PNG folder of a panoptic input (default: its JSON path without .json)")
    conv.add_argument("--output-folder", default=None,
                      help="PNG folder of a panoptic output (default: its JSON path without .json)")
    conv.add_argument("--void", type=int, default=0, help="category value of void pixels (default: %(default)s)")
    conv.add_argument("--no-crowd", action="store_true",
                      help="2-channel: no crowd marker (default: instance 255 of a thing is its crowd region)")
    conv.add_argument("--things-only", action="store_true", help="panoptic2detection: thing segments only")
    conv.add_argument("--things-other", action="store_true",
                      help="panoptic2semantic: every thing category becomes 183 (other)")
    conv.add_argument("--unlisted-as-void", action="store_true",
                      help="treat PNG ids the panoptic JSON does not list as void instead of failing")
    conv.add_argument("--use-train-id", action="store_true", help="cityscapes2panoptic: train ids as categories")
    conv.add_argument("--set-names", nargs="+", default=["val", "train", "test"],
                      help="cityscapes2panoptic: sets to convert (default: %(default)s)")
    conv.add_argument("--workers", type=int, default=0, help="threads (default: all cores)")
    conv.set_defaults(run=_run_convert)


#: The order `fastpq --help` lists the commands in: scoring first, then preparing predictions,
#: serving submissions, and the demo.
COMMAND_ORDER = ("pq", "semseg", "instance-ap", "compare", "consistency", "report", "amodal", "amodal-stats",
                 "amodal-consistency", "combine", "convert",
                 "score-submission", "demo")

EPILOG = """\
typical uses:
  fastpq demo                                          generate a small example and score it
  fastpq pq --gt-json gt.json --pred-json pred.json    PQ/SQ/RQ, as panopticapi's pq_compute prints them
  fastpq pq ... --per-class --bootstrap 1000 --by-size --json out.json
  fastpq semseg --preset cityscapes gtFine/val results/   class / category IoU and iIoU
  fastpq compare gt.json a.json b.json --bootstrap 1000   is B better than A?
  fastpq report gt.json pred.json -o report.html       one HTML file with plots and the worst images
  fastpq combine --instances det.json --semantic sem/ --images images.json --output panoptic.json
  fastpq convert panoptic2detection panoptic.json detection.json
  fastpq score-submission --gt-json gt.json upload.zip   score an untrusted zip, print JSON
  fastpq amodal --gt cocoa_val.json --proposals proposals.json
  fastpq amodal-consistency bsds_amodal.json --json out.json   how well annotators agree
  fastpq instance-ap gtFine/val results/ --json out.json   Cityscapes instance AP, as cityscapesscripts

'fastpq COMMAND --help' shows a command's options. Bad input ends with one line,
'fastpq: error: ...', naming the image, segment or file, and exit status 1.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastpq", description="Fast, exact panoptic quality (PQ, SQ, RQ) and amodal average recall, with "
                                   "the reference tools' numbers.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    stats.add_argument("--json", dest="json_out", default=None, help="also write the statistics to this file")
    stats.set_defaults(run=_run_amodal_stats)
    demo = commands.add_parser("demo", help="generate a small COCO-like example and score it",
                               description="Generate a small COCO-like dataset with perturbed predictions and "
                                           "score it.")
    demo.add_argument("--dir", default=None, help="where to write it (default: a new temporary folder)")
    demo.add_argument("--images", type=int, default=20, help="number of images (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.set_defaults(run=_run_demo)
    _add_report_command(commands)
    _add_analysis_commands(commands)
    _add_combine_and_convert(commands)
    commands.add_parser(
        "score-submission", add_help=False, help="score an untrusted zip submission safely and print JSON",
        description="fastpq.server's worker: see 'fastpq score-submission --help'.")
    from . import semseg

    semseg.register(commands)
    from . import amodal_consistency

    amodal_consistency.register(commands)
    from . import instance_ap

    instance_ap.register(commands)
    order = {name: i for i, name in enumerate(COMMAND_ORDER)}
    commands._choices_actions.sort(key=lambda a: order.get(a.dest, len(order)))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: runs a command; bad input ends with a one-line message and exit status 1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["score-submission"]:  # the worker parses its own options, --help included
        from ..integrations.server import main as server_main

        return server_main(argv[1:], prog="fastpq score-submission")
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
