"""Combining instance and semantic predictions into one COCO panoptic prediction.

The heuristic of the panoptic segmentation paper (section 7), as panopticapi's
``combine_semantic_and_instance_predictions.py`` runs it, in C++ and in parallel over images:

1. instances scoring at least ``confidence_thr`` are taken by descending score (ties in input
   order, as Python's stable sort); an instance is dropped when it has no pixels or when more than
   ``overlap_thr`` of its pixels are already taken, otherwise it takes its pixels not taken yet;
2. every stuff category of the semantic map (ascending category id) takes its pixels no instance
   took, unless fewer than ``stuff_area_limit`` are left. Thing categories in the semantic map are
   ignored, as panopticapi ignores thing entries of its semantic JSON.

Differences from panopticapi, all deliberate: the semantic segmentation is a map of category ids
(a PNG or an array; ``void_value`` pixels belong to no category) where panopticapi takes per-category
RLEs in a JSON; segment ids are chosen like panopticapi's IdGenerator (stuff: the category colour;
the first thing of a category in an image: the category colour; later things: a colour near it)
but from a fixed pseudo-random sequence per image instead of numpy's global random state, so the
output is the same on every run; segments left without pixels (possible only with
``overlap_thr >= 1`` or ``stuff_area_limit <= 0``) are not listed, where panopticapi lists them
although its PNG has no such id; each segment carries ``iscrowd`` 0, ``area`` and ``bbox``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from ..io.dataset import read_json
from ..io.panoptic_files import (Categories, ensure_folder, hashable_id, ids_to_rgb, images_of, load_categories,
                           output_png_name, read_label_png, run_parallel, sized_rle, write_json, write_png)
from ..errors import AnnotationError, AnnotationKeyError, AnnotationTypeError, ConversionError, InvalidOptionError
from ..io.limits import DEFAULT_MAX_PIXELS, check_engine_options, check_image_size

DEFAULT_CONFIDENCE_THR = 0.5
DEFAULT_OVERLAP_THR = 0.5
DEFAULT_STUFF_AREA_LIMIT = 64 * 64


@dataclass
class CombinedImage:
    """One image's panoptic prediction: the (h, w) uint32 id map and its COCO segments_info."""

    image_id: Any
    file_name: str
    ids: np.ndarray
    segments_info: List[Dict[str, Any]]

    def annotation(self) -> Dict[str, Any]:
        """The COCO panoptic annotation entry of this image."""
        return {"image_id": self.image_id, "file_name": self.file_name, "segments_info": self.segments_info}


def combine(images: Sequence[Mapping[str, Any]], instances: Iterable[Mapping[str, Any]],
            semantic: Union[None, Mapping[Any, Optional[np.ndarray]], Sequence[Optional[np.ndarray]]],
            categories: Any, *, confidence_thr: float = DEFAULT_CONFIDENCE_THR,
            overlap_thr: float = DEFAULT_OVERLAP_THR, stuff_area_limit: float = DEFAULT_STUFF_AREA_LIMIT,
            void_value: Optional[int] = 0, workers: int = 0,
            max_pixels: int = DEFAULT_MAX_PIXELS) -> List[CombinedImage]:
    """Combines in memory: one CombinedImage per entry of ``images``, in that order.

    ``images`` are COCO image entries (id, file_name, height, width). ``instances`` are COCO
    detection results (image_id, category_id, score, segmentation as RLE or polygons) of thing
    categories. ``semantic`` holds each image's (height, width) map of category ids (uint8,
    uint16 or int32; other integer types are converted) as a sequence parallel to ``images`` or a
    mapping by image id; None (or a missing entry) means no stuff for that image. ``categories``
    is the COCO panoptic category list (with isthing and color), a dict holding it, or its file.
    Images of more than ``max_pixels`` pixels are refused before any memory is taken for them.
    """
    _check_options(confidence_thr, overlap_thr, stuff_area_limit, void_value, workers, max_pixels)
    cats = load_categories(categories)
    images = list(images)
    by_image: Dict[Any, int] = {}
    sizes: List[Tuple[int, int]] = []
    names: List[str] = []
    for i, img in enumerate(images):
        if not isinstance(img, Mapping) or "id" not in img or "height" not in img or "width" not in img:
            raise AnnotationKeyError(f"image entry {i} lacks id, height or width")
        image_id = hashable_id(img["id"], f"image entry {i}")
        if image_id in by_image:
            raise AnnotationError(f"image {image_id!r} is listed twice", image_id=image_id)
        by_image[image_id] = i
        sizes.append(check_image_size(img["height"], img["width"], max_pixels, image_id))
        names.append(output_png_name(img.get("file_name", f"{image_id}.png"), image_id))
    masks: List[List[Any]] = [[] for _ in images]
    scores: List[List[float]] = [[] for _ in images]
    labels: List[List[int]] = [[] for _ in images]
    for k, inst in enumerate(instances):
        _add_instance(k, inst, images, sizes, by_image, cats, masks, scores, labels)
    _check_semantic_count(semantic, len(images))
    maps = [_semantic_of(semantic, i, img, sizes[i]) for i, img in enumerate(images)]
    batch = [(h, w, maps[i], masks[i], scores[i], labels[i]) for i, (h, w) in enumerate(sizes)]
    try:
        out = _core.combine_panoptic(batch, *cats.table(), float(confidence_thr), float(overlap_thr),
                                     float(stuff_area_limit), void_value, workers)
    except (_core.MaskError, ValueError) as e:
        raise ConversionError(f"cannot combine: {e}") from None
    if out["failure"] is not None:
        index, message = out["failure"]
        image_id = images[index]["id"]
        raise ConversionError(f"image {image_id!r}: {message}", image_id=image_id)
    result = []
    for img, name, ids, (seg_ids, seg_cats, areas, boxes) in zip(images, names, out["ids"], out["segments"]):
        segments = [{"id": int(s), "category_id": cats.ids[c], "iscrowd": 0, "area": int(a), "bbox": list(b)}
                    for s, c, a, b in zip(seg_ids, seg_cats, areas, boxes)]
        result.append(CombinedImage(img["id"], name, ids, segments))
    return result


