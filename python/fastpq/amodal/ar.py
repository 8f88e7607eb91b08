"""Amodal segment quality: the COCO Amodal (COCOA) evaluation's average recall of proposals.

AR at 1 / 10 / 100 / 1000 proposals per image, averaged over IoU 0.50:0.05:0.95, for all
regions / things only / stuff only and occlusion all / none / partial / heavy, equal to stock
pycocotools COCOeval set up the COCOA way (one category, ignored regions outside the setting).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from .. import _core
from ..io.dataset import load_json, read_json
from ..errors import AnnotationError, AnnotationKeyError, AnnotationTypeError, InvalidOptionError, StrictModeError
from ..io.limits import (DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_MAX_PROPOSALS_PER_IMAGE, check_count,
                     check_engine_options, check_image_size, check_positive)

PathLike = Union[str, "os.PathLike[str]"]

KINDS = ("all", "things", "stuff")
OCCLUSIONS = ("all", "none", "partial", "heavy")
MAX_DETS = (1, 10, 100, 1000)
ANNOTATION_MODES = ("first", "each", "best")

def iou_thresholds() -> List[float]:
    """COCOeval's iouThrs, value for value."""
    import numpy as np

    return np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True).tolist()


Mask = Union[str, List[List[float]]]  # a compressed RLE string, or polygons


@dataclass
class AmodalImage:
    """One image's regions and proposals, masks as compressed RLE strings or polygons."""

    image_id: Any
    height: int
    width: int
    region_masks: List[Mask] = field(default_factory=list)
    region_is_stuff: List[bool] = field(default_factory=list)
    region_occlusion: List[float] = field(default_factory=list)
    proposal_masks: List[Mask] = field(default_factory=list)
    proposal_scores: List[float] = field(default_factory=list)


@dataclass
class AmodalResult:
    """AR per kind (all / things / stuff), occlusion (all / none / partial / heavy) and number
    of proposals (1, 10, 100, 1000); -1 where a setting has no region."""

    ar: Dict[str, Dict[str, Dict[int, float]]]
    regions: Dict[str, Dict[str, int]]
    use_visible: bool = False
    per_image: Optional[List[Dict[str, Any]]] = None

    def to_dict(self) -> Dict[str, Any]:
        return {kind: {occ: dict(values) for occ, values in by_occ.items()} for kind, by_occ in self.ar.items()}

    def table(self) -> str:
        """AR@1 / 10 / 100 / 1000 (all occlusion) and AR none / partial / heavy (at 1000), per kind."""
        header = "{:8s}| {:>7s} {:>7s} {:>7s} {:>7s} | {:>7s} {:>7s} {:>7s}".format(
            "", "AR@1", "AR@10", "AR@100", "AR@1000", "none", "partial", "heavy")
        lines = [header, "-" * len(header)]
        for kind in KINDS:
            a = self.ar[kind]
            lines.append("{:8s}| {:7.3f} {:7.3f} {:7.3f} {:7.3f} | {:7.3f} {:7.3f} {:7.3f}".format(
                kind, a["all"][1], a["all"][10], a["all"][100], a["all"][1000], a["none"][1000],
                a["partial"][1000], a["heavy"][1000]))
        return "\n".join(lines)

    def cocoa_printout(self) -> str:
        """The text amodalAPI's batchEval.py prints: per block (both, things only, stuff only) AR1,
        AR10, AR100, AR1000 and AR_none / AR_partial / AR_heavy at 1000 proposals."""
        names = {"all": "both stuff and things", "things": "things only", "stuff": "stuff only"}
        lines: List[str] = []
        for kind in KINDS:
            a = self.ar[kind]
            lines += ["", "== {} mask, {}".format("visible" if self.use_visible else "Amodal", names[kind])]
            lines += ["AR{}: {:10.4f}".format(k, a["all"][k]) for k in MAX_DETS]
            lines += ["AR_{}: {:10.4f}".format(occ, a[occ][1000]) for occ in OCCLUSIONS[1:]]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.table()


