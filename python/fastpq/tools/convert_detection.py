"""COCO panoptic to COCO detection (one RLE mask per segment) and back, as panopticapi's
``panoptic2detection_coco_format.py`` and ``detection2panoptic_coco_format.py``."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from .. import _core
from ..io.dataset import read_json
from ..io.panoptic_files import (ensure_folder, hashable_id, ids_to_rgb, images_of, load_categories,
                                 output_png_name, read_id_png, run_parallel, sized_rle, write_json,
                                 write_png)
from ..errors import AnnotationError, AnnotationKeyError, ConversionError
from ..io.limits import DEFAULT_MAX_PIXELS, check_image_size, check_positive
from .convert_common import _category, _panoptic, _segment_ids, _segment_lookup

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


