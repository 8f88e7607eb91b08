"""Bootstrap confidence intervals for panoptic quality, from the per-image sums (the rules are in
the package docstring)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Sequence, Union

import numpy as np

from ..errors import FastPQError
from ..panoptic.results import PanopticResult
from ._format import _interval_table, _json_number
from .per_image import GROUP_NAMES, METRICS, RESAMPLE_CHUNK, ImageStats, Scores, group_scores


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


