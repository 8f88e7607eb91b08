"""Statistics over the images of an evaluation: per-image scores, bootstrap confidence intervals,
paired comparison of two predictions, and annotator consistency.

Everything here works on the per-image, per-category sums (TP, FP, FN, IoU sum) that the C++ pass
already returns with ``per_image=True``; no image is read again. Panoptic quality depends on
nothing else, so a score for any multiset of images is panopticapi's ``pq_average`` applied to
the sums of its images' rows:

* a category's PQ = iou / (tp + fp/2 + fn/2), SQ = iou / tp (0 when tp is 0),
  RQ = tp / (tp + fp/2 + fn/2);
* All / Things / Stuff average over the categories of the group with tp + fp + fn > 0,
  unweighted; a group without such a category is NaN.

**Per-image scores** are those of a dataset made of that one image, exactly what panopticapi
computes on a one-image JSON (where it would divide by zero, e.g. an image with no stuff segment
has no Stuff score, fastpq gives NaN; an image with no segment at all is NaN throughout).

**Bootstrap.** Resample ``r`` (r = 0, 1, ...) draws ``rng.integers(0, n_images, size=n_images)``
from one ``numpy.random.Generator(numpy.random.PCG64(seed))``: n images with replacement. Its
per-category sums are the multiplicity-weighted sums of the non-empty (image, category) rows
(per category, its rows' sums times the images' multiplicities in a matrix product), and its
scores follow the rules above. The interval at level
``ci`` is the percentile interval of the resample scores: ``numpy.nanpercentile`` with its default
``'linear'`` method at ``100 * (1 - ci) / 2`` and ``100 * (1 + ci) / 2``. A resample in which a group
has no present category is NaN for that group; it is left out of the percentiles and the standard
deviation (``ddof=1``) and counted in ``n_nan``. The point estimate is the score of the full
dataset computed from the same rows; it equals :func:`fastpq.evaluate` to rounding (1e-12).

**Paired comparison.** Both predictions are scored on the same ground truth, and every resample
uses the same images for both, so the difference B - A is resampled with its correlation.

**Annotator consistency** (the human study of Kirillov et al., "Panoptic Segmentation", CVPR
2019): annotation set B is scored as a prediction against A, and A against B, each with its own
crowd regions and void. A prediction in the paper's format has no group (crowd) label: every
labelled pixel belongs to a segment, and pixels left unlabelled are void. An annotator's crowd
region is one where the instances were not delineated, so when an annotation plays the
prediction its crowd segments are turned into void (``prediction_crowd="void"``, the default):
they cannot match, cannot be false positives, and their pixels count in the union of the
ground-truth segments they cover, as void prediction pixels do. This is done without rewriting
the PNGs: the crowd segments get a category of their own that no ground-truth segment has, so
that category only collects their (never counted) false positives, and is dropped from the
result; every other count is what a PNG with those pixels set to 0 gives. With
``prediction_crowd="segment"`` the crowd segments stay ordinary predicted segments (what
panopticapi does when handed a ground-truth file as the prediction). Void of either side needs
no conversion. The symmetric score is the mean of the two directions, for each group and metric.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..io.dataset import Categories
from ..errors import FastPQError, ImageSetMismatchError, MissingPredictionError
from ..panoptic.evaluation import DEFAULT_MAX_PIXELS, PathLike, evaluate, evaluate_tables, prepare
from ..panoptic.results import GROUPS, PanopticResult

GROUP_NAMES: Tuple[str, ...] = tuple(name for name, _ in GROUPS)
METRICS: Tuple[str, ...] = ("pq", "sq", "rq")
#: Resamples whose sums are formed at once: bounds the multiplicity matrix (images x chunk) in memory.
RESAMPLE_CHUNK = 256

Scores = Dict[str, Dict[str, Any]]  # group -> metric -> value (float or array)


# ---------------------------------------------------------------------------
# Per-image statistics


@dataclass(frozen=True)
class ImageStats:
    """Per-image, per-category sums of an evaluation as a dense array.

    ``counts[i, c]`` holds (tp, fp, fn, iou sum) of image ``i`` and category ``c`` (in the result's
    category order), as float64 (counts are exact integers there).
    """

    image_ids: List[Any]
    file_names: List[str]
    category_ids: List[Any]
    isthing: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_result(cls, result: PanopticResult) -> "ImageStats":
        """The sums of a result evaluated with ``per_image=True``.

        The image list is ``result.images`` (every scored image, in order) when the result has it;
        otherwise (e.g. from ``PanopticQuality``) the images that have a row, in order of first row:
        images without any segment are then missing.
        """
        if result.per_image is None:
            raise FastPQError("per-image statistics need an evaluation run with per_image=True")
        images = result.images
        if images is None:
            seen: Dict[Any, str] = {}
            for row in result.per_image:
                seen.setdefault(row["image_id"], row["file_name"])
            images = list(seen.items())
        category_ids = [c.category_id for c in result.classes]
        image_index = {image_id: i for i, (image_id, _) in enumerate(images)}
        category_index = {cid: k for k, cid in enumerate(category_ids)}
        counts = np.zeros((len(images), len(category_ids), 4), dtype=np.float64)
        rows = result.per_image
        if rows:
            at_image = np.fromiter((image_index[r["image_id"]] for r in rows), np.int64, len(rows))
            at_category = np.fromiter((category_index[r["category_id"]] for r in rows), np.int64, len(rows))
            values = np.array([(r["tp"], r["fp"], r["fn"], r["iou"]) for r in rows], dtype=np.float64)
            # (image, category) pairs are unique in the engine's rows; add anyway, as merged states may repeat.
            np.add.at(counts, (at_image, at_category), values)
        isthing = np.array([c.isthing for c in result.classes], dtype=bool)
        return cls([i for i, _ in images], [f for _, f in images], category_ids, isthing, counts)

    def __len__(self) -> int:
        return len(self.image_ids)

    def aligned_to(self, image_ids: Sequence[Any], what: str) -> "ImageStats":
        """The same statistics with images in the order of ``image_ids`` (the same set, or an error)."""
        if list(image_ids) == self.image_ids:
            return self
        mine, theirs = set(self.image_ids), set(image_ids)
        if mine != theirs or len(image_ids) != len(self.image_ids):
            extra = sorted(map(repr, mine - theirs))[:3]
            missing = sorted(map(repr, theirs - mine))[:3]
            raise ImageSetMismatchError(
                f"{what} do not cover the same images ({len(self.image_ids)} vs {len(image_ids)} images; "
                f"only in the first: {', '.join(extra) or 'none'}; only in the second: {', '.join(missing) or 'none'})",
                image_id=(extra or missing or [None])[0])
        index = {image_id: i for i, image_id in enumerate(self.image_ids)}
        order = np.array([index[i] for i in image_ids], dtype=np.int64)
        return ImageStats(list(image_ids), [self.file_names[i] for i in order], self.category_ids, self.isthing,
                          self.counts[order])


def group_scores(totals: np.ndarray, isthing: np.ndarray) -> Scores:
    """panopticapi's ``pq_average`` on stacked per-category sums.

    ``totals`` has shape (..., categories, 4) with (tp, fp, fn, iou sum) last; returns
    group -> {"pq", "sq", "rq": array of shape (...), "n": present categories}, NaN where n is 0.
    """
    tp, fp, fn, iou = totals[..., 0], totals[..., 1], totals[..., 2], totals[..., 3]
    present = (tp + fp + fn) > 0
    denominator = tp + 0.5 * fp + 0.5 * fn
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = {"pq": np.where(present, iou / denominator, 0.0),
                     "sq": np.where(tp != 0, iou / tp, 0.0),
                     "rq": np.where(present, tp / denominator, 0.0)}
        out: Scores = {}
        for name, kind in GROUPS:
            members = present if kind is None else present & (isthing if kind else ~isthing)
            n = members.sum(axis=-1)
            group: Dict[str, Any] = {"n": n}
            for metric, values in per_class.items():
                total = np.where(members, values, 0.0).sum(axis=-1)
                group[metric] = np.where(n > 0, total / np.maximum(n, 1), np.nan)
            out[name] = group
    return out


def per_image_scores(result: Union[PanopticResult, ImageStats]) -> List[Dict[str, Any]]:
    """One row per image: image_id, file_name, PQ / SQ / RQ / n of All, Things and Stuff, and the
    image's TP / FP / FN totals and IoU sum.

    Each score is what panopticapi computes for a dataset of that image alone; NaN where a group
    has no present category (all NaN for an image without any segment).
    """
    stats = result if isinstance(result, ImageStats) else ImageStats.from_result(result)
    scores = group_scores(stats.counts, stats.isthing)
    sums = stats.counts.sum(axis=1)
    rows = []
    for i, (image_id, file_name) in enumerate(zip(stats.image_ids, stats.file_names)):
        row: Dict[str, Any] = {"image_id": image_id, "file_name": file_name}
        for name in GROUP_NAMES:
            suffix = "" if name == "All" else "_" + name.lower()
            for metric in METRICS:
                row[metric + suffix] = float(scores[name][metric][i])
            row["n" + suffix] = int(scores[name]["n"][i])
        row.update(tp=int(sums[i, 0]), fp=int(sums[i, 1]), fn=int(sums[i, 2]), iou=float(sums[i, 3]))
        rows.append(row)
    return rows


def write_rows(rows: Sequence[Mapping[str, Any]], path: PathLike) -> None:
    """Writes rows as CSV (NaN as an empty field) or JSON (a list of objects, NaN as null), by the
    file's suffix (.csv or .json)."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".csv", ".json"):
        raise FastPQError(f"cannot tell the format of '{path}': name it .csv or .json", file=path)
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]
    with open(path, "w", newline="") as f:
        if suffix == ".json":
            json.dump(clean, f, indent=1)
            f.write("\n")
            return
        fields = list(rows[0]) if rows else ["image_id", "file_name"]
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in clean:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


