"""Annotator consistency for panoptic annotations (Kirillov et al., CVPR 2019): one annotation
set scored as a prediction against the other, in both directions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ..io.dataset import Categories
from ..errors import FastPQError, ImageSetMismatchError, MissingPredictionError
from ..panoptic.evaluation import DEFAULT_MAX_PIXELS, PathLike, evaluate_tables, prepare
from ..panoptic.results import PanopticResult
from ._format import _interval_table, _json_number
from .per_image import GROUP_NAMES, METRICS, ImageStats
from .resampling import Interval, _check_bootstrap_arguments, full_scores, interval, resampled_scores

PREDICTION_CROWD_RULES = ("void", "segment")


class _CrowdAsVoid:
    """The category that holds the prediction side's crowd segments; no ground-truth segment has it."""

    def __repr__(self) -> str:
        return "<prediction crowd as void>"


@dataclass(frozen=True)
class Consistency:
    """Annotation set B scored against A (``a_vs_b``: A is the ground truth) and A against B
    (``b_vs_a``), their symmetric mean ``symmetric[group][metric]``, and bootstrap intervals when
    asked for (``intervals[direction][group][metric]``, direction "a_vs_b", "b_vs_a" or "symmetric")."""

    a_vs_b: PanopticResult
    b_vs_a: PanopticResult
    symmetric: Dict[str, Dict[str, float]]
    prediction_crowd: str
    intervals: Optional[Dict[str, Dict[str, Dict[str, Interval]]]] = None
    n_resamples: int = 0
    seed: int = 0
    ci: float = 0.95
    n_images: int = field(default=0)

    def scores(self, direction: str) -> Dict[str, Dict[str, float]]:
        """group -> metric -> value of "a_vs_b", "b_vs_a" or "symmetric"."""
        if direction == "symmetric":
            return self.symmetric
        result = self.a_vs_b if direction == "a_vs_b" else self.b_vs_a
        return {g: {m: getattr(result.groups[g], m) for m in METRICS} for g in GROUP_NAMES}

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"n_images": self.n_images, "prediction_crowd": self.prediction_crowd}
        for direction in ("a_vs_b", "b_vs_a", "symmetric"):
            scores = self.scores(direction)
            out[direction] = {g: {m: _json_number(scores[g][m]) for m in METRICS} for g in GROUP_NAMES}
        if self.intervals is not None:
            out["bootstrap"] = {"n_resamples": self.n_resamples, "seed": self.seed, "ci": self.ci,
                                "method": "percentile",
                                **{d: {g: {m: iv.to_dict() for m, iv in ms.items()} for g, ms in gs.items()}
                                   for d, gs in self.intervals.items()}}
        return out

    def table(self) -> str:
        """PQ, SQ, RQ (in %) of both directions and the symmetric mean; intervals when computed."""
        titles = {"a_vs_b": "B scored against A (A as ground truth)", "b_vs_a": "A scored against B (B as ground truth)",
                  "symmetric": "symmetric: mean of both directions"}
        blocks = []
        for direction, title in titles.items():
            if self.intervals is not None:
                blocks.append(_interval_table(self.intervals[direction], title))
            else:
                scores = self.scores(direction)
                lines = [title, "{:10s}| {:>6s} {:>6s} {:>6s}".format("", "PQ", "SQ", "RQ")]
                for g in GROUP_NAMES:
                    lines.append("{:10s}| {:6.1f} {:6.1f} {:6.1f}".format(
                        g, *(100 * scores[g][m] for m in METRICS)))
                blocks.append("\n".join(lines))
        if self.intervals is not None:
            blocks.append(f"{100 * self.ci:g}% bootstrap percentile intervals, {self.n_resamples} resamples of "
                          f"{self.n_images} images, seed {self.seed}")
        blocks.append(f"crowd regions of the annotation scored as prediction: {self.prediction_crowd}")
        return "\n\n".join(blocks)


