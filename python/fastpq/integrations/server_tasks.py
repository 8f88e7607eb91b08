"""The tasks an evaluation server scores, one per metric family: where each finds its ground truth
and its predictions, how it scores them, the JSON form of its result and its leaderboard.

:data:`LEADERBOARDS` names each task's leaderboard keys once: the outcomes of
:func:`fastpq.server.score_submission` carry them (``outcome["leaderboard"]``), and the EvalAI and
CodaLab / Codabench kits write them into their leaderboard schemas. Leaderboard values are
percentages (100 x the fraction), None where the metric is undefined (NaN, or an amodal setting
without regions).
"""

from __future__ import annotations

import errno
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..errors import InstancePredictionError, InvalidOptionError
from ..io.dataset import default_folder
from ..io.limits import DEFAULT_MAX_JSON_BYTES
from .submission_archive import Layout, SubmissionLimits, panoptic_layout
from .submission_layouts import TaskSubmission, instance_layout, json_layout, semantic_layout

TASKS = ("panoptic", "semantic", "instance", "amodal")


@dataclass(frozen=True)
class Leaderboard:
    """A leaderboard: its keys in display order, where each value sits in the task's result dict,
    and the key that ranks submissions (higher is better for every key)."""

    keys: Tuple[Tuple[str, Tuple[str, ...]], ...]
    order_by: str

    @property
    def labels(self) -> List[str]:
        return [key for key, _ in self.keys]


def _panoptic_keys() -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    return tuple((f"{m.upper()}{suffix}", (group, m)) for group, suffix in (("All", ""), ("Things", "_th"),
                                                                            ("Stuff", "_st"))
                 for m in ("pq", "sq", "rq"))


#: The leaderboards: by task, and for semantic by preset ("semantic" alone: the other presets).
LEADERBOARDS: Dict[str, Leaderboard] = {
    "panoptic": Leaderboard(_panoptic_keys(), "PQ"),
    "semantic/cityscapes": Leaderboard((("IoU_class", ("summary", "miou")), ("iIoU_class", ("summary", "miiou")),
                                        ("IoU_category", ("summary", "category_iou")),
                                        ("iIoU_category", ("summary", "category_iiou"))), "IoU_class"),
    "semantic/ade20k": Leaderboard((("score", ("summary", "score")), ("mIoU", ("summary", "miou")),
                                    ("pixel_accuracy", ("summary", "pixel_accuracy"))), "score"),
    "semantic": Leaderboard((("mIoU", ("summary", "miou")), ("pixel_accuracy", ("summary", "pixel_accuracy")),
                             ("mean_accuracy", ("summary", "mean_accuracy"))), "mIoU"),
    "instance": Leaderboard((("AP", ("AP",)), ("AP50", ("AP50",))), "AP"),
    "amodal": Leaderboard(tuple((f"AR_{k}", ("ar", "all", "all", str(k))) for k in (1, 10, 100, 1000)) +
                          tuple((f"AR_{occ}", ("ar", "all", occ, "1000")) for occ in ("none", "partial", "heavy")),
                          "AR_100"),
}


def leaderboard_of(task: str, preset: Optional[str] = None) -> Leaderboard:
    """The leaderboard of a task (and, for semantic, of its preset)."""
    check_task(task)
    if task == "semantic":
        return LEADERBOARDS.get(f"semantic/{preset}", LEADERBOARDS["semantic"])
    return LEADERBOARDS[task]


def leaderboard_values(task: str, preset: Optional[str], result: Mapping[str, Any]) -> Dict[str, Optional[float]]:
    """The leaderboard entry of a result dict: each key's value in percent (None where undefined)."""
    out: Dict[str, Optional[float]] = {}
    for key, path in leaderboard_of(task, preset).keys:
        value: Any = result
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        undefined = value is None or (isinstance(value, float) and math.isnan(value)) or \
            (task == "amodal" and value == -1)
        out[key] = None if undefined else 100.0 * float(value)
    return out


def check_task(task: str) -> None:
    if task not in TASKS:
        raise InvalidOptionError(f"unknown task {task!r}; the tasks are {', '.join(TASKS)}")


# ---------------------------------------------------------------------------
# Ground truth, options, layout


