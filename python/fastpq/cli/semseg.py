"""``fastpq semseg``: semantic segmentation scores of a folder of label PNGs against ground truth."""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List, Optional

from ..io.limits import DEFAULT_MAX_PIXELS


def _int_list(text: str) -> List[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def register(commands: "argparse._SubParsersAction") -> None:
    """Adds the ``semseg`` command."""
    p = commands.add_parser(
        "semseg", help="semantic segmentation scores (Cityscapes IoU / iIoU, ADE20K, mmseg, detectron2, torchmetrics)",
        description="Score a folder of predicted label PNGs against a ground-truth folder. Presets equal their "
                    "references: cityscapes (cityscapesscripts' evalPixelLevelSemanticLabeling: label ids, "
                    "*_gtFine_labelIds.png with their instanceIds, predictions matched by <city>_<seq>_<frame>), "
                    "ade20k (the scene-parsing benchmark), mmseg (IoUMetric), detectron2 (SemSegEvaluator), "
                    "torchmetrics (MulticlassJaccardIndex), torchmetrics-meaniou (segmentation.MeanIoU, per-image "
                    "averaging). Other presets pair files by relative path.")
    p.add_argument("gt", help="ground-truth folder")
    p.add_argument("pred", help="prediction folder")
    p.add_argument("--preset", default=None,
                   choices=["cityscapes", "ade20k", "mmseg", "detectron2", "torchmetrics", "torchmetrics-meaniou"],
                   help="the reference whose rules and numbers to reproduce (default: plain options)")
    p.add_argument("--num-classes", type=int, default=None, help="classes 0..K-1 (mmseg, detectron2, torchmetrics, plain)")
    p.add_argument("--no-background", action="store_true",
                   help="torchmetrics-meaniou: leave class 0 out (MeanIoU's include_background=False)")
    p.add_argument("--ignore-index", type=_int_list, default=None,
                   help="ground-truth value(s) to ignore, comma-separated (mmseg / detectron2 default: 255)")
    p.add_argument("--reduce-zero-label", action="store_true", help="mmseg's reduce_zero_label (0 -> ignored, v -> v-1)")
    p.add_argument("--train-ids", action="store_true", help="cityscapes: predictions are trainIds, not label ids")
    p.add_argument("--no-instances", action="store_true", help="cityscapes: skip iIoU (no instanceIds files)")
    p.add_argument("--per-image", default=None, metavar="ROWS.csv", help="write one row per image to this CSV")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap intervals with N resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    p.add_argument("--ci", type=float, default=0.95, help="bootstrap confidence level (default: %(default)s)")
    p.add_argument("--workers", type=int, default=0, help="threads (default: all cores)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help="refuse images larger than this, height x width (default: %(default)s)")
    p.add_argument("--report", default=None, metavar="OUT.html",
                   help="also write an HTML report (IoU bars, confusion heatmap; needs matplotlib)")
    p.add_argument("--json", dest="json_out", default=None, help="also write the reference's result dict here")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(run=run)


def _jsonable(x: Any) -> Any:
    import math

    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        return None if math.isnan(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def run(args: argparse.Namespace) -> int:
    """Runs ``fastpq semseg``."""
    from ..analysis.semantic import bootstrap, image_rows
    from ..analysis import write_rows
    from ..semantic import evaluate

    options: Dict[str, Any] = {}
    if args.preset == "cityscapes":
        options["pred_format"] = "trainIds" if args.train_ids else "labelIds"
        options["instances"] = False if args.no_instances else None
    else:
        options.update(num_classes=args.num_classes, reduce_zero_label=args.reduce_zero_label)
        if args.preset == "torchmetrics-meaniou":
            options["include_background"] = not args.no_background
        if args.ignore_index is not None:
            options["ignore_index"] = args.ignore_index
    result = evaluate(args.gt, args.pred, preset=args.preset, workers=args.workers, max_pixels=args.max_pixels,
                      **options)
    out: Dict[str, Any] = {"summary": result.summary(), "reference": result.to_dict()}
    boot: Optional[Any] = None
    if args.bootstrap:
        boot = bootstrap(result, args.bootstrap, args.seed, args.ci)
        out["bootstrap"] = boot.to_dict()
    if not args.quiet:
        print(result.table())
        if boot is not None:
            print()
            print(boot.table())
    if args.per_image:
        write_rows(image_rows(result), args.per_image)
    if args.report:
        from ..tools.report_semantic import write_semantic_report

        write_semantic_report(result, args.report)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(_jsonable(out), f, indent=1)
    return 0
