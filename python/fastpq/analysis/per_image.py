"""Per-image panoptic statistics: the per-image, per-category sums every analysis starts from,
the scores of any multiset of images, and their rows as CSV."""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np

from ..errors import FastPQError, ImageSetMismatchError
from ..panoptic.evaluation import PathLike
from ..panoptic.results import GROUPS, PanopticResult

GROUP_NAMES: Tuple[str, ...] = tuple(name for name, _ in GROUPS)
METRICS: Tuple[str, ...] = ("pq", "sq", "rq")
#: Resamples whose sums are formed at once: bounds the multiplicity matrix (images x chunk) in memory.
RESAMPLE_CHUNK = 256

Scores = Dict[str, Dict[str, Any]]  # group -> metric -> value (float or array)

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