def load_amodal_ground_truth(gt: Union[PathLike, Mapping[str, Any]], use_visible: bool = False,
                             max_pixels: int = DEFAULT_MAX_PIXELS, *, strict: bool = False) -> List[AmodalImage]:
    """The images of a COCOA ground-truth file, each with its regions in JSON order.

    Accepts the COCOA layout (one annotation per image holding ``regions``; of several
    annotations of an image the first is used) and the per-instance layout (COCO instance
    annotations carrying ``segmentation``, ``visible_mask``, ``occlude_rate`` and ``isStuff``
    or ``isthing``).

    A region whose ``occlude_rate`` is outside [0, 1] is kept but counts in no setting (amodalAPI's
    "all" occlusion range is the closed interval [0, 1]); ``strict`` refuses it instead.
    """
    data = load_json(os.fspath(gt), "ground-truth") if not isinstance(gt, dict) else gt
    images: Dict[Any, AmodalImage] = {}
    for im in _list(data, "images", "the ground-truth JSON"):
        try:
            image = AmodalImage(im["id"], int(im["height"]), int(im["width"]))
            images[im["id"]] = image
        except (KeyError, TypeError, ValueError, OverflowError):
            raise AnnotationKeyError(f"an image of the ground truth lacks an integer id, height or width: {im!r}")
        # Masks are decoded at the image's size: bound the memory a single mask may take.
        check_image_size(image.height, image.width, max_pixels, image.image_id)
    seen = set()
    for ann in _list(data, "annotations", "the ground-truth JSON"):
        image_id = ann.get("image_id") if isinstance(ann, dict) else None
        if image_id not in images:
            raise AnnotationError(f"a ground-truth annotation names image {image_id!r}, which 'images' lacks")
        image = images[image_id]
        if "regions" in ann:
            if image_id in seen:
                continue  # several annotators: the first annotation is the one evaluated
            seen.add(image_id)
            for index, region in enumerate(ann["regions"]):
                _add_region(image, region, use_visible, strict, f"region {index}")
        else:
            _add_region(image, ann, use_visible, strict, f"annotation {ann.get('id')!r}")
    return list(images.values())


def _add_region(image: AmodalImage, region: Mapping[str, Any], use_visible: bool, strict: bool = False,
                name: str = "") -> None:
    where = f"In the image with ID {image.image_id} a region"
    try:
        amodal = region["segmentation"]
        occlusion = float(region.get("occlude_rate", 0.0))
    except (KeyError, TypeError, ValueError):
        raise AnnotationKeyError(f"{where} lacks 'segmentation' or has a non-numeric 'occlude_rate'")
    if math.isnan(occlusion):
        raise AnnotationError(f"{where} has occlude_rate NaN")
    if strict and not 0 <= occlusion <= 1:
        order = region.get("order") if isinstance(region, dict) else None
        label = name + (f" (order {order!r})" if order is not None else "")
        raise StrictModeError(f"In the image with ID {image.image_id}, {label} has occlude_rate {occlusion}, "
                              "outside [0, 1]; amodalAPI ignores it in every occlusion setting, strict mode "
                              "refuses it", image_id=image.image_id)
    if "isStuff" in region:
        is_stuff = bool(region["isStuff"])
    elif "isthing" in region:
        is_stuff = not region["isthing"]
    else:
        is_stuff = False
    mask = region.get("visible_mask") if use_visible else None
    image.region_masks.append(_mask(mask if mask is not None else amodal, image, where))
    image.region_is_stuff.append(is_stuff)
    image.region_occlusion.append(occlusion)


