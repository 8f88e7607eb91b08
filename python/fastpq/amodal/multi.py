"""Reading every annotator of a COCOA ground truth (the BSDS amodal files: several annotations per image).

A BSDS amodal file lists, per image, one annotation per annotator, each with its own ``regions``
(``segmentation``, ``visible_mask``, ``occlude_rate``, ``isStuff``, ``order``, ``name``, ...), its
``author`` and its ``depth_constraint``. The COCO amodal files have one annotation per image, and
the per-instance layout (COCO instance annotations carrying the region keys) one annotator: all
instance annotations of an image form that image's single annotation.

:func:`load_multi_annotator` keeps every annotation, in file order, where
:func:`fastpq.amodal.load_amodal_ground_truth` keeps only the first (as amodalAPI does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union

from ..errors import AnnotationError, AnnotationKeyError, AnnotationTypeError, StrictModeError
from ..io.dataset import load_json
from ..io.limits import DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_PIXELS, check_image_size, check_positive
from .ar import AmodalImage, PathLike, _add_region, _list


@dataclass
class Annotation:
    """One annotator's annotation of an image: its regions (masks, stuff flags, occlusion rates, in
    JSON order) as an :class:`AmodalImage` without proposals."""

    annotation_id: Any
    author: Any
    regions: AmodalImage
    depth_constraint: Optional[str] = None


@dataclass
class MultiAnnotatorImage:
    """An image and all its annotations, in file order."""

    image_id: Any
    height: int
    width: int
    annotations: List[Annotation] = field(default_factory=list)

    def as_amodal_image(self, index: int) -> AmodalImage:
        """Annotation ``index`` as an image to score proposals against (a fresh copy, no proposals)."""
        r = self.annotations[index].regions
        return AmodalImage(self.image_id, self.height, self.width, list(r.region_masks), list(r.region_is_stuff),
                           list(r.region_occlusion))


def load_multi_annotator(gt: Union[PathLike, Mapping[str, Any]], use_visible: bool = False, *,
                         strict: bool = False, max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
                         max_pixels: int = DEFAULT_MAX_PIXELS) -> List[MultiAnnotatorImage]:
    """Every image of a COCOA ground truth with every annotation of it.

    Args:
        gt: the COCOA JSON file, or its already-parsed object.
        use_visible: take each region's ``visible_mask`` (the amodal ``segmentation`` where a region
            has none: it is not occluded) instead of its amodal mask.
        strict: refuse an image annotated twice by the same ``author`` and occlusion rates outside
            [0, 1] (see :func:`fastpq.amodal.load_amodal_ground_truth`).
        max_json_bytes, max_pixels: as for :func:`fastpq.amodal_ar`.

    Images keep the order of ``images``; an image without annotation has none (it has no pair of
    annotators to compare). Malformed input raises an :class:`fastpq.AnnotationError` naming the
    image and the annotation.
    """
    check_positive("max_json_bytes", max_json_bytes)
    data = load_json(os.fspath(gt), "ground-truth", max_json_bytes) if not isinstance(gt, dict) else gt
    images: Dict[Any, MultiAnnotatorImage] = {}
    for im in _list(data, "images", "the ground-truth JSON"):
        try:
            image = MultiAnnotatorImage(im["id"], int(im["height"]), int(im["width"]))
            hash(image.image_id)
        except (KeyError, TypeError, ValueError, OverflowError):
            raise AnnotationKeyError(f"an image of the ground truth lacks an integer id, height or width: {im!r}")
        if image.image_id in images:
            raise AnnotationError(f"the ground truth lists the image with ID {image.image_id!r} twice",
                                  image_id=image.image_id)
        check_image_size(image.height, image.width, max_pixels, image.image_id)
        images[image.image_id] = image
    instances: Dict[Any, Annotation] = {}  # per-instance layout: one annotation per image
    for position, ann in enumerate(_list(data, "annotations", "the ground-truth JSON")):
        if not isinstance(ann, dict):
            raise AnnotationTypeError(f"ground-truth annotation {position} is not an object")
        image_id = ann.get("image_id")
        try:
            image = images.get(image_id)
        except TypeError:
            image = None
        if image is None:
            raise AnnotationError(f"ground-truth annotation {ann.get('id', position)!r} names image {image_id!r}, "
                                  "which 'images' lacks")
        name = f"annotation {ann.get('id', position)!r}"
        if "regions" not in ann:
            holder = instances.get(image_id)
            if holder is None:
                if image.annotations:
                    raise AnnotationError(f"In the image with ID {image_id}, {name} is a per-instance annotation "
                                          "beside annotations with 'regions'", image_id=image_id)
                holder = Annotation(ann.get("id"), ann.get("author"), AmodalImage(image_id, image.height, image.width))
                instances[image_id] = holder
                image.annotations.append(holder)
            _add_region(holder.regions, ann, use_visible, strict, name)
            continue
        if image_id in instances:
            raise AnnotationError(f"In the image with ID {image_id}, {name} has 'regions' beside per-instance "
                                  "annotations", image_id=image_id)
        regions = ann["regions"]
        if not isinstance(regions, list):
            raise AnnotationTypeError(f"In the image with ID {image_id}, {name} has 'regions' that is not a list",
                                      image_id=image_id)
        author = ann.get("author")
        if strict and author is not None and any(a.author == author for a in image.annotations):
            raise StrictModeError(f"In the image with ID {image_id}, {name} is a second annotation by author "
                                  f"{author!r}", image_id=image_id)
        constraint = ann.get("depth_constraint")
        annotation = Annotation(ann.get("id"), author, AmodalImage(image_id, image.height, image.width),
                                constraint if isinstance(constraint, str) else None)
        for index, region in enumerate(regions):
            if not isinstance(region, dict):
                raise AnnotationTypeError(f"In the image with ID {image_id}, region {index} of {name} is not an "
                                          "object", image_id=image_id)
            _add_region(annotation.regions, region, use_visible, strict, f"region {index} of {name}")
        image.annotations.append(annotation)
    return list(images.values())
