"""COCO Amodal average recall (amodalAPI's evaluation) and the amodal dataset statistics."""

from .ar import (MAX_DETS, KINDS, OCCLUSIONS, AmodalImage, AmodalResult, PathLike, add_proposals, amodal_ar,
                 evaluate_images, iou_thresholds, load_amodal_ground_truth)

__all__ = ["MAX_DETS", "KINDS", "OCCLUSIONS", "AmodalImage", "AmodalResult", "PathLike", "add_proposals", "amodal_ar",
           "evaluate_images", "iou_thresholds", "load_amodal_ground_truth"]
