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

import os
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from ..io.dataset import read_json
from ..io.panoptic_files import (ensure_folder, ids_to_rgb, images_of, load_categories, output_png_name, read_id_png,
                                 read_rgb_png, run_parallel, write_json, write_png)
from ..errors import ConversionError
from .convert_common import (CROWD_INSTANCE, OFFSET, OTHER_CLASS_ID, _category, _panoptic, _segment_ids, _segment_lookup,
                             _stats)
from .convert_cityscapes import cityscapes_to_panoptic
from .convert_detection import detection_to_panoptic, panoptic_to_detection

__all__ = ["OFFSET", "CROWD_INSTANCE", "OTHER_CLASS_ID", "two_channel_to_panoptic", "panoptic_to_two_channel",
           "panoptic_to_semantic", "panoptic_to_detection", "detection_to_panoptic", "cityscapes_to_panoptic"]


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


