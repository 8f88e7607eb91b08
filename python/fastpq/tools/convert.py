"""Converters between COCO panoptic and other segmentation formats.

* ``two_channel_to_panoptic`` / ``panoptic_to_two_channel``: PNGs whose first channel is the
  category id and second the instance id (the panoptic paper's format; panopticapi's
  ``2channels2panoptic_coco_format.py`` reads them as ``1000 * category + instance``);
* ``panoptic_to_semantic``: one PNG of category ids per image, void pixels set to ``void``
  (panopticapi's ``panoptic2semantic_segmentation.py`` with PNG output);
* ``panoptic_to_detection`` / ``detection_to_panoptic``: one COCO detection annotation with an RLE
  mask per segment (panopticapi's ``panoptic2detection_coco_format.py`` and
  ``detection2panoptic_coco_format.py``);
* ``cityscapes_to_panoptic``: Cityscapes ``*_gtFine_instanceIds.png`` files to COCO panoptic, the
  same JSON and PNGs as cityscapesscripts' ``createPanopticImgs.py``.

New segment ids are chosen as in :mod:`fastpq.combine` (panopticapi's colour policy, made
deterministic). Where panopticapi silently writes something wrong, these functions raise a
:class:`fastpq.errors.FastPQError` naming the image and file: an id in a PNG that its JSON does not
list, overlapping detection masks, a value that does not fit the target format.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from ..io.dataset import _segment_id, default_folder, read_json
from ..io.panoptic_files import (Categories, ensure_folder, hashable_id, ids_to_rgb, images_of, load_categories,
                           output_png_name, read_id_png, read_label_png, read_rgb_png, run_parallel, sized_rle,
                           write_json, write_png)
from ..errors import AnnotationError, AnnotationKeyError, AnnotationTypeError, ConversionError, MissingFolderError
from ..io.limits import DEFAULT_MAX_PIXELS, check_image_size, check_positive

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


# ---------------------------------------------------------------------------
# 2-channel PNGs


def two_channel_to_panoptic(source_folder: str, images_json: str, output_json: str, *,
                            categories_json: Optional[str] = None, output_folder: Optional[str] = None,
                            void: int = 0, crowd_instance: Optional[int] = CROWD_INSTANCE,
                            workers: int = 0) -> Dict[str, Any]:
    """2-channel PNGs (category, instance) of the images in ``images_json`` to COCO panoptic.

    As panopticapi's converter: every distinct (category, instance) pair is a segment, in
    ascending order of ``1000 * category + instance``; pixels of category ``void`` are void. Two
    differences: all instances of a stuff category form one segment (panopticapi would give each
    the same id), and thing pixels with instance ``crowd_instance`` form a crowd segment
    (``iscrowd`` 1; None: no crowd, as panopticapi). Segments carry ``area`` and ``bbox``.
    Returns the JSON written: the images JSON with ``annotations``.
    """
    data = read_json(images_json, "images")
    images = images_of(data, images_json)
    cats = load_categories(categories_json if categories_json is not None else data)
    for img in images:
        output_png_name(img["file_name"], img["id"], images_json)
    folder = output_folder if output_folder is not None else os.path.splitext(output_json)[0]
    ensure_folder(folder)

    def convert(img: Mapping[str, Any]) -> Dict[str, Any]:
        name = output_png_name(img["file_name"], img["id"], images_json)
        path = os.path.join(source_folder, name)
        rgb = read_rgb_png(path, img["id"], "2-channel")
        category = rgb[..., 0].astype(np.int64)
        instance = rgb[..., 1].astype(np.int64)
        stuff_lut = np.zeros(256, bool)
        for c, thing in zip(cats.ids, cats.isthing):
            if c < 256 and not thing:
                stuff_lut[c] = True
        label = OFFSET * category + np.where(stuff_lut[category], 0, instance)
        uniq, inverse = np.unique(label, return_inverse=True)
        keep = [u for u in uniq.tolist() if u // OFFSET != void]
        for u in keep:
            if u // OFFSET not in cats.index:
                raise ConversionError(f"image {img['id']!r}: PNG '{path}' has category {u // OFFSET}, which is not in "
                                      "the category list", image_id=img["id"], file=path)
        seg_cats = [u // OFFSET for u in keep]
        new_ids = cats.segment_ids(seg_cats)
        lut = np.zeros(len(uniq), np.uint32)
        lut[[i for i, u in enumerate(uniq.tolist()) if u // OFFSET != void]] = new_ids
        ids = lut[inverse].reshape(label.shape)
        stats = _stats(ids)
        segments = []
        for sid, u, c in zip(new_ids, keep, seg_cats):
            crowd = int(crowd_instance is not None and bool(cats.isthing[cats.index[c]]) and u % OFFSET == crowd_instance)
            area, bbox = stats[sid]
            segments.append({"id": int(sid), "category_id": int(c), "iscrowd": crowd, "area": area, "bbox": bbox})
        write_png(os.path.join(folder, name), ids_to_rgb(ids))
        return {"image_id": img["id"], "file_name": name, "segments_info": segments}

    out = dict(data)
    out["annotations"] = run_parallel(convert, images, workers)
    if categories_json is not None:
        out["categories"] = cats.items
    write_json(output_json, out)
    return out


def _stats(ids: np.ndarray) -> Dict[int, Tuple[int, List[int]]]:
    seg, areas, boxes = _core.segment_stats(ids)
    return {int(s): (int(a), [int(v) for v in b]) for s, a, b in zip(seg, areas, boxes)}


def panoptic_to_two_channel(panoptic_json: str, output_folder: str, *, panoptic_folder: Optional[str] = None,
                            categories_json: Optional[str] = None, void: int = 0,
                            crowd_instance: Optional[int] = CROWD_INSTANCE, unlisted_as_void: bool = False, workers: int = 0) -> None:
    """COCO panoptic to 2-channel PNGs (R: category id, G: instance, B: 0), one per annotation.

    Thing segments are numbered 0, 1, ... per category in segments_info order, crowd ones get
    ``crowd_instance``; stuff segments get instance 0; void pixels are (``void``, 0). Categories
    and instances must fit in 8 bits, and two segments may not end up with the same pair.
    """
    data, annotations, folder = _panoptic(panoptic_json, panoptic_folder)
    cats = load_categories(categories_json if categories_json is not None else data, need_colors=False)
    for ann in annotations:
        output_png_name(ann["file_name"], ann["image_id"], panoptic_json)
    ensure_folder(output_folder)

    def convert(ann: Mapping[str, Any]) -> None:
        path = os.path.join(folder, ann["file_name"])
        ids = read_id_png(path, ann["image_id"])
        segments = ann["segments_info"]
        seg_ids = _segment_ids(ann, panoptic_json)
        index, _ = _segment_lookup(ids, seg_ids, ann, path, unlisted_as_void)
        pairs = np.zeros((len(segments) + 1, 2), np.int64)
        pairs[0] = (void, 0)
        counters: Dict[int, int] = {}
        seen: Dict[Tuple[int, int], int] = {}
        for k, (s, sid) in enumerate(zip(segments, seg_ids)):
            c = _category(s, cats, ann, path)
            if cats.isthing[cats.index[c]]:
                if s.get("iscrowd", 0) and crowd_instance is not None:
                    inst = crowd_instance
                else:
                    inst = counters.get(c, 0)
                    counters[c] = inst + 1
            else:
                inst = 0
            if not (0 <= c <= 255 and c != void and 0 <= inst <= 255 and (inst != crowd_instance or s.get("iscrowd", 0))):
                raise ConversionError(f"image {ann['image_id']!r}: segment {sid} (category {c}, instance {inst}) "
                                      "does not fit the 2-channel format", image_id=ann["image_id"], file=path,
                                      segment_id=sid)
            if (c, inst) in seen:
                raise ConversionError(f"image {ann['image_id']!r}: segments {seen[(c, inst)]} and {sid} would "
                                      f"both be (category {c}, instance {inst})", image_id=ann["image_id"], file=path,
                                      segment_id=sid)
            seen[(c, inst)] = sid
            pairs[k + 1] = (c, inst)
        rgb = np.zeros(ids.shape + (3,), np.uint8)
        rgb[..., :2] = pairs[index]
        name = output_png_name(ann["file_name"], ann["image_id"], panoptic_json)
        write_png(os.path.join(output_folder, name), rgb)

    run_parallel(convert, annotations, workers)


def _category(segment: Mapping[str, Any], cats: Categories, ann: Mapping[str, Any], path: str) -> int:
    c = segment.get("category_id")
    if c not in cats.index:
        raise ConversionError(f"image {ann['image_id']!r}: segment {segment.get('id')} has unknown category {c!r}",
                              image_id=ann["image_id"], file=path, segment_id=segment.get("id"))
    return int(c)


# ---------------------------------------------------------------------------
# Semantic PNGs


def panoptic_to_semantic(panoptic_json: str, output_folder: str, *, panoptic_folder: Optional[str] = None,
                         categories_json: Optional[str] = None, void: int = 0, things_other: bool = False,
                         unlisted_as_void: bool = False, workers: int = 0) -> None:
    """COCO panoptic to semantic PNGs: each pixel its segment's category id, void pixels ``void``.

    As panopticapi's ``panoptic2semantic_segmentation.py`` (PNG output, void 0 by default); with
    ``things_other`` every thing category becomes 183 ("other"). The PNGs are 8-bit grey when all
    values fit, 16-bit otherwise.
    """
    data, annotations, folder = _panoptic(panoptic_json, panoptic_folder)
    cats = load_categories(categories_json if categories_json is not None else data, need_colors=False)
    values = [OTHER_CLASS_ID if things_other and t else c for c, t in zip(cats.ids, cats.isthing)] + [void]
    if min(values) < 0 or max(values) > 65535:
        raise ConversionError("semantic PNGs hold values 0..65535: a category id or the void value is outside")
    dtype = np.uint8 if max(values) <= 255 else np.uint16
    for ann in annotations:
        output_png_name(ann["file_name"], ann["image_id"], panoptic_json)
    ensure_folder(output_folder)

    def convert(ann: Mapping[str, Any]) -> None:
        path = os.path.join(folder, ann["file_name"])
        ids = read_id_png(path, ann["image_id"])
        index, _ = _segment_lookup(ids, _segment_ids(ann, panoptic_json), ann, path, unlisted_as_void)
        lut = np.empty(len(ann["segments_info"]) + 1, dtype)
        lut[0] = void
        for k, s in enumerate(ann["segments_info"]):
            c = _category(s, cats, ann, path)
            lut[k + 1] = OTHER_CLASS_ID if things_other and cats.isthing[cats.index[c]] else c
        name = output_png_name(ann["file_name"], ann["image_id"], panoptic_json)
        write_png(os.path.join(output_folder, name), lut[index])

    run_parallel(convert, annotations, workers)


# ---------------------------------------------------------------------------
# Detection format


def panoptic_to_detection(panoptic_json: str, output_json: str, *, panoptic_folder: Optional[str] = None,
                          categories_json: Optional[str] = None, things_only: bool = False,
                          unlisted_as_void: bool = False, workers: int = 0) -> Dict[str, Any]:
    """COCO panoptic to COCO detection format: one annotation per segment with its RLE mask.

    As panopticapi's ``panoptic2detection_coco_format.py``: each annotation is the segment's
    entry without ``id``, plus ``image_id``, ``segmentation`` (compressed RLE, pycocotools'
    encoding) and ``id`` (0, 1, ... over the file); categories lose ``isthing`` and ``color``;
    ``things_only`` keeps thing segments and categories only. Returns the JSON written.
    """
    data, annotations, folder = _panoptic(panoptic_json, panoptic_folder)
    cats = load_categories(categories_json if categories_json is not None else data, need_colors=False)

    def convert(ann: Mapping[str, Any]) -> List[Dict[str, Any]]:
        path = os.path.join(folder, ann["file_name"])
        ids = read_id_png(path, ann["image_id"])
        seg_ids = _segment_ids(ann, panoptic_json)
        _segment_lookup(ids, seg_ids, ann, path, unlisted_as_void)
        h, w = ids.shape
        out = []
        for s, sid in zip(ann["segments_info"], seg_ids):
            c = _category(s, cats, ann, path)
            if things_only and not cats.isthing[cats.index[c]]:
                continue
            counts = _core.rle_to_string(_core.rle_encode((ids == sid).view(np.uint8)))
            entry = {k: v for k, v in s.items() if k != "id"}
            entry["image_id"] = ann["image_id"]
            entry["segmentation"] = {"size": [h, w], "counts": counts}
            out.append(entry)
        return out

    detections = [d for per_image in run_parallel(convert, annotations, workers) for d in per_image]
    for k, d in enumerate(detections):
        d["id"] = k
    categories = []
    for c in cats.items:
        if things_only and not c["isthing"]:
            continue
        categories.append({k: v for k, v in c.items() if k not in ("isthing", "color")})
    data["annotations"] = detections
    data["categories"] = categories
    write_json(output_json, data)
    return data


def detection_to_panoptic(detection_json: str, output_json: str, *, categories_json: Optional[str] = None,
                          output_folder: Optional[str] = None, workers: int = 0,
                          max_pixels: int = DEFAULT_MAX_PIXELS) -> Dict[str, Any]:
    """COCO detection format (RLE or polygon masks that do not overlap) to COCO panoptic.

    As panopticapi's ``detection2panoptic_coco_format.py``: images in the JSON's order, each
    annotation becoming a segment (its fields kept but ``segmentation`` and ``image_id``, ``id``
    replaced by the new segment id; ``area``, ``bbox`` and ``iscrowd`` filled in from the mask
    where missing). ``categories_json`` (default: the detection JSON's categories) must give
    ``isthing`` and ``color``. Overlapping masks and masks without pixels are refused, and so are
    images of more than ``max_pixels`` pixels. Returns the JSON written.
    """
    check_positive("max_pixels", max_pixels)
    data = read_json(detection_json, "detection")
    images = images_of(data, detection_json)
    sizes = {hashable_id(img["id"], "an image entry", detection_json):
             check_image_size(img["height"], img["width"], max_pixels, img["id"], detection_json) for img in images}
    for img in images:
        output_png_name(img["file_name"], img["id"], detection_json)
    if not isinstance(data.get("annotations"), list):
        raise AnnotationKeyError(f"detection JSON file '{detection_json}' has no 'annotations' list",
                                 file=detection_json)
    categories = read_json(categories_json, "categories") if categories_json is not None else data
    cats = load_categories(categories)
    folder = output_folder if output_folder is not None else os.path.splitext(output_json)[0]
    ensure_folder(folder)
    by_image: Dict[Any, List[Dict[str, Any]]] = {img["id"]: [] for img in images}
    for k, a in enumerate(data["annotations"]):
        for key in ("image_id", "category_id", "segmentation"):
            if not isinstance(a, Mapping) or key not in a:
                raise AnnotationKeyError(f"detection annotation {k} has no '{key}'", file=detection_json)
        if hashable_id(a["image_id"], f"the image of detection annotation {k}", detection_json) not in by_image:
            raise AnnotationError(f"detection annotation {a.get('id', k)} belongs to image {a['image_id']!r}, which is "
                                  "not in the image list", image_id=a["image_id"], file=detection_json)
        by_image[a["image_id"]].append(a)

    def convert(img: Mapping[str, Any]) -> Dict[str, Any]:
        h, w = sizes[img["id"]]
        anns = by_image[img["id"]]
        for a in anns:
            c = a["category_id"]
            if isinstance(c, bool) or not isinstance(c, int) or c not in cats.index:
                raise ConversionError(f"image {img['id']!r}: annotation {a.get('id')} has unknown category "
                                      f"{a['category_id']!r}", image_id=img["id"], file=detection_json)
        new_ids = cats.segment_ids([a["category_id"] for a in anns])
        ids = np.zeros((h, w), np.uint32)
        segments = []
        for a, sid in zip(anns, new_ids):
            where = f"image {img['id']!r}: annotation {a.get('id')}"
            mh, mw, counts = sized_rle(a["segmentation"], h, w, where, image_id=img["id"], file=detection_json)
            if (mh, mw) != (h, w):
                raise ConversionError(f"{where} has a {mh}x{mw} mask in a {h}x{w} image", image_id=img["id"],
                                      file=detection_json)
            try:
                mask = _core.rle_decode(counts, h, w).view(bool)
            except _core.MaskError as e:
                raise ConversionError(f"{where}: {e}", image_id=img["id"], file=detection_json) from None
            if not mask.any():
                raise ConversionError(f"{where} has no pixels", image_id=img["id"], file=detection_json)
            clash = ids[mask]
            if clash.any():
                other = anns[new_ids.index(int(clash[clash != 0][0]))].get("id")
                raise ConversionError(f"{where} overlaps annotation {other}", image_id=img["id"], file=detection_json)
            ids[mask] = sid
            seg = {k: v for k, v in a.items() if k not in ("segmentation", "image_id")}
            seg["id"] = int(sid)
            if "area" not in seg or "bbox" not in seg:
                ys, xs = np.nonzero(mask)
                seg.setdefault("area", int(mask.sum()))
                seg.setdefault("bbox", [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                        int(ys.max() - ys.min() + 1)])
            seg.setdefault("iscrowd", 0)
            segments.append(seg)
        name = output_png_name(img["file_name"], img["id"], detection_json)
        write_png(os.path.join(folder, name), ids_to_rgb(ids))
        return {"image_id": img["id"], "file_name": name, "segments_info": segments}

    out = dict(data)
    out["annotations"] = run_parallel(convert, images, workers)
    out["categories"] = cats.items
    write_json(output_json, out)
    return out


# ---------------------------------------------------------------------------
# Cityscapes


def cityscapes_to_panoptic(cityscapes_path: str, output_folder: Optional[str] = None, *, use_train_id: bool = False,
                           set_names: Sequence[str] = ("val", "train", "test"), workers: int = 0) -> List[str]:
    """Cityscapes ``gtFine/<set>/<city>/*_gtFine_instanceIds.png`` to COCO panoptic, per set.

    The same files as cityscapesscripts' ``createPanopticImgs.py`` (``convert2panoptic``):
    ``<output>/cityscapes_panoptic_<set>[_trainId].json`` and a PNG folder of that name; ids below
    1000 are crowd regions of their class, ``id // 1000`` is the class of the others; classes
    ignored in evaluation are dropped. The label table is cityscapesscripts' (``pip install
    cityscapesscripts``). Returns the JSON paths written.
    """
    try:
        from cityscapesscripts.helpers.labels import id2label, labels
    except ImportError as e:
        raise ConversionError(f"the Cityscapes converter needs cityscapesscripts' label table ({e}): "
                              "pip install cityscapesscripts") from None
    output_folder = output_folder if output_folder is not None else cityscapes_path
    categories = [{"id": int(label.trainId) if use_train_id else int(label.id), "name": label.name,
                   "color": label.color, "supercategory": label.category, "isthing": 1 if label.hasInstances else 0}
                  for label in labels if not label.ignoreInEval]
    written = []
    for set_name in set_names:
        pattern = os.path.join(cityscapes_path, set_name, "*", "*_instanceIds.png")
        files = sorted(glob.glob(pattern))
        if not files:
            raise ConversionError(f"no files for the {set_name} set match {pattern}", file=pattern)
        base = "cityscapes_panoptic_{}{}".format(set_name, "_trainId" if use_train_id else "")
        png_folder = os.path.join(output_folder, base)
        ensure_folder(png_folder)

        def convert(path: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
            name = os.path.basename(path)
            image_id = name.replace("_gtFine_instanceIds.png", "")
            out_name = name.replace("_instanceIds.png", "_panoptic.png")
            original = read_label_png(path, image_id, "instanceIds")
            uniq = np.unique(original)
            kept, info = [], []
            for segment_id in uniq.tolist():
                semantic = segment_id if segment_id < 1000 else segment_id // 1000
                label = id2label.get(semantic)
                if label is None:
                    raise ConversionError(f"image {image_id!r}: '{path}' has id {segment_id}, whose class {semantic} "
                                          "is not a Cityscapes label", image_id=image_id, file=path,
                                          segment_id=segment_id)
                if label.ignoreInEval:
                    continue
                if segment_id >= 2**24:
                    raise ConversionError(f"image {image_id!r}: id {segment_id} does not fit a panoptic PNG",
                                          image_id=image_id, file=path, segment_id=segment_id)
                kept.append(segment_id)
                info.append((segment_id, int(label.trainId) if use_train_id else int(label.id),
                             int(segment_id < 1000 and label.hasInstances)))
            ids = np.where(np.isin(original, kept), original, 0).astype(np.uint32)
            stats = _stats(ids)
            segments = [{"id": int(s), "category_id": c, "area": stats[s][0], "bbox": stats[s][1], "iscrowd": crowd}
                        for s, c, crowd in info]
            write_png(os.path.join(png_folder, out_name), ids_to_rgb(ids))
            image = {"id": image_id, "width": int(original.shape[1]), "height": int(original.shape[0]),
                     "file_name": name.replace("_instanceIds.png", "_leftImg8bit.png")}
            return image, {"image_id": image_id, "file_name": out_name, "segments_info": segments}

        results = run_parallel(convert, files, workers)
        out_file = os.path.join(output_folder, f"{base}.json")
        with open(out_file, "w") as f:
            json.dump({"images": [r[0] for r in results], "annotations": [r[1] for r in results],
                       "categories": categories}, f, sort_keys=True, indent=4)
        written.append(out_file)
    return written
