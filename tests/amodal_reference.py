"""Reference COCO Amodal (COCOA) proposal evaluation: stock pycocotools COCOeval set up the COCOA way.

amodalAPI (github.com/Wakeupbuddy/amodalAPI, Python 2) scores class-agnostic segment proposals
by average recall with its own ``AmodalEval`` (PythonAPI/pycocotools/amodaleval.py), a copy of
COCOeval whose per-image matching, accumulation and AR summary are COCOeval's. Its driver is
``batchEval.py`` (three blocks: both / things only / stuff only) calling ``evalWrapper`` in
PythonAPI/myPyAmodalEvalDemo.py once per occlusion range. The same numbers come out of the stock
COCOeval given:

* one category (1), every GT region a separate annotation (``iscrowd`` 0), its mask the region's
  amodal polygon (``segmentation``, one flat polygon) or, for visible GT, ``visible_mask`` when
  the region has one, the polygon otherwise (AmodalEval.computeIoU);
* only the first annotation of an image (AmodalEval uses ``gt[0]['regions']``);
* a region is ignored (AmodalEval's ``_ignore``) when it is stuff in "things only", a thing in
  "stuff only", or when ``occlude_rate < lo or occlude_rate > hi`` (closed range):
  all [0, 1], none [0, 1e-5], partial [1e-5, 0.25], heavy [0.25, 1]. Here a kept region gets
  ``area`` 1 and an ignored one ``area`` -5 with ``areaRng = [[0, 2]]``;
* proposals ignore ``category_id`` (class-agnostic), get ``area`` 1 (AmodalEval never ignores a
  proposal for its area: its area range is [0, 1e10]);
* ``maxDets = [1, 10, 100, 1000]``, iouType 'segm', IoU thresholds .50:.05:.95;
* AR@k = mean over the 10 IoU thresholds of ``eval['recall'][:, 0, 0, m]``, -1 where there is
  no kept GT region (AmodalEval.summarize: mean of ``s[s > -1]``, -1 if none).

Proposal polygons: amodalAPI rasterises ``frPyObjects([segmentation], h, w)``, i.e. one flat
polygon; here a COCO list of polygons is also accepted (parts merged, like COCO.annToRLE).

amodalAPI differences that this reference does not copy (it would crash or misbehave there):
an image with GT but no proposals (``dt[0]`` IndexError; here its regions are missed), nested
polygon proposals (frPyObjects error), and ``batchEval``'s visible-mask label (it passes
``useAmodalGT=2``, which ``computeIoU`` treats as true, i.e. amodal).

The proposal's own amodal mask: amodalAPI's ``filterDtFile`` copies a result's ``amodalMask``
to the region's ``amodal_mask``, and ``computeIoU`` uses it instead of ``segmentation`` when
``useAmodalDT`` is 1 (the latest batchEval.py sets 1, the PythonAPI/ copy 0). Here
``use_amodal_dt=True`` does that with the key ``amodal_mask`` (or ``amodalMask``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from typing import Any, Dict, List, Tuple, Union

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

PathLike = Union[str, "os.PathLike[str]"]

GROUPS: Tuple[str, ...] = ("all", "things", "stuff")
OCCLUSIONS: Dict[str, Tuple[float, float]] = {
    "all": (0.0, 1.0),
    "none": (0.0, 0.00001),
    "partial": (0.00001, 0.25),
    "heavy": (0.25, 1.0),
}
MAX_DETS: Tuple[int, ...] = (1, 10, 100, 1000)

#: batchEval.py's block titles (``name`` in ``singleEval``).
_BLOCK_NAMES = {"all": "both stuff and things", "things": "things only", "stuff": "stuff only"}


def _load(path_or_data: Any) -> Any:
    if isinstance(path_or_data, (str, os.PathLike)):
        with open(path_or_data, encoding="utf-8") as f:
            return json.load(f)
    return copy.deepcopy(path_or_data)


def first_annotations(gt: Dict[str, Any]) -> Dict[Any, Dict[str, Any]]:
    """The first annotation of each image, in file order (AmodalEval's ``gt[0]``)."""
    first: Dict[Any, Dict[str, Any]] = {}
    for ann in gt.get("annotations", []):
        first.setdefault(ann["image_id"], ann)
    return first


def _polygon_rle(segmentation: List[Any], height: int, width: int) -> Dict[str, Any]:
    """A flat polygon (amodalAPI's form) or a COCO list of polygons, as one RLE."""
    polygons = [segmentation] if segmentation and not isinstance(segmentation[0], list) else segmentation
    return mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))


def _to_rle(segmentation: Any, height: int, width: int) -> Dict[str, Any]:
    if isinstance(segmentation, list):
        return _polygon_rle(segmentation, height, width)
    if isinstance(segmentation.get("counts"), list):
        return mask_utils.frPyObjects(segmentation, height, width)
    return segmentation


