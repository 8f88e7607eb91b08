"""Reading COCO panoptic JSON files into the flat segment tables the C++ engine takes.

The tables reproduce panopticapi's dictionaries exactly: images are matched by ``image_id``
(the last prediction of an id wins), segments are keyed by ``id`` (the last entry of an id wins,
at the position of its first), ground-truth areas come from the JSON.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ..errors import (AnnotationError, AnnotationKeyError, AnnotationTypeError, MissingPredictionError,
                      StrictModeError)
# JSON reading and the folder rules live in json_files; their names stay importable from here.
from .json_files import MAX_JSON_DEPTH, default_folder, gc_paused, load_json, parse_json, read_json, require_folder
from .limits import DEFAULT_MAX_SEGMENTS_PER_IMAGE, check_count
from .remote import is_url, join as join_url

_parse_json = parse_json

INT64_MAX = 2**63 - 1


def _list_of(data: Mapping[str, Any], key: str, where: str) -> List[Any]:
    try:
        value = data[key]
    except KeyError:
        raise AnnotationKeyError(f"{where} has no '{key}' list") from None
    if not isinstance(value, list):
        raise AnnotationTypeError(f"'{key}' in {where} is not a list")
    return value


@dataclass
class Categories:
    """The evaluation's categories, in GT JSON order (panopticapi's dict order)."""

    ids: List[Any]
    info: Dict[Any, Dict[str, Any]]
    index: Dict[Any, int]

    @classmethod
    def from_json(cls, gt_json: Mapping[str, Any], where: str = "the ground-truth JSON") -> "Categories":
        info: Dict[Any, Dict[str, Any]] = {}
        for el in _list_of(gt_json, "categories", where):
            if not isinstance(el, dict):
                raise AnnotationTypeError(f"a category in {where} is not an object")
            for key in ("id", "isthing"):
                if key not in el:
                    raise AnnotationKeyError(f"a category in {where} has no '{key}': {el!r}")
            try:
                info[el["id"]] = el
            except TypeError:
                raise AnnotationTypeError(f"category id {el['id']!r} in {where} is not a number") from None
        ids = list(info)
        return cls(ids=ids, info=info, index={c: i for i, c in enumerate(ids)})

    def isthing(self, category_id: Any) -> bool:
        return self.info[category_id].get("isthing") == 1

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class SegmentTables:
    """Concatenated per-image segment tables; image i owns rows offsets[i]:offsets[i+1]."""

    gt_files: List[str]
    pred_files: List[str]
    image_ids: List[Any]
    gt_offsets: List[int]
    gt_ids: List[int]
    gt_categories: List[int]
    gt_iscrowd: List[int]
    gt_areas: List[float]
    pred_offsets: List[int]
    pred_ids: List[int]
    pred_categories: List[int]
    pred_annotations: List[Mapping[str, Any]]

    def __len__(self) -> int:
        return len(self.image_ids)

    def chunk(self, start: int, stop: int) -> "SegmentTables":
        """The tables of images start:stop, with offsets rebased to zero."""
        g0, g1 = self.gt_offsets[start], self.gt_offsets[stop]
        p0, p1 = self.pred_offsets[start], self.pred_offsets[stop]
        return SegmentTables(
            self.gt_files[start:stop], self.pred_files[start:stop], self.image_ids[start:stop],
            [o - g0 for o in self.gt_offsets[start:stop + 1]], self.gt_ids[g0:g1], self.gt_categories[g0:g1],
            self.gt_iscrowd[g0:g1], self.gt_areas[g0:g1],
            [o - p0 for o in self.pred_offsets[start:stop + 1]], self.pred_ids[p0:p1], self.pred_categories[p0:p1],
            self.pred_annotations[start:stop])


def _segment_id(value: Any, image_id: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -INT64_MAX <= value <= INT64_MAX:
        raise AnnotationTypeError(f"In the image with ID {image_id} a {where} segment has id {value!r}, "
                              "which is not a 64-bit integer", image_id=image_id)
    return int(value)


def _segments_of(ann: Mapping[str, Any], image_id: Any, where: str) -> Dict[Any, Mapping[str, Any]]:
    segments = ann.get("segments_info")
    if not isinstance(segments, list):
        raise AnnotationTypeError(f"In the image with ID {image_id} the {where} 'segments_info' is not a list",
                              image_id=image_id)
    table: Dict[Any, Mapping[str, Any]] = {}
    for el in segments:
        if not isinstance(el, dict):
            raise AnnotationTypeError(f"In the image with ID {image_id} a {where} segment is not an object",
                                      image_id=image_id)
        if "id" not in el:
            raise AnnotationKeyError(f"In the image with ID {image_id} a {where} segment has no 'id'",
                                     image_id=image_id)
        table[_segment_id(el["id"], image_id, where)] = el
    return table


def _field(el: Mapping[str, Any], key: str, image_id: Any, segment_id: int, where: str) -> Any:
    try:
        return el[key]
    except KeyError:
        raise AnnotationKeyError(f"In the image with ID {image_id} {where} segment with ID {segment_id} has no "
                              f"'{key}'", image_id=image_id, segment_id=segment_id) from None


def _number(value: Any, key: str, image_id: Any, segment_id: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnnotationTypeError(f"In the image with ID {image_id} ground-truth segment with ID {segment_id} has "
                              f"{key} {value!r}, which is not a number", image_id=image_id, segment_id=segment_id)
    return float(value)


def build_tables(gt_json: Mapping[str, Any], pred_json: Mapping[str, Any], gt_folder: str, pred_folder: str,
                 categories: Categories, *, strict: bool = False,
                 max_segments_per_image: int = DEFAULT_MAX_SEGMENTS_PER_IMAGE) -> SegmentTables:
    """Pairs GT and prediction annotations by image id and flattens their segments.

    With `strict`, what panopticapi silently accepts is refused (see :func:`check_strict`)."""
    gt_annotations = _list_of(gt_json, "annotations", "the ground-truth JSON")
    pred_annotations = _list_of(pred_json, "annotations", "the prediction JSON")
    pred_by_image: Dict[Any, Mapping[str, Any]] = {}
    for el in pred_annotations:
        if not isinstance(el, dict) or "image_id" not in el:
            raise AnnotationKeyError("a prediction annotation has no 'image_id'")
        pred_by_image[_hashable(el["image_id"], "a prediction annotation's image_id")] = el
    if strict:
        check_strict(gt_annotations, pred_annotations, categories)

    builder = TableBuilder(categories, max_segments_per_image)
    join_gt, join_pred = folder_joiner(gt_folder), folder_joiner(pred_folder)
    with gc_paused():
        for gt_ann in gt_annotations:
            if not isinstance(gt_ann, dict) or "image_id" not in gt_ann:
                raise AnnotationKeyError("a ground-truth annotation has no 'image_id'")
            image_id = _hashable(gt_ann["image_id"], "a ground-truth annotation's image_id")
            pred_ann = pred_by_image.get(image_id)
            if pred_ann is None:
                raise MissingPredictionError(f"no prediction for the image with id: {image_id}", image_id=image_id)
            builder.add(image_id, join_gt(_file_name(gt_ann, image_id, "ground-truth")),
                        join_pred(_file_name(pred_ann, image_id, "prediction")), gt_ann, pred_ann)
        return builder.build()


def folder_joiner(folder: str) -> Callable[[str], str]:
    """``os.path.join(folder, name)`` (``join_url`` for a URL folder) as a function of the name, for
    many names: on POSIX, the folder's prefix is made once."""
    if is_url(folder):
        return lambda name: join_url(folder, name)
    if os.path is not posixpath:
        return lambda name: os.path.join(folder, name)
    prefix = folder if not folder or folder.endswith("/") else folder + "/"
    return lambda name: name if name.startswith("/") else prefix + name


