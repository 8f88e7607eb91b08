"""Edge consistency between annotators: the second half of the human study of the semantic amodal
segmentation paper (Zhu, Tian, Metaxas, Dollár, "Semantic Amodal Segmentation", arXiv 1509.01329),
which scores the annotators' edges with the BSDS boundary benchmark's F-measure.

For every ordered pair (X, Y) of an image's annotations (n(n-1) pairs for n annotators):

* **Boundary map.** An annotation's boundary map is the union over its regions of each region
  mask's boundary pixels by the BSDS benchmark's ``seg2bmap`` rule: pixel (y, x) is a boundary
  pixel when the mask differs between it and any of its east (y, x+1), south (y+1, x) and
  south-east (y+1, x+1) neighbours inside the image (1-pixel-wide boundaries, offset half a pixel
  towards the origin; the image border is no boundary). Masks are amodal by default, visible with
  ``use_visible``; visible masks partition the image, and the union of their boundaries is then
  exactly ``seg2bmap`` of the visible label map (the modal segmentation's edges).
* **Tolerance.** A boundary pixel of X and one of Y may correspond when
  ``du**2 + dv**2 <= t**2`` with ``t = max_dist * sqrt(height**2 + width**2)`` (BSDS's
  ``correspondPixels``: ``maxDist`` as a fraction of the image diagonal; 0.0075 is the BSDS500
  benchmark's value and the default here; ``max_dist`` may be chosen in [0, 0.1]).
* **Matching.** Pixels are matched one to one, as many as possible: a maximum-cardinality
  bipartite matching of the pixel pairs within the tolerance (augmenting paths in C++). Its size is
  unique, so the counts do not depend on how the matching is found.
* **Scores.** P = matched pixels of X / boundary pixels of X, R = matched pixels of Y / boundary
  pixels of Y, F = 2PR / (P + R) (0 when P = R = 0); a pair where either map has no boundary pixel
  has no F (NaN), is counted in ``n_undefined`` and left out of the medians. As for regions, the
  dataset's figure is the median F over all ordered pairs of all images, with a bootstrap interval
  over images (:func:`fastpq.analysis.amodal_consistency.bootstrap_consistency`).

**How this differs from BSDS's correspondPixels.** BSDS solves a min-cost assignment with Goldberg's
CSA: a matched pair costs its distance (times 100, rounded), an unmatched pixel costs
``100 * t`` (``outlierCost`` = 100), and unmatched pixels are wired to a sparse random set of
outlier nodes. Its objective rewards each match by ``100 * t`` less the distance, so its matching
has maximum cardinality except where a larger matching needs an alternating chain of more than
about 100 pixels each moved by up to ``t`` (then BSDS gives up one match to shorten the chain);
its sparse random outlier graph can also, rarely, force an extra unmatched pair. fastpq computes
the maximum-cardinality matching, the quantity the tolerance defines, deterministically.

What the paper's text (as we could consult it: only its opening pages are in the stored copies)
leaves open and is chosen here: which edges an annotation has (each region's full boundary, amodal
or visible masks as ``use_visible``), the tolerance (BSDS500's 0.0075), F undefined without edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Sequence, Union

from .. import _core
from ..errors import AnnotationError, FastPQError
from ..io.limits import DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_PIXELS, check_engine_options
from .ar import PathLike
from .consistency import PairConsistency
from .multi import MultiAnnotatorImage, load_multi_annotator

EDGE_COLUMNS = ("image", "x", "y", "edges_x", "edges_y", "matched_x", "matched_y", "precision", "recall", "f")
DEFAULT_MAX_DIST = 0.0075
MAX_MAX_DIST = 0.1


@dataclass
class EdgeConsistency(PairConsistency):
    """Edge consistency: per-pair boundary pixel counts (``edges_x``, ``edges_y``), matched pixels,
    P, R and F, and their summary."""

    max_dist: float
    use_visible: bool

    columns = EDGE_COLUMNS

    def to_dict(self, pairs: bool = False) -> Dict[str, Any]:
        return {"masks": "visible" if self.use_visible else "amodal", "max_dist": self.max_dist,
                "matching": "maximum one-to-one", **self.summary(pairs)}

    def table(self) -> str:
        """The summary as the command line prints it."""
        return "\n".join(self.summary_lines(
            f"edge consistency ({'visible' if self.use_visible else 'amodal'} masks' boundaries, pixels within "
            f"{self.max_dist:g} of the diagonal, matched one to one)"))


def check_max_dist(max_dist: Any) -> float:
    """``max_dist`` as a float, or FastPQError unless it is a number in [0, 0.1]."""
    if isinstance(max_dist, bool) or not isinstance(max_dist, (int, float)) or not 0 <= max_dist <= MAX_MAX_DIST:
        raise FastPQError(f"max_dist must be a number in [0, {MAX_MAX_DIST}] (a fraction of the image diagonal), "
                          f"not {max_dist!r}")
    return float(max_dist)


def edge_consistency_of_images(images: Sequence[MultiAnnotatorImage], *, max_dist: float = DEFAULT_MAX_DIST,
                               workers: int = 0, use_visible: bool = False) -> EdgeConsistency:
    """Scores every ordered annotator pair of already-read images (see the module docstring); the
    masks must have been read with the same ``use_visible``."""
    max_dist = check_max_dist(max_dist)
    out = _core.amodal_edge_consistency(
        [(im.height, im.width, [a.regions.region_masks for a in im.annotations]) for im in images],
        max_dist, workers)
    if out["failure"] is not None:
        index, message = out["failure"]
        raise AnnotationError(f"In the image with ID {images[index].image_id}: {message}",
                              image_id=images[index].image_id)
    return EdgeConsistency([im.image_id for im in images], [[a.author for a in im.annotations] for im in images],
                           {k: out[k] for k in EDGE_COLUMNS}, max_dist, use_visible)


def edge_consistency(gt: Union[PathLike, Mapping[str, Any]], *, use_visible: bool = False,
                     max_dist: float = DEFAULT_MAX_DIST, workers: int = 0, strict: bool = False,
                     max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> EdgeConsistency:
    """Edge consistency of the annotators of a multi-annotator COCOA file (BSDS amodal).

    Args:
        gt: the COCOA JSON (path or parsed object); every annotation of an image is an annotator.
        use_visible: take the boundaries of visible masks instead of amodal masks.
        max_dist: the distance tolerance as a fraction of the image diagonal, in [0, 0.1].
        workers: threads (images run in parallel); 0 uses every core.
        strict, max_json_bytes, max_pixels: as for :func:`load_multi_annotator`.
    """
    check_engine_options(workers, max_pixels)
    max_dist = check_max_dist(max_dist)
    images = load_multi_annotator(gt, use_visible, strict=strict, max_json_bytes=max_json_bytes,
                                  max_pixels=max_pixels)
    return edge_consistency_of_images(images, max_dist=max_dist, workers=workers, use_visible=use_visible)


def boundary_map(masks: Sequence[Any], height: int, width: int) -> Any:
    """The boundary map (``height`` x ``width`` uint8, 0 or 1) of masks given as compressed RLE
    strings or polygons, as edge consistency builds it (see the module docstring)."""
    try:
        return _core.amodal_boundary_map(list(masks), int(height), int(width))
    except FastPQError:
        raise
    except (ValueError, RuntimeError) as e:
        raise FastPQError(f"boundary_map: {e}") from None


__all__ = ["DEFAULT_MAX_DIST", "EDGE_COLUMNS", "EdgeConsistency", "boundary_map", "edge_consistency",
           "edge_consistency_of_images"]