# ---------------------------------------------------------------------------
# Bootstrap


@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile interval around a point estimate."""

    estimate: float
    lower: float
    upper: float
    std: float
    n_nan: int  # resamples in which the value is undefined (left out)

    def to_dict(self) -> Dict[str, Any]:
        return {k: _json_number(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap intervals of PQ, SQ and RQ for All, Things and Stuff: ``intervals[group][metric]``."""

    intervals: Dict[str, Dict[str, Interval]]
    n_images: int
    n_resamples: int
    seed: int
    ci: float

    def to_dict(self) -> Dict[str, Any]:
        return {"n_images": self.n_images, "n_resamples": self.n_resamples, "seed": self.seed, "ci": self.ci,
                "method": "percentile", **{g: {m: iv.to_dict() for m, iv in ms.items()}
                                             for g, ms in self.intervals.items()}}

    def table(self) -> str:
        """PQ, SQ, RQ (in %) with their intervals, one line per group."""
        return _interval_table(self.intervals, self.describe())

    def describe(self) -> str:
        return (f"{100 * self.ci:g}% bootstrap percentile intervals, {self.n_resamples} resamples of "
                f"{self.n_images} images, seed {self.seed}")


def resample_indices(n_images: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The image indices of each resample, in order: the definition every bootstrap here uses."""
    rng = np.random.Generator(np.random.PCG64(seed))
    for _ in range(n_resamples):
        yield rng.integers(0, n_images, size=n_images)


def resample_counts(n_images: int, n_resamples: int, seed: int,
                    chunk: int = RESAMPLE_CHUNK) -> Iterator[np.ndarray]:
    """Multiplicities of the images in the resamples, as (images x resamples) float64 arrays of
    ``chunk`` resamples at a time: column r counts how often resample r drew each image."""
    indices = resample_indices(n_images, n_resamples, seed)
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        columns = np.arange(size, dtype=np.int64)
        flat = np.concatenate([next(indices) * size + r for r in columns]) if n_images else np.zeros(0, np.int64)
        yield np.bincount(flat, minlength=n_images * size).reshape(n_images, size).astype(np.float64)


@dataclass(frozen=True)
class _SparseRows:
    """The non-empty (image, category) rows of an ImageStats, grouped by category: rows
    ``starts[j]:ends[j]`` belong to category ``categories[j]``."""

    images: np.ndarray
    values: np.ndarray  # (rows, 4)
    starts: np.ndarray
    ends: np.ndarray
    categories: np.ndarray

    @classmethod
    def of(cls, stats: ImageStats) -> "_SparseRows":
        image, category = np.nonzero(stats.counts[:, :, :3].sum(axis=-1) > 0)
        order = np.lexsort((image, category))
        image, category = image[order], category[order]
        starts = np.flatnonzero(np.r_[True, category[1:] != category[:-1]]) if len(category) else \
            np.zeros(0, np.int64)
        ends = np.r_[starts[1:], len(category)].astype(np.int64)
        return cls(image, stats.counts[image, category], starts, ends, category[starts])

    def totals(self, multiplicity: np.ndarray, n_categories: int) -> np.ndarray:
        """Per-category sums (resamples x categories x 4) for image multiplicities (images x resamples)."""
        out = np.zeros((n_categories, 4, multiplicity.shape[1]))
        for a, b, c in zip(self.starts.tolist(), self.ends.tolist(), self.categories.tolist()):
            out[c] = self.values[a:b].T @ multiplicity[self.images[a:b]]
        return out.transpose(2, 0, 1)


def resampled_scores(stats: Sequence[ImageStats], n_resamples: int, seed: int,
                     chunk: int = RESAMPLE_CHUNK) -> List[Scores]:
    """Group scores of every resample (arrays of length n_resamples), for each of several
    evaluations of the same images, all with the same resamples.

    A resample's per-category sums add its images' rows times their multiplicities; only the
    non-empty rows are touched (a category's rows are gathered and multiplied at once), so the work
    follows the number of (image, category) rows, not images x categories.
    """
    n = len(stats[0])
    sparse = [_SparseRows.of(s) for s in stats]
    collected: List[Dict[str, Dict[str, List[np.ndarray]]]] = [
        {g: {m: [] for m in METRICS} for g in GROUP_NAMES} for _ in stats]
    for weights in resample_counts(n, n_resamples, seed, chunk):
        for s, rows, store in zip(stats, sparse, collected):
            scores = group_scores(rows.totals(weights, len(s.category_ids)), s.isthing)
            for g in GROUP_NAMES:
                for m in METRICS:
                    store[g][m].append(scores[g][m])
    empty = np.zeros(0)
    return [{g: {m: np.concatenate(store[g][m]) if store[g][m] else empty for m in METRICS} for g in GROUP_NAMES}
            for store in collected]


def full_scores(stats: ImageStats) -> Dict[str, Dict[str, float]]:
    """The scores of the whole dataset from the per-image sums (the bootstrap's point estimate)."""
    scores = group_scores(stats.counts.sum(axis=0), stats.isthing)
    return {g: {m: float(scores[g][m]) for m in METRICS} for g in GROUP_NAMES}


def interval(estimate: float, samples: np.ndarray, ci: float) -> Interval:
    """The percentile interval of `samples` at level `ci` (NaN samples left out and counted)."""
    valid = samples[~np.isnan(samples)]
    n_nan = int(samples.size - valid.size)
    if valid.size == 0:
        return Interval(estimate, math.nan, math.nan, math.nan, n_nan)
    lower, upper = np.percentile(valid, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2], method="linear")
    std = float(np.std(valid, ddof=1)) if valid.size > 1 else math.nan
    return Interval(estimate, float(lower), float(upper), std, n_nan)


def bootstrap(result: Union[PanopticResult, ImageStats], n_resamples: int = 1000, seed: int = 0,
              ci: float = 0.95) -> BootstrapResult:
    """Bootstrap percentile intervals over images for PQ, SQ, RQ of All, Things and Stuff.

    `result` comes from an evaluation with ``per_image=True``. See the module docstring for the
    resampling (``Generator(PCG64(seed))``) and the interval; the same seed gives the same numbers.
    """
    _check_bootstrap_arguments(n_resamples, ci)
    stats = result if isinstance(result, ImageStats) else ImageStats.from_result(result)
    point = full_scores(stats)
    (samples,) = resampled_scores([stats], n_resamples, seed)
    intervals = {g: {m: interval(point[g][m], samples[g][m], ci) for m in METRICS} for g in GROUP_NAMES}
    return BootstrapResult(intervals, len(stats), n_resamples, seed, ci)


def _check_bootstrap_arguments(n_resamples: int, ci: float) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise FastPQError(f"the number of bootstrap resamples must be a positive integer, not {n_resamples!r}")
    if not 0 < ci < 1:
        raise FastPQError(f"the confidence level must be between 0 and 1 (e.g. 0.95), not {ci!r}")


# ---------------------------------------------------------------------------
# Paired comparison


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


# ---------------------------------------------------------------------------
# Annotator consistency

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


# ---------------------------------------------------------------------------
# Presentation helpers


def _json_number(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def _interval_table(intervals: Mapping[str, Mapping[str, Interval]], title: str) -> str:
    lines = [title, "{:10s}| {:>21s} {:>21s} {:>21s}".format("", "PQ [interval]", "SQ [interval]", "RQ [interval]")]
    for g in GROUP_NAMES:
        cells = []
        for m in METRICS:
            iv = intervals[g][m]
            cells.append("{:5.1f} [{:5.1f}, {:5.1f}]".format(100 * iv.estimate, 100 * iv.lower, 100 * iv.upper))
        lines.append("{:10s}| {:>21s} {:>21s} {:>21s}".format(g, *cells))
    return "\n".join(lines)
