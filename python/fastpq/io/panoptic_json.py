"""A ground-truth / prediction pair of COCO panoptic JSON texts read straight into segment tables by
the C++ reader (``_core.panoptic_json_tables``), without making a Python object per segment.

It takes plain files only (ASCII without escapes, integer ids, every image predicted, ...; see
csrc/panoptic/panoptic_json.hpp) and returns None for anything else, which then goes through
:func:`fastpq.io.dataset.build_tables`; for the files it takes, the tables are the ones
build_tables makes and the texts are valid JSON objects that Python's parsers read the same way.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union, overload

from .. import _core
from .dataset import Categories, SegmentTables, folder_joiner
from .json_files import parse_json


class JsonObjects(Sequence[Mapping[str, Any]]):
    """The JSON objects at given byte spans of a text, each parsed when first read: the tables'
    prediction annotations, which only error messages and analyses look at."""

    def __init__(self, raw: bytes, spans: Sequence[Tuple[int, int]]) -> None:
        self._raw = raw
        self._spans = list(spans)
        self._parsed: Dict[int, Mapping[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> "JsonObjects": ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Mapping[str, Any], "JsonObjects"]:
        if isinstance(index, slice):
            return JsonObjects(self._raw, self._spans[index])
        i = range(len(self._spans))[index]  # negative indexes, and IndexError
        if i not in self._parsed:
            begin, end = self._spans[i]
            self._parsed[i] = parse_json(self._raw[begin:end])
        return self._parsed[i]

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __reduce__(self) -> Tuple[Any, ...]:
        # Only this sequence's objects travel (a chunk sent to a worker), not the whole text.
        texts = [self._raw[b:e] for b, e in self._spans]
        return (_from_texts, (texts,))


def _from_texts(texts: List[bytes]) -> JsonObjects:
    spans, at = [], 0
    for t in texts:
        spans.append((at, at + len(t)))
        at += len(t)
    return JsonObjects(b"".join(texts), spans)


class FastTables:
    """What the C++ reader made of a pair of JSON texts; the folders join its file names later."""

    def __init__(self, out: Dict[str, Any], gt_raw: bytes, pred_raw: bytes) -> None:
        self._out = out
        self._gt_raw = gt_raw
        self._pred_raw = pred_raw

    def categories(self) -> Categories:
        begin, end = self._out["categories"]
        return Categories.from_json({"categories": parse_json(self._gt_raw[begin:end])})

    def tables(self, gt_folder: str, pred_folder: str) -> SegmentTables:
        o = self._out
        join_gt, join_pred = folder_joiner(gt_folder), folder_joiner(pred_folder)
        return SegmentTables([join_gt(n) for n in o["gt_names"]], [join_pred(n) for n in o["pred_names"]],
                             o["image_ids"], o["gt_offsets"], o["gt_ids"], o["gt_categories"], o["gt_iscrowd"],
                             o["gt_areas"], o["pred_offsets"], o["pred_ids"], o["pred_categories"],
                             JsonObjects(self._pred_raw, o["pred_objects"]))


def read_tables(gt_raw: bytes, pred_raw: bytes, max_segments_per_image: int) -> Optional[FastTables]:
    """The C++ reader's tables of two JSON texts, or None when either is not plain enough for it."""
    out = _core.panoptic_json_tables(gt_raw, pred_raw, min(max_segments_per_image, 2**62))
    return None if out is None else FastTables(out, gt_raw, pred_raw)