#: Ids a panoptic PNG can hold besides void: R + 256 G + 65536 B, from 1 to 2^24 - 1.
MAX_PNG_SEGMENT_ID = (1 << 24) - 1


def leaves_its_folder(name: str) -> bool:
    """Whether a file name joined to a folder can point outside it: absolute (either slash), a
    drive letter, a '..' component (either slash) or a NUL byte."""
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":")
            or ".." in parts or "\0" in name)


def check_strict(gt_annotations: Sequence[Any], pred_annotations: Sequence[Any], categories: Categories) -> None:
    """Refuses, with a :class:`StrictModeError` naming the image (and segment), what panopticapi
    accepts without a word but what no correct submission holds:

    - a ground truth with no categories, or whose segments name a category it does not list;
    - two ground-truth or two prediction annotations for one image id (panopticapi keeps the last
      prediction) and predictions for images the ground truth lacks (panopticapi ignores them);
    - a segment id listed twice in one image (panopticapi keeps the last), or outside 1..2^24-1,
      the ids a PNG can hold;
    - a ``file_name`` with a backslash, or one that can lead out of its folder
      (:func:`leaves_its_folder`).
    """
    if not len(categories):
        raise StrictModeError("the ground-truth JSON lists no categories")
    gt_ids: Dict[Any, None] = {}
    for ann in gt_annotations:
        if isinstance(ann, dict) and "image_id" in ann:
            image_id = _hashable(ann["image_id"], "a ground-truth annotation's image_id")
            if image_id in gt_ids:
                raise StrictModeError(f"the ground truth has two annotations for the image with ID {image_id}",
                                      image_id=image_id)
            gt_ids[image_id] = None
            _check_strict_annotation(ann, image_id, "ground-truth", categories)
    seen: Dict[Any, None] = {}
    for ann in pred_annotations:
        image_id = ann["image_id"]
        if image_id in seen:
            raise StrictModeError(f"the prediction has two annotations for the image with ID {image_id}",
                                  image_id=image_id)
        seen[image_id] = None
        if image_id not in gt_ids:
            raise StrictModeError(f"the prediction has an annotation for the image with ID {image_id}, which the "
                                  "ground truth does not have", image_id=image_id)
        _check_strict_annotation(ann, image_id, "prediction", None)


