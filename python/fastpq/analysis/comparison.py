"""Paired comparison of two predictions on the same ground truth, resampling the same images for
both so that the difference keeps its correlation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

import numpy as np

from ..errors import FastPQError
from ..panoptic.evaluation import DEFAULT_MAX_PIXELS, PathLike, evaluate
from ..panoptic.results import PanopticResult
from ._format import _json_number
from .per_image import GROUP_NAMES, METRICS, ImageStats
from .resampling import Interval, _check_bootstrap_arguments, full_scores, interval, resampled_scores


@dataclass(frozen=True)
class Comparison:
    """Prediction B against prediction A on the same ground truth and images.

    ``a`` and ``b`` are the full-dataset scores; ``delta[group][metric]`` is B - A with its paired
    bootstrap interval; ``p_b_better`` / ``p_tie`` / ``p_a_better`` are the shares of resamples with
    delta > 0, == 0, < 0 (resamples where delta is NaN are counted in ``delta[..].n_nan``; the four
    shares sum to 1).
    """

    a: Dict[str, Dict[str, float]]
    b: Dict[str, Dict[str, float]]
    delta: Dict[str, Dict[str, Interval]]
    p_b_better: Dict[str, Dict[str, float]]
    p_tie: Dict[str, Dict[str, float]]
    p_a_better: Dict[str, Dict[str, float]]
    n_images: int
    n_resamples: int
    seed: int
    ci: float

    def to_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"n_images": self.n_images, "n_resamples": self.n_resamples, "seed": self.seed,
                               "ci": self.ci, "method": "paired percentile bootstrap"}
        for g in GROUP_NAMES:
            out[g] = {m: {"a": _json_number(self.a[g][m]), "b": _json_number(self.b[g][m]),
                          "delta": self.delta[g][m].to_dict(), "p_b_better": self.p_b_better[g][m],
                          "p_tie": self.p_tie[g][m], "p_a_better": self.p_a_better[g][m]} for m in METRICS}
        return out

    def table(self) -> str:
        """One line per group and metric: A, B, B - A with its interval, and P(B > A), in %."""
        lines = [f"{100 * self.ci:g}% paired bootstrap intervals of B - A, {self.n_resamples} resamples of "
                 f"{self.n_images} images, seed {self.seed}",
                 "{:10s}{:>4s} {:>7s} {:>7s} {:>7s}  {:>17s} {:>9s} {:>6s}".format(
                     "", "", "A", "B", "B - A", "interval", "P(B > A)", "ties")]
        for g in GROUP_NAMES:
            for m in METRICS:
                d = self.delta[g][m]
                lines.append("{:10s}{:>4s} {:7.2f} {:7.2f} {:+7.2f}  [{:+7.2f}, {:+7.2f}] {:9.3f} {:6.3f}".format(
                    g if m == "pq" else "", m.upper(), 100 * self.a[g][m], 100 * self.b[g][m], 100 * d.estimate,
                    100 * d.lower, 100 * d.upper, self.p_b_better[g][m], self.p_tie[g][m]))
        return "\n".join(lines)


def compare(result_a: Union[PanopticResult, ImageStats], result_b: Union[PanopticResult, ImageStats],
            n_resamples: int = 1000, seed: int = 0, ci: float = 0.95) -> Comparison:
    """Paired bootstrap comparison of two evaluations (``per_image=True``) on the same ground truth.

    Both use the same resampled images. Raises :class:`ImageSetMismatchError` when their images
    differ, :class:`FastPQError` when their categories do.
    """
    _check_bootstrap_arguments(n_resamples, ci)
    a = result_a if isinstance(result_a, ImageStats) else ImageStats.from_result(result_a)
    b = result_b if isinstance(result_b, ImageStats) else ImageStats.from_result(result_b)
    if a.category_ids != b.category_ids:
        raise FastPQError("the two evaluations have different category lists: compare them on the same ground truth")
    b = b.aligned_to(a.image_ids, "the two evaluations")
    point_a, point_b = full_scores(a), full_scores(b)
    samples_a, samples_b = resampled_scores([a, b], n_resamples, seed)
    delta, better, tie, worse = {}, {}, {}, {}
    for g in GROUP_NAMES:
        delta[g], better[g], tie[g], worse[g] = {}, {}, {}, {}
        for m in METRICS:
            d = samples_b[g][m] - samples_a[g][m]
            delta[g][m] = interval(point_b[g][m] - point_a[g][m], d, ci)
            better[g][m] = float(np.count_nonzero(d > 0)) / n_resamples
            tie[g][m] = float(np.count_nonzero(d == 0)) / n_resamples
            worse[g][m] = float(np.count_nonzero(d < 0)) / n_resamples
    return Comparison(point_a, point_b, delta, better, tie, worse, len(a), n_resamples, seed, ci)


def compare_predictions(gt_json: PathLike, pred_a_json: PathLike, pred_b_json: PathLike,
                        gt_folder: Optional[PathLike] = None, pred_a_folder: Optional[PathLike] = None,
                        pred_b_folder: Optional[PathLike] = None, *, n_resamples: int = 1000, seed: int = 0,
                        ci: float = 0.95, workers: int = 0,
                        max_pixels: int = DEFAULT_MAX_PIXELS) -> Comparison:
    """Scores predictions A and B against one ground truth and compares them (:func:`compare`)."""
    _check_bootstrap_arguments(n_resamples, ci)
    result_a = evaluate(gt_json, pred_a_json, gt_folder, pred_a_folder, workers=workers, max_pixels=max_pixels,
                        per_image=True)
    result_b = evaluate(gt_json, pred_b_json, gt_folder, pred_b_folder, workers=workers, max_pixels=max_pixels,
                        per_image=True)
    return compare(result_a, result_b, n_resamples=n_resamples, seed=seed, ci=ci)