def _mask(segmentation: Any, image: AmodalImage, where: str) -> Mask:
    """A compressed RLE string or a list of polygons, as pycocotools' annToRLE reads them; what
    cannot be read as either is an AnnotationError naming the image."""
    try:
        return _read_mask(segmentation, image, where)
    except (TypeError, ValueError, OverflowError, _core.MaskError) as e:
        if isinstance(e, AnnotationError):
            raise
        raise AnnotationError(f"{where} has a segmentation that cannot be read ({type(e).__name__}: {e})",
                              image_id=image.image_id) from None


def _read_mask(segmentation: Any, image: AmodalImage, where: str) -> Mask:
    if isinstance(segmentation, dict):
        counts = segmentation.get("counts")
        size = segmentation.get("size")
        if size is not None and list(size) != [image.height, image.width]:
            raise AnnotationError(f"{where} has an RLE of size {list(size)} in an image of "
                                  f"{image.height}x{image.width}")
        if isinstance(counts, str):
            return counts
        if isinstance(counts, bytes):
            return counts.decode("ascii")
        if isinstance(counts, list):
            return _core.rle_to_string([int(c) for c in counts])
        raise AnnotationTypeError(f"{where} has an RLE whose 'counts' is neither a string nor a list")
    if isinstance(segmentation, list):
        if segmentation and all(isinstance(v, (int, float)) for v in segmentation):
            return [[float(v) for v in segmentation]]  # one flat polygon
        if all(isinstance(p, list) for p in segmentation):
            return [[float(v) for v in p] for p in segmentation]
    raise AnnotationTypeError(f"{where} has a segmentation that is neither polygons nor an RLE")


