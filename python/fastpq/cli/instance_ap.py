"""`fastpq instance-ap GT PRED [--json out.json]`: Cityscapes instance-level AP / AP50."""

from __future__ import annotations

import argparse
import json
import math


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.3f}"


def run(args: argparse.Namespace) -> int:
    """Scores the results folder against the gtFine folder; prints the reference's table."""
    from ..instance import evaluate
    result = evaluate(args.gt, args.pred, workers=args.workers)
    print(f"{'what':<15}{'AP':>15}{'AP_50%':>15}")
    for name, c in result.classes.items():
        print(f"{name:<15}{_fmt(c.ap):>15}{_fmt(c.ap50):>15}")
    print("-" * 45)
    print(f"{'average':<15}{_fmt(result.ap):>15}{_fmt(result.ap50):>15}")
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
    parser.set_defaults(run=run)
