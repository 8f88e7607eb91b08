"""The semantic scores of a panoptic evaluation (``fastpq.evaluate(..., semantic=True)``).

The panoptic pass counts, per image, the pixels of every (ground-truth category, predicted category)
pair off the joint segment histogram it matches segments with. Here those counts become a
:class:`SemanticResult` over the categories of the ground-truth JSON: ground-truth void (id 0, or a
PNG id the JSON does not list) is ignored; a void prediction on a labelled pixel is a miss (it counts
in the class's ground-truth pixels, in no class's predictions); crowd regions count as their
category. The scores are the plain options' (float64 ratios of the dataset totals, nan-means).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .compute import compute
from .results import SemanticResult
from .spec import REFUSE, Spec
from .state import SemanticState


def from_panoptic(result: Any) -> SemanticResult:
    """The :class:`SemanticResult` of a :class:`fastpq.PanopticResult` evaluated with ``semantic=True``."""
    counts = result.semantic_counts
    k = int(counts["n_categories"])
    names = [c.name for c in result.classes]
    ids = np.arange(k, dtype=np.int64)
    lut = np.full(1, REFUSE, dtype=np.int32)  # never used: the counts come from the panoptic pass
    spec = Spec(None, k + 1, k + 1, lut, lut, REFUSE, REFUSE, tuple(names), ids, ids,
                options={"source": "panoptic"})
    state = SemanticState(k + 1, k + 1)
    start = 0
    for part in counts["parts"]:
        offsets = np.asarray(part["image_offsets"], dtype=np.int64)
        rows = np.asarray(part["image_rows"], dtype=np.int64)
        cols = np.asarray(part["image_cols"], dtype=np.int64)
        n = np.asarray(part["image_counts"], dtype=np.int64)
        keep = rows < k  # ground-truth void is ignored
        image = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))[keep]
        kept_offsets = np.searchsorted(image, np.arange(len(offsets)), side="left")
        confusion = np.zeros((k + 1, k + 1), dtype=np.uint64)
        np.add.at(confusion, (rows[keep], cols[keep]), n[keep].astype(np.uint64))
        images = len(offsets) - 1
        state.add_core({"confusion": confusion, "pixels": int(n.sum()), "image_offsets": kept_offsets,
                        "image_rows": rows[keep], "image_cols": cols[keep], "image_counts": n[keep]},
                       counts["names"][start:start + images])
        start += images
    return compute(spec, state)
