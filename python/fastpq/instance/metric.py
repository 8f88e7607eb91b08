"""InstanceAP: Cityscapes instance AP accumulated image by image, for training loops and
torch.distributed. Its state is each image's match data (GT regions, predictions with their
scores, overlaps): the AP needs every prediction's score, so states are lists, not sums. States
merge (``merge``, ``+``) and pickle, so per-process states can be gathered and joined."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ..errors import InvalidOptionError
from .counting import count_entries
from .evaluation import InstanceResult, result_of
from .matches import MatchData, concat, from_counts


class InstanceAP:
    """``update`` per image, ``compute`` at the end: equal to :func:`fastpq.instance.evaluate` on
    the same images (cityscapesscripts 2.3.0's AP and AP50).

    ``distances=True`` adds the 100 m and 50 m rows; each ``update`` then takes the image's GT
    distances (see :func:`fastpq.instance.distances_from_disparity`).
    """

    def __init__(self, distances: bool = False) -> None:
        self.distances = bool(distances)
        self._parts: List[MatchData] = []
        self._names: set = set()

    def update(self, image_id: str, gt: Any, predictions: Sequence[Tuple[Any, int, float]],
               distances: Optional[Mapping[int, Tuple[float, float]]] = None) -> None:
        """Counts one image: ``gt`` its instanceIds array (H x W integers), ``predictions`` its
        (mask, Cityscapes label id, score) entries, a mask being an H x W array or a COCO RLE dict;
        ``distances`` its GT instance ids -> (median distance in m, stereo density)."""
        import numpy as np
        name = str(image_id)
        if name in self._names:
            raise InvalidOptionError(f"image {name} was already added to this InstanceAP")
        if distances is not None and not self.distances:
            raise InvalidOptionError("distances given to an InstanceAP made without distances=True")
        gt = np.asarray(gt)
        if gt.ndim != 2 or gt.dtype.kind not in "iu":
            raise InvalidOptionError(f"image {name}: the ground truth must be a 2-D integer array, "
                                     f"not {gt.dtype} of shape {gt.shape}")
        counts = count_entries(name, gt, f"image {name}", list(predictions))
        self._parts.append(from_counts(counts, distances if self.distances else None))
        self._names.add(name)

    def compute(self) -> InstanceResult:
        """The result over every image added so far (NaN AP for classes without GT, as the reference)."""
        return result_of(concat(self._parts), self.distances)

    def merge(self, other: "InstanceAP") -> "InstanceAP":
        """Adds ``other``'s images to this one (an image in both is an error); returns self."""
        if not isinstance(other, InstanceAP):
            raise InvalidOptionError(f"cannot merge an InstanceAP with {type(other).__name__}")
        if other.distances != self.distances:
            raise InvalidOptionError("cannot merge InstanceAPs made with and without distances")
        twice = self._names & other._names
        if twice:
            raise InvalidOptionError(f"images in both InstanceAPs: {sorted(twice)[:5]}")
        self._parts += other._parts
        self._names |= other._names
        return self

    def __add__(self, other: "InstanceAP") -> "InstanceAP":
        out = InstanceAP(self.distances)
        return out.merge(self).merge(other)

    def reset(self) -> None:
        """Forgets every image."""
        self._parts, self._names = [], set()

    def __len__(self) -> int:
        return len(self._parts)

    def __getstate__(self) -> dict:
        return {"distances": self.distances, "parts": self._parts}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.distances = bool(state["distances"])
        self._parts = list(state["parts"])
        self._names = {n for p in self._parts for n in p.images}
