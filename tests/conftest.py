"""Shared fixtures and helpers of the fastpq tests.

* generated COCO-like and Cityscapes-like datasets (``fastpq.synthetic``);
* ``run_reference`` / ``run_reference_single_process``: panopticapi's own results;
* ``assert_results_close``: compares two ``pq_compute`` return dicts;
* ``write_panoptic`` and the ``make_case`` fixture: tiny hand-made datasets, id maps given as arrays.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pytest
from PIL import Image

import panopticapi.evaluation as panopticapi_evaluation
from fastpq import synthetic

PathLike = Union[str, "os.PathLike[str]"]

REPO_ROOT = Path(__file__).resolve().parents[1]
COCO_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco_panoptic_sample"

GROUP_NAMES = ("All", "Things", "Stuff")


# ---------------------------------------------------------------------------
# panopticapi, the reference


def _quietly(fn: Callable[..., Any], *args: Any) -> Tuple[Any, str]:
    """Calls fn(*args) with stdout captured; returns (value, printed text)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        value = fn(*args)
    return value, out.getvalue()


@contextlib.contextmanager
def _closing_pools():
    """panopticapi never closes its multiprocessing.Pool: terminate the pools it opens meanwhile."""
    pools = []

    def pool(*args: Any, **kwargs: Any) -> Any:
        p = multiprocessing.Pool(*args, **kwargs)
        pools.append(p)
        return p

    real = panopticapi_evaluation.multiprocessing
    panopticapi_evaluation.multiprocessing = types.SimpleNamespace(cpu_count=real.cpu_count, Pool=pool)
    try:
        yield
    finally:
        panopticapi_evaluation.multiprocessing = real
        for p in pools:
            p.terminate()
            p.join()


def run_reference_with_output(gt_json: PathLike, pred_json: PathLike, gt_folder: Optional[PathLike] = None,
                              pred_folder: Optional[PathLike] = None) -> Tuple[Dict[str, Any], str]:
    """panopticapi's pq_compute (multiprocess, as users run it): (results, printed text)."""
    args = [os.fspath(gt_json), os.fspath(pred_json),
            None if gt_folder is None else os.fspath(gt_folder),
            None if pred_folder is None else os.fspath(pred_folder)]
    with _closing_pools():
        return _quietly(panopticapi_evaluation.pq_compute, *args)


def run_reference(gt_json: PathLike, pred_json: PathLike, gt_folder: Optional[PathLike] = None,
                  pred_folder: Optional[PathLike] = None) -> Dict[str, Any]:
    """panopticapi's pq_compute (multiprocess), stdout captured."""
    return run_reference_with_output(gt_json, pred_json, gt_folder, pred_folder)[0]


def run_reference_single_process(gt_json: PathLike, pred_json: PathLike, gt_folder: Optional[PathLike] = None,
                                 pred_folder: Optional[PathLike] = None) -> Dict[str, Any]:
    """What panopticapi's pq_compute computes, with all images in one pq_compute_single_core call.

    The IoUs are then added in image order, as fastpq adds them, so the results must be equal bit for bit.
    """
    gt_json, pred_json = os.fspath(gt_json), os.fspath(pred_json)
    with open(gt_json) as f:
        gt = json.load(f)
    with open(pred_json) as f:
        pred = json.load(f)
    gt_folder = gt_json.replace(".json", "") if gt_folder is None else os.fspath(gt_folder)
    pred_folder = pred_json.replace(".json", "") if pred_folder is None else os.fspath(pred_folder)
    categories = {el["id"]: el for el in gt["categories"]}
    pred_annotations = {el["image_id"]: el for el in pred["annotations"]}
    matched = []
    for gt_ann in gt["annotations"]:
        image_id = gt_ann["image_id"]
        if image_id not in pred_annotations:
            raise Exception("no prediction for the image with id: {}".format(image_id))
        matched.append((gt_ann, pred_annotations[image_id]))
    pq_stat, _ = _quietly(panopticapi_evaluation.pq_compute_single_core, 0, matched, gt_folder, pred_folder,
                          categories)
    results: Dict[str, Any] = {}
    for name, isthing in (("All", None), ("Things", True), ("Stuff", False)):
        results[name], per_class = pq_stat.pq_average(categories, isthing=isthing)
        if name == "All":
            results["per_class"] = per_class
    return results


