"""The evaluation worker for untrusted submissions: a zip archive in, a score or a clear reason out.

A challenge organiser calls :func:`score_submission` (or ``python -m fastpq.server``) on each
archive a participant uploads. Whatever the archive holds, the answer is a JSON-ready dict,
``{"status": "ok", "result": ...}`` or ``{"status": "error", "error": {...}}``; nothing is read
or written outside the archive's temporary folder, and memory and disk stay within
:class:`SubmissionLimits`.

Layout of a submission (the rule :func:`unpack_submission` applies):

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
import errno
import json
import math
import os
import sys
import tempfile
import time
from typing import Any, Dict, Optional, Sequence

from ..io.dataset import default_folder
from ..errors import FastPQError
from ..panoptic.evaluation import evaluate
from ..panoptic.results import GROUPS, PanopticResult, class_scores
from .submission_archive import (GIB, MAX_COMPONENT_BYTES, MAX_DIRECTORY_ENTRY_BYTES, MAX_NAME_BYTES,  # noqa: F401
                                 MIB, RATIO_FLOOR_BYTES, Archive, PathLike, Submission, SubmissionLimits, _inside,
                                 unpack_submission)

__all__ = ["SubmissionLimits", "Submission", "score_submission", "unpack_submission", "result_dict", "error_dict",
           "main", "build_parser"]

# ---------------------------------------------------------------------------
# Scoring


def score_submission(archive: Archive, gt_json: PathLike, gt_folder: Optional[PathLike] = None, *,
                     limits: SubmissionLimits = SubmissionLimits(), tmp_dir: Optional[PathLike] = None,
                     **evaluate_options: Any) -> Dict[str, Any]:
    """Scores one submission archive against the ground truth; never raises for a bad submission.

    Args:
        archive: the zip, as a path, bytes or a binary file object.
        gt_json, gt_folder: the ground truth (trusted); the folder defaults to the JSON path
            without ``.json``.
        limits: what the archive may hold, and scoring limits passed on to ``fastpq.evaluate``.
        tmp_dir: where the temporary unpacking folder is made (default: the system's).
        evaluate_options: passed to :func:`fastpq.evaluate` untouched (``workers``, ``time_budget``,
            ...). ``strict`` is on unless set to False here: prediction ``file_name`` entries that
            leave the PNG folder, duplicate images or segments and the like are refused.

    Returns ``{"status": "ok", "result": {...}, "submission": {...}, "elapsed_s": s}`` with the
    groups and per-class scores (NaN as None, per_class keyed by ``str(category_id)``), or
    ``{"status": "error", "error": {"type", "message", "image_id", "file", "segment_id"},
    "elapsed_s": s}`` for any :class:`fastpq.FastPQError`. ``file`` and the message name files by
    their path in the archive (ground-truth files as ``<ground truth>/...``), never the server's
    paths. A missing ground truth or archive path raises OSError (the organiser's mistake, not the
    submission's); genuine bugs propagate.
    """
    start = time.perf_counter()
    gt_json = os.path.abspath(os.fspath(gt_json))
    gt_folder = default_folder(gt_json) if gt_folder is None else os.path.abspath(os.fspath(gt_folder))
    if not os.path.isfile(gt_json):
        raise FileNotFoundError(errno.ENOENT, "ground-truth JSON not found", gt_json)
    if not os.path.isdir(gt_folder):
        raise FileNotFoundError(errno.ENOENT, "ground-truth PNG folder not found", gt_folder)
    options = {"strict": True, "max_pixels": limits.max_pixels, **limits.scoring, **evaluate_options}
    if tmp_dir is not None:
        tmp_dir = os.path.abspath(os.fspath(tmp_dir))
    with tempfile.TemporaryDirectory(prefix="fastpq-submission-", dir=tmp_dir) as root:
        root = os.path.abspath(root)
        paths = _PathNamer(root, gt_json, gt_folder)
        try:
            submission = unpack_submission(archive, root, limits)
        except FastPQError as e:  # its `file` is a member name, as written in the archive
            return {"status": "error", "error": error_dict(e, paths, map_file=False), "elapsed_s": _since(start)}
        try:
            result = evaluate(gt_json, submission.json_path, gt_folder, submission.png_folder, **options)
        except FastPQError as e:
            return {"status": "error", "error": error_dict(e, paths), "elapsed_s": _since(start)}
    return {"status": "ok", "result": result_dict(result),
            "submission": {"json": submission.json_member, "png_folder": submission.png_member},
            "elapsed_s": _since(start)}


def result_dict(result: PanopticResult) -> Dict[str, Any]:
    """``PanopticResult.to_dict()``'s numbers in JSON form: NaN groups as None, string category keys,
    and each category's TP / FP / FN."""
    out: Dict[str, Any] = {}
    for name, _ in GROUPS:
        g = result.groups[name]
        out[name] = {"pq": _finite(g.pq), "sq": _finite(g.sq), "rq": _finite(g.rq), "n": g.n}
        if name == "All":
            out["per_class"] = {str(c.category_id): {**class_scores(c.iou, c.tp, c.fp, c.fn),
                                                     "tp": c.tp, "fp": c.fp, "fn": c.fn}
                                for c in result.classes}
    return out


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

    def __init__(self, root: str, gt_json: str, gt_folder: str) -> None:
        self.root = root
        self.gt_folder = gt_folder
        self.gt_json = gt_json
        pairs = []
        for path, shown in ((root, "."), (gt_folder, "<ground truth>"), (gt_json, "<ground-truth JSON>")):
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
        if _inside(file, self.gt_folder):
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
        description="Score one submission archive (zip: a prediction JSON and its PNG folder) against the ground "
                    "truth and print the outcome as JSON. Exit status: 0 scored, 1 submission refused, 2 usage.")
    parser.add_argument("submission", help="the submission zip archive")
    parser.add_argument("--gt-json", required=True, help="ground-truth COCO panoptic JSON file")
    parser.add_argument("--gt-folder", default=None, help="ground-truth PNG folder (default: the JSON path without "
                                                          ".json)")
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
    try:
        outcome = score_submission(args.submission, args.gt_json, args.gt_folder, limits=limits,
                                   tmp_dir=args.tmp_dir, workers=args.workers, time_budget=args.time_budget)
    except OSError as e:
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

