"""The ``fastpq`` command line: ``fastpq pq`` scores COCO panoptic files, ``fastpq demo`` makes a
small example dataset and scores it; each group of commands lives in its own module here."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ..errors import FastPQError
from . import amodal, amodal_consistency, compare, instance_ap, pq, semseg, server_kit, tools
from ._common import ProgressBar, _one_line
from .pq import results_json

__all__ = ["main", "build_parser", "results_json", "ProgressBar"]


#: The order `fastpq --help` lists the commands in: scoring first, then preparing predictions,
#: serving submissions, and the demo.
COMMAND_ORDER = ("pq", "semseg", "instance-ap", "compare", "consistency", "report", "amodal", "amodal-stats",
                 "amodal-consistency", "combine", "convert",
                 "score-submission", "server-kit", "demo")

#: One module per group of commands, each with a ``register(commands)`` that adds its parsers.
COMMAND_MODULES = (pq, semseg, instance_ap, compare, tools, amodal, amodal_consistency, server_kit)

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
  fastpq server-kit evalai --task panoptic --gt-json gt.json --gt-folder gt/ -o evaluation_script/
  fastpq server-kit codabench --task semantic --preset cityscapes --gt gtFine/val -o scoring_program/
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
    for module in COMMAND_MODULES:
        module.register(commands)
    commands.add_parser(
        "score-submission", add_help=False, help="score an untrusted zip submission safely and print JSON",
        description="fastpq.server's worker: see 'fastpq score-submission --help'.")
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


if __name__ == "__main__":
    sys.exit(main())
