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


from ._format import _interval_table, _json_number
from .comparison import Comparison, compare, compare_predictions
from .panoptic_consistency import PREDICTION_CROWD_RULES, Consistency, _CrowdAsVoid, consistency, score_annotations
from .per_image import (GROUP_NAMES, METRICS, RESAMPLE_CHUNK, ImageStats, Scores, group_scores, per_image_scores,
                        write_rows)
from .resampling import (BootstrapResult, Interval, _check_bootstrap_arguments, _SparseRows, bootstrap, full_scores,
                         interval, resample_counts, resample_indices, resampled_scores)

__all__ = [
    "GROUP_NAMES", "METRICS", "ImageStats", "group_scores", "per_image_scores", "write_rows",
    "Interval", "BootstrapResult", "resample_indices", "resample_counts", "resampled_scores", "full_scores",
    "interval", "bootstrap", "Comparison", "compare", "compare_predictions", "PREDICTION_CROWD_RULES",
    "Consistency", "score_annotations", "consistency",
]
