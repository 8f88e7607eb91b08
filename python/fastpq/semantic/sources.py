"""Turning what a user passes (folders, file lists, (gt, pred) pairs, arrays, tensors) into the
lists of sources the C++ pass reads, with a name per image for error messages and per-image rows.

Folders: for ``cityscapes``, the ground truth is every ``*_gtFine_labelIds.png`` below the folder
(instances from the ``instanceIds`` file beside it) and each prediction the one PNG below the
prediction folder whose name starts with ``<city>_<seq>_<frame>``, as cityscapesscripts finds them;
for the other presets, every ``*.png`` below the ground-truth folder, its prediction at the same
relative path below the prediction folder. A missing prediction, two candidates for one image, or a
prediction PNG no ground truth claims is an error.
"""

from __future__ import annotations

import bisect
import fnmatch
import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import (ImageSetMismatchError, LimitExceededError, MissingFolderError, MissingPredictionError,
                      PngNotFoundError)
from ..io.folders import walk_tree
from ..io.limits import DEFAULT_MAX_PIXELS
from ..io.remote import StorageOptions, is_url, local_path

Source = Any  # str path, bytes, or a 2-D integer numpy array
Resolved = Tuple[List[Source], List[Source], Optional[List[Source]], List[str]]

_ARRAY_KINDS = "iu"


def _is_folder(x: Any, storage_options: StorageOptions = None) -> bool:
    if is_url(x):
        from .remote_sources import is_remote_folder

        return is_remote_folder(x, storage_options)
    return isinstance(x, (str, os.PathLike)) and os.path.isdir(local_path(x))


def as_array(x: Any, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A 2-D (or 3-D batch) C-contiguous, aligned integer array from a numpy array or CPU torch
    tensor, without a copy where the input already is one. Maps of more than ``max_pixels`` pixels are
    refused before anything is copied (a zero-stride view can fake a huge array)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        x = x.detach()
        if getattr(x, "device", None) is not None and str(x.device) != "cpu":
            x = x.cpu()
        x = x.numpy()
    a = np.asarray(x)
    if a.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"{name}: label maps must be integer arrays, not {a.dtype}")
    if a.ndim not in (2, 3):
        raise ValueError(f"{name}: label maps must be (H, W) or a batch (N, H, W), not shape {a.shape}")
    pixels = int(a.shape[-1]) * int(a.shape[-2])
    if pixels > max_pixels:
        raise LimitExceededError(f"{name}: a label map of {a.shape[-2]}x{a.shape[-1]} = {pixels} pixels is more "
                                 f"than max_pixels = {max_pixels}")
    if not a.dtype.isnative:  # the engine reads native integers: a big-endian map is converted
        a = a.astype(a.dtype.newbyteorder("="))
    return np.require(a, requirements=("C", "A"))  # the engine reads C-ordered, aligned rows


