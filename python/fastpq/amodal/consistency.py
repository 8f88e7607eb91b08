"""Region consistency between annotators: the human study of the semantic amodal segmentation paper
(Zhu, Tian, Metaxas, Dollár, "Semantic Amodal Segmentation", CVPR 2017, arXiv 1509.01329).

For an image annotated by n annotators, every ordered pair (X, Y) of its annotations (n(n-1)
pairs) is scored; the dataset's figure is the median over all ordered pairs of all images.

For one pair, X's regions are matched to Y's by the IoU of their masks (amodal masks by default,
visible masks with ``use_visible``; a region without ``visible_mask`` is unoccluded and its visible
mask is its amodal one):

* a pair of regions qualifies when its IoU >= ``threshold`` (0.5 by default);
* ``matching="bipartite"`` (default): regions are matched one to one, as many pairs as possible
  (a maximum-cardinality matching of the qualifying pairs; its size does not depend on how it is
  found). ``"greedy"``: one to one, qualifying pairs taken by descending IoU (equal IoUs by X's
  region order, then Y's). ``"any"``: not one to one; a region is matched when any region of the
  other annotation qualifies;
* P = matched regions of X / regions of X, R = matched regions of Y / regions of Y,
  F = 2PR / (P + R) (0 when P = R = 0). A pair where either annotation has no region has no F
  (NaN): it is counted in ``n_undefined`` and left out of the medians.

One-to-one matching makes F symmetric (F(X, Y) = F(Y, X)), so the median over ordered pairs equals
the median over unordered ones; ordered pairs are kept because the paper counts n(n-1) scores.

Choices made here where the paper's text, as we could consult it, does not pin them down (each is
an option): the IoU threshold and its ``>=`` comparison, one-to-one matching and its kind, and F
undefined for an empty annotation. The bootstrap interval over images of the median is
:func:`fastpq.analysis.amodal_consistency.bootstrap_consistency`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Union

from .. import _core
from ..errors import AnnotationError, FastPQError
from ..io.limits import DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_PIXELS, check_engine_options
from .ar import PathLike
from .multi import MultiAnnotatorImage, load_multi_annotator

MATCHINGS: Dict[str, int] = {"bipartite": 0, "greedy": 1, "any": 2}
COLUMNS = ("image", "x", "y", "regions_x", "regions_y", "matched_x", "matched_y", "precision", "recall", "f")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


@dataclass
class PairConsistency:
    """Per-pair scores (``pairs``: numpy columns, one entry per ordered pair of annotations of an
    image; ``image`` indexes ``image_ids``, ``x`` / ``y`` the image's annotations in file order)
    and their summary. What X and Y count (regions, boundary pixels) is named by ``columns``."""

    image_ids: List[Any]
    authors: List[List[Any]]
    pairs: Dict[str, Any]

    columns = COLUMNS

    @property
    def f(self) -> Any:
        return self.pairs["f"]

    @property
    def n_pairs(self) -> int:
        return int(len(self.pairs["f"]))

    @property
    def n_undefined(self) -> int:
        import numpy as np

        return int(np.isnan(self.pairs["f"]).sum())

    def defined_f(self) -> Any:
        import numpy as np

        f = self.pairs["f"]
        return f[~np.isnan(f)]

    @property
    def median(self) -> float:
        """The paper's figure: the median F over all ordered pairs of all images."""
        import numpy as np

        f = self.defined_f()
        return float(np.median(f)) if f.size else math.nan

    @property
    def mean(self) -> float:
        import numpy as np

        f = self.defined_f()
        return float(np.mean(f)) if f.size else math.nan

    def quantiles(self) -> Dict[float, float]:
        """F at the 10th, 25th, 50th, 75th and 90th percentiles (numpy's 'linear' method)."""
        import numpy as np

        f = self.defined_f()
        if not f.size:
            return {q: math.nan for q in QUANTILES}
        return {q: float(v) for q, v in zip(QUANTILES, np.quantile(f, QUANTILES))}

    def histogram(self, bins: int = 10) -> List[int]:
        """Pairs per F bin of width 1 / bins on [0, 1] (the last bin closed)."""
        import numpy as np

        return [int(c) for c in np.histogram(self.defined_f(), bins=bins, range=(0.0, 1.0))[0]]

    def per_image(self) -> List[Dict[str, Any]]:
        """Per image: its annotators, ordered pairs, pairs without F, and the median of its pairs' F."""
        import numpy as np

        rows = []
        image, f = self.pairs["image"], self.pairs["f"]
        for index, image_id in enumerate(self.image_ids):
            values = f[image == index]
            defined = values[~np.isnan(values)]
            rows.append({"image_id": image_id, "annotators": len(self.authors[index]), "pairs": int(values.size),
                         "undefined": int(values.size - defined.size),
                         "median_f": float(np.median(defined)) if defined.size else math.nan})
        return rows

    def pair_rows(self) -> List[Dict[str, Any]]:
        """One row per ordered pair: image id, the two authors and the pair's counts and scores."""
        rows = []
        columns = {k: self.pairs[k].tolist() for k in self.columns}
        for k in range(self.n_pairs):
            i = columns["image"][k]
            row = {"image_id": self.image_ids[i], "author_x": self.authors[i][columns["x"][k]],
                   "author_y": self.authors[i][columns["y"][k]]}
            row.update({c: columns[c][k] for c in self.columns[1:]})
            rows.append(row)
        return rows

    def summary(self, pairs: bool = False) -> Dict[str, Any]:
        """The counts, median, mean, quantiles and histogram as a JSON-ready dict."""
        out: Dict[str, Any] = {
            "images": len(self.image_ids), "images_with_pairs": sum(1 for a in self.authors if len(a) > 1),
            "pairs": self.n_pairs, "undefined_pairs": self.n_undefined, "median_f": _number(self.median),
            "mean_f": _number(self.mean), "quantiles": {str(q): _number(v) for q, v in self.quantiles().items()},
            "histogram": self.histogram(),
        }
        if pairs:
            out["pair_scores"] = [{k: _number(v) for k, v in row.items()} for row in self.pair_rows()]
        return out

    def summary_lines(self, title: str) -> List[str]:
        """The summary as the command line prints it, under ``title``."""
        q = self.quantiles()
        return [
            title,
            f"images {len(self.image_ids)}, with 2+ annotators {sum(1 for a in self.authors if len(a) > 1)}, "
            f"ordered pairs {self.n_pairs} ({self.n_undefined} without F)",
            f"median F {self.median:.4f}   mean F {self.mean:.4f}",
            "quantiles  " + "  ".join(f"{int(100 * k)}%: {v:.4f}" for k, v in q.items()),
        ]


@dataclass
class RegionConsistency(PairConsistency):
    """Region consistency: per-pair region counts, matches, P, R and F, and their summary."""

    threshold: float
    matching: str
    use_visible: bool

    def to_dict(self, pairs: bool = False) -> Dict[str, Any]:
        return {"masks": "visible" if self.use_visible else "amodal", "threshold": self.threshold,
                "matching": self.matching, **self.summary(pairs)}

    def table(self) -> str:
        """The summary as the command line prints it."""
        return "\n".join(self.summary_lines(
            f"region consistency ({'visible' if self.use_visible else 'amodal'} masks, IoU >= {self.threshold:g}, "
            f"{self.matching} matching)"))


def _number(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def region_consistency_of_images(images: Sequence[MultiAnnotatorImage], *, threshold: float = 0.5,
                                 matching: str = "bipartite", workers: int = 0,
                                 use_visible: bool = False) -> RegionConsistency:
    """Scores every ordered annotator pair of already-read images (see the module docstring); the
    masks must have been read with the same ``use_visible``."""
    if matching not in MATCHINGS:
        raise FastPQError(f"matching must be one of {', '.join(MATCHINGS)}, not {matching!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise FastPQError(f"the IoU threshold must be a number in (0, 1], not {threshold!r}")
    out = _core.amodal_region_consistency(
        [(im.height, im.width, [a.regions.region_masks for a in im.annotations]) for im in images],
        float(threshold), MATCHINGS[matching], workers)
    if out["failure"] is not None:
        index, message = out["failure"]
        raise AnnotationError(f"In the image with ID {images[index].image_id}: {message}",
                              image_id=images[index].image_id)
    pairs = {k: out[k] for k in COLUMNS}
    return RegionConsistency([im.image_id for im in images], [[a.author for a in im.annotations] for im in images],
                             pairs, float(threshold), matching, use_visible)


def region_consistency(gt: Union[PathLike, Mapping[str, Any]], *, use_visible: bool = False, threshold: float = 0.5,
                       matching: str = "bipartite", workers: int = 0, strict: bool = False,
                       max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
                       max_pixels: int = DEFAULT_MAX_PIXELS) -> RegionConsistency:
    """Region consistency of the annotators of a multi-annotator COCOA file (BSDS amodal).

    Args:
        gt: the COCOA JSON (path or parsed object); every annotation of an image is an annotator.
        use_visible: compare visible masks instead of amodal masks.
        threshold: the IoU a pair of regions needs (``>=``) to be matched.
        matching: ``"bipartite"`` (default), ``"greedy"`` or ``"any"`` (see the module docstring).
        workers: threads (images run in parallel); 0 uses every core.
        strict, max_json_bytes, max_pixels: as for :func:`load_multi_annotator`.
    """
    check_engine_options(workers, max_pixels)
    images = load_multi_annotator(gt, use_visible, strict=strict, max_json_bytes=max_json_bytes,
                                  max_pixels=max_pixels)
    return region_consistency_of_images(images, threshold=threshold, matching=matching, workers=workers,
                                        use_visible=use_visible)


__all__ = ["MATCHINGS", "PairConsistency", "RegionConsistency", "region_consistency", "region_consistency_of_images"]
