"""The match data of an evaluation, flat over images: the GT regions of the 8 classes (instances
and groups) with their pixel counts and distances, the non-empty predictions of those classes with
their pixel counts and void pixels, and every (prediction, GT region of its class) pair that
overlaps. This is all cityscapesscripts' evaluateMatches reads, so it is the state that merges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .counting import ImageCounts
from .labels import INSTANCE_LABEL_IDS, VOID_VALUES

#: A GT instance's (median distance [m], stereo density) when none is given: the reference's defaults.
NO_DISTANCE = (-1.0, 0.0)

_COLUMNS = {
    "gt_value": "int64", "gt_label": "int64", "gt_pixels": "int64", "gt_dist": "float64", "gt_conf": "float64",
    "gt_image": "int64", "pred_label": "int64", "pred_score": "float64", "pred_pixels": "int64",
    "pred_void": "int64", "pred_image": "int64", "pair_pred": "int64", "pair_gt": "int64", "pair_inter": "int64",
}


@dataclass
class MatchData:
    """Flat match data; ``images`` names the images, the ``*_image`` columns index it and the pair
    columns index the GT and prediction rows."""

    images: List[str] = field(default_factory=list)
    columns: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np
        for name, dtype in _COLUMNS.items():
            self.columns[name] = np.asarray(self.columns.get(name, np.zeros(0, dtype)), dtype=dtype)

    def __getattr__(self, name: str) -> Any:
        columns = self.__dict__.get("columns", {})
        if name in columns:
            return columns[name]
        raise AttributeError(name)

    def __len__(self) -> int:
        return len(self.images)


def value_labels(values: Any) -> Any:
    """The label id of each instanceIds value (the value below 1000, else value // 1000)."""
    import numpy as np
    values = np.asarray(values, dtype=np.int64)
    return np.where(values < 1000, values, values // 1000)


def _table(ids: Sequence[int], size: int) -> Any:
    import numpy as np
    t = np.zeros(size, bool)
    t[[i for i in ids if 0 <= i < size]] = True
    return t


def from_counts(img: ImageCounts, distances: Optional[Mapping[int, Tuple[float, float]]] = None) -> MatchData:
    """One image's match data from its counts; ``distances`` maps GT values to (medDist, distConf)."""
    import numpy as np
    ids = np.asarray(img.ids, dtype=np.int64)
    labels_of = value_labels(ids)
    top = int(labels_of.max(initial=0)) + 1
    gt_cols = np.flatnonzero(_table(INSTANCE_LABEL_IDS, top)[labels_of])
    void_cols = np.flatnonzero(np.where(ids < 1000, _table(VOID_VALUES, 1000)[np.minimum(ids, 999)], False))
    overlap = img.overlap
    rows = np.flatnonzero((overlap.sum(axis=1) > 0) & _table(INSTANCE_LABEL_IDS, 1000)[np.clip(img.labels, 0, 999)])
    full = overlap[rows]
    sub = full[:, gt_cols]
    pp, pg = np.nonzero((sub > 0) & (labels_of[gt_cols][None, :] == img.labels[rows][:, None]))
    if distances:
        dist = [distances.get(int(v), NO_DISTANCE) for v in ids[gt_cols].tolist()]
        dist_arr = np.array(dist, dtype=np.float64).reshape(-1, 2)
    else:
        dist_arr = np.tile(np.array(NO_DISTANCE), (gt_cols.size, 1))
    return MatchData([img.name], {
        "gt_value": ids[gt_cols], "gt_label": labels_of[gt_cols], "gt_pixels": img.gt_pixels[gt_cols],
        "gt_dist": dist_arr[:, 0], "gt_conf": dist_arr[:, 1], "gt_image": np.zeros(gt_cols.size),
        "pred_label": img.labels[rows], "pred_score": img.scores[rows],
        "pred_pixels": full.sum(axis=1), "pred_void": full[:, void_cols].sum(axis=1),
        "pred_image": np.zeros(rows.size), "pair_pred": pp, "pair_gt": pg, "pair_inter": sub[pp, pg],
    })


def concat(parts: Sequence[MatchData]) -> MatchData:
    """The match data of several parts one after the other (image, GT and prediction indices shifted)."""
    import numpy as np
    from ..errors import InvalidOptionError
    images: List[str] = []
    seen = set()
    for p in parts:
        for name in p.images:
            if name in seen:
                raise InvalidOptionError(f"image {name} is in the evaluation twice")
            seen.add(name)
        images += p.images
    shifts = {"gt_image": "images", "pred_image": "images", "pair_pred": "pred_label", "pair_gt": "gt_label"}
    out: Dict[str, List[Any]] = {name: [] for name in _COLUMNS}
    offset = {"images": 0, "pred_label": 0, "gt_label": 0}
    for p in parts:
        for name in _COLUMNS:
            col = p.columns[name]
            out[name].append(col + offset[shifts[name]] if name in shifts else col)
        offset["images"] += len(p.images)
        offset["pred_label"] += p.columns["pred_label"].size
        offset["gt_label"] += p.columns["gt_label"].size
    return MatchData(images, {name: (np.concatenate(cols) if cols else np.zeros(0, _COLUMNS[name]))
                              for name, cols in out.items()})
