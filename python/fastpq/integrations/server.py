"""The evaluation worker for untrusted submissions: a zip archive in, a score or a clear reason out.

A challenge organiser calls :func:`score_submission` (or ``python -m fastpq.server``) on each
archive a participant uploads. Whatever the archive holds, the answer is a JSON-ready dict,
``{"status": "ok", "result": ...}`` or ``{"status": "error", "error": {...}}``; nothing is read
or written outside the archive's temporary folder, and memory and disk stay within
:class:`SubmissionLimits`.

Every task (panoptic, semantic, instance, amodal: ``task=``) gets the same archive checks, outcome
shape and error types; :mod:`fastpq.integrations.submission_layouts` says where the non-panoptic
tasks find their predictions, :mod:`fastpq.integrations.server_tasks` their leaderboard keys.

Layout of a panoptic submission (the rule :func:`unpack_submission` applies; the COCO challenge's
``panoptic_<split>_<alg>_results.json`` + ``panoptic_<split>_<alg>_results/`` is this layout):

* The *root* is the top level of the archive, or, when the archive has no file at its top level
  and exactly one top-level directory, that directory.
* The root holds exactly one ``*.json`` file: the prediction JSON (COCO panoptic format).
* The PNG folder is the root's directory named like the JSON without ``.json`` (panopticapi's
  default layout, ``pred.json`` + ``pred/``); failing that, the root's only directory.
* ``__MACOSX/`` folders and ``.DS_Store`` files are ignored. Other members are checked but only
  the JSON and the PNG folder's files are unpacked.

Every member is checked before anything is written: absolute paths, drive letters,
backslashes, ``..`` / ``.`` / empty components, symlinks and other special files, encrypted
members, duplicates, compression other than stored or deflate (bzip2 and LZMA inflate without
an output bound) and the limits (member count, declared sizes, compression ratio) are refused.
While a member is unpacked the bytes written are counted and unpacking stops as soon as they
exceed the member's declared size or a limit. Prediction ``file_name`` entries must name files
inside the PNG folder: an absolute path or ``..`` could otherwise read the server's files (the
ground truth itself, for a perfect score).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from typing import Any, Dict, Optional, Sequence

from ..errors import FastPQError
from ..panoptic.evaluation import evaluate
from ..panoptic.results import PanopticResult
from . import server_tasks as tasks
from .submission_archive import (GIB, MAX_COMPONENT_BYTES, MAX_DIRECTORY_ENTRY_BYTES, MAX_NAME_BYTES,  # noqa: F401
                                 MIB, RATIO_FLOOR_BYTES, Archive, PathLike, Submission, SubmissionLimits, _inside,
                                 unpack_submission)
from .submission_layouts import copy_bare_json, is_bare_json, read_folder

__all__ = ["SubmissionLimits", "Submission", "score_submission", "unpack_submission", "result_dict", "error_dict",
           "main", "build_parser"]

# ---------------------------------------------------------------------------
# Scoring


def score_submission(archive: Archive, gt_json: Optional[PathLike] = None, gt_folder: Optional[PathLike] = None, *,
                     task: str = "panoptic", limits: SubmissionLimits = SubmissionLimits(),
                     tmp_dir: Optional[PathLike] = None, **evaluate_options: Any) -> Dict[str, Any]:
    """Scores one submission archive against the ground truth; never raises for a bad submission.

    Args:
        archive: the zip, as a path, bytes or a binary file object; or the path of a folder that
            is the submission already unpacked (CodaLab's ``input/res``), checked and read in place;
            for instance and amodal, also a bare JSON file (a path, or bytes starting with ``[``).
        gt_json, gt_folder: the ground truth (trusted). panoptic: both (the folder defaults to the
            JSON path without ``.json``); semantic and instance: the folder (Cityscapes
            ``gtFine/val``, or the label maps); amodal: the COCOA JSON.
        task: "panoptic", "semantic", "instance" or "amodal" (see
            :mod:`fastpq.integrations.submission_layouts` for each task's archive layout).
        limits: what the archive may hold, and scoring limits passed on to the family's evaluate.
        tmp_dir: where the temporary unpacking folder is made (default: the system's).
        evaluate_options: passed to the family's evaluate untouched (``workers``, ``time_budget``,
            semantic ``preset``, ...). ``strict`` (panoptic, amodal) is on unless set to False here:
            prediction ``file_name`` entries that leave the PNG folder, duplicate images or
            segments and the like are refused.

    Returns ``{"status": "ok", "task": task, "result": {...}, "leaderboard": {key: percent},
    "submission": {...}, "elapsed_s": s}`` (result: the task's JSON form, e.g. panoptic groups and
    per-class scores, NaN as None, per_class keyed by ``str(category_id)``; leaderboard: the keys
    of :data:`fastpq.integrations.server_tasks.LEADERBOARDS`), or ``{"status": "error", "task":
    task, "error": {"type", "message", "image_id", "file", "segment_id"}, "elapsed_s": s}`` for any
    :class:`fastpq.FastPQError`. ``file`` and the message name files by their path in the archive
    (ground-truth files as ``<ground truth>/...``), never the server's paths. A missing ground
    truth or archive path raises OSError (the organiser's mistake, not the submission's); genuine
    bugs propagate.
    """
    start = time.perf_counter()
    gt_json, gt_folder = tasks.ground_truth(task, gt_json, gt_folder)
    options = tasks.task_options(task, limits, evaluate_options)
    tasks.check_options(task, options)
    layout = tasks.layout_of(task, gt_folder, options)
    if tmp_dir is not None:
        tmp_dir = os.path.abspath(os.fspath(tmp_dir))
    in_place = isinstance(archive, (str, os.PathLike)) and os.path.isdir(archive)
    with tempfile.TemporaryDirectory(prefix="fastpq-submission-", dir=tmp_dir) as scratch:
        root = os.path.abspath(os.fspath(archive)) if in_place else os.path.abspath(scratch)  # type: ignore[arg-type]
        paths = _PathNamer(root, gt_json, gt_folder)
        try:
            if in_place:
                submission = read_folder(root, limits, layout)
            elif task in ("instance", "amodal") and is_bare_json(archive):
                submission = read_folder(copy_bare_json(archive, root, limits), limits, layout)
            else:
                submission = unpack_submission(archive, root, limits, layout)
        except FastPQError as e:  # its `file` is a member name, as written in the archive
            return _error(task, error_dict(e, paths, map_file=False), start)
        try:
            if task == "panoptic":
                result = result_dict(evaluate(gt_json, submission.json_path, gt_folder, submission.png_folder,
                                              **options))
            else:
                result = tasks.score(task, submission, gt_json, gt_folder, options)
        except FastPQError as e:
            return _error(task, error_dict(e, paths), start)
    return {"status": "ok", "task": task, "result": result,
            "leaderboard": tasks.leaderboard_values(task, options.get("preset"), result),
            "submission": submission.describe(), "elapsed_s": _since(start)}


def _error(task: str, error: Dict[str, Any], start: float) -> Dict[str, Any]:
    return {"status": "error", "task": task, "error": error, "elapsed_s": _since(start)}


def result_dict(result: PanopticResult) -> Dict[str, Any]:
    """``PanopticResult.to_dict()``'s numbers in JSON form: NaN groups as None, string category keys,
    and each category's TP / FP / FN."""
    return tasks.panoptic_result_dict(result)


def error_dict(error: FastPQError, paths: Optional["_PathNamer"] = None, map_file: bool = True) -> Dict[str, Any]:
    """The JSON form of a FastPQError; with `paths`, server paths become names relative to the submission
    (in the message, and in `file` unless it is already a member name: ``map_file=False``)."""
    message = str(error.args[0]) if error.args else str(error)
    file = error.file
    if paths is not None:
        message = paths.scrub(message)
        if map_file:
            file = paths.name(file)
    return {"type": type(error).__name__, "message": message, "image_id": _jsonable(error.image_id),
            "file": file, "segment_id": error.segment_id}


class _PathNamer:
    """Maps server paths to what the submitter may see: archive-relative names, ``<ground truth>``."""

    def __init__(self, root: str, gt_json: Optional[str], gt_folder: Optional[str]) -> None:
        self.root = root
        self.gt_folder = gt_folder
        self.gt_json = gt_json
        pairs = []
        for path, shown in ((root, "."), (gt_folder, "<ground truth>"), (gt_json, "<ground-truth JSON>")):
            if path is None:
                continue
            for variant in {path, os.path.realpath(path)}:
                pairs.append((variant + os.sep, "" if shown == "." else shown + "/"))
                pairs.append((variant, shown))
        self.pairs = sorted(pairs, key=lambda p: -len(p[0]))

    def scrub(self, text: str) -> str:
        for path, shown in self.pairs:
            text = text.replace(path, shown)
        return text

    def name(self, file: Optional[str]) -> Optional[str]:
        """Archive errors carry member names already; absolute paths are mapped, unknown ones dropped."""
        if file is None or not os.path.isabs(file):
            return file
        file = os.path.normpath(file)
        if _inside(file, self.root):
            return os.path.relpath(file, self.root).replace(os.sep, "/")
        if file == self.gt_json:
            return "<ground-truth JSON>"
        if self.gt_folder is not None and _inside(file, self.gt_folder):
            return "<ground truth>/" + os.path.relpath(file, self.gt_folder).replace(os.sep, "/")
        return None


def _finite(x: float) -> Optional[float]:
    return None if isinstance(x, float) and math.isnan(x) else x


def _jsonable(value: Any) -> Any:
    """Ids straight from a JSON file are JSON values, except non-finite floats (json reads NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 6)


# ---------------------------------------------------------------------------
# Command line


def build_parser(prog: str = "python -m fastpq.server") -> argparse.ArgumentParser:
    defaults = SubmissionLimits()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Score one submission archive (zip: for panoptic, a prediction JSON and its PNG folder) against "
                    "the ground truth and print the outcome as JSON. Exit status: 0 scored, 1 submission refused, "
                    "2 usage.")
    parser.add_argument("submission", help="the submission zip archive (or its unpacked folder)")
    parser.add_argument("--task", choices=tasks.TASKS, default="panoptic", help="what is scored (default: panoptic)")
    parser.add_argument("--gt-json", default=None, help="ground-truth JSON file (panoptic: COCO panoptic; amodal: COCOA)")
    parser.add_argument("--gt-folder", default=None, help="ground-truth folder (panoptic: its PNGs, default the JSON "
                                                          "path without .json; semantic, instance: gtFine/val or the "
                                                          "label maps)")
    parser.add_argument("--preset", default=None, help="semantic presets: cityscapes, ade20k, ...")
    parser.add_argument("--workers", type=int, default=0, help="threads decoding images (default: all cores)")
    parser.add_argument("--tmp-dir", default=None, help="where to unpack (default: the system's temporary folder)")
    parser.add_argument("--max-members", type=int, default=defaults.max_members)
    parser.add_argument("--max-member-bytes", type=int, default=defaults.max_member_bytes)
    parser.add_argument("--max-total-bytes", type=int, default=defaults.max_total_bytes)
    parser.add_argument("--max-archive-bytes", type=int, default=defaults.max_archive_bytes)
    parser.add_argument("--max-ratio", type=float, default=defaults.max_ratio)
    parser.add_argument("--max-pixels", type=int, default=defaults.max_pixels,
                        help="refuse PNGs with more pixels than this (default: %(default)s)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                        help="refuse a submission whose scoring takes longer (default: no budget)")
    return parser


def main(argv: Optional[Sequence[str]] = None, prog: str = "python -m fastpq.server") -> int:
    """Prints the outcome of one submission as JSON; returns 0 (scored), 1 (refused) or 2 (usage error)."""
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as e:  # argparse: 0 for --help, 2 for bad arguments
        return e.code if isinstance(e.code, int) else 2
    limits = SubmissionLimits(max_archive_bytes=args.max_archive_bytes, max_members=args.max_members,
                              max_member_bytes=args.max_member_bytes, max_total_bytes=args.max_total_bytes,
                              max_ratio=args.max_ratio, max_pixels=args.max_pixels)
    options: Dict[str, Any] = {"workers": args.workers}
    if args.time_budget is not None or args.task == "panoptic":
        options["time_budget"] = args.time_budget
    if args.preset is not None:
        options["preset"] = args.preset
    try:
        outcome = score_submission(args.submission, args.gt_json, args.gt_folder, task=args.task, limits=limits,
                                   tmp_dir=args.tmp_dir, **options)
    except (OSError, TypeError, FastPQError) as e:
        print(f"fastpq.server: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(outcome, indent=1, allow_nan=False))
    return 0 if outcome["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())


def __getattr__(name: str) -> Any:
    # IsolatedScorer lives in .isolated, which builds on this module: imported when first asked for.
    if name == "IsolatedScorer":
        from .isolated import IsolatedScorer

        return IsolatedScorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