def assert_results_close(a: Dict[str, Any], b: Dict[str, Any], tol: float = 1e-12) -> None:
    """Equal groups (n exactly; pq, sq, rq within tol) and per_class entries; tol=0 asks for ==."""

    def close(x: Any, y: Any, where: str) -> None:
        if tol == 0:
            assert x == y, f"{where}: {x!r} != {y!r}"
        else:
            assert abs(x - y) <= tol, f"{where}: {x!r} vs {y!r} (tolerance {tol})"

    assert set(a) == set(b) == {"All", "Things", "Stuff", "per_class"}
    for name in GROUP_NAMES:
        assert set(a[name]) == set(b[name]) == {"pq", "sq", "rq", "n"}, name
        assert a[name]["n"] == b[name]["n"], f"{name} n: {a[name]['n']} != {b[name]['n']}"
        for key in ("pq", "sq", "rq"):
            close(a[name][key], b[name][key], f"{name} {key}")
    assert list(a["per_class"]) == list(b["per_class"]), "per_class categories (or their order) differ"
    for category_id, scores in a["per_class"].items():
        other = b["per_class"][category_id]
        assert set(scores) == set(other) == {"pq", "sq", "rq"}
        for key in ("pq", "sq", "rq"):
            close(scores[key], other[key], f"per_class[{category_id!r}] {key}")


def assert_results_equal(a: Dict[str, Any], b: Dict[str, Any]) -> None:
    assert_results_close(a, b, tol=0)


# ---------------------------------------------------------------------------
# Generated datasets


@pytest.fixture(scope="session")
def coco_like(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("coco_like"), synthetic.COCO_LIKE, 12, seed=0,
                                      workers=2)


@pytest.fixture(scope="session")
def cityscapes_like(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("cityscapes_like"), synthetic.CITYSCAPES_LIKE, 3,
                                      seed=1, workers=2)


@pytest.fixture(scope="session")
def coco_sample() -> Path:
    """The real COCO panoptic sample (two val2017 images), skipped when the shared data is absent."""
    if not (COCO_SAMPLE / "panoptic_examples.json").is_file():
        pytest.skip(f"COCO panoptic sample not found at {COCO_SAMPLE}")
    return COCO_SAMPLE


# ---------------------------------------------------------------------------
# Hand-made datasets

# Category ids used by the hand-made scenarios. The anchor categories only hold the anchor rows
# (see PanopticImage), so that Things and Stuff are never empty (panopticapi divides by n).
PERSON, CAR, GRASS, SKY = 1, 2, 3, 4
ANCHOR_THING, ANCHOR_STUFF = 90, 91
CATEGORIES = [
    {"id": PERSON, "name": "person", "isthing": 1},
    {"id": CAR, "name": "car", "isthing": 1},
    {"id": GRASS, "name": "grass", "isthing": 0},
    {"id": SKY, "name": "sky", "isthing": 0},
    {"id": ANCHOR_THING, "name": "anchor-thing", "isthing": 1},
    {"id": ANCHOR_STUFF, "name": "anchor-stuff", "isthing": 0},
]
ANCHOR_THING_ID, ANCHOR_STUFF_ID = 0xABCDEF, 0x123456  # segment ids of the anchor rows


@dataclass
class PanopticImage:
    """One image of a hand-made dataset: an id map (0 is void) and its segments_info.

    With ``anchors`` two extra rows are appended to the map: one anchor-thing and one anchor-stuff
    segment, identical in GT and prediction (so each is a TP with IoU 1 of its own category).
    """

    image_id: Any
    id_map: Any
    segments: List[Dict[str, Any]]
    file_name: Optional[str] = None
    anchors: bool = True
    mode: str = "RGB"

    def png_name(self) -> str:
        return self.file_name if self.file_name is not None else f"{self.image_id}.png"

    def full_map(self) -> np.ndarray:
        id_map = np.atleast_2d(np.asarray(self.id_map, dtype=np.uint32))
        if not self.anchors:
            return id_map
        width = id_map.shape[1]
        rows = np.array([[ANCHOR_THING_ID] * width, [ANCHOR_STUFF_ID] * width], dtype=np.uint32)
        return np.vstack([id_map, rows])

    def full_segments(self) -> List[Dict[str, Any]]:
        segments = [dict(s) for s in self.segments]
        if self.anchors:
            segments += [{"id": ANCHOR_THING_ID, "category_id": ANCHOR_THING},
                         {"id": ANCHOR_STUFF_ID, "category_id": ANCHOR_STUFF}]
        return segments