def _one(x: Any, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> List[Source]:
    """One source, or the images of a (N, H, W) batch."""
    if is_url(x):
        return [x]  # fetched when the pass runs; a missing object is named then
    if isinstance(x, (str, os.PathLike)):
        x = local_path(x)
        if not os.path.isfile(x):
            raise PngNotFoundError(f"{os.fspath(x)}: no such file", file=os.fspath(x))
        return [os.fspath(x)]
    if isinstance(x, (bytes, bytearray, memoryview)):
        return [bytes(x)]
    a = as_array(x, name, max_pixels)
    return [a] if a.ndim == 2 else [a[i] for i in range(a.shape[0])]


def _name(x: Source, index: int) -> str:
    return x if isinstance(x, str) else f"<{'memory' if isinstance(x, bytes) else 'array'} #{index}>"


def flatten(items: Any, what: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> List[Source]:
    """A list of sources from one source, a batch array, or a sequence of them."""
    if isinstance(items, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(items, "ndim") \
            or hasattr(items, "detach"):
        return _one(items, what, max_pixels)
    out: List[Source] = []
    for i, x in enumerate(items):
        out.extend(_one(x, f"{what} #{i}", max_pixels))
    return out


def _cityscapes_key(path: Path) -> str:
    parts = path.name.split("_")
    if len(parts) < 3:
        raise MissingPredictionError(f"{path}: not a Cityscapes file name (<city>_<seq>_<frame>_...)",
                                     file=str(path))
    return "_".join(parts[:3])


_MAGIC = frozenset("*?[")  # characters fnmatch reads as a pattern


class _PrefixIndex:
    """The files of a walked folder, sorted by name as fnmatch compares them, so that the files
    matching ``<key>*<suffix>`` (a key without pattern characters) are found by a binary search
    instead of one fnmatch pass over every file per key."""

    def __init__(self, walk: Sequence[Tuple[str, List[str]]]) -> None:
        entries = sorted((os.path.normcase(f), os.path.join(root, f)) for root, files in walk for f in files)
        self._names = [name for name, _ in entries]
        self._paths = [path for _, path in entries]

    def matching(self, key: str, suffix: str) -> List[str]:
        prefix, suffix = os.path.normcase(key), os.path.normcase(suffix)
        out = []
        for i in range(bisect.bisect_left(self._names, prefix), len(self._names)):
            name = self._names[i]
            if not name.startswith(prefix):
                break
            if name[len(prefix):].endswith(suffix):
                out.append(self._paths[i])
        return out


def _cityscapes_folders(gt_dir: Path, pred_dir: Path, instances: bool) -> Resolved:
    gts = sorted(Path(root, f) for root, files in walk_tree(gt_dir) for f in files
                 if f.endswith("_gtFine_labelIds.png"))
    if not gts:
        raise MissingPredictionError(f"{gt_dir}: no *_gtFine_labelIds.png below it", file=str(gt_dir))
    walk = [(root, files) for root, _, files in os.walk(pred_dir)]  # the reference's os.walk
    by_name = _PrefixIndex(walk)
    claimed = set()
    preds, insts = [], []
    for gt in gts:
        key = _cityscapes_key(gt)
        pattern = key + "*.png"
        found = by_name.matching(key, ".png") if not _MAGIC.intersection(key) else \
            [os.path.join(root, f) for root, files in walk for f in fnmatch.filter(files, pattern)]
        if not found:
            raise MissingPredictionError(f"{gt}: no prediction {pattern} below {pred_dir}", file=str(gt))
        if len(found) > 1:
            raise ImageSetMismatchError(f"{gt}: several predictions match {pattern}: {', '.join(sorted(found))}",
                                        file=str(gt))
        claimed.add(os.path.normpath(found[0]))
        preds.append(found[0])
        if instances:
            inst = str(gt).replace("labelIds", "instanceIds")
            if not os.path.isfile(inst):
                raise PngNotFoundError(f"{inst}: no such file (the instance map of {gt})", file=inst)
            insts.append(inst)
    _check_extra(pred_dir, walk, claimed)
    return [str(g) for g in gts], preds, insts if instances else None, [str(g) for g in gts]


def _check_extra(pred_dir: Path, walk: Sequence[Tuple[str, List[str]]], claimed: set) -> None:
    extra = sorted(os.path.join(root, f) for root, files in walk for f in files
                   if f.lower().endswith(".png") and os.path.normpath(os.path.join(root, f)) not in claimed)
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise ImageSetMismatchError(f"{extra[0]}: a prediction for no ground-truth image{more}", file=extra[0])


def _plain_folders(gt_dir: Path, pred_dir: Path) -> Resolved:
    # (path below gt_dir, path) of every ground truth, by the former; the same path below pred_dir
    # is its prediction.
    base = os.fspath(gt_dir)
    listed = sorted((below, below if base == "." else os.path.join(base, below))  # pathlib writes no "./"
                    for below in (_below(gt_dir, root, f) for root, files in walk_tree(gt_dir) for f in files
                                  if f.endswith(".png")))
    if not listed:
        raise MissingPredictionError(f"{gt_dir}: no PNG files below it", file=str(gt_dir))
    gts = [gt for _, gt in listed]
    pred_root = os.fspath(pred_dir)
    preds = []
    for below, gt in listed:
        pred = os.path.join(pred_root, below if os.sep == "/" else below.replace("/", os.sep))
        if not os.path.isfile(pred):
            raise MissingPredictionError(f"{gt}: no prediction {pred}", file=pred)
        preds.append(pred)
    walk = [(root, files) for root, _, files in os.walk(pred_dir)]  # the reference's os.walk
    _check_extra(pred_dir, walk, {os.path.normpath(p) for p in preds})
    return gts, preds, None, list(gts)


def _below(folder: Path, root: str, name: str) -> str:
    """The path of file ``name`` in ``root``, a folder the walk of ``folder`` reached, relative to
    ``folder`` with '/' separators (string slicing: pathlib would parse every path again)."""
    base = os.fspath(folder)
    rel = root[len(base):].lstrip(os.sep) if root.startswith(base) else os.path.relpath(root, base)
    below = name if rel in ("", ".") else rel + os.sep + name
    return below if os.sep == "/" else below.replace(os.sep, "/")


def resolve(gt: Any, pred: Any, instances: Any, preset: Optional[str], want_instances: bool,
            max_pixels: int = DEFAULT_MAX_PIXELS, storage_options: StorageOptions = None) -> Resolved:
    """(gt sources, pred sources, instance sources or None, image names) of an evaluation's inputs.

    Folders and files may be fsspec URLs (read with `storage_options`): URL folders are listed in
    storage, and URL files stay URLs here, fetched by the pass."""
    if is_url(gt) or is_url(pred):
        if _is_folder(gt, storage_options) or _is_folder(pred, storage_options):
            from .remote_sources import remote_folders

            return remote_folders(gt, pred, preset, want_instances and instances is not False, storage_options)
    if pred is None and not _is_folder(gt):
        gts, preds, insts = [], [], []
        for i, item in enumerate(gt):
            if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
                raise TypeError("with pred=None, gt must be a list of (gt, pred) or (gt, pred, instances)")
            g, p = _one(item[0], f"ground truth #{i}", max_pixels), _one(item[1], f"prediction #{i}", max_pixels)
            gts += g
            preds += p
            if len(item) == 3:
                insts += _one(item[2], f"instances #{i}", max_pixels)
        instances = insts or instances
    elif _is_folder(gt) or _is_folder(pred):
        for folder in (gt, pred):
            if not _is_folder(folder):
                raise MissingFolderError(f"{folder}: not a folder", file=str(folder))
        gt, pred = local_path(gt), local_path(pred)
        if preset == "cityscapes":
            return _cityscapes_folders(Path(gt), Path(pred), want_instances and instances is not False)
        return _plain_folders(Path(gt), Path(pred))
    else:
        gts, preds = flatten(gt, "ground truth", max_pixels), flatten(pred, "prediction", max_pixels)
    if len(gts) != len(preds):
        raise ImageSetMismatchError(f"{len(gts)} ground-truth maps but {len(preds)} predictions")
    inst_list = None
    if instances is not None and instances is not False:
        inst_list = flatten(instances, "instances", max_pixels)
        if len(inst_list) != len(gts):
            raise ImageSetMismatchError(f"{len(gts)} ground-truth maps but {len(inst_list)} instance maps")
    return gts, preds, inst_list, [_name(g, i) for i, g in enumerate(gts)]
