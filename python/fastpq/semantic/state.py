"""The additive state of a semantic evaluation: what the C++ pass counted, image by image.

Every image contributes its nonzero confusion entries (row, column, pixels) and, with instance maps,
its (instance id, predicted column, pixels) counts. The totals, per-image rows, merges, pickles and
bootstrap resamples are all sums of these, so the state of two evaluations is the concatenation of
their images. The presets' reference arithmetic (float32 sums in image order, per-image epsilons)
reads the per-image entries.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _core

_I64 = np.int64


def _csr(offsets: Sequence[np.ndarray], *columns: Sequence[np.ndarray]) -> Tuple[np.ndarray, ...]:
    """Concatenates CSR chunks (offsets starting at 0 each) into one; one chunk is kept as it is."""
    if len(offsets) == 1:
        return (offsets[0],) + tuple(col[0] for col in columns)
    out_offsets = [np.zeros(1, dtype=_I64)]
    base = 0
    for chunk in offsets:
        out_offsets.append(np.asarray(chunk[1:], dtype=_I64) + base)
        base += int(chunk[-1])
    joined = tuple(np.concatenate(list(col)) if len(col) else np.zeros(0) for col in columns)
    return (np.concatenate(out_offsets),) + joined


class SemanticState:
    """Per-image confusion entries (and instance counts) of an evaluation, with their totals."""

    def __init__(self, n_rows: int, n_cols: int, instances: bool = False) -> None:
        self.n_rows, self.n_cols, self.instances = n_rows, n_cols, instances
        self.confusion = np.zeros((n_rows, n_cols), dtype=np.uint64)
        self.names: List[str] = []
        self.pixels = 0
        self._chunks: List[Tuple[np.ndarray, ...]] = []
        self._inst_chunks: List[Tuple[np.ndarray, ...]] = []
        self._joined: Optional[Tuple[np.ndarray, ...]] = None
        self._inst_joined: Optional[Tuple[np.ndarray, ...]] = None

    @property
    def n_images(self) -> int:
        return len(self.names)

    def add_core(self, out: Dict[str, Any], names: Sequence[str]) -> None:
        """Adds one ``_core.semantic_confusion`` result (run with ``per_image=True``)."""
        self.confusion += np.asarray(out["confusion"], dtype=np.uint64)
        self.pixels += int(out["pixels"])
        self.names.extend(names)
        self._chunks.append((np.asarray(out["image_offsets"], dtype=_I64), np.asarray(out["image_rows"], dtype=_I64),
                             np.asarray(out["image_cols"], dtype=_I64), np.asarray(out["image_counts"], dtype=_I64)))
        if self.instances:
            if "instance_offsets" in out:
                chunk = (np.asarray(out["instance_offsets"], dtype=_I64), np.asarray(out["instance_ids"], dtype=_I64),
                         np.asarray(out["instance_cols"], dtype=_I64),
                         np.asarray(out["instance_counts"], dtype=_I64))
            else:
                chunk = (np.zeros(len(names) + 1, dtype=_I64),) + tuple(np.zeros(0, dtype=_I64) for _ in range(3))
            self._inst_chunks.append(chunk)
        self._joined = self._inst_joined = None

    def merge(self, other: "SemanticState") -> "SemanticState":
        """Adds the images of ``other`` (of the same layout) after this state's own."""
        if (other.n_rows, other.n_cols, other.instances) != (self.n_rows, self.n_cols, self.instances):
            raise ValueError("cannot merge semantic states of different label layouts")
        self.confusion += other.confusion
        self.pixels += other.pixels
        self.names.extend(other.names)
        self._chunks.append(other.entries())
        if self.instances:
            self._inst_chunks.append(other.instance_entries())
        self._joined = self._inst_joined = None
        return self

    def entries(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(offsets (N+1), rows, cols, counts): every image's nonzero confusion entries."""
        if self._joined is None:
            if not self._chunks:
                self._joined = (np.zeros(1, dtype=_I64),) + tuple(np.zeros(0, dtype=_I64) for _ in range(3))
            else:
                self._joined = _csr([c[0] for c in self._chunks], *[[c[k] for c in self._chunks] for k in (1, 2, 3)])
                self._chunks = [self._joined]
        return self._joined  # type: ignore[return-value]

    def instance_entries(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(offsets (N+1), instance ids, cols, counts) of the instance pixels of every image."""
        if self._inst_joined is None:
            if not self._inst_chunks:
                self._inst_joined = (np.zeros(self.n_images + 1, dtype=_I64),) + tuple(
                    np.zeros(0, dtype=_I64) for _ in range(3))
            else:
                chunks = self._inst_chunks
                self._inst_joined = _csr([c[0] for c in chunks], *[[c[k] for c in chunks] for k in (1, 2, 3)])
                self._inst_chunks = [self._inst_joined]
        return self._inst_joined  # type: ignore[return-value]

    def image_index(self) -> np.ndarray:
        """The image of each confusion entry."""
        offsets = self.entries()[0]
        return np.repeat(np.arange(self.n_images, dtype=_I64), np.diff(offsets))

    def per_image_class_counts(self, class_rows: np.ndarray, class_cols: np.ndarray,
                               counted_rows: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tp, gt, pred), each (N, K) int64: per image and scored class k, the pixels of row
        ``class_rows[k]`` predicted as ``class_cols[k]``, all pixels of that row, and the pixels
        predicted as that column on the ``counted_rows`` (default: every row)."""
        offsets, rows, cols, counts = self.entries()
        k = len(class_rows)
        row_k = np.full(self.n_rows, k, dtype=_I64)  # k: not a scored class
        row_k[class_rows] = np.arange(k)
        col_k = np.full(self.n_cols + 1, k, dtype=_I64)
        col_k[class_cols] = np.arange(k)
        allowed = None
        if counted_rows is not None:
            allowed = np.zeros(self.n_rows, dtype=bool)
            allowed[counted_rows] = True
        return _core.per_image_class_counts(offsets, rows, cols, counts, row_k, col_k, k, allowed)

    def image_confusion(self, i: int) -> np.ndarray:
        """The (n_rows, n_cols) confusion matrix of image ``i``."""
        offsets, rows, cols, counts = self.entries()
        m = np.zeros((self.n_rows, self.n_cols), dtype=np.uint64)
        s = slice(int(offsets[i]), int(offsets[i + 1]))
        m[rows[s], cols[s]] = counts[s].astype(np.uint64)
        return m

    def __getstate__(self) -> Dict[str, Any]:
        entries = self.entries()
        state = {"n_rows": self.n_rows, "n_cols": self.n_cols, "instances": self.instances,
                 "confusion": self.confusion, "names": self.names, "pixels": self.pixels, "entries": entries}
        if self.instances:
            state["instance_entries"] = self.instance_entries()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["n_rows"], state["n_cols"], state["instances"])  # type: ignore[misc]
        self.confusion = state["confusion"]
        self.names = list(state["names"])
        self.pixels = state["pixels"]
        self._chunks = [tuple(state["entries"])]
        if self.instances:
            self._inst_chunks = [tuple(state["instance_entries"])]
