"""Panoptic quality results: per-category sums, panopticapi's averages, and their presentation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, TYPE_CHECKING

from ..errors import EmptyCategoryGroupError

if TYPE_CHECKING:
    from ..io.dataset import Categories
    from .breakdown import CoveringResult

GROUPS = (("All", None), ("Things", True), ("Stuff", False))


@dataclass(frozen=True)
class ClassResult:
    """PQ, SQ and RQ of one category, with the counts they come from."""

    category_id: Any
    name: str
    isthing: bool
    pq: float
    sq: float
    rq: float
    tp: int
    fp: int
    fn: int
    iou: float

    @classmethod
    def _of(cls, category_id: Any, name: str, isthing: bool, pq: float, sq: float, rq: float, tp: int, fp: int,
           fn: int, iou: float) -> "ClassResult":
        """The same object as ``ClassResult(...)``, made without the frozen dataclass's ten
        ``object.__setattr__`` calls: results of many categories are built after every update."""
        c = object.__new__(cls)
        c.__dict__.update(category_id=category_id, name=name, isthing=isthing, pq=pq, sq=sq, rq=rq, tp=tp, fp=fp,
                          fn=fn, iou=iou)
        return c

    @property
    def present(self) -> bool:
        """True when the category has a segment (tp + fp + fn > 0) and so counts in the averages."""
        return self.tp + self.fp + self.fn > 0


@dataclass(frozen=True)
class GroupResult:
    """Unweighted mean of PQ, SQ, RQ over the present categories of a group; NaN when n is 0."""

    pq: float
    sq: float
    rq: float
    n: int


def class_scores(iou: float, tp: int, fp: int, fn: int) -> Dict[str, float]:
    """panopticapi's per-category formulas, with its operand order (and its integer 0 for SQ)."""
    if tp + fp + fn == 0:
        return {"pq": 0.0, "sq": 0.0, "rq": 0.0}
    denominator = tp + 0.5 * fp + 0.5 * fn
    return {"pq": iou / denominator, "sq": iou / tp if tp != 0 else 0, "rq": tp / denominator}


@dataclass
class PanopticResult:
    """The outcome of a panoptic evaluation: the groups, every category, and optional per-image rows."""

    groups: Dict[str, GroupResult]
    classes: List[ClassResult]
    per_image: Optional[List[Dict[str, Any]]] = field(default=None, repr=False)
    #: Every scored image as (image_id, file_name), in order, with ``per_image``: rows skip empty images.
    images: Optional[List[Tuple[Any, str]]] = field(default=None, repr=False)
    # Breakdowns, set when evaluate() is asked for them (see fastpq.breakdown).
    by_size: Optional[Dict[str, "PanopticResult"]] = field(default=None, repr=False)  # "small", "medium", "large"
    covering: Optional["CoveringResult"] = field(default=None, repr=False)
    boundary: Optional["PanopticResult"] = field(default=None, repr=False)  # boundary PQ
    #: With ``semantic=True``: per image, pixels per (gt category index, pred category index), void
    #: (id 0, or an id the JSON lacks) at index len(classes): (image_offsets, gt, pred, counts) arrays.
    semantic_counts: Optional[Dict[str, Any]] = field(default=None, repr=False)

    @classmethod
    def from_totals(cls, categories: "Categories", tp: Sequence[int], fp: Sequence[int],
                    fn: Sequence[int], iou: Sequence[float],
                    per_image: Optional[List[Dict[str, Any]]] = None,
                    images: Optional[List[Tuple[Any, str]]] = None) -> "PanopticResult":
        classes = []
        # Per group: the sums of PQ, SQ, RQ over its present categories, in category order, and n.
        sums = {name: [0.0, 0.0, 0.0, 0] for name, _ in GROUPS}
        for i, cid in enumerate(categories.ids):
            counts = (int(tp[i]), int(fp[i]), int(fn[i]))
            scores = class_scores(float(iou[i]), *counts)
            info = categories.info[cid]
            isthing = info.get("isthing") == 1
            c = ClassResult._of(cid, str(info.get("name", cid)), isthing, scores["pq"], scores["sq"], scores["rq"],
                               *counts, float(iou[i]))
            classes.append(c)
            if c.present:
                for group in (sums["All"], sums["Things" if isthing else "Stuff"]):
                    group[0] += c.pq
                    group[1] += c.sq
                    group[2] += c.rq
                    group[3] += 1
        groups = {name: _average(*sums[name]) for name, _ in GROUPS}
        return cls(groups=groups, classes=classes, per_image=per_image, images=images)

    @property
    def semantic(self) -> Any:
        """The semantic scores of this panoptic pass (``evaluate(..., semantic=True)``): a
        :class:`fastpq.semantic.SemanticResult` over the categories, ground-truth void ignored, a
        void prediction on a labelled pixel a miss; None when not asked for."""
        if self.semantic_counts is None:
            return None
        from ..semantic.panoptic import from_panoptic  # the semantic family reads these counts

        return from_panoptic(self)

    @property
    def pq(self) -> float:
        return self.groups["All"].pq

    @property
    def sq(self) -> float:
        return self.groups["All"].sq

    @property
    def rq(self) -> float:
        return self.groups["All"].rq

    def to_dict(self) -> Dict[str, Any]:
        """panopticapi's return value: All / Things / Stuff (pq, sq, rq, n) and per_class.

        Raises EmptyCategoryGroupError where panopticapi would divide by zero.
        """
        out: Dict[str, Any] = {}
        for name, _ in GROUPS:
            g = self.groups[name]
            if g.n == 0:
                raise EmptyCategoryGroupError(
                    f"no category of the group '{name}' has a ground-truth or predicted segment, so its PQ is "
                    "undefined (panopticapi raises ZeroDivisionError here)")
            out[name] = {"pq": g.pq, "sq": g.sq, "rq": g.rq, "n": g.n}
            if name == "All":  # panopticapi's key order: All, per_class, Things, Stuff
                out["per_class"] = {c.category_id: class_scores(c.iou, c.tp, c.fp, c.fn) for c in self.classes}
        return out

    def table(self) -> str:
        """The summary table panopticapi prints."""
        lines = ["{:10s}| {:>5s}  {:>5s}  {:>5s} {:>5s}".format("", "PQ", "SQ", "RQ", "N"), "-" * (10 + 7 * 4)]
        for name, _ in GROUPS:
            g = self.groups[name]
            lines.append("{:10s}| {:5.1f}  {:5.1f}  {:5.1f} {:5d}".format(
                name, 100 * g.pq, 100 * g.sq, 100 * g.rq, g.n))
        return "\n".join(lines)

    def class_table(self) -> str:
        """One line per present category (tp + fp + fn > 0): PQ, SQ, RQ (in %) and TP / FP / FN."""
        lines = ["{:>6s} {:24s} {:5s} {:>6s} {:>6s} {:>6s} {:>7s} {:>7s} {:>7s}".format(
            "id", "name", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN")]
        for c in (c for c in self.classes if c.present):
            lines.append("{:>6} {:24.24s} {:5s} {:6.1f} {:6.1f} {:6.1f} {:7d} {:7d} {:7d}".format(
                str(c.category_id), c.name, "thing" if c.isthing else "stuff", 100 * c.pq, 100 * c.sq,
                100 * c.rq, c.tp, c.fp, c.fn))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _average(pq: float, sq: float, rq: float, n: int) -> GroupResult:
    """A group's means from its sums over n present categories; NaN when n is 0."""
    if n == 0:
        return GroupResult(math.nan, math.nan, math.nan, 0)
    return GroupResult(pq / n, sq / n, rq / n, n)