def _keep(region: Dict[str, Any], group: str, occlusion: str) -> bool:
    lo, hi = OCCLUSIONS[occlusion]
    if group == "things" and region["isStuff"] == 1:
        return False
    if group == "stuff" and region["isStuff"] == 0:
        return False
    rate = region["occlude_rate"]
    return not (rate < lo or rate > hi)


def _gt_coco(images: List[Dict[str, Any]], first: Dict[Any, Dict[str, Any]], group: str, occlusion: str,
             use_visible: bool) -> COCO:
    annotations = []
    for image in images:
        ann = first.get(image["id"])
        if ann is None:
            continue
        for region in ann["regions"]:
            if use_visible and "visible_mask" in region:
                segmentation: Any = region["visible_mask"]
            else:
                segmentation = [region["segmentation"]]
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image["id"],
                "category_id": 1,
                "segmentation": segmentation,
                "area": 1 if _keep(region, group, occlusion) else -5,
                "iscrowd": 0,
            })
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": 1, "name": "region", "supercategory": "region"}]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _results(proposals: List[Dict[str, Any]], images: Dict[Any, Dict[str, Any]],
             use_amodal_dt: bool) -> List[Dict[str, Any]]:
    """Proposals as COCO segm results: category 1, RLE segmentation (loadRes needs RLEs)."""
    results = []
    for p in proposals:
        if p["image_id"] not in images:  # amodalAPI's filterDtFile drops them
            continue
        image = images[p["image_id"]]
        segmentation = p["segmentation"]
        if use_amodal_dt:
            segmentation = p.get("amodal_mask", p.get("amodalMask", segmentation))
        results.append({"image_id": p["image_id"], "category_id": 1, "score": p["score"],
                        "segmentation": _to_rle(segmentation, image["height"], image["width"])})
    return results


def _dt_coco(gt_coco: COCO, results: List[Dict[str, Any]]) -> COCO:
    if results:
        with contextlib.redirect_stdout(io.StringIO()):
            dt = gt_coco.loadRes([dict(r) for r in results])
        for ann in dt.dataset["annotations"]:
            ann["area"] = 1  # loadRes set the mask area: proposals are never area-ignored
        return dt
    dt = COCO()
    dt.dataset = {"images": gt_coco.dataset["images"], "annotations": [],
                  "categories": gt_coco.dataset["categories"]}
    with contextlib.redirect_stdout(io.StringIO()):
        dt.createIndex()
    return dt


def _average_recall(evaluator: COCOeval) -> Dict[int, float]:
    recall = evaluator.eval["recall"]  # [T, K, A, M]
    out = {}
    for m, k in enumerate(MAX_DETS):
        s = recall[:, 0, 0, m]
        s = s[s > -1]
        out[k] = float(np.mean(s)) if s.size else -1.0
    return out


def run_cocoeval(gt_coco: COCO, dt_coco: COCO) -> COCOeval:
    """One COCOA-style COCOeval run (evaluate + accumulate), quiet."""
    evaluator = COCOeval(gt_coco, dt_coco, "segm")
    evaluator.params.imgIds = sorted(gt_coco.getImgIds())
    evaluator.params.catIds = [1]
    evaluator.params.areaRng = [[0, 2]]
    evaluator.params.areaRngLbl = ["all"]
    evaluator.params.maxDets = list(MAX_DETS)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    return evaluator


def reference_amodal_ar(gt_json_path: Any, proposals_json_path: Any, use_visible: bool = False,
                        use_amodal_dt: bool = False) -> Dict[str, Dict[str, Dict[int, float]]]:
    """AR@{1,10,100,1000} of the 12 COCOA settings, one stock COCOeval run each.

    Returns ``{"all"|"things"|"stuff": {"all"|"none"|"partial"|"heavy": {1: ar, 10: ar, 100: ar, 1000: ar}}}``
    with -1.0 where a setting has no GT region. Paths or already-loaded JSON objects are accepted.
    """
    gt = _load(gt_json_path)
    proposals = _load(proposals_json_path)
    images = list(gt["images"])
    by_id = {image["id"]: image for image in images}
    first = first_annotations(gt)
    results = _results(proposals, by_id, use_amodal_dt)
    out: Dict[str, Dict[str, Dict[int, float]]] = {}
    for group in GROUPS:
        out[group] = {}
        for occlusion in OCCLUSIONS:
            gt_coco = _gt_coco(images, first, group, occlusion, use_visible)
            dt_coco = _dt_coco(gt_coco, results)
            out[group][occlusion] = _average_recall(run_cocoeval(gt_coco, dt_coco))
    return out


