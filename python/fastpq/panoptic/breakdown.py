"""Breakdowns of a panoptic evaluation, computed by the C++ pass on request: PQ by segment size,
parsing covering, and boundary PQ.

PQ by size (``evaluate(..., by_size=True)``)
    COCO's area thresholds 32^2 and 96^2, as a partition (COCOeval's ranges share their bounds):
    small: area < 1024, medium: 1024 <= area < 9216, large: area >= 9216. A match (TP) and a missed
    GT segment (FN) count in the bucket of the GT segment's area, its pixel count in the GT PNG; an
    unmatched prediction (FP) counts in the bucket of its own pixel count in the prediction PNG.
    Crowd GT segments are never TP or FN, and a prediction that panopticapi ignores (more than half
    on void or on an unmatched crowd segment of its category) is no FP in any bucket. Per bucket,
    per-category PQ / SQ / RQ and All / Things / Stuff averages use panopticapi's formulas, so the
    three buckets' TP, FP, FN and IoU sums add up to the totals of the plain evaluation.

Parsing covering (``evaluate(..., covering=True)``)
    TensorFlow DeepLab's ``ParsingCovering`` (tensorflow/models, research/deeplab/evaluation/
    parsing_covering.py; Yang et al. 2019, "DeeperLab"), which Panoptic-DeepLab reports: per class
    c, PC(c) = sum over GT segments R of class c of |R| * max over predicted segments R' of class c
    of IoU(R, R'), divided by the sum of |R|; PC is the mean of PC(c) over classes with GT pixels.
    COCO panoptic is mapped onto it as deeplab2's COCO conversion does (crowd as ignore, its
    default): pixels of GT void (id 0, or an id outside the GT JSON), of crowd GT segments and of
    GT segments of unknown category carry the ignored label, so they count neither in a GT area
    nor in a predicted segment's area; IoU is intersection / (|R| + |R' minus ignored| -
    intersection). With ``normalize_by_image_size`` (ParsingCovering's default) each image's
    areas are divided by its pixel count before they are added over the dataset; without it,
    areas are pixel counts. There is no PyPI package of it, so the tests check it against an
    oracle written from this definition.

Boundary PQ (``evaluate(..., boundary=True)``)
    The Boundary IoU API's COCO panoptic evaluation (bowenc0221/boundary-iou-api,
    boundary_iou/coco_panoptic_api/evaluation.py, ``iou_type="boundary"``; Cheng et al. 2021):
    panopticapi's PQ where a pair's IoU is min(mask IoU, boundary IoU), both for the > 0.5 match
    and for the IoU summed into SQ. A segment's boundary is the set of its pixels within
    chessboard distance d of another id or of the image edge, d = max(1, round(ratio * image
    diagonal)), ratio 0.02 by default (mask_to_boundary). Boundary IoU = |Bg & Bp| / (|Bg| + |Bp|
    - |Bg & Bp| - |Bp on GT void|), void pixels counting wholly, as the reference leaves them out
    of its band maps. FP and FN follow panopticapi (mask areas, void and crowd). One difference:
    the reference marks segment interiors with the id (largest category id + 1), so a segment
    whose id equals that number gets a wrong band there; fastpq has no such collision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from ..errors import InvalidOptionError
from .results import GROUPS, PanopticResult

if TYPE_CHECKING:
    from ..io.dataset import Categories

SIZE_NAMES = ("small", "medium", "large")
SIZE_BOUNDS = (32 * 32, 96 * 96)  # small < 1024 <= medium < 9216 <= large
DEFAULT_BOUNDARY_DILATION_RATIO = 0.02


def size_of(area: int) -> str:
    """The size bucket of a segment of `area` pixels."""
    return "small" if area < SIZE_BOUNDS[0] else "medium" if area < SIZE_BOUNDS[1] else "large"


def check_dilation_ratio(ratio: float) -> float:
    """The ratio as a float; InvalidOptionError unless it is a finite number >= 0."""
    try:
        value = float(ratio)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"boundary_dilation_ratio must be a number, not {ratio!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise InvalidOptionError(f"boundary_dilation_ratio must be a finite number >= 0, not {ratio!r}")
    return value


@dataclass(frozen=True)
class CoveringClass:
    """Parsing covering of one category: sum |R| * best IoU over its GT segments, and sum |R|."""

    category_id: Any
    name: str
    isthing: bool
    pc: float  # weighted_iou / gt_area; 0.0 where the category has no GT pixels
    weighted_iou: float
    gt_area: float

    @property
    def valid(self) -> bool:
        """True when the category has GT pixels and so counts in the averages."""
        return self.gt_area != 0


@dataclass(frozen=True)
class CoveringGroup:
    """Mean PC over the valid categories of a group; NaN when n is 0."""

    pc: float
    n: int


@dataclass
class CoveringResult:
    """Parsing covering (TensorFlow DeepLab's ParsingCovering) of a panoptic evaluation."""

    groups: Dict[str, CoveringGroup]
    classes: List[CoveringClass]
    normalize_by_image_size: bool

    @property
    def pc(self) -> float:
        return self.groups["All"].pc

    @classmethod
    def from_sums(cls, categories: "Categories", weighted_iou: Sequence[float], gt_area: Sequence[float],
                  normalize_by_image_size: bool) -> "CoveringResult":
        classes = []
        for i, cid in enumerate(categories.ids):
            info = categories.info[cid]
            w, a = float(weighted_iou[i]), float(gt_area[i])
            classes.append(CoveringClass(cid, str(info.get("name", cid)), info.get("isthing") == 1,
                                         w / a if a != 0 else 0.0, w, a))
        groups = {}
        for name, isthing in GROUPS:
            chosen = [c.pc for c in classes if c.valid and (isthing is None or c.isthing == isthing)]
            groups[name] = CoveringGroup(sum(chosen) / len(chosen) if chosen else math.nan, len(chosen))
        return cls(groups, classes, normalize_by_image_size)

    def table(self) -> str:
        """All / Things / Stuff parsing covering (in %) and the number of categories averaged."""
        lines = ["{:10s}| {:>5s} {:>5s}".format("", "PC", "N"), "-" * 24]
        for name, _ in GROUPS:
            g = self.groups[name]
            lines.append("{:10s}| {:5.1f} {:5d}".format(name, 100 * g.pc, g.n))
        return "\n".join(lines)


class BreakdownSums:
    """The engine's running breakdown sums over the chunks of one evaluation.

    Each chunk starts from the sums of the previous one (:meth:`initial`, passed to the engine as
    ``initial_breakdown``) and the engine continues them image by image, so the sums after the last
    chunk are bit-identical to those of a single pass."""

    def __init__(self, n_categories: int) -> None:
        self.n = n_categories
        self.by_size: Optional[List[Dict[str, List[Any]]]] = None
        self.covering: Optional[Dict[str, List[float]]] = None
        self.boundary: Optional[Dict[str, List[Any]]] = None

    def initial(self) -> Optional[Dict[str, Any]]:
        """The sums so far in the engine's ``breakdown`` layout, or None before the first chunk."""
        parts = {"by_size": self.by_size, "covering": self.covering, "boundary": self.boundary}
        sums = {key: value for key, value in parts.items() if value is not None}
        return sums or None

    def update(self, out: Optional[Dict[str, Any]]) -> None:
        """Takes the sums of a chunk that started from :meth:`initial`."""
        if not out:
            return
        self.by_size = out.get("by_size", self.by_size)
        self.covering = out.get("covering", self.covering)
        self.boundary = out.get("boundary", self.boundary)

    def attach(self, result: PanopticResult, categories: "Categories", normalize_by_image_size: bool) -> None:
        """Sets the result's by_size, covering and boundary fields from the sums."""
        if self.by_size is not None:
            result.by_size = {name: _panoptic(categories, t) for name, t in zip(SIZE_NAMES, self.by_size)}
        if self.covering is not None:
            suffix = "_normalized" if normalize_by_image_size else ""
            result.covering = CoveringResult.from_sums(categories, self.covering["weighted_iou" + suffix],
                                                       self.covering["gt_area" + suffix], normalize_by_image_size)
        if self.boundary is not None:
            result.boundary = _panoptic(categories, self.boundary)


def _panoptic(categories: "Categories", totals: Dict[str, List[Any]]) -> PanopticResult:
    return PanopticResult.from_totals(categories, totals["tp"], totals["fp"], totals["fn"], totals["iou"])


def size_table(by_size: Dict[str, PanopticResult]) -> str:
    """PQ, SQ, RQ (in %) and N of All / Things / Stuff for each size bucket."""
    lines = ["{:8s} {:8s}| {:>5s}  {:>5s}  {:>5s} {:>5s}".format("size", "", "PQ", "SQ", "RQ", "N"),
             "-" * (18 + 7 * 4)]
    for size in SIZE_NAMES:
        for name, _ in GROUPS:
            g = by_size[size].groups[name]
            lines.append("{:8s} {:8s}| {:5.1f}  {:5.1f}  {:5.1f} {:5d}".format(
                size, name, 100 * g.pq, 100 * g.sq, 100 * g.rq, g.n))
    return "\n".join(lines)
