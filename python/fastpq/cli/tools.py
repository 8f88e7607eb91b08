"""``fastpq report``, ``fastpq combine`` and ``fastpq convert``: the tools' commands."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import FastPQError
from ._common import _add_png_reading_arguments


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




def register(commands: Any) -> None:
    """Adds the ``report``, ``combine`` and ``convert`` commands."""
    _add_report_command(commands)
    _add_combine_and_convert(commands)
