"""GT instance distances for cityscapesscripts' distance-restricted rows (AP 100 m, AP 50 m).

cityscapesscripts 2.3.0 reads each GT instance's ``medDist`` and ``distConf`` from its
``gtInstances.json`` and keeps an instance in the 100 m / 50 m rows when ``medDist <= 100 / 50``
and ``distConf >= 0.5`` (the JSON calls these thresholds ``minStereoDensities``); its public code
never computes the two values (``Instance`` defaults them to -1 and 0.0, and ``distanceAvailable``
is off). fastpq computes them from the Cityscapes disparity maps and camera files by this rule:
a disparity pixel p > 1 is valid, with disparity d = (p - 1) / 256 and depth baseline * fx / d
(the dataset's documented encoding); ``distConf`` is the share of the instance's pixels that are
valid, ``medDist`` the median depth over them (-1 when none is)."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Sequence, Tuple, Union

from ..errors import ImageSizeMismatchError, InvalidOptionError, MissingPredictionError
from ..io.folders import walk_tree
from .counting import read_gt
from .files import gt_files, image_key

Distances = Dict[int, Tuple[float, float]]


def camera_of(camera: Union[str, "os.PathLike[str]", Mapping[str, Any], Tuple[float, float]]) -> Tuple[float, float]:
    """(baseline in m, fx in pixels) from a Cityscapes camera JSON file, its dict, or the pair itself."""
    if isinstance(camera, tuple):
        return float(camera[0]), float(camera[1])
    if not isinstance(camera, Mapping):
        with open(os.fspath(camera)) as f:
            camera = json.load(f)
    try:
        return float(camera["extrinsic"]["baseline"]), float(camera["intrinsic"]["fx"])
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidOptionError(f"camera parameters without extrinsic.baseline / intrinsic.fx: {e}") from e


def distances_from_disparity(gt: Any, disparity: Any, camera: Any) -> Distances:
    """{instanceIds value: (medDist, distConf)} for every value >= 1000 of one image; ``gt`` and
    ``disparity`` are arrays or PNG paths (the disparity as its raw 16-bit values)."""
    import numpy as np
    from PIL import Image
    ids = np.asarray(read_gt(os.fspath(gt)) if isinstance(gt, (str, os.PathLike)) else gt)
    if isinstance(disparity, (str, os.PathLike)):
        with Image.open(os.fspath(disparity)) as im:
            disparity = np.array(im)
    raw = np.asarray(disparity).astype(np.float64)
    if raw.shape != ids.shape:
        raise ImageSizeMismatchError(f"disparity map is {raw.shape[1]}x{raw.shape[0]}, the ground truth "
                                     f"{ids.shape[1]}x{ids.shape[0]}")
    baseline, fx = camera_of(camera)
    valid = raw > 1
    depth = np.zeros(raw.shape)
    depth[valid] = baseline * fx / ((raw[valid] - 1.0) / 256.0)
    flat, flat_valid, flat_depth = ids.ravel(), valid.ravel(), depth.ravel()
    order = np.argsort(flat, kind="stable")
    values, starts = np.unique(flat[order], return_index=True)
    bounds = np.append(starts, flat.size)
    out: Distances = {}
    for k, v in enumerate(values.tolist()):
        if v < 1000:
            continue
        members = order[bounds[k]:bounds[k + 1]]
        ok = flat_valid[members]
        conf = float(ok.sum()) / members.size
        out[int(v)] = (float(np.median(flat_depth[members][ok])) if ok.any() else -1.0, conf)
    return out


def cityscapes_distances(gt: Union[str, "os.PathLike[str]", Sequence[Any]], disparity_root: str,
                         camera_root: str) -> Dict[str, Distances]:
    """{image key: distances} for every GT file, from ``<key>_disparity.png`` under ``disparity_root``
    and ``<key>_camera.json`` under ``camera_root`` (the dataset's disparity/ and camera/ trees)."""
    found: Dict[str, Dict[str, str]] = {"disparity": {}, "camera": {}}
    for kind, root, suffix in (("disparity", disparity_root, "_disparity.png"), ("camera", camera_root, "_camera.json")):
        if not os.path.isdir(root):
            raise MissingPredictionError(f"{kind} folder '{root}' does not exist")
        for d, names in walk_tree(root):
            for n in names:
                if n.endswith(suffix):
                    found[kind][n[: -len(suffix)]] = os.path.join(d, n)
    out: Dict[str, Distances] = {}
    for g in gt_files(gt):
        key = image_key(g)
        missing = [kind for kind in ("disparity", "camera") if key not in found[kind]]
        if missing:
            raise MissingPredictionError(f"image {key}: no {' and no '.join(missing)} file found")
        out[key] = distances_from_disparity(g, found["disparity"][key], found["camera"][key])
    return out