def _check_strict_annotation(ann: Mapping[str, Any], image_id: Any, where: str,
                             categories: Optional[Categories]) -> None:
    name = ann.get("file_name")
    if isinstance(name, str) and ("\\" in name or leaves_its_folder(name)):
        raise StrictModeError(f"In the image with ID {image_id} the {where} file_name {name!r} is not a plain "
                              "relative path inside its folder", image_id=image_id, file=name)
    segments = ann.get("segments_info")
    if not isinstance(segments, list):
        return  # the table builder names this error in both modes
    ids: Dict[Any, None] = {}
    for el in segments:
        if not isinstance(el, dict) or "id" not in el:
            continue
        sid = _segment_id(el["id"], image_id, where)
        if sid in ids:
            raise StrictModeError(f"In the image with ID {image_id} the {where} segment ID {sid} is listed twice",
                                  image_id=image_id, segment_id=sid)
        ids[sid] = None
        if not 1 <= sid <= MAX_PNG_SEGMENT_ID:
            raise StrictModeError(f"In the image with ID {image_id} the {where} segment ID {sid} is outside "
                                  f"1..{MAX_PNG_SEGMENT_ID}, the ids a panoptic PNG can hold",
                                  image_id=image_id, segment_id=sid)
        if categories is not None and _category_index(categories.index, el.get("category_id"), image_id, sid,
                                                      where) < 0:
            raise StrictModeError(f"In the image with ID {image_id} the {where} segment with ID {sid} has "
                                  f"category_id {el.get('category_id')!r}, which the categories do not list",
                                  image_id=image_id, segment_id=sid)


class TableBuilder:
    """Accumulates images' segment tables, image by image, with panopticapi's dict semantics."""

    def __init__(self, categories: Categories, max_segments_per_image: int = DEFAULT_MAX_SEGMENTS_PER_IMAGE) -> None:
        self.cat_index = categories.index
        self.max_segments = max_segments_per_image
        self.gt_files: List[str] = []
        self.pred_files: List[str] = []
        self.image_ids: List[Any] = []
        self.pred_annotations: List[Mapping[str, Any]] = []
        self.gt_offsets = [0]
        self.pred_offsets = [0]
        self.gt_ids: List[int] = []
        self.gt_cats: List[int] = []
        self.gt_crowd: List[int] = []
        self.gt_areas: List[float] = []
        self.pred_ids: List[int] = []
        self.pred_cats: List[int] = []

    def add(self, image_id: Any, gt_file: str, pred_file: str, gt_ann: Mapping[str, Any],
            pred_ann: Mapping[str, Any]) -> None:
        """Adds one image; `gt_file` / `pred_file` name its maps in messages."""
        for ann, where in ((gt_ann, "ground-truth"), (pred_ann, "prediction")):
            segments = ann.get("segments_info")
            if isinstance(segments, list):
                check_count(len(segments), self.max_segments, f"{where} segments_info", image_id,
                            "max_segments_per_image")
        self.gt_files.append(gt_file)
        self.pred_files.append(pred_file)
        self.image_ids.append(image_id)
        self.pred_annotations.append(pred_ann)
        columns = (self.gt_ids, self.gt_cats, self.gt_crowd, self.gt_areas, self.pred_ids, self.pred_cats)
        try:
            _append_segments_fast(gt_ann, pred_ann, self.cat_index, *columns)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            for column, start in zip(columns, [self.gt_offsets[-1]] * 4 + [self.pred_offsets[-1]] * 2):
                del column[start:]
            _append_segments_checked(gt_ann, pred_ann, image_id, self.cat_index, *columns)
        self.gt_offsets.append(len(self.gt_ids))
        self.pred_offsets.append(len(self.pred_ids))

    def build(self) -> SegmentTables:
        return SegmentTables(self.gt_files, self.pred_files, self.image_ids, self.gt_offsets, self.gt_ids,
                             self.gt_cats, self.gt_crowd, self.gt_areas, self.pred_offsets, self.pred_ids,
                             self.pred_cats, self.pred_annotations)


