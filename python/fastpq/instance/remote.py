"""Cityscapes instance files behind fsspec URLs: the GT folder and the results folder listed in
storage, the results txts fetched and parsed by the local rules, and the GT and mask PNGs fetched
as bytes (a chunk of images at a time) for the C++ counter, messages naming the URLs."""

from __future__ import annotations

import fnmatch
from typing import Any, List, Sequence, Tuple

from ..errors import FastPQError, InstancePredictionError, MissingFolderError, MissingPredictionError
from ..io.limits import DEFAULT_MAX_PIXELS
from ..io.remote import (StorageOptions, fetch_all, first_failure, is_url, isdir, join, list_files, name_of,
                         normalize, parent)
from . import files
from .counting import ImageCounts

#: Images whose PNGs are held at once while counting from URLs.
REMOTE_CHUNK = 32


def gt_urls(gt: Any, storage_options: StorageOptions) -> List[str]:
    """The GT instanceIds URLs: every *_gtFine_instanceIds.png below a URL folder (sorted), the URL
    of one file, or the list given."""
    if isinstance(gt, str):
        if not isdir(gt, storage_options):
            return [gt]
        found = [join(gt, rel) for rel in list_files(gt, storage_options, files.GT_SUFFIX)]
        if not found:
            raise MissingPredictionError(f"no *{files.GT_SUFFIX} files under '{gt}'")
        return sorted(found)
    return [str(g) for g in gt]


def per_image_lines(gt_list: Sequence[str], pred_root: str,
                    storage_options: StorageOptions) -> List[Tuple[str, List[files.PredictionLine]]]:
    """(GT URL, prediction lines) per image, each image's results txt found and parsed by the local rules."""
    if not isdir(pred_root, storage_options):
        raise MissingFolderError(f"results folder '{pred_root}' does not exist")
    root = pred_root.partition("::")[0].rstrip("/")
    listing = list_files(pred_root, storage_options)
    txts = []
    for g in gt_list:
        pattern = files.image_key(g) + "*.txt"
        hits = [join(pred_root, rel) for rel in listing if fnmatch.fnmatch(name_of(rel), pattern)]
        if len(hits) > 1:
            raise MissingPredictionError(f"found several results files for '{g}': {sorted(hits)}")
        if not hits:
            raise MissingPredictionError(f"found no results file '{pattern}' for '{g}'")
        txts.append(hits[0])
    texts = fetch_all(txts, storage_options, what="results file")
    out = []
    for g, txt, text in zip(gt_list, txts, texts):
        image = files.image_key(g)
        if isinstance(text, FastPQError):
            raise MissingPredictionError(f"image {image}: cannot read results file '{txt}': {text}", file=txt)

        def mask_of(rel: str, where: str, txt: str = txt) -> str:
            if rel.startswith("/") or is_url(rel):
                raise InstancePredictionError(f"{where}: mask path '{rel}' must be relative")
            mask = normalize(join(parent(txt), rel))
            if not mask.partition("::")[0].startswith(root + "/"):
                raise InstancePredictionError(f"{where}: mask '{mask}' points outside the results folder "
                                              f"'{pred_root}'")
            return mask

        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InstancePredictionError(f"image {image}: results file '{txt}' is not UTF-8 text ({e})") from None
        out.append((g, files.parse_results_text(decoded, txt, image, mask_of)))
    return out


def count_remote(per_image: List[Tuple[str, Any]], workers: int, storage_options: StorageOptions,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> List[ImageCounts]:
    """Counts every image from PNG bytes fetched from storage, REMOTE_CHUNK images at a time."""
    from .. import _core
    from .cpp_counting import counts_of, kept_lines

    out: List[ImageCounts] = []
    for a in range(0, len(per_image), REMOTE_CHUNK):
        part = per_image[a:a + REMOTE_CHUNK]
        kept = kept_lines(part)
        urls = [g for g, _ in part] + [line.mask for k in kept for line in k]
        fetched = fetch_all(urls, storage_options, what="PNG",
                            image_ids=[files.image_key(g) for g, _ in part] +
                            [files.image_key(g) for (g, _), k in zip(part, kept) for _ in k])
        stop, error = first_failure(fetched)
        owner = [i for i, k in enumerate(kept) for _ in k]
        failed_image = len(part) if error is None else (stop if stop < len(part) else owner[stop - len(part)])
        gts, masks, at = fetched[:len(part)], [], len(part)
        for k in kept:
            masks.append(fetched[at:at + len(k)])
            at += len(k)
        n = failed_image
        raw = _core.instance_count_memory(gts[:n], masks[:n], [g for g, _ in part[:n]],
                                          [[line.mask for line in k] for k in kept[:n]], workers, max_pixels)
        out += counts_of(part[:n], kept[:n], raw)
        if error is not None:
            raise error
    return out
