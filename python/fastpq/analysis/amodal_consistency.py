"""Bootstrap interval over images of the amodal region or edge consistency (median F over ordered annotator pairs).

Resamples are :func:`fastpq.analysis.resample_indices`' (``Generator(PCG64(seed))``, n images drawn
with replacement), as every bootstrap of fastpq. A resample's figure is the median F over the
ordered pairs of the images it drew, each image's pairs repeated as often as it was drawn (pairs
without F left out); the interval is :func:`fastpq.analysis.interval`'s percentile interval.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import numpy as np

from ..amodal.consistency import PairConsistency
from .resampling import Interval, _check_bootstrap_arguments, interval, resample_indices


def bootstrap_consistency(result: PairConsistency, n_resamples: int = 1000, seed: int = 0,
                          ci: float = 0.95) -> Interval:
    """The percentile interval of the median F, resampling images (not pairs): an image's pairs
    share its annotators and its scene, so they are not independent."""
    _check_bootstrap_arguments(n_resamples, ci)
    f = result.pairs["f"]
    keep = ~np.isnan(f)
    values, image = f[keep], result.pairs["image"][keep]
    n_images = len(result.image_ids)
    order = np.argsort(image, kind="stable")
    values, image = values[order], image[order]
    samples = np.empty(n_resamples)
    for r, drawn in enumerate(resample_indices(n_images, n_resamples, seed)):
        weights = np.bincount(drawn, minlength=n_images)[image] if n_images else np.zeros(0, np.int64)
        repeated = np.repeat(values, weights)
        samples[r] = np.median(repeated) if repeated.size else math.nan
    return interval(result.median, samples, ci)


def bootstrap_summary(result: PairConsistency, n_resamples: int = 1000, seed: int = 0,
                      ci: float = 0.95) -> Dict[str, Any]:
    """The interval as a JSON-ready dict with its resampling parameters."""
    iv = bootstrap_consistency(result, n_resamples, seed, ci)
    return {"statistic": "median_f", "n_resamples": n_resamples, "seed": seed, "ci": ci, "method": "percentile",
            **iv.to_dict()}


__all__ = ["bootstrap_consistency", "bootstrap_summary"]
