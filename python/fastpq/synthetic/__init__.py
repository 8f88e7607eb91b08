"""Deterministic generator of synthetic COCO panoptic datasets.

Shared by the tests and the benchmarks of the panoptic-quality scorer. A dataset
is a ground-truth JSON with its folder of PNGs plus a prediction JSON with its
folder of PNGs, in the layout panopticapi's ``pq_compute`` expects::

    root/gt.json    root/gt/*.png    root/pred.json    root/pred/*.png

PNGs are 8-bit RGB where a pixel's segment id is ``R + 256 * G + 65536 * B`` and
id 0 is void (unlabeled).

Scenes are made of wavy stuff bands and stuff blobs, overlapping thing polygons
and ellipses painted in depth order, crowd regions and void pixels. Predictions
are perturbed copies of the ground truth (shifted, ragged, missed, split, merged,
relabelled and hallucinated segments), so that every image scores a mix of true
positives, false positives and false negatives.

Everything is a pure function of ``(seed, image index)``: the output is
byte-identical whatever the number of worker processes.

This module depends only on numpy, Pillow and the standard library.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from pathlib import Path
from typing import Any, Dict, Tuple, Union

import numpy as np

__all__ = [
    "VOID",
    "MAX_SEGMENT_ID",
    "DatasetSpec",
    "DatasetPaths",
    "GeneratedImage",
    "COCO_LIKE",
    "CITYSCAPES_LIKE",
    "make_scene",
    "perturb",
    "generate_image",
    "generate_dataset",
    "id_to_rgb",
    "rgb_to_id",
    "write_png",
    "read_png",
]

from .perturb import perturb
from .scene import make_scene
from .spec import (CITYSCAPES_LIKE, COCO_LIKE, MAX_SEGMENT_ID, VOID, DatasetPaths, DatasetSpec,
                   GeneratedImage, Segment, _CITYSCAPES_CITIES, id_to_rgb, read_png, rgb_to_id,
                   write_png)

# ---------------------------------------------------------------------------
# Datasets


def _image_record(spec: DatasetSpec, index: int) -> Tuple[Dict[str, Any], str]:
    """The COCO ``images`` entry of image ``index`` and the name of its PNGs."""
    if spec.string_image_ids:
        image_id: Union[int, str] = f"{_CITYSCAPES_CITIES[index % 3]}_{index:06d}_000019"
        image_name, png_name = f"{image_id}_leftImg8bit.png", f"{image_id}_gtFine_panoptic.png"
    else:
        image_id = 139 + 7 * index
        image_name, png_name = f"{image_id:012d}.jpg", f"{image_id:012d}.png"
    image = {"id": image_id, "file_name": image_name, "width": spec.width, "height": spec.height}
    return image, png_name


def generate_image(spec: DatasetSpec, index: int, seed: int = 0) -> GeneratedImage:
    """Generate image ``index`` of the dataset ``(spec, seed)``, in memory."""
    gt_seed, pred_seed = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
    gt_map, gt_segments = make_scene(np.random.default_rng(gt_seed), spec)
    pred_map, pred_segments = perturb(np.random.default_rng(pred_seed), gt_map, gt_segments, spec)
    image, png_name = _image_record(spec, index)
    return GeneratedImage(image, png_name, gt_map, gt_segments, pred_map, pred_segments)


def _write_image(task: Tuple[DatasetSpec, int, int, str, str]) -> Tuple[Dict[str, Any], Segment, Segment]:
    """Generate one image, write its two PNGs, return its JSON entries (a Pool worker)."""
    spec, seed, index, gt_folder, pred_folder = task
    generated = generate_image(spec, index, seed)
    write_png(Path(gt_folder) / generated.png_name, generated.gt_id_map)
    write_png(Path(pred_folder) / generated.png_name, generated.pred_id_map)
    image_id = generated.image["id"]
    gt_annotation = {"image_id": image_id, "file_name": generated.png_name,
                     "segments_info": generated.gt_segments}
    pred_annotation = {"image_id": image_id, "file_name": generated.png_name,
                       "segments_info": generated.pred_segments}
    return generated.image, gt_annotation, pred_annotation


def _pool_context() -> Any:
    """Fork on Linux: workers then need not re-import this module by name."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _write_json(path: Path, content: Dict[str, Any]) -> None:
    """Write JSON deterministically."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(content, f)


def generate_dataset(
    root: Union[str, Path],
    spec: DatasetSpec,
    n_images: int,
    seed: int = 0,
    workers: int = 1,
) -> DatasetPaths:
    """Write a GT and a prediction COCO panoptic dataset under ``root``.

    Layout: ``root/gt.json``, ``root/gt/``, ``root/pred.json``, ``root/pred/``.
    The bytes written depend only on ``(spec, n_images, seed)``, not on
    ``workers`` (the number of processes).
    """
    root = Path(root)
    paths = DatasetPaths(root / "gt.json", root / "gt", root / "pred.json", root / "pred")
    paths.gt_folder.mkdir(parents=True, exist_ok=True)
    paths.pred_folder.mkdir(parents=True, exist_ok=True)
    tasks = [(spec, seed, index, str(paths.gt_folder), str(paths.pred_folder))
             for index in range(n_images)]
    if workers > 1 and n_images > 1:
        with _pool_context().Pool(workers) as pool:
            results = pool.map(_write_image, tasks, chunksize=max(1, n_images // (4 * workers)))
    else:
        results = [_write_image(task) for task in tasks]

    images = [image for image, _, _ in results]
    categories = spec.categories()
    _write_json(paths.gt_json, {
        "info": {"description": f"fastpq synthetic {spec.name}-like dataset, seed {seed}"},
        "images": images,
        "annotations": [gt for _, gt, _ in results],
        "categories": categories,
    })
    pred_annotations = [pred for _, _, pred in results]
    if spec.shuffle_pred_annotations:
        order = np.random.default_rng([seed, n_images, 1]).permutation(len(pred_annotations))
        pred_annotations = [pred_annotations[i] for i in order]
    _write_json(paths.pred_json, {
        "images": images,
        "annotations": pred_annotations,
        "categories": categories,
    })
    return paths
