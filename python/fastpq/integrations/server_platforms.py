"""What the scripts that ``fastpq server-kit`` writes call at run time, on EvalAI and on CodaLab /
Codabench: find the ground truth, score the upload (isolated by default), and hand the platform
its leaderboard entry, or raise / exit with a message the participant can act on.

A kit's settings live in ``fastpq_kit.json`` beside its scripts (:func:`load_kit`): the task and
its options, the ground truth, the caps, EvalAI's phase-to-split table. The ground truth is found,
in this order:

* EvalAI: the phase's ``test_annotation_file`` when it is a ``.json`` and the task reads a
  ground-truth JSON (panoptic, amodal), or when it is the kit's ``reference_data.zip`` (unpacked
  once per process); otherwise the ground truth the kit recorded (copied into the package with
  ``--embed-gt``, else the absolute paths given when it was written).
* CodaLab / Codabench: the reference data the platform unpacks into ``input/ref``, under the names
  the kit's ``reference_data.zip`` uses.
"""

from __future__ import annotations

import html
import json
import os
import sys
import tempfile
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import errors
from ..errors import FastPQError, SubmissionError
from .submission_archive import SubmissionLimits, unpack_submission

KIT_FILE = "fastpq_kit.json"
#: The caps a kit may set (SubmissionLimits fields).
LIMIT_FIELDS = ("memory_bytes", "cpu_seconds", "wall_seconds", "max_archive_bytes", "max_total_bytes",
                "max_members", "max_member_bytes", "max_pixels")
#: Reference archives are the organiser's: trusted, but unpacked with the same checks, wider bounds.
_REFERENCE_LIMITS = SubmissionLimits(max_archive_bytes=1 << 40, max_members=10_000_000, max_member_bytes=1 << 36,
                                     max_total_bytes=1 << 42, max_ratio=1e9)

_lock = threading.Lock()
_references: Dict[Tuple[str, int, int], Any] = {}
_scorers: Dict[str, Any] = {}


def load_kit(folder: str) -> Dict[str, Any]:
    """The settings of the kit in ``folder``, with ground-truth paths relative to it made absolute."""
    with open(os.path.join(folder, KIT_FILE), encoding="utf-8") as f:
        kit = json.load(f)
    kit["folder"] = os.path.abspath(folder)
    recorded = kit.get("ground_truth") or {}
    kit["ground_truth"] = {k: (None if v is None else os.path.join(kit["folder"], v)) for k, v in recorded.items()}
    return kit


def score_for_kit(kit: Dict[str, Any], submission: str, gt_json: Optional[str],
                  gt_folder: Optional[str]) -> Dict[str, Any]:
    """The outcome of one submission (a zip, or an unpacked folder) under the kit's settings."""
    limits = SubmissionLimits(**{k: v for k, v in (kit.get("limits") or {}).items() if k in LIMIT_FIELDS})
    options = dict(kit.get("options") or {})
    if not kit.get("isolated", True):
        from .server import score_submission

        return score_submission(submission, gt_json, gt_folder, task=kit["task"], limits=limits, **options)
    from .isolated import IsolatedScorer

    key = json.dumps([kit["task"], gt_json, gt_folder, options, kit.get("limits")], sort_keys=True)
    with _lock:
        if key not in _scorers:
            _scorers[key] = IsolatedScorer(kit["task"], gt_json=gt_json, gt_folder=gt_folder, limits=limits,
                                           **options)
        scorer = _scorers[key]
    return scorer.score(submission)