def amodaleval_ar(gt_json_path: Any, proposals_json_path: Any, use_visible: bool = False,
                  use_amodal_dt: bool = False) -> Dict[str, Dict[str, Dict[int, float]]]:
    """The same 12 settings computed the way amodalAPI's AmodalEval does it, step by step.

    A second, independent path to check ``reference_amodal_ar``'s COCOeval setup: per image the
    first annotation's regions in listed order with an ``_ignore`` flag per setting (no area
    trick), proposals grouped per image in file order, sorted by descending score (stable) and
    cut at 1000, ``mask.iou`` with iscrowd 0, COCOeval's greedy matching at each IoU threshold
    (ignored regions last, a match to a kept region is never given up for an ignored one),
    recall = matched kept regions among the first k proposals / kept regions. An image without
    proposals counts its regions as missed (amodalAPI raises IndexError there).
    """
    gt = _load(gt_json_path)
    proposals = _load(proposals_json_path)
    images = {image["id"]: image for image in gt["images"]}
    first = first_annotations(gt)
    per_image: Dict[Any, List[Dict[str, Any]]] = {}
    for p in _results(proposals, images, use_amodal_dt):
        per_image.setdefault(p["image_id"], []).append(p)
    iou_thresholds = np.linspace(0.5, 0.95, 10)
    top = MAX_DETS[-1]
    prepared = []  # (regions, ious [D, G], D) per image with regions
    for image_id in sorted(images):
        image = images[image_id]
        regions = first[image_id]["regions"] if image_id in first else []
        if not regions:
            continue
        dts = sorted(per_image.get(image_id, []), key=lambda d: -d["score"])[:top]
        g = [region["visible_mask"] if use_visible and "visible_mask" in region
             else _polygon_rle(region["segmentation"], image["height"], image["width"]) for region in regions]
        d = [p["segmentation"] for p in dts]
        ious = np.asarray(mask_utils.iou(d, g, [0] * len(g))) if d else np.zeros((0, len(g)))
        prepared.append((regions, ious.reshape(len(d), len(g))))
    out: Dict[str, Dict[str, Dict[int, float]]] = {}
    for group in GROUPS:
        out[group] = {}
        for occlusion in OCCLUSIONS:
            n_kept = 0
            matched_at = {k: np.zeros(len(iou_thresholds)) for k in MAX_DETS}
            for regions, ious in prepared:
                ignore = np.array([0 if _keep(r, group, occlusion) else 1 for r in regions])
                n_kept += int((ignore == 0).sum())
                gt_order = np.argsort(ignore, kind="stable")
                ig = ignore[gt_order]
                sub = ious[:, gt_order]
                for t_index, t in enumerate(iou_thresholds):
                    taken = np.zeros(len(gt_order), dtype=bool)
                    for dind in range(sub.shape[0]):
                        best, m = min(t, 1 - 1e-10), -1
                        for gind in range(len(gt_order)):
                            if taken[gind]:
                                continue
                            if m > -1 and ig[m] == 0 and ig[gind] == 1:
                                break
                            if sub[dind, gind] < best:
                                continue
                            best, m = sub[dind, gind], gind
                        if m == -1:
                            continue
                        taken[m] = True
                        if ig[m] == 0:
                            for k in MAX_DETS:
                                if dind < k:
                                    matched_at[k][t_index] += 1
            out[group][occlusion] = {
                k: (float(np.mean(matched_at[k] / n_kept)) if n_kept else -1.0) for k in MAX_DETS}
    return out


def format_printout(ar: Dict[str, Dict[str, Dict[int, float]]], use_visible: bool = False,
                    max_prop: int = 1000) -> str:
    """The table amodalAPI's batchEval.py prints (``Metric.summarize``, latest version), from
    ``reference_amodal_ar``'s dict: per block (both, things only, stuff only) AR1, AR10, AR100,
    AR1000 (maxProp 1000 only) of occlusion "all", then AR_none, AR_partial, AR_heavy at the
    largest maxDets (``stats[6]`` for maxProp 1000, ``stats[5]`` for 100); values ``{:10.4f}``.
    """
    fmt = "{:10.4f}".format
    top = 1000 if max_prop == 1000 else 100
    lines: List[str] = []
    for group in GROUPS:
        name = ("visible mask" if use_visible else "Amodal mask") + ", " + _BLOCK_NAMES[group]
        a = ar[group]
        lines += ["", "== " + name,
                  "AR1: " + fmt(a["all"][1]), "AR10: " + fmt(a["all"][10]), "AR100: " + fmt(a["all"][100])]
        if max_prop == 1000:
            lines.append("AR1000: " + fmt(a["all"][1000]))
        lines += ["AR_none: " + fmt(a["none"][top]), "AR_partial: " + fmt(a["partial"][top]),
                  "AR_heavy: " + fmt(a["heavy"][top])]
    return "\n".join(lines) + "\n"


def reference_printout(gt_json_path: Any, proposals_json_path: Any, use_visible: bool = False,
                       use_amodal_dt: bool = False) -> str:
    """``format_printout`` of ``reference_amodal_ar`` (maxProp 1000, as amodalAPI's eval.sh runs it)."""
    return format_printout(reference_amodal_ar(gt_json_path, proposals_json_path, use_visible, use_amodal_dt),
                           use_visible)