def ground_truth(task: str, gt_json: Any, gt_folder: Any) -> Tuple[Optional[str], Optional[str]]:
    """The task's ground-truth paths, absolute, checked to exist (a missing one is the organiser's
    mistake: OSError / TypeError, never an outcome)."""
    check_task(task)
    gt_json = None if gt_json is None else os.path.abspath(os.fspath(gt_json))
    gt_folder = None if gt_folder is None else os.path.abspath(os.fspath(gt_folder))
    if task == "panoptic" and gt_json is not None and gt_folder is None:
        gt_folder = default_folder(gt_json)
    needs_json = task in ("panoptic", "amodal")
    needs_folder = task in ("panoptic", "semantic", "instance")
    if needs_json and gt_json is None:
        raise TypeError(f"the {task} task needs gt_json (the ground-truth JSON)")
    if needs_folder and gt_folder is None:
        raise TypeError(f"the {task} task needs gt_folder (the ground-truth folder)")
    if needs_json and not os.path.isfile(gt_json):  # type: ignore[arg-type]
        raise FileNotFoundError(errno.ENOENT, "ground-truth JSON not found", gt_json)
    if needs_folder and not os.path.isdir(gt_folder):  # type: ignore[arg-type]
        raise FileNotFoundError(errno.ENOENT, "ground-truth folder not found", gt_folder)
    return (gt_json if needs_json else None), (gt_folder if needs_folder else None)


# The tasks whose evaluate takes a time_budget.
_TIMED_TASKS = ("panoptic", "instance")


def task_options(task: str, limits: SubmissionLimits, options: Mapping[str, Any]) -> Dict[str, Any]:
    """Keyword options of the family's evaluate: the task's defaults for untrusted input
    (``strict`` where the family has it, ``max_pixels``), then ``limits.scoring``, then ``options``."""
    defaults: Dict[str, Any] = {
        "panoptic": {"strict": True, "max_pixels": limits.max_pixels},
        "semantic": {"max_pixels": limits.max_pixels},
        "instance": {"max_json_bytes": DEFAULT_MAX_JSON_BYTES},
        "amodal": {"strict": True, "max_pixels": limits.max_pixels},
    }[task]
    merged = {**defaults, **limits.scoring, **options}
    if task not in _TIMED_TASKS and merged.get("time_budget", 0) is None:
        del merged["time_budget"]  # "no budget" is what these families do anyway
    return merged


def check_options(task: str, options: Mapping[str, Any]) -> None:
    """Refuses, before any submission, options the family would refuse for every one of them (the
    organiser's mistake, raised, never an outcome): a semantic preset that does not exist, plain
    options without ``num_classes``, ..."""
    if task not in _TIMED_TASKS and options.get("time_budget") is not None:
        raise InvalidOptionError(f"the {task} task has no time_budget (panoptic and instance have one); bound its "
                                 "wall time with IsolatedScorer(wall_seconds=...)")
    if task == "semantic":
        from ..semantic.spec import make_spec

        evaluate_only = ("preset", "workers", "max_pixels", "storage_options", "instances")
        make_spec(options.get("preset"), **{k: v for k, v in options.items() if k not in evaluate_only})


def layout_of(task: str, gt_folder: Optional[str], options: Mapping[str, Any]) -> Layout:
    if task == "panoptic":
        return panoptic_layout
    if task == "semantic":
        return semantic_layout(gt_folder, options.get("preset"))
    if task == "instance":
        return instance_layout
    return json_layout("proposals")


# ---------------------------------------------------------------------------
# Scoring, and the result dicts


def score(task: str, submission: Any, gt_json: Optional[str], gt_folder: Optional[str],
          options: Dict[str, Any]) -> Dict[str, Any]:
    """Scores an unpacked submission; returns the task's result dict (FastPQError for bad input)."""
    return _SCORERS[task](submission, gt_json, gt_folder, dict(options))


def _score_panoptic(submission: Any, gt_json: Any, gt_folder: Any, options: Dict[str, Any]) -> Dict[str, Any]:
    from ..panoptic.evaluation import evaluate

    return panoptic_result_dict(evaluate(gt_json, submission.json_path, gt_folder, submission.png_folder, **options))


def panoptic_result_dict(result: Any) -> Dict[str, Any]:
    """``PanopticResult.to_dict()``'s numbers in JSON form: NaN groups as None, string category keys,
    and each category's TP / FP / FN."""
    from ..panoptic.results import GROUPS, class_scores

    out: Dict[str, Any] = {}
    for name, _ in GROUPS:
        g = result.groups[name]
        out[name] = {"pq": _finite(g.pq), "sq": _finite(g.sq), "rq": _finite(g.rq), "n": g.n}
        if name == "All":
            out["per_class"] = {str(c.category_id): {**class_scores(c.iou, c.tp, c.fp, c.fn),
                                                     "tp": c.tp, "fp": c.fp, "fn": c.fn}
                                for c in result.classes}
    return out