def refusal(outcome: Dict[str, Any]) -> FastPQError:
    """The error to raise for an error outcome: its own FastPQError type where fastpq has it, with
    a message saying what was wrong and where."""
    error = outcome["error"]
    cls = getattr(errors, str(error.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, FastPQError)):
        cls = SubmissionError
    where = [f"{name} {error[key]!r}" for key, name in (("file", "file"), ("image_id", "image"),
                                                         ("segment_id", "segment")) if error.get(key) is not None]
    message = f"submission refused ({error.get('type')}): {error.get('message')}"
    if where:
        message += f" [{', '.join(where)}]"
    where_fields = {"image_id": error.get("image_id"), "file": error.get("file"), "segment_id": error.get("segment_id")}
    if cls is errors.ResourceLimitError:
        return cls(message, limit=str(error.get("limit") or ""), **where_fields)  # type: ignore[arg-type]
    return cls(message, **where_fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# EvalAI


def evalai_evaluate(kit: Dict[str, Any], test_annotation_file: Optional[str], user_submission_file: str,
                    phase_codename: Optional[str], **kwargs: Any) -> Dict[str, Any]:
    """EvalAI's evaluate(): ``{"result": [{split: {key: value}}], "submission_result": {...}}`` with the
    task's leaderboard keys (percentages; None where undefined); raises a FastPQError naming what
    is wrong for a submission that cannot be scored (EvalAI shows it to the participant)."""
    gt_json, gt_folder = _evalai_ground_truth(kit, test_annotation_file)
    outcome = score_for_kit(kit, os.fspath(user_submission_file), gt_json, gt_folder)
    if outcome["status"] != "ok":
        raise refusal(outcome)
    split = (kit.get("phases") or {}).get(phase_codename, kit.get("default_split", "test_split"))
    entry = {split: outcome["leaderboard"]}
    print(f"fastpq: scored {kit['task']} submission for phase {phase_codename!r}: {json.dumps(entry)}")
    return {"result": [entry], "submission_result": entry}


def _evalai_ground_truth(kit: Dict[str, Any], annotation: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    gt = dict(kit["ground_truth"])
    if annotation:
        annotation = os.path.abspath(os.fspath(annotation))
        if annotation.lower().endswith(".zip"):
            return reference_paths(kit, unpacked_reference(annotation))
        if annotation.lower().endswith(".json") and kit["task"] in ("panoptic", "amodal"):
            gt["gt_json"] = annotation
            if kit["task"] == "panoptic" and gt.get("gt_folder") is None:
                gt["gt_folder"] = annotation[:-len(".json")]
    return gt.get("gt_json"), gt.get("gt_folder")


def unpacked_reference(archive: str) -> str:
    """The folder a reference_data.zip is unpacked into, once per process and archive version."""
    st = os.stat(archive)
    key = (archive, st.st_size, st.st_mtime_ns)
    with _lock:
        if key not in _references:
            folder = tempfile.TemporaryDirectory(prefix="fastpq-reference-")
            unpack_submission(archive, folder.name, _REFERENCE_LIMITS, layout=_everything)
            _references[key] = folder
        return _references[key].name


def _everything(members: Sequence[Any], dest: str) -> Tuple[Any, List[Any]]:
    return None, [m for m in members if not m.is_dir]


def reference_paths(kit: Dict[str, Any], ref: str) -> Tuple[Optional[str], Optional[str]]:
    """The ground-truth paths below a reference folder (``input/ref``, or reference_data.zip unpacked)."""
    names = kit.get("reference") or {}
    return tuple(None if names.get(k) is None else os.path.join(ref, *names[k].split("/"))  # type: ignore[return-value]
                 for k in ("gt_json", "gt_folder"))


# ---------------------------------------------------------------------------
# CodaLab and Codabench


def codalab_main(kit: Dict[str, Any], argv: Sequence[str]) -> int:
    """``score.py INPUT OUTPUT``: scores ``INPUT/res`` against ``INPUT/ref`` and writes
    ``OUTPUT/scores.txt`` (CodaLab, ``key: value`` lines) or ``OUTPUT/scores.json`` (Codabench),
    and ``detailed_results.html``. A refused submission: its reason on stderr, exit status 1."""
    if len(argv) != 2:
        print("usage: score.py INPUT_DIR OUTPUT_DIR", file=sys.stderr)
        return 2
    input_dir, output_dir = (os.path.abspath(a) for a in argv)
    gt_json, gt_folder = reference_paths(kit, os.path.join(input_dir, "ref"))
    res = os.path.join(input_dir, "res")
    try:
        outcome = score_for_kit(kit, res, gt_json, gt_folder)
    except OSError as e:
        print(f"fastpq: the reference data is missing from input/ref ({e}); upload the kit's reference_data.zip",
              file=sys.stderr)
        return 2
    if outcome["status"] != "ok":
        print(str(refusal(outcome).args[0]), file=sys.stderr)
        return 1
    os.makedirs(output_dir, exist_ok=True)
    board = outcome["leaderboard"]
    if kit.get("platform") == "codabench":
        with open(os.path.join(output_dir, "scores.json"), "w", encoding="utf-8") as f:
            json.dump(board, f, indent=1)
    else:
        with open(os.path.join(output_dir, "scores.txt"), "w", encoding="utf-8") as f:
            f.writelines(f"{key}: {'nan' if value is None else repr(value)}\n" for key, value in board.items())
    if kit.get("detailed_results", True):
        write_detailed_results(kit, outcome, res, gt_json, gt_folder, os.path.join(output_dir, "detailed_results.html"))
    print(f"fastpq: scored {kit['task']} submission: {json.dumps(board)}")
    return 0


def write_detailed_results(kit: Dict[str, Any], outcome: Dict[str, Any], res: str, gt_json: Optional[str],
                           gt_folder: Optional[str], out_html: str) -> None:
    """fastpq's HTML report of the (already scored, so well-formed) submission: the panoptic and
    semantic reports where matplotlib is installed, else a table of the leaderboard and per-class
    scores."""
    names, root = outcome["submission"], res
    try:
        if kit["task"] == "panoptic":
            from ..tools.report import write_report

            write_report(gt_json, _member(root, names["json"]), out_html, gt_folder, _member(root, names["png_folder"]),
                         max_pixels=(kit.get("limits") or {}).get("max_pixels", SubmissionLimits().max_pixels))
            return
        if kit["task"] == "semantic":
            from ..semantic.evaluation import evaluate
            from ..tools.report_semantic import write_semantic_report

            options = dict(kit.get("options") or {})
            write_semantic_report(evaluate(gt_folder, _member(root, names["png_folder"]), **options), out_html)
            return
    except ImportError:  # no matplotlib: the table below
        pass
    with open(out_html, "w", encoding="utf-8") as f:
        f.write(results_table_html(outcome))


def _member(root: str, name: str) -> str:
    return root if name == "." else os.path.join(root, *name.split("/"))


def results_table_html(outcome: Dict[str, Any]) -> str:
    """A self-contained page with the leaderboard values and, where the result has them, per class."""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{'n/a' if v is None else f'{v:.2f}'}</td></tr>"
                   for k, v in outcome["leaderboard"].items())
    classes = outcome["result"].get("classes") or {}
    per_class = ""
    if classes:
        keys = sorted({k for scores in classes.values() for k in scores})
        head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        body = "".join("<tr><td>{}</td>{}</tr>".format(html.escape(name), "".join(
            f"<td>{'n/a' if s.get(k) is None else f'{100 * s[k]:.2f}'}</td>" for k in keys))
            for name, s in classes.items())
        per_class = f"<h2>Per class (%)</h2><table><tr><th>class</th>{head}</tr>{body}</table>"
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>fastpq {outcome['task']} "
            f"results</title></head><body><h1>fastpq {html.escape(outcome['task'])} results</h1><h2>Leaderboard "
            f"(%)</h2><table>{rows}</table>{per_class}</body></html>\n")
