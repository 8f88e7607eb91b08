"""What the format converters share: the 2-channel constants, reading a panoptic JSON with its folder,
and checking a PNG's ids against the segments its JSON lists."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from ..io.dataset import _segment_id, default_folder, read_json
from ..io.panoptic_files import Categories
from ..errors import AnnotationError, AnnotationKeyError, AnnotationTypeError, ConversionError, MissingFolderError

#: panopticapi's 2-channel offset: a pixel's label is OFFSET * category + instance.
OFFSET = 1000
#: The instance value marking crowd regions of thing categories in COCO's 2-channel PNGs.
CROWD_INSTANCE = 255
#: panoptic2semantic_segmentation.py's category for all things with ``things_other``.
OTHER_CLASS_ID = 183


def _panoptic(panoptic_json: str, panoptic_folder: Optional[str]) -> Tuple[Dict[str, Any], List[Dict[str, Any]], str]:
    data = read_json(panoptic_json, "panoptic")
    if not isinstance(data, Mapping) or not isinstance(data.get("annotations"), list):
        raise AnnotationKeyError(f"panoptic JSON file '{panoptic_json}' has no 'annotations' list", file=panoptic_json)
    folder = panoptic_folder if panoptic_folder is not None else default_folder(panoptic_json)
    if not os.path.isdir(folder):
        raise MissingFolderError(f"panoptic PNG folder '{folder}' does not exist", file=folder)
    for ann in data["annotations"]:
        for key in ("image_id", "file_name", "segments_info"):
            if not isinstance(ann, Mapping) or key not in ann:
                raise AnnotationKeyError(f"a panoptic annotation has no '{key}'", file=panoptic_json)
        _segment_ids(ann, panoptic_json)  # every id is checked before any output is written
    return dict(data), data["annotations"], folder


def _segment_ids(ann: Mapping[str, Any], json_file: str) -> List[int]:
    """The ids of an annotation's ``segments_info``, in order, each checked to be an integer as the
    evaluation checks it (a string "7" would otherwise match no pixel); errors name the image and file."""
    image_id = ann["image_id"]
    segments = ann["segments_info"]
    if not isinstance(segments, list):
        raise AnnotationTypeError(f"image {image_id!r}: 'segments_info' in '{json_file}' is not a list",
                                  image_id=image_id, file=json_file)
    ids = []
    for k, s in enumerate(segments):
        if not isinstance(s, Mapping):
            raise AnnotationTypeError(f"image {image_id!r}: segment {k} of the segments_info in '{json_file}' is not "
                                      "an object", image_id=image_id, file=json_file)
        if "id" not in s:
            raise AnnotationKeyError(f"image {image_id!r}: segment {k} of the segments_info in '{json_file}' has no "
                                     "'id'", image_id=image_id, file=json_file)
        try:
            ids.append(_segment_id(s["id"], image_id, "panoptic"))
        except AnnotationTypeError as e:
            raise AnnotationTypeError(f"{e} (segment {k} in '{json_file}')", image_id=image_id,
                                      file=json_file) from None
    return ids


def _segment_lookup(ids: np.ndarray, segment_ids: Sequence[int], ann: Mapping[str, Any],
                    path: str, unlisted_as_void: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """(index map, segment ids): index map holds each pixel's position in ``segment_ids`` plus one, 0 for void.

    ``segment_ids`` are the checked ids of the annotation's segments (:func:`_segment_ids`).
    Raises when the JSON lists an id the PNG lacks, and when the PNG has an id the JSON does not
    list unless ``unlisted_as_void`` (panopticapi's converters treat such pixels as void; the
    ``unlisted_as_void`` option of each converter does the same).
    """
    seg_ids = np.array(segment_ids, dtype=np.int64)
    if len(set(seg_ids.tolist())) != len(seg_ids):
        raise AnnotationError(f"image {ann['image_id']!r}: segments_info lists an id twice", image_id=ann["image_id"],
                              file=path)
    uniq, inverse = np.unique(ids, return_inverse=True)
    if len(seg_ids) == 0:
        seg_ids = np.array([-1], dtype=np.int64)  # matches nothing; every non-zero id is then missing
    order = np.argsort(seg_ids)
    pos = np.searchsorted(seg_ids[order], uniq)
    pos = np.minimum(pos, max(len(seg_ids) - 1, 0))
    found = seg_ids[order][pos] == uniq
    missing = [int(u) for u, f in zip(uniq, found) if not f and u != 0]
    if missing and not unlisted_as_void:
        raise ConversionError(f"image {ann['image_id']!r}: PNG '{path}' has segment ids {missing[:5]} that its JSON "
                              "does not list", image_id=ann["image_id"], file=path, segment_id=missing[0])
    present = set(uniq.tolist())
    absent = [s for s in segment_ids if s not in present]
    if absent:
        raise ConversionError(f"image {ann['image_id']!r}: segments {absent[:5]} of the JSON have no pixels in PNG "
                              f"'{path}'", image_id=ann["image_id"], file=path, segment_id=absent[0])
    index_of_uniq = np.where(found & (uniq != 0), order[pos] + 1, 0)
    return index_of_uniq[inverse].reshape(ids.shape), seg_ids



def _category(segment: Mapping[str, Any], cats: Categories, ann: Mapping[str, Any], path: str) -> int:
    c = segment.get("category_id")
    if c not in cats.index:
        raise ConversionError(f"image {ann['image_id']!r}: segment {segment.get('id')} has unknown category {c!r}",
                              image_id=ann["image_id"], file=path, segment_id=segment.get("id"))
    return int(c)


def _stats(ids: np.ndarray) -> Dict[int, Tuple[int, List[int]]]:
    seg, areas, boxes = _core.segment_stats(ids)
    return {int(s): (int(a), [int(v) for v in b]) for s, a, b in zip(seg, areas, boxes)}