def _append_segments_fast(gt_ann: Mapping[str, Any], pred_ann: Mapping[str, Any], cat_index: Mapping[Any, int],
                          gt_ids: List[int], gt_cats: List[int], gt_crowd: List[int], gt_areas: List[float],
                          pred_ids: List[int], pred_cats: List[int]) -> None:
    """Flattens one image's segments assuming well-formed input; raises a built-in error otherwise."""
    for sid, el in {el["id"]: el for el in gt_ann["segments_info"]}.items():
        area = el["area"]
        if type(sid) is not int or not -INT64_MAX <= sid <= INT64_MAX or type(area) not in (int, float):
            raise TypeError  # let the checked path say what is wrong
        gt_ids.append(sid)
        gt_cats.append(cat_index.get(el["category_id"], -1))
        gt_crowd.append(1 if el["iscrowd"] == 1 else 0)
        gt_areas.append(float(area))
    for sid, el in {el["id"]: el for el in pred_ann["segments_info"]}.items():
        if type(sid) is not int or not -INT64_MAX <= sid <= INT64_MAX:
            raise TypeError
        pred_ids.append(sid)
        pred_cats.append(cat_index.get(el["category_id"], -1))


def _append_segments_checked(gt_ann: Mapping[str, Any], pred_ann: Mapping[str, Any], image_id: Any,
                             cat_index: Mapping[Any, int], gt_ids: List[int], gt_cats: List[int],
                             gt_crowd: List[int], gt_areas: List[float], pred_ids: List[int],
                             pred_cats: List[int]) -> None:
    """Flattens one image's segments, raising an error that names the image and segment."""
    for sid, el in _segments_of(gt_ann, image_id, "ground-truth").items():
        gt_ids.append(sid)
        gt_cats.append(_category_index(cat_index, _field(el, "category_id", image_id, sid, "ground-truth"),
                                       image_id, sid, "ground-truth"))
        gt_crowd.append(1 if _field(el, "iscrowd", image_id, sid, "ground-truth") == 1 else 0)
        gt_areas.append(_number(_field(el, "area", image_id, sid, "ground-truth"), "area", image_id, sid))
    for sid, el in _segments_of(pred_ann, image_id, "prediction").items():
        pred_ids.append(sid)
        pred_cats.append(_category_index(cat_index, _field(el, "category_id", image_id, sid, "prediction"),
                                         image_id, sid, "prediction"))


def _hashable(value: Any, what: str) -> Any:
    """Returns `value` if it can key a dict (as panopticapi uses ids), else raises a clear error."""
    try:
        hash(value)
    except TypeError:
        raise AnnotationTypeError(f"{what} is {value!r}, which cannot be an id") from None
    return value


def _category_index(cat_index: Mapping[Any, int], category_id: Any, image_id: Any, segment_id: int,
                    where: str) -> int:
    try:
        return cat_index.get(category_id, -1)
    except TypeError:
        raise AnnotationTypeError(f"In the image with ID {image_id} {where} segment with ID {segment_id} has "
                                  f"category_id {category_id!r}, which cannot be a category id",
                                  image_id=image_id, segment_id=segment_id) from None


def _file_name(ann: Mapping[str, Any], image_id: Any, where: str) -> str:
    name = ann.get("file_name")
    if not isinstance(name, str):
        raise AnnotationKeyError(f"In the image with ID {image_id} the {where} annotation has no 'file_name' string",
                              image_id=image_id)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON) names no file
        raise AnnotationError(f"In the image with ID {image_id} the {where} file_name {name!r} is not valid Unicode "
                              "(it holds a lone surrogate)", image_id=image_id) from None
    return name


def missing_ids_in_panopticapi_order(pred_ann: Mapping[str, Any], missing: Sequence[int]) -> List[Any]:
    """The ids panopticapi lists as 'presented in JSON and not presented in PNG', in its set order."""
    remaining = set(el["id"] for el in pred_ann["segments_info"])
    missing_set = set(missing)
    return [i for i in remaining if i in missing_set]


def category_of(pred_ann: Mapping[str, Any], segment_id: int) -> Optional[Any]:
    """The category_id panopticapi reports for a prediction segment (the last entry of that id)."""
    found = None
    for el in pred_ann["segments_info"]:
        if el["id"] == segment_id:
            found = el.get("category_id")
    return found
