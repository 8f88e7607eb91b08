"""`fastpq instance-ap GT PRED [--json out.json]`: Cityscapes instance-level AP / AP50."""

from __future__ import annotations

import argparse
import json
import math


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.3f}"


def run(args: argparse.Namespace) -> int:
    """Scores the results folder against the gtFine folder; prints the reference's table."""
    from ..errors import InvalidOptionError
    from ..instance import cityscapes_distances, evaluate
    if (args.disparity is None) != (args.camera is None):
        raise InvalidOptionError("--disparity and --camera go together")
    distances = None if args.disparity is None else cityscapes_distances(args.gt, args.disparity, args.camera)
    result = evaluate(args.gt, args.pred, workers=args.workers, distances=distances)
    averages = result.to_dict()["averages"]
    extra = [("ap50m", "allAp50m", "AP_50m"), ("ap100m", "allAp100m", "AP_100m"), ("ap50%50m", "allAp50%50m", "AP_50%50m")]
    extra = extra if distances is not None else []
    print(f"{'what':<15}{'AP':>15}{'AP_50%':>15}" + "".join(f"{h:>15}" for _, _, h in extra))
    for name, c in result.classes.items():
        row = averages["classes"][name]
        print(f"{name:<15}{_fmt(c.ap):>15}{_fmt(c.ap50):>15}" + "".join(f"{_fmt(row[k]):>15}" for k, _, _ in extra))
    print("-" * (45 + 15 * len(extra)))
    print(f"{'average':<15}{_fmt(result.ap):>15}{_fmt(result.ap50):>15}"
          + "".join(f"{_fmt(averages[k]):>15}" for _, k, _ in extra))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result.to_dict(), f, indent=4, sort_keys=True)
    return 0


def register(commands: "argparse._SubParsersAction") -> None:
    """Adds the instance-ap command."""
    parser = commands.add_parser(
        "instance-ap", help="Cityscapes instance-level AP / AP50, as cityscapesscripts computes them",
        description="Scores the official results layout (per image <city>_<seq>_<frame>*.txt of "
                    "'relPath labelId score' lines + binary mask PNGs) against gtFine *_instanceIds.png.")
    parser.add_argument("gt", help="gtFine folder (searched for *_gtFine_instanceIds.png) or one file")
    parser.add_argument("pred", help="results folder")
    parser.add_argument("--json", metavar="OUT", help="write the reference's result dict as JSON")
    parser.add_argument("--workers", type=int, default=0, help="threads (0: all cores)")
    parser.add_argument("--disparity", metavar="DIR", help="disparity/ tree (<key>_disparity.png): adds the "
                        "AP 100 m / 50 m rows, with --camera")
    parser.add_argument("--camera", metavar="DIR", help="camera/ tree (<key>_camera.json), with --disparity")
    parser.set_defaults(run=run)
