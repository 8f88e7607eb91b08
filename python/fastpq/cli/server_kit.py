"""`fastpq server-kit evalai|codalab|codabench --task T ... -o DIR`: a ready scoring program for a
challenge platform (see :mod:`fastpq.integrations.server_kits`)."""

from __future__ import annotations

import argparse
from typing import Any, Dict

from ._common import _positive_float, _positive_int


def _phase(text: str) -> "tuple[str, str]":
    phase, sep, split = text.partition("=")
    if not sep or not phase or not split:
        raise argparse.ArgumentTypeError(f"{text!r} is not PHASE=SPLIT (e.g. dev=dev_split)")
    return phase, split


def run(args: argparse.Namespace) -> int:
    """Writes the kit and lists what was written."""
    from ..integrations import server_kits

    options: Dict[str, Any] = {}
    if args.preset is not None:
        options["preset"] = args.preset
    limits = {k: getattr(args, k) for k in ("memory_bytes", "cpu_seconds", "wall_seconds", "max_pixels",
                                            "max_members", "max_total_bytes") if getattr(args, k) is not None}
    gt_folder = args.gt_folder if args.gt_folder is not None else args.gt
    common = dict(gt_json=args.gt_json, gt_folder=gt_folder, options=options, isolated=not args.in_process,
                  limits=limits)
    if args.platform == "evalai":
        phases = dict(args.phase) if args.phase else None
        written = server_kits.write_evalai_kit(args.output, args.task, phases=phases, default_split=args.split,
                                               embed_gt=args.embed_gt, **common)
    else:
        written = server_kits.write_codalab_kit(args.output, args.platform, args.task,
                                                detailed_results=not args.no_detailed_results, **common)
    for path in written:
        print(path)
    return 0


def register(commands: "argparse._SubParsersAction") -> None:
    """Adds the server-kit command."""
    from ..integrations.server_tasks import TASKS

    parser = commands.add_parser(
        "server-kit", help="write an EvalAI, CodaLab or Codabench scoring program for a challenge",
        description="Writes a scoring program that scores each upload with fastpq.server (safe unpacking, a capped "
                    "child process) and returns the task's leaderboard keys: evalai, an evaluation_script package "
                    "(plus its zip, a challenge_config fragment, reference_data.zip); codalab / codabench, a "
                    "scoring_program folder (metadata, score.py; plus its zip, a competition.yaml leaderboard "
                    "fragment, and reference_data.zip to upload as the reference data, found in input/ref).")
    parser.add_argument("platform", choices=("evalai", "codalab", "codabench"))
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--preset", default=None, help="semantic: cityscapes, ade20k, mmseg, detectron2, torchmetrics")
    parser.add_argument("--gt-json", default=None, help="ground-truth JSON (panoptic, amodal)")
    parser.add_argument("--gt-folder", default=None, help="ground-truth folder (panoptic PNGs; semantic / instance)")
    parser.add_argument("--gt", default=None, help="same as --gt-folder (e.g. gtFine/val)")
    parser.add_argument("-o", "--output", required=True, help="the folder to write (new or empty)")
    parser.add_argument("--in-process", action="store_true",
                        help="score in the platform worker's own process instead of a capped child process")
    parser.add_argument("--memory-bytes", type=_positive_int, default=None, help="address-space cap of the child")
    parser.add_argument("--cpu-seconds", type=_positive_float, default=None, help="CPU-time cap of the child")
    parser.add_argument("--wall-seconds", type=_positive_float, default=None, help="wall-time cap of the child")
    parser.add_argument("--max-pixels", type=_positive_int, default=None, help="largest image accepted")
    parser.add_argument("--max-members", type=_positive_int, default=None,
                        help="most files an upload may hold (default 10000; Cityscapes instance results hold a PNG "
                             "per predicted mask: raise it)")
    parser.add_argument("--max-total-bytes", type=_positive_int, default=None, help="most bytes an upload unpacks to")
    evalai = parser.add_argument_group("evalai")
    evalai.add_argument("--phase", type=_phase, action="append", metavar="PHASE=SPLIT",
                        help="a phase codename and the split it scores into (repeatable; default dev=dev_split, "
                             "test=<--split>)")
    evalai.add_argument("--split", default="test_split", help="split of any other phase (default: %(default)s)")
    evalai.add_argument("--embed-gt", action="store_true",
                        help="copy the ground truth into the package (else its absolute paths are recorded)")
    codalab = parser.add_argument_group("codalab / codabench")
    codalab.add_argument("--no-detailed-results", action="store_true", help="do not write detailed_results.html")
    parser.set_defaults(run=run)
