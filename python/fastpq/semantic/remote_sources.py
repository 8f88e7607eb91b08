"""Semantic inputs behind fsspec URLs: folders found by listing the storage (the rules of
:mod:`fastpq.semantic.sources`, applied to the listing), and label PNGs fetched as bytes, chunk by
chunk, for the C++ pass, with errors naming the URL."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from typing import Any, List, Optional, Sequence, Tuple

from ..errors import FastPQError, ImageSetMismatchError, MissingFolderError, MissingPredictionError, PngNotFoundError
from ..io.remote import StorageOptions, fetch_all, is_url, isdir, join, list_files

Resolved = Tuple[List[Any], List[Any], Optional[List[Any]], List[str]]

#: Images whose label PNGs one C++ call gets when they come from URLs (bounds the bytes held).
REMOTE_CHUNK = 64


def is_remote_folder(x: Any, storage_options: StorageOptions) -> bool:
    """Whether `x` is a URL naming a folder."""
    return is_url(x) and isdir(x, storage_options)


def _sort_key(rel: str) -> Tuple[str, ...]:
    return tuple(rel.split("/"))  # pathlib's order of the local path (by components)


def remote_folders(gt: str, pred: str, preset: Optional[str], instances: bool,
                   storage_options: StorageOptions) -> Resolved:
    """(gt URLs, pred URLs, instance URLs or None, names) of two folders in storage."""
    for folder in (gt, pred):
        if not is_remote_folder(folder, storage_options):
            raise MissingFolderError(f"{folder}: not a folder", file=str(folder))
    gt_all = list_files(gt, storage_options)
    pred_all = list_files(pred, storage_options)
    if preset == "cityscapes":
        return _cityscapes(gt, pred, gt_all, pred_all, instances)
    gts = sorted((r for r in gt_all if r.endswith(".png")))
    if not gts:
        raise MissingPredictionError(f"{gt}: no PNG files below it", file=gt)
    have = set(pred_all)
    preds = []
    for rel in gts:
        if rel not in have:
            raise MissingPredictionError(f"{join(gt, rel)}: no prediction {join(pred, rel)}", file=join(pred, rel))
        preds.append(rel)
    _check_extra(pred, pred_all, set(preds))
    gt_urls = [join(gt, r) for r in gts]
    return gt_urls, [join(pred, r) for r in preds], None, list(gt_urls)


def _cityscapes(gt: str, pred: str, gt_all: List[str], pred_all: List[str], instances: bool) -> Resolved:
    gts = sorted((r for r in gt_all if fnmatch.fnmatch(posixpath.basename(r), "*_gtFine_labelIds.png")),
                 key=_sort_key)
    if not gts:
        raise MissingPredictionError(f"{gt}: no *_gtFine_labelIds.png below it", file=gt)
    gt_set = set(gt_all)
    claimed, preds, insts = set(), [], []
    for rel in gts:
        parts = posixpath.basename(rel).split("_")
        if len(parts) < 3:
            raise MissingPredictionError(f"{join(gt, rel)}: not a Cityscapes file name (<city>_<seq>_<frame>_...)",
                                         file=join(gt, rel))
        pattern = "_".join(parts[:3]) + "*.png"
        found = [p for p in pred_all if fnmatch.fnmatch(posixpath.basename(p), pattern)]
        if not found:
            raise MissingPredictionError(f"{join(gt, rel)}: no prediction {pattern} below {pred}", file=join(gt, rel))
        if len(found) > 1:
            raise ImageSetMismatchError(f"{join(gt, rel)}: several predictions match {pattern}: "
                                        f"{', '.join(sorted(join(pred, f) for f in found))}", file=join(gt, rel))
        claimed.add(found[0])
        preds.append(found[0])
        if instances:
            inst = rel.replace("labelIds", "instanceIds")
            if inst not in gt_set:
                raise PngNotFoundError(f"{join(gt, inst)}: no such file (the instance map of {join(gt, rel)})",
                                       file=join(gt, inst))
            insts.append(join(gt, inst))
    _check_extra(pred, pred_all, claimed)
    gt_urls = [join(gt, r) for r in gts]
    return gt_urls, [join(pred, p) for p in preds], insts if instances else None, list(gt_urls)


def _check_extra(pred: str, pred_all: Sequence[str], claimed: set) -> None:
    extra = sorted(join(pred, r) for r in pred_all if r.lower().endswith(".png") and r not in claimed)
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise ImageSetMismatchError(f"{extra[0]}: a prediction for no ground-truth image{more}", file=extra[0])


def any_url(*lists: Optional[Sequence[Any]]) -> bool:
    """Whether any source of the lists is a URL."""
    return any(is_url(x) for items in lists if items for x in items)


def fetch_sources(sources: Sequence[Any], storage_options: StorageOptions) -> Tuple[List[Any], int,
                                                                                    Optional[FastPQError]]:
    """`sources` with every URL replaced by its bytes; (sources, index of the first that could not
    be fetched or len, its error or None)."""
    wanted = [i for i, s in enumerate(sources) if is_url(s)]
    out = list(sources)
    first, error = len(out), None
    for i, item in zip(wanted, fetch_all([sources[i] for i in wanted], storage_options, what="label PNG")):
        if isinstance(item, FastPQError):
            if i < first:
                first, error = i, item
        else:
            out[i] = item
    return out, first, error


_MEMORY_NAME = re.compile(r"<(ground truth|prediction|instances) #(\d+) in memory>")


def name_urls(message: str, gts: Sequence[Any], preds: Sequence[Any], insts: Optional[Sequence[Any]]) -> str:
    """A C++ message with its "<prediction #i in memory>" names replaced by the URLs the bytes came from."""
    lists = {"ground truth": gts, "prediction": preds, "instances": insts or []}

    def url(match: "re.Match[str]") -> str:
        items, i = lists[match.group(1)], int(match.group(2))
        return items[i] if i < len(items) and isinstance(items[i], str) else match.group(0)

    return _MEMORY_NAME.sub(url, message)