def _score_semantic(submission: TaskSubmission, gt_json: Any, gt_folder: Any,
                    options: Dict[str, Any]) -> Dict[str, Any]:
    from ..semantic.evaluation import evaluate

    return semantic_result_dict(evaluate(gt_folder, submission.paths["png_folder"], **options))


def semantic_result_dict(result: Any) -> Dict[str, Any]:
    """A SemanticResult in JSON form: the headline numbers (with Cityscapes' category means), per
    class IoU / accuracy / iIoU and per category IoU / iIoU, as fractions, NaN as None."""
    summary = dict(result.summary())
    if result.preset == "cityscapes":
        summary["category_iou"] = result.reference["averageScoreCategories"]
        summary["category_iiou"] = result.reference["averageScoreInstCategories"] if result.miiou is not None \
            else None
    classes = {name: {"iou": c.iou, "accuracy": c.accuracy, "iiou": c.iiou} for name, c in result.classes.items()}
    categories = {name: {"iou": c.iou, "iiou": c.iiou} for name, c in result.categories.items()}
    return _nan_to_none({"summary": summary, "classes": classes, "categories": categories})


def _score_instance(submission: TaskSubmission, gt_json: Any, gt_folder: Any,
                    options: Dict[str, Any]) -> Dict[str, Any]:
    from .. import _core
    from ..instance.evaluation import evaluate

    max_json_bytes = options.pop("max_json_bytes")
    if "json" in submission.paths:
        from ..io.json_files import read_json

        pred: Any = _instance_json_entries(read_json(submission.paths["json"], "results", max_json_bytes),
                                           submission.members["json"])
    else:
        pred = submission.paths["results_folder"]
    try:
        result = evaluate(gt_folder, pred, **options)
    except _core.MaskError as e:  # an RLE that does not decode
        raise InstancePredictionError(f"a results mask cannot be decoded: {e}") from None
    classes = {name: {"AP": c.ap, "AP50": c.ap50} for name, c in result.classes.items()}
    return _nan_to_none({"AP": result.ap, "AP50": result.ap50, "classes": classes})


def _instance_json_entries(data: Any, name: str) -> List[Dict[str, Any]]:
    """The entries of a COCO-style instance results JSON, each checked to have what evaluate reads."""
    if not isinstance(data, list):
        raise InstancePredictionError(f"results JSON {name!r} must hold a list of predictions", file=name)
    for i, entry in enumerate(data):
        where = f"results JSON {name!r}, entry {i}"
        if not isinstance(entry, dict):
            raise InstancePredictionError(f"{where} is not an object", file=name)
        missing = [k for k in ("image_id", "category_id", "segmentation", "score") if k not in entry]
        if missing:
            raise InstancePredictionError(f"{where} has no {', '.join(missing)}", file=name)
        seg, cat, score_ = entry["segmentation"], entry["category_id"], entry["score"]
        if not isinstance(entry["image_id"], str):
            raise InstancePredictionError(f"{where}: image_id must be '<city>_<seq>_<frame>'", file=name)
        if isinstance(cat, bool) or not isinstance(cat, int):
            raise InstancePredictionError(f"{where}: category_id must be an integer label id", file=name)
        if isinstance(score_, bool) or not isinstance(score_, (int, float)):
            raise InstancePredictionError(f"{where}: score must be a number", file=name)
        size = seg.get("size") if isinstance(seg, dict) else None
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                  and v > 0 for v in size)
                and isinstance(seg.get("counts"), (str, list))):
            raise InstancePredictionError(f"{where}: segmentation must be an RLE {{'size': [h, w], 'counts': ...}}",
                                          file=name)
    return data


def _score_amodal(submission: TaskSubmission, gt_json: Any, gt_folder: Any,
                  options: Dict[str, Any]) -> Dict[str, Any]:
    from ..amodal.ar import amodal_ar

    result = amodal_ar(gt_json, submission.paths["json"], **options)
    ar = {kind: {occ: {str(k): v for k, v in by_k.items()} for occ, by_k in by_occ.items()}
          for kind, by_occ in result.ar.items()}
    return {"ar": ar, "regions": result.regions}


_SCORERS: Dict[str, Callable[[Any, Any, Any, Dict[str, Any]], Dict[str, Any]]] = {
    "panoptic": _score_panoptic, "semantic": _score_semantic, "instance": _score_instance, "amodal": _score_amodal}


def _finite(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        return None if math.isnan(float(value)) else float(value)
    return value


__all__ = ["TASKS", "LEADERBOARDS", "Leaderboard", "leaderboard_of", "leaderboard_values", "ground_truth",
           "task_options", "check_options", "layout_of", "score", "panoptic_result_dict", "semantic_result_dict"]