def score_annotations(reference_json: PathLike, other_json: PathLike, reference_folder: Optional[PathLike] = None,
                      other_folder: Optional[PathLike] = None, *, prediction_crowd: str = "void", workers: int = 0,
                      max_pixels: int = DEFAULT_MAX_PIXELS) -> PanopticResult:
    """Scores annotation set `other` as a prediction against `reference` as ground truth, with
    per-image rows. `other`'s crowd segments become void (``"void"``) or stay ordinary predicted
    segments (``"segment"``); see the module docstring."""
    if prediction_crowd not in PREDICTION_CROWD_RULES:
        raise FastPQError(f"prediction_crowd must be one of {PREDICTION_CROWD_RULES}, not {prediction_crowd!r}")
    tables, categories = prepare(reference_json, other_json, reference_folder, other_folder)
    if prediction_crowd == "segment":
        return evaluate_tables(tables, categories, workers=workers, max_pixels=max_pixels, per_image=True)
    k = len(categories)
    crowd = _CrowdAsVoid()
    for i, ann in enumerate(tables.pred_annotations):
        # The tables list an image's segments in panopticapi's dict order: the last entry of an id wins.
        segments = {el["id"]: el for el in ann["segments_info"]}
        start = tables.pred_offsets[i]
        for j, el in enumerate(segments.values()):
            if el.get("iscrowd") == 1 and tables.pred_categories[start + j] >= 0:  # unknown ones stay errors
                tables.pred_categories[start + j] = k
    extended = Categories(ids=categories.ids + [crowd],
                          info={**categories.info, crowd: {"id": crowd, "name": repr(crowd), "isthing": 0}},
                          index={**categories.index, crowd: k})
    raw = evaluate_tables(tables, extended, workers=workers, max_pixels=max_pixels, per_image=True)
    kept = raw.classes[:k]
    rows = [r for r in raw.per_image or [] if r["category_id"] is not crowd]
    return PanopticResult.from_totals(categories, [c.tp for c in kept], [c.fp for c in kept], [c.fn for c in kept],
                                      [c.iou for c in kept], per_image=rows, images=raw.images)


def consistency(a_json: PathLike, b_json: PathLike, a_folder: Optional[PathLike] = None,
                b_folder: Optional[PathLike] = None, *, prediction_crowd: str = "void", n_resamples: int = 0,
                seed: int = 0, ci: float = 0.95, workers: int = 0,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> Consistency:
    """Annotator consistency of two annotation sets (COCO panoptic ground-truth files) of the same
    images: B against A, A against B, and their symmetric mean, as the panoptic segmentation paper
    measures human performance. With ``n_resamples`` > 0 each gets bootstrap intervals, with the
    same resampled images for both directions."""
    if n_resamples:
        _check_bootstrap_arguments(n_resamples, ci)
    try:
        a_vs_b = score_annotations(a_json, b_json, a_folder, b_folder, prediction_crowd=prediction_crowd,
                                   workers=workers, max_pixels=max_pixels)
        b_vs_a = score_annotations(b_json, a_json, b_folder, a_folder, prediction_crowd=prediction_crowd,
                                   workers=workers, max_pixels=max_pixels)
    except MissingPredictionError as e:
        raise ImageSetMismatchError(f"the two annotation sets do not cover the same images: the image with id "
                                    f"{e.image_id} is annotated in one set only", image_id=e.image_id) from None
    stats_ab = ImageStats.from_result(a_vs_b)
    stats_ba = ImageStats.from_result(b_vs_a)
    if [(c.category_id, c.isthing) for c in a_vs_b.classes] != [(c.category_id, c.isthing) for c in b_vs_a.classes]:
        raise FastPQError("the two annotation sets have different category lists (ids, order or isthing)")
    stats_ba = stats_ba.aligned_to(stats_ab.image_ids, "the two annotation sets")
    point_ab, point_ba = full_scores(stats_ab), full_scores(stats_ba)
    symmetric = {g: {m: (getattr(a_vs_b.groups[g], m) + getattr(b_vs_a.groups[g], m)) / 2 for m in METRICS}
                 for g in GROUP_NAMES}
    if not n_resamples:
        return Consistency(a_vs_b, b_vs_a, symmetric, prediction_crowd, n_images=len(stats_ab))
    samples_ab, samples_ba = resampled_scores([stats_ab, stats_ba], n_resamples, seed)
    intervals = {
        "a_vs_b": {g: {m: interval(point_ab[g][m], samples_ab[g][m], ci) for m in METRICS} for g in GROUP_NAMES},
        "b_vs_a": {g: {m: interval(point_ba[g][m], samples_ba[g][m], ci) for m in METRICS} for g in GROUP_NAMES},
        "symmetric": {g: {m: interval((point_ab[g][m] + point_ba[g][m]) / 2,
                                      (samples_ab[g][m] + samples_ba[g][m]) / 2, ci) for m in METRICS}
                      for g in GROUP_NAMES},
    }
    return Consistency(a_vs_b, b_vs_a, symmetric, prediction_crowd, intervals, n_resamples, seed, ci, len(stats_ab))