def write_id_png(path: PathLike, id_map: np.ndarray, mode: str = "RGB", alpha: Optional[np.ndarray] = None) -> None:
    """Writes an id map as an 8-bit RGB (or RGBA, with the given or a constant alpha) PNG."""
    rgb = synthetic.id_to_rgb(id_map)
    if mode == "RGBA":
        if alpha is None:
            alpha = np.full(id_map.shape, 255, np.uint8)
        rgb = np.dstack([rgb, alpha.astype(np.uint8)])
    Image.fromarray(rgb, mode).save(path)


def write_panoptic(root: PathLike, name: str, images: Sequence[PanopticImage],
                   categories: Sequence[Dict[str, Any]] = CATEGORIES, fill_gt_fields: bool = False) -> Path:
    """Writes root/name.json and root/name/*.png; returns the JSON path.

    With ``fill_gt_fields`` each segment gets ``iscrowd`` 0 and ``area`` (its pixel count) unless given.
    """
    root = Path(root)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    annotations = []
    for image in images:
        id_map = image.full_map()
        write_id_png(folder / image.png_name(), id_map, image.mode)
        segments = image.full_segments()
        if fill_gt_fields:
            for s in segments:
                s.setdefault("iscrowd", 0)
                s.setdefault("area", int(np.count_nonzero(id_map == s["id"])))
        annotations.append({"image_id": image.image_id, "file_name": image.png_name(), "segments_info": segments})
    content = {
        "images": [{"id": image.image_id, "file_name": f"{image.image_id}.jpg"} for image in images],
        "annotations": annotations,
        "categories": list(categories),
    }
    path = root / f"{name}.json"
    path.write_text(json.dumps(content))
    return path


@dataclass
class Case:
    """A hand-made GT / prediction pair on disk (folders are the JSON paths without .json)."""

    gt_json: Path
    pred_json: Path

    @property
    def gt_folder(self) -> Path:
        return self.gt_json.with_suffix("")

    @property
    def pred_folder(self) -> Path:
        return self.pred_json.with_suffix("")


@pytest.fixture
def make_case(tmp_path) -> Callable[..., Case]:
    """make_case(gt_images, pred_images, categories=CATEGORIES) -> Case, GT area / iscrowd filled in."""
    counter = [0]

    def make(gt_images: Sequence[PanopticImage], pred_images: Sequence[PanopticImage],
             categories: Sequence[Dict[str, Any]] = CATEGORIES, fill_gt_fields: bool = True) -> Case:
        counter[0] += 1
        root = tmp_path / f"case{counter[0]}"
        gt_json = write_panoptic(root, "gt", gt_images, categories, fill_gt_fields=fill_gt_fields)
        pred_json = write_panoptic(root, "pred", pred_images, categories)
        return Case(gt_json, pred_json)

    return make


def assert_fastpq_does_not_crash(gt_json: PathLike, pred_json: PathLike) -> None:
    """Runs fastpq.evaluate in a child interpreter first, so that a crash of the C++ core fails one test
    instead of killing the whole pytest session. Exceptions are fine; only death by a signal fails."""
    code = ("import sys, fastpq\n"
            "try:\n    fastpq.evaluate(sys.argv[1], sys.argv[2])\n"
            "except Exception:\n    pass\n")
    proc = subprocess.run([sys.executable, "-c", code, os.fspath(gt_json), os.fspath(pred_json)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode < 0:
        pytest.fail(f"fastpq.evaluate({os.fspath(gt_json)!r}, {os.fspath(pred_json)!r}) crashed the interpreter "
                    f"(signal {-proc.returncode})\n{proc.stderr[-2000:]}")


def counts(result: Any, category_id: Any) -> Tuple[int, int, int, float]:
    """(tp, fp, fn, iou sum) of one category of a fastpq PanopticResult."""
    (c,) = [c for c in result.classes if c.category_id == category_id]
    return c.tp, c.fp, c.fn, c.iou