def _check_options(confidence_thr: Any, overlap_thr: Any, stuff_area_limit: Any, void_value: Any, workers: Any,
                   max_pixels: Any) -> None:
    """Refuses option values the heuristic cannot take, naming the option."""
    for name, value in (("confidence_thr", confidence_thr), ("overlap_thr", overlap_thr),
                        ("stuff_area_limit", stuff_area_limit)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise InvalidOptionError(f"{name} must be a number, not {value!r}")
    if void_value is not None and (isinstance(void_value, bool) or not isinstance(void_value, int)
                                   or not -2**63 <= void_value < 2**63):
        raise InvalidOptionError(f"void_value must be None or a 64-bit integer, not {void_value!r}")
    check_engine_options(workers, max_pixels)


def _check_semantic_count(semantic: Any, n_images: int) -> None:
    """A sequence of semantic maps must be parallel to the images."""
    if semantic is None or isinstance(semantic, Mapping):
        return
    try:
        n = len(semantic)
    except TypeError:
        raise AnnotationTypeError("semantic must be None, a mapping by image id or a sequence parallel to the "
                                  f"images, not {type(semantic).__name__}") from None
    if n != n_images:
        raise ConversionError(f"semantic holds {n} maps for {n_images} images; a sequence must be parallel to the "
                              "images (a mapping by image id may leave images out)")


def _add_instance(k: int, inst: Any, images: List[Mapping[str, Any]], sizes: List[Tuple[int, int]],
                  by_image: Dict[Any, int], cats: Categories, masks: List[List[Any]], scores: List[List[float]],
                  labels: List[List[int]]) -> None:
    where = f"instance {k}"
    if not isinstance(inst, Mapping):
        raise AnnotationTypeError(f"{where} is not an object")
    for key in ("image_id", "category_id", "score", "segmentation"):
        if key not in inst:
            raise AnnotationKeyError(f"{where} has no '{key}'", image_id=inst.get("image_id"))
    image_id = hashable_id(inst["image_id"], f"the image of {where}")
    if image_id not in by_image:
        raise AnnotationError(f"{where} belongs to image {image_id!r}, which is not in the image list",
                              image_id=image_id)
    score = inst["score"]
    if not isinstance(score, (int, float)) or isinstance(score, bool) or math.isnan(score):
        raise AnnotationTypeError(f"{where} of image {image_id!r} has score {score!r}, not a number",
                                  image_id=image_id)
    c = inst["category_id"]
    if isinstance(c, bool) or not isinstance(c, int) or c not in cats.index:
        raise AnnotationError(f"{where} of image {image_id!r} has unknown category {c!r}", image_id=image_id)
    if not cats.isthing[cats.index[c]]:
        raise AnnotationError(f"{where} of image {image_id!r} has stuff category {c}; instances must be things "
                              "(stuff comes from the semantic map)", image_id=image_id)
    i = by_image[image_id]
    h, w = sizes[i]
    masks[i].append(sized_rle(inst["segmentation"], h, w, f"{where} of image {image_id!r}", image_id=image_id))
    scores[i].append(float(score))
    labels[i].append(cats.index[c])


def _semantic_of(semantic: Any, i: int, img: Mapping[str, Any], size: Tuple[int, int]) -> Optional[np.ndarray]:
    if semantic is None:
        return None
    m = semantic.get(img["id"]) if isinstance(semantic, Mapping) else semantic[i]
    if m is None:
        return None
    m = np.asarray(m)
    if m.ndim != 2 or m.shape != size:
        raise ConversionError(f"image {img['id']!r}: semantic map of shape {m.shape} for a "
                              f"{img['height']}x{img['width']} image", image_id=img["id"])
    if m.dtype not in (np.uint8, np.uint16, np.int32):
        if not np.issubdtype(m.dtype, np.integer):
            raise ConversionError(f"image {img['id']!r}: semantic map of dtype {m.dtype}, not integers",
                                  image_id=img["id"])
        if m.size and (m.min() < -2**31 or m.max() >= 2**31):
            raise ConversionError(f"image {img['id']!r}: semantic values beyond int32", image_id=img["id"])
        m = m.astype(np.int32)
    return np.require(m, requirements=("C", "A"))  # the core reads C-ordered, aligned rows


def combine_predictions(instances_json: str, images_json: str, output_json: str, *,
                        semantic_folder: Optional[str] = None, categories_json: Optional[str] = None,
                        output_folder: Optional[str] = None, confidence_thr: float = DEFAULT_CONFIDENCE_THR,
                        overlap_thr: float = DEFAULT_OVERLAP_THR,
                        stuff_area_limit: float = DEFAULT_STUFF_AREA_LIMIT, void_value: Optional[int] = 0,
                        workers: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS) -> Dict[str, Any]:
    """Combines files, as panopticapi's ``combine_predictions``, and returns the JSON written.

    ``instances_json``: COCO detection results. ``images_json``: a COCO JSON whose ``images`` are
    combined (and whose ``categories`` are used when ``categories_json`` is not given).
    ``semantic_folder``: one single-channel PNG of category ids per image, named as the image with
    '.png' (none: no stuff). Writes the panoptic PNGs to ``output_folder`` (default: the output
    JSON path without its extension) and ``output_json``: the images JSON with the combined
    ``annotations`` and the ``categories``.
    """
    _check_options(confidence_thr, overlap_thr, stuff_area_limit, void_value, workers, max_pixels)
    images_data = read_json(images_json, "images")
    images = images_of(images_data, images_json)
    for img in images:  # before any semantic PNG is read
        check_image_size(img["height"], img["width"], max_pixels, img["id"], images_json)
        output_png_name(img["file_name"], img["id"], images_json)
    categories = load_categories(categories_json if categories_json is not None else images_data)
    instances = read_json(instances_json, "instances")
    if not isinstance(instances, list):
        raise AnnotationTypeError(f"instances JSON file '{instances_json}' does not hold a list", file=instances_json)
    folder = output_folder if output_folder is not None else os.path.splitext(output_json)[0]

    def read_semantic(img: Mapping[str, Any]) -> np.ndarray:
        name = output_png_name(img["file_name"], img["id"], images_json)
        return read_label_png(os.path.join(semantic_folder, name), img["id"], "semantic")

    semantic = run_parallel(read_semantic, images, workers) if semantic_folder is not None else None
    combined = combine(images, instances, semantic, categories, confidence_thr=confidence_thr,
                       overlap_thr=overlap_thr, stuff_area_limit=stuff_area_limit, void_value=void_value,
                       workers=workers, max_pixels=max_pixels)
    ensure_folder(folder)
    run_parallel(lambda c: write_png(os.path.join(folder, c.file_name), ids_to_rgb(c.ids)), combined, workers)
    data = dict(images_data)
    data["annotations"] = [c.annotation() for c in combined]
    data["categories"] = categories.items
    write_json(output_json, data)
    return data
