"""Cityscapes-like and ADE20K-like semantic datasets (label maps, instance maps, predictions),
written as real PNG files in each dataset's own layout, for tests and benchmarks.

Scenes are blocks of classes (coarse grids scaled up, so labels come in long runs like real label
maps) with elliptical instances of the instance classes on top; a prediction is its ground truth
with shifted region borders, whole regions of the wrong class, missed instances and sprinkled
noise. Everything depends only on the seed.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ..semantic.labels import CITYSCAPES_LABELS

PathLike = Union[str, Path]

CITYSCAPES_STUFF = tuple(l.id for l in CITYSCAPES_LABELS if not l.has_instances)
CITYSCAPES_THINGS = tuple(l.id for l in CITYSCAPES_LABELS if l.has_instances)


@dataclass(frozen=True)
class SemanticScene:
    """One generated image: ground-truth labels, instance ids (Cityscapes' encoding), prediction."""

    labels: np.ndarray
    instances: np.ndarray
    prediction: np.ndarray


def _blocks(rng: np.random.Generator, h: int, w: int, classes: Sequence[int], cell: int) -> np.ndarray:
    gh, gw = -(-h // cell), -(-w // cell)
    grid = rng.choice(np.asarray(classes), size=(gh, gw))
    return np.repeat(np.repeat(grid, cell, 0), cell, 1)[:h, :w]


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> Tuple[slice, slice, np.ndarray]:
    y0, y1 = max(0, int(cy - ry)), min(h, int(cy + ry) + 1)
    x0, x1 = max(0, int(cx - rx)), min(w, int(cx + rx) + 1)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    inside = ((yy - cy) / max(ry, 1)) ** 2 + ((xx - cx) / max(rx, 1)) ** 2 <= 1
    return slice(y0, y1), slice(x0, x1), inside


def make_scene(rng: np.random.Generator, h: int, w: int, stuff: Sequence[int], things: Sequence[int],
               n_instances: int, wrong: Sequence[int], noise: float = 0.01) -> SemanticScene:
    """A scene over `stuff` block classes with up to `n_instances` instances of `things` (instance
    id = class * 1000 + k), and a prediction whose mistakes draw classes from `wrong`."""
    cell = max(4, min(h, w) // 12)
    labels = _blocks(rng, h, w, stuff, cell).astype(np.int64)
    instances = labels.copy()
    for k in range(n_instances if things else 0):
        c = int(rng.choice(np.asarray(things)))
        ry, rx = rng.uniform(0.02, 0.15) * h, rng.uniform(0.02, 0.12) * w
        ys, xs, inside = _ellipse(h, w, rng.uniform(0, h), rng.uniform(0, w), ry, rx)
        labels[ys, xs][inside] = c
        instances[ys, xs][inside] = c * 1000 + k
    pred = labels.copy()
    # borders shifted: the prediction is its ground truth moved by a few pixels
    dy, dx = rng.integers(-3, 4, size=2)
    pred = np.roll(pred, (int(dy), int(dx)), axis=(0, 1))
    # whole cells of the wrong class
    mistakes = _blocks(rng, h, w, wrong, cell * 2)
    wrong_cells = _blocks(rng, h, w, [0, 0, 0, 0, 0, 0, 1], cell * 2).astype(bool)
    pred[wrong_cells] = mistakes[wrong_cells]
    # missed instances and noise
    for k in range(n_instances if things else 0):
        if rng.random() < 0.15:
            miss = instances % 1000 == k
            miss &= instances >= 1000
            pred[miss] = int(rng.choice(np.asarray(stuff)))
    sprinkle = rng.random((h, w)) < noise
    pred[sprinkle] = rng.choice(np.asarray(wrong), size=int(sprinkle.sum()))
    return SemanticScene(labels, instances, pred)


def cityscapes_scene(seed: int, index: int, h: int = 64, w: int = 128) -> SemanticScene:
    """A Cityscapes-like scene over its 34 label ids; predictions are label ids too (ignored
    classes included, as real models' outputs mapped back to label ids can hold)."""
    rng = np.random.default_rng([seed, index, 34])
    return make_scene(rng, h, w, CITYSCAPES_STUFF, CITYSCAPES_THINGS, int(rng.integers(2, 12)),
                      wrong=[l.id for l in CITYSCAPES_LABELS])


def ade20k_scene(seed: int, index: int, h: int = 64, w: int = 96, n_classes: int = 150) -> SemanticScene:
    """An ADE20K-like scene: labels 1..150 with some 0 ("other"), predictions 0..150."""
    rng = np.random.default_rng([seed, index, 150])
    present = rng.choice(np.arange(1, n_classes + 1), size=int(rng.integers(4, 20)), replace=False)
    scene = make_scene(rng, h, w, list(present) + [0], [], 0, wrong=list(range(0, n_classes + 1)))
    return scene


def _write_cityscapes(task: Tuple[str, int, int, int, int, str]) -> Tuple[str, str, str]:
    root, seed, index, h, w, city = task
    s = cityscapes_scene(seed, index, h, w)
    stem = f"{city}_{index // 1000:06d}_{index % 1000:06d}"
    gt_dir = Path(root) / "gtFine" / "val" / city
    label = gt_dir / f"{stem}_gtFine_labelIds.png"
    inst = gt_dir / f"{stem}_gtFine_instanceIds.png"
    pred = Path(root) / "results" / f"{stem}_pred.png"
    Image.fromarray(s.labels.astype(np.uint8)).save(label)
    Image.fromarray(s.instances.astype(np.uint16)).save(inst)
    Image.fromarray(s.prediction.astype(np.uint8)).save(pred)
    return str(label), str(inst), str(pred)


def _write_ade(task: Tuple[str, int, int, int, int]) -> Tuple[str, str]:
    root, seed, index, h, w = task
    s = ade20k_scene(seed, index, h, w)
    name = f"ADE_val_{index + 1:08d}.png"
    gt = Path(root) / "annotations" / "validation" / name
    pred = Path(root) / "pred" / name
    Image.fromarray(s.labels.astype(np.uint8)).save(gt)
    Image.fromarray(s.prediction.astype(np.uint8)).save(pred)
    return str(gt), str(pred)


def _run(fn, tasks: list, workers: int) -> list:
    if workers > 1 and len(tasks) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(fn, tasks, chunksize=max(1, len(tasks) // (4 * workers)))
    return [fn(t) for t in tasks]


def write_cityscapes_like(root: PathLike, n_images: int, seed: int = 0, height: int = 64, width: int = 128,
                          workers: int = 1) -> List[Tuple[str, str, str]]:
    """Writes ``root/gtFine/val/<city>/*_gtFine_{labelIds,instanceIds}.png`` and
    ``root/results/*_pred.png``; returns (labelIds, instanceIds, prediction) paths in sorted order."""
    cities = ["aachen", "bremen", "zurich"]
    (Path(root) / "results").mkdir(parents=True, exist_ok=True)
    for city in cities:
        (Path(root) / "gtFine" / "val" / city).mkdir(parents=True, exist_ok=True)
    tasks = [(str(root), seed, i, height, width, cities[i % len(cities)]) for i in range(n_images)]
    return sorted(_run(_write_cityscapes, tasks, workers))


def write_ade20k_like(root: PathLike, n_images: int, seed: int = 0, height: int = 64, width: int = 96,
                      workers: int = 1, vary: bool = True) -> List[Tuple[str, str]]:
    """Writes ``root/annotations/validation/ADE_val_*.png`` and ``root/pred/`` (same names); sizes
    vary by up to a fifth around height x width when ``vary``. Returns (gt, pred) paths."""
    for sub in ("annotations/validation", "pred"):
        (Path(root) / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, n_images])
    sizes = [(int(height * rng.uniform(0.8, 1.2)), int(width * rng.uniform(0.8, 1.2))) if vary else (height, width)
             for _ in range(n_images)]
    tasks = [(str(root), seed, i, h, w) for i, (h, w) in enumerate(sizes)]
    return _run(_write_ade, tasks, workers)