def add_proposals(images: Sequence[AmodalImage], proposals: Iterable[Mapping[str, Any]],
                  use_amodal_proposals: bool = False, *, strict: bool = False,
                  max_proposals_per_image: int = DEFAULT_MAX_PROPOSALS_PER_IMAGE) -> None:
    """Gives each image its proposals, in input order; proposals for other images are ignored
    (refused with `strict`, as are infinite and negative scores). NaN scores are always refused:
    the order of proposals by score, on which recall depends, is undefined with them."""
    check_positive("max_proposals_per_image", max_proposals_per_image)
    by_id = {image.image_id: image for image in images}
    for p in proposals:
        if not isinstance(p, dict):
            raise AnnotationTypeError("a proposal is not an object")
        try:
            image = by_id.get(p.get("image_id"))
        except TypeError:
            raise AnnotationTypeError(f"a proposal has image_id {p.get('image_id')!r}, which cannot be an id") from None
        if image is None:
            if strict:
                raise StrictModeError(f"a proposal names the image with ID {p.get('image_id')!r}, which the ground "
                                      "truth does not have", image_id=p.get("image_id"))
            continue
        where = f"In the image with ID {image.image_id} a proposal"
        try:
            score = float(p["score"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise AnnotationKeyError(f"{where} lacks a numeric 'score'", image_id=image.image_id) from None
        if math.isnan(score):
            raise AnnotationError(f"{where} has score NaN", image_id=image.image_id)
        if strict and (math.isinf(score) or score < 0):
            raise StrictModeError(f"{where} has score {score}; strict mode takes finite scores >= 0",
                                  image_id=image.image_id)
        check_count(len(image.proposal_scores) + 1, max_proposals_per_image, "proposals list", image.image_id,
                    "max_proposals_per_image")
        mask = p.get("amodal_mask", p.get("amodalMask")) if use_amodal_proposals else None
        if mask is None:
            if "segmentation" not in p:
                raise AnnotationKeyError(f"{where} lacks 'segmentation'", image_id=image.image_id)
            mask = p["segmentation"]
        image.proposal_masks.append(_mask(mask, image, where))
        image.proposal_scores.append(score)


def amodal_ar(gt_json: PathLike, proposals_json: Union[PathLike, Sequence[PathLike]], *, use_visible: bool = False,
              use_amodal_proposals: bool = False, per_image: bool = False, workers: int = 0,
              strict: bool = False, max_proposals_per_image: int = DEFAULT_MAX_PROPOSALS_PER_IMAGE,
              max_json_bytes: int = DEFAULT_MAX_JSON_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS,
              annotations: str = "first", storage_options: Optional[Mapping[str, Any]] = None) -> AmodalResult:
    """The COCOA evaluation of proposals against a COCOA ground truth.

    Args:
        gt_json: the COCOA ground-truth file (a path, or an fsspec URL read with ``storage_options``,
            as the proposals files may be).
        proposals_json: one proposals file (a JSON list of ``{image_id, segmentation, score}``) or
            several, concatenated in the order given.
        use_visible: match against the regions' visible masks instead of their amodal masks.
        use_amodal_proposals: take a proposal's ``amodal_mask`` (or ``amodalMask``, as amodalAPI's
            results files name it) instead of its ``segmentation`` where it has one.
        per_image: also return per-image rows (``result.per_image``): regions and recall at each k
            per setting, recall averaged over the thresholds.
        workers: threads; 0 uses every core.
        strict: refuse proposals for images the ground truth lacks and infinite or negative scores,
            which pycocotools accepts, and regions whose ``occlude_rate`` is outside [0, 1] (which
            amodalAPI, and fastpq without ``strict``, ignore in every setting, "all" included).
        max_proposals_per_image: an image with more proposals is refused (COCOA scores the best 1000).
        max_json_bytes: larger JSON files are refused before they are read.
        max_pixels: images with more pixels (height x width in the ground truth) are refused, which
            bounds the memory one decoded mask takes.
        annotations: which annotations of an image with several (the BSDS amodal files: one per
            annotator) the proposals are scored against. ``"first"`` (default): the first in the file,
            as amodalAPI does. ``"each"``: every annotation, each as if it were an image of its own
            with the image's proposals, so every annotator's regions count (recall pooled over all
            of them). ``"best"``: per image, the annotation the proposals agree with most (the
            highest recall, all regions, all occlusion, averaged over the IoU thresholds at 1000
            proposals; ties to the earlier annotation). See :mod:`fastpq.amodal.multi_ar`.
    """
    if annotations not in ANNOTATION_MODES:
        raise InvalidOptionError(f"annotations must be one of {', '.join(ANNOTATION_MODES)}, not {annotations!r}")
    multi, images = prepare_images(gt_json, proposals_json, use_visible=use_visible,
                                   use_amodal_proposals=use_amodal_proposals, workers=workers, strict=strict,
                                   max_proposals_per_image=max_proposals_per_image, max_json_bytes=max_json_bytes,
                                   max_pixels=max_pixels, annotations=annotations, storage_options=storage_options)
    if annotations != "first":
        from .multi_ar import evaluate_annotators

        return evaluate_annotators(multi, images, annotations, workers=workers, use_visible=use_visible,
                                   per_image=per_image)
    return evaluate_images(images, workers=workers, use_visible=use_visible, per_image=per_image)


def prepare_images(gt_json: Any, proposals_json: Any, *, use_visible: bool = False,
                   use_amodal_proposals: bool = False, workers: int = 0, strict: bool = False,
                   max_proposals_per_image: int = DEFAULT_MAX_PROPOSALS_PER_IMAGE,
                   max_json_bytes: int = DEFAULT_MAX_JSON_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS,
                   annotations: str = "first", storage_options: Optional[Mapping[str, Any]] = None
                   ) -> "tuple[Any, List[AmodalImage]]":
    """Reads the ground truth and the proposals (paths or URLs) with every check of :func:`amodal_ar`:
    (the multi-annotator images or None, the images with their proposals)."""
    if annotations not in ANNOTATION_MODES:
        raise InvalidOptionError(f"annotations must be one of {', '.join(ANNOTATION_MODES)}, not {annotations!r}")
    check_positive("max_json_bytes", max_json_bytes)
    check_engine_options(workers, max_pixels)
    gt_json = os.fspath(gt_json) if not isinstance(gt_json, dict) else gt_json
    gt_data = load_json(gt_json, "ground-truth", max_json_bytes, storage_options) if isinstance(gt_json, str) \
        else gt_json
    multi = None
    if annotations == "first":
        images = load_amodal_ground_truth(gt_data, use_visible, max_pixels, strict=strict)
    else:
        from .multi import load_multi_annotator

        multi = load_multi_annotator(gt_data, use_visible, strict=strict, max_pixels=max_pixels)
        images = [AmodalImage(im.image_id, im.height, im.width) for im in multi]  # they take the proposals
    files = [proposals_json] if isinstance(proposals_json, (str, os.PathLike)) else list(proposals_json)
    for path in files:
        data = read_json(os.fspath(path), "proposals", max_json_bytes, storage_options)
        if not isinstance(data, list):
            raise AnnotationTypeError(f"proposals file '{os.fspath(path)}' does not hold a list")
        add_proposals(images, data, use_amodal_proposals, strict=strict,
                      max_proposals_per_image=max_proposals_per_image)
    return multi, images


def evaluate_images(images: Sequence[AmodalImage], workers: int = 0, use_visible: bool = False,
                    per_image: bool = False) -> AmodalResult:
    """Runs the C++ matching over prepared images and averages recall over the IoU thresholds."""
    thresholds = iou_thresholds()
    out = _core.amodal_evaluate(
        [(im.height, im.width, im.region_masks, im.region_is_stuff, im.region_occlusion, im.proposal_masks,
          im.proposal_scores) for im in images], thresholds, workers=workers, keep_images=per_image)
    if out["failure"] is not None:
        index, message = out["failure"]
        raise AnnotationError(f"In the image with ID {images[index].image_id}: {message}",
                              image_id=images[index].image_id)
    ar, counts = _average_recall(out["matched"], out["regions"], len(thresholds))
    rows = None
    if per_image:
        rows = []
        for image, (matched, regions) in zip(images, out["images"]):
            image_ar, image_regions = _average_recall(matched, regions, len(thresholds))
            for kind in KINDS:
                for occ in OCCLUSIONS:
                    rows.append({"image_id": image.image_id, "kind": kind, "occlusion": occ,
                                 "regions": image_regions[kind][occ],
                                 **{f"recall@{k}": image_ar[kind][occ][k] for k in MAX_DETS}})
    return AmodalResult(ar, counts, use_visible, rows)


def _average_recall(matched: Sequence[int], regions: Sequence[int],
                    n_thresholds: int) -> "tuple[Dict[str, Dict[str, Dict[int, float]]], Dict[str, Dict[str, int]]]":
    """Recall averaged over the thresholds per kind, occlusion and k (-1 without regions)."""
    ar: Dict[str, Dict[str, Dict[int, float]]] = {}
    counts: Dict[str, Dict[str, int]] = {}
    for kind_index, kind in enumerate(KINDS):
        ar[kind], counts[kind] = {}, {}
        for occ_index, occ in enumerate(OCCLUSIONS):
            s = kind_index * len(OCCLUSIONS) + occ_index
            n = regions[s]
            counts[kind][occ] = n
            ar[kind][occ] = {}
            for k_index, k in enumerate(MAX_DETS):
                if n == 0:
                    ar[kind][occ][k] = -1.0
                    continue
                recalls = [matched[(s * n_thresholds + t) * len(MAX_DETS) + k_index] / n for t in range(n_thresholds)]
                ar[kind][occ][k] = _mean(recalls)
    return ar, counts


def _mean(values: Sequence[float]) -> float:
    import numpy as np  # numpy's mean, as COCOeval's summarize takes it

    return float(np.mean(np.asarray(values, dtype=np.float64)))


def _list(data: Mapping[str, Any], key: str, where: str) -> List[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise AnnotationKeyError(f"{where} has no '{key}' list")
    return value
