"""Panoptic quality from COCO panoptic files: the drop-in ``pq_compute`` and ``evaluate``."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, List, Optional, Union

from .. import _core
from ..io.dataset import (Categories, SegmentTables, build_tables, category_of, default_folder,
                       missing_ids_in_panopticapi_order, require_folder)
from ..io.json_files import object_of_json, read_json_bytes
from ..io.panoptic_json import read_tables
from ..io.remote import StorageOptions, is_url, local_path
from ..errors import (AnnotationError, FastPQError, ImageSizeMismatchError, PngError, PngNotFoundError,
                     SegmentMismatchError)
from .breakdown import DEFAULT_BOUNDARY_DILATION_RATIO, BreakdownSums, check_dilation_ratio
from ..io.limits import (DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_MAX_SEGMENTS_PER_IMAGE, Deadline,
                     check_engine_options, check_positive)
from .results import PanopticResult

PathLike = Union[str, "os.PathLike[str]"]
ProgressCallback = Callable[[int, int], None]



def evaluate(gt_json_file: PathLike, pred_json_file: PathLike, gt_folder: Optional[PathLike] = None,
             pred_folder: Optional[PathLike] = None, *, workers: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS,
             per_image: bool = False, progress: Optional[ProgressCallback] = None,
             inflate: str = "", strict: bool = False,
             max_segments_per_image: int = DEFAULT_MAX_SEGMENTS_PER_IMAGE,
             max_json_bytes: int = DEFAULT_MAX_JSON_BYTES, time_budget: Optional[float] = None,
             by_size: bool = False, covering: bool = False,
             covering_normalize_by_image_size: bool = True, boundary: bool = False,
             boundary_dilation_ratio: float = DEFAULT_BOUNDARY_DILATION_RATIO,
             semantic: bool = False, storage_options: StorageOptions = None) -> PanopticResult:
    """Scores a COCO panoptic prediction against its ground truth, exactly as panopticapi does.

    Args:
        gt_json_file, pred_json_file: COCO panoptic JSON files: local paths or fsspec URLs
            (``s3://``, ``gs://``, ``https://``, ``zip://pred.json::submission.zip``, ...).
        gt_folder, pred_folder: PNG folders (paths or URLs); by default each JSON path without ``.json``.
            PNGs behind URLs are fetched concurrently and decoded from memory, with the same checks.
        storage_options: fsspec options for the URLs (credentials, endpoint, ``anon``, ...).
        workers: threads decoding images in parallel; 0 uses every core.
        max_pixels: PNGs with more pixels are refused before any memory is taken for them.
        per_image: also keep per-image, per-category TP / FP / FN / IoU sums (``result.per_image``).
        progress: called as ``progress(done, total)`` while images are scored.
        inflate: "" (the build's default), "libdeflate" or "zlib".
        strict: refuse what panopticapi silently accepts (two predictions for one image, predictions
            for unknown images, repeated or out-of-range segment ids, file names leaving their folder;
            see :func:`fastpq._dataset.check_strict`). The default keeps panopticapi's behaviour.
        max_segments_per_image: images listing more segments (either side) are refused.
        max_json_bytes: larger JSON files are refused before they are read.
        time_budget: seconds; past it a :class:`TimeBudgetExceededError` is raised. It is checked
            after each JSON file and between batches of images, so it may be overrun by the time
            of one batch (a few images).
        by_size: also PQ by GT segment size (``result.by_size["small" | "medium" | "large"]``).
        covering: also parsing covering (``result.covering``), TensorFlow DeepLab's ParsingCovering;
            ``covering_normalize_by_image_size`` is its ``normalize_by_image_size``.
        boundary: also boundary PQ (``result.boundary``), the Boundary IoU API's; the band width is
            ``boundary_dilation_ratio`` times the image diagonal.
        The definitions, and the implementations they equal, are in :mod:`fastpq.breakdown`; all are
        computed in the same pass over the PNGs.
        semantic: also the semantic scores of the prediction (``result.semantic``: each pixel's
            category, ground-truth void ignored), counted from the same pass.

    Returns a :class:`PanopticResult`; groups with no present category have NaN scores and n = 0.
    Raises a :class:`FastPQError` subclass, naming the image, file or segment, on bad input.
    """
    check_engine_options(workers, max_pixels, inflate)
    deadline = Deadline(time_budget)
    tables, categories = prepare(gt_json_file, pred_json_file, gt_folder, pred_folder, strict=strict,
                                 max_segments_per_image=max_segments_per_image, max_json_bytes=max_json_bytes,
                                 deadline=deadline, storage_options=storage_options)
    return evaluate_tables(tables, categories, workers=workers, max_pixels=max_pixels, per_image=per_image,
                           progress=progress, inflate=inflate, deadline=deadline, by_size=by_size, covering=covering,
                           covering_normalize_by_image_size=covering_normalize_by_image_size, boundary=boundary,
                           boundary_dilation_ratio=boundary_dilation_ratio, semantic=semantic,
                           storage_options=storage_options)


def prepare(gt_json_file: PathLike, pred_json_file: PathLike, gt_folder: Optional[PathLike],
            pred_folder: Optional[PathLike], *, strict: bool = False,
            max_segments_per_image: int = DEFAULT_MAX_SEGMENTS_PER_IMAGE,
            max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
            deadline: Optional[Deadline] = None,
            storage_options: StorageOptions = None) -> "tuple[SegmentTables, Categories]":
    """Reads both JSON files (paths or URLs) and pairs their images: every check that needs no PNG,
    in one order, so that any front end gives the same error for the same input.

    Plain files are read straight into the tables in C++ (:mod:`fastpq.io.panoptic_json`); the others,
    and all in strict mode, are parsed in Python, which names whatever is wrong."""
    check_positive("max_segments_per_image", max_segments_per_image)
    check_positive("max_json_bytes", max_json_bytes)
    deadline = deadline or Deadline(None)
    gt_json_file, pred_json_file = local_path(os.fspath(gt_json_file)), local_path(os.fspath(pred_json_file))
    gt_raw = read_json_bytes(gt_json_file, "ground-truth", max_json_bytes, storage_options)
    try:
        deadline.check("after reading the ground-truth JSON")
        pred_raw = read_json_bytes(pred_json_file, "prediction", max_json_bytes, storage_options)
    except Exception:
        object_of_json(gt_raw, gt_json_file, "ground-truth")  # a broken ground truth is named first
        raise
    fast = None if strict else read_tables(gt_raw, pred_raw, max_segments_per_image)
    if fast is None:
        gt_json = object_of_json(gt_raw, gt_json_file, "ground-truth")
        pred_json = object_of_json(pred_raw, pred_json_file, "prediction")
    del gt_raw, pred_raw
    deadline.check("after reading the prediction JSON")
    gt_folder = default_folder(gt_json_file) if gt_folder is None else local_path(os.fspath(gt_folder))
    pred_folder = default_folder(pred_json_file) if pred_folder is None else local_path(os.fspath(pred_folder))
    require_folder(gt_folder, "ground truth", storage_options)
    require_folder(pred_folder, "predicted", storage_options)
    if fast is not None:
        categories = fast.categories()
        tables = fast.tables(gt_folder, pred_folder)
    else:
        categories = Categories.from_json(gt_json)
        tables = build_tables(gt_json, pred_json, gt_folder, pred_folder, categories, strict=strict,
                              max_segments_per_image=max_segments_per_image)
    deadline.check("after pairing the images")
    return tables, categories


def evaluate_tables(tables: SegmentTables, categories: Categories, *, workers: int = 0,
                    max_pixels: int = DEFAULT_MAX_PIXELS, per_image: bool = False,
                    progress: Optional[ProgressCallback] = None, inflate: str = "",
                    deadline: Optional[Deadline] = None, by_size: bool = False, covering: bool = False,
                    covering_normalize_by_image_size: bool = True, boundary: bool = False,
                    boundary_dilation_ratio: float = DEFAULT_BOUNDARY_DILATION_RATIO,
                    semantic: bool = False, storage_options: StorageOptions = None,
                    _chunk_images: Optional[int] = None) -> PanopticResult:
    """Runs the C++ engine over prepared segment tables, in chunks when progress is reported or
    a time budget is to be checked (``_chunk_images`` images a chunk, when given: for tests).
    Files that are URLs are fetched chunk by chunk (the next chunk while the engine scores one), so
    memory holds the PNG bytes of two chunks, not of the dataset.

    Each chunk continues the sums of the previous one (main totals and breakdowns alike), so every
    sum is added in the order of a single pass and the result does not depend on the chunking."""
    ratio = check_dilation_ratio(boundary_dilation_ratio)
    breakdowns = BreakdownSums(len(categories))
    n = len(tables)
    k = len(categories)
    tp: List[int] = [0] * k
    fp: List[int] = [0] * k
    fn: List[int] = [0] * k
    iou: List[float] = [0.0] * k
    rows: Optional[List[Dict[str, Any]]] = [] if per_image else None
    semantic_parts: List[Dict[str, Any]] = []
    timed = deadline is not None and deadline.active
    remote = n > 0 and (is_url(tables.gt_files[0]) or is_url(tables.pred_files[0]))
    chunk = max(n, 1) if progress is None and not timed and not remote else \
        max(64 if progress or remote else 16, 8 * _threads(workers))
    if _chunk_images is not None:
        check_positive("_chunk_images", _chunk_images)
        chunk = _chunk_images
    if progress is not None:
        progress(0, n)
    starts = list(range(0, n, chunk)) if n else [0]
    fetcher = _Prefetcher(tables, starts, chunk, storage_options) if remote else None
    try:
        for start in starts:
            stop = min(n, start + chunk)
            part = tables.chunk(start, stop)
            gt_data = pred_data = fetch_error = None
            if fetcher is not None:
                gt_data, pred_data, failed_at, fetch_error = fetcher.take(start)
                if fetch_error is not None:  # score the images before it: an earlier failure is the one raised
                    _score_before(part, failed_at, gt_data, pred_data, k, workers, max_pixels, inflate)
                    raise fetch_error
            out = _core.evaluate_panoptic(
                part.gt_files, part.pred_files, part.gt_offsets, part.gt_ids, part.gt_categories, part.gt_iscrowd,
                part.gt_areas, part.pred_offsets, part.pred_ids, part.pred_categories, k, workers=workers,
                max_pixels=max_pixels, inflate=inflate, keep_images=per_image, initial_tp=tp, initial_fp=fp,
                initial_fn=fn, initial_iou=iou, by_size=by_size, covering=covering, boundary=boundary,
                boundary_dilation_ratio=ratio, initial_breakdown=breakdowns.initial(), semantic=semantic,
                gt_data=gt_data, pred_data=pred_data)
            if out["failure"] is not None:
                raise _failure_to_error(out["failure"], part)
            # Each chunk continues the previous sums, so the addition order is that of one pass.
            breakdowns.update(out["breakdown"])
            tp, fp, fn, iou = out["tp"], out["fp"], out["fn"], out["iou"]
            if rows is not None:
                rows.extend(_image_rows(out["images"], part, categories))
            if semantic and out["semantic"] is not None:
                semantic_parts.append(out["semantic"])
            if progress is not None:
                progress(stop, n)
            if timed and stop < n:
                deadline.check(f"{stop} of {n} images scored")
    finally:
        if fetcher is not None:
            fetcher.close()
    images = None if rows is None else [(i, _base(f)) for i, f in zip(tables.image_ids, tables.gt_files)]
    result = PanopticResult.from_totals(categories, tp, fp, fn, iou, per_image=rows, images=images)
    breakdowns.attach(result, categories, covering_normalize_by_image_size)
    result.breakdown_sums = breakdowns.initial()  # the raw sums, for a caller that adds evaluations up (Dask)
    if semantic:
        result.semantic_counts = {"parts": semantic_parts, "n_categories": k,
                                  "names": [_base(f) for f in tables.gt_files]}
    return result


class _Prefetcher:
    """Fetches the PNG bytes of chunk after chunk on a background thread, one chunk ahead."""

    def __init__(self, tables: SegmentTables, starts: List[int], chunk: int, storage_options: StorageOptions) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from ..io.remote import fetch_pairs

        self._pool = ThreadPoolExecutor(max_workers=1)
        self._futures: Dict[int, Any] = {}
        n = len(tables)

        def fetch(start: int) -> Any:
            stop = min(n, start + chunk)
            return fetch_pairs(tables.gt_files[start:stop], tables.pred_files[start:stop],
                               tables.image_ids[start:stop], storage_options)

        self._fetch = fetch
        self._starts = starts
        if starts:
            self._futures[starts[0]] = self._pool.submit(fetch, starts[0])

    def take(self, start: int) -> Any:
        """The fetched chunk starting at `start`; starts fetching the next one."""
        i = self._starts.index(start)
        if i + 1 < len(self._starts):
            nxt = self._starts[i + 1]
            self._futures[nxt] = self._pool.submit(self._fetch, nxt)
        return self._futures.pop(start).result()

    def close(self) -> None:
        """Drops a chunk fetched ahead that is no longer wanted (after an error)."""
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown(wait=False)


def _score_before(part: SegmentTables, stop: int, gt_data: Any, pred_data: Any, k: int, workers: int,
                  max_pixels: int, inflate: str) -> None:
    """Raises the engine's error for the first of images 0..stop-1 of `part` that fails, if any."""
    if stop == 0:
        return
    head = part.chunk(0, stop)
    out = _core.evaluate_panoptic(
        head.gt_files, head.pred_files, head.gt_offsets, head.gt_ids, head.gt_categories, head.gt_iscrowd,
        head.gt_areas, head.pred_offsets, head.pred_ids, head.pred_categories, k, workers=workers,
        max_pixels=max_pixels, inflate=inflate, gt_data=None if gt_data is None else gt_data[:stop],
        pred_data=None if pred_data is None else pred_data[:stop])
    if out["failure"] is not None:
        raise _failure_to_error(out["failure"], head)


def _base(file: str) -> str:
    """The file name of a path or a URL (of a chained URL's first link)."""
    if is_url(file):
        from ..io.remote import name_of

        return name_of(file)
    return os.path.basename(file)


def _threads(workers: int) -> int:
    """The threads the engine runs with `workers` (0: the core's default, every core)."""
    return workers if workers > 0 else max(1, int(_core.build_info()["default_workers"]))


def _image_rows(images: Dict[str, List[Any]], part: SegmentTables, categories: Categories) -> List[Dict[str, Any]]:
    rows = []
    for i, c, t, p, f, s in zip(images["image"], images["category"], images["tp"], images["fp"], images["fn"],
                                images["iou"]):
        rows.append({"image_id": part.image_ids[i], "file_name": _base(part.gt_files[i]),
                     "category_id": categories.ids[c], "tp": t, "fp": p, "fn": f, "iou": s})
    return rows


def _failure_to_error(failure: Dict[str, Any], part: SegmentTables) -> FastPQError:
    """Builds the Python exception for the first image the engine could not score."""
    i = failure["image_index"]
    image_id = part.image_ids[i]
    kind = failure["kind"]
    segment_id = failure["segment_id"]
    pred_file = part.pred_files[i]
    if kind == "png_id_not_in_json":
        return SegmentMismatchError(
            "In the image with ID {} segment with ID {} is presented in PNG and not presented in JSON.".format(
                image_id, segment_id), image_id=image_id, file=pred_file, segment_id=segment_id)
    if kind == "unknown_category":
        return SegmentMismatchError(
            "In the image with ID {} segment with ID {} has unknown category_id {}.".format(
                image_id, segment_id, category_of(part.pred_annotations[i], segment_id)),
            image_id=image_id, file=pred_file, segment_id=segment_id)
    if kind == "json_ids_not_in_png":
        ids = missing_ids_in_panopticapi_order(part.pred_annotations[i], failure["segment_ids"])
        return SegmentMismatchError(
            "In the image with ID {} the following segment IDs {} are presented in JSON and not presented in "
            "PNG.".format(image_id, ids), image_id=image_id, file=pred_file, segment_id=segment_id)
    if kind == "bad_area":
        return AnnotationError(
            f"In the image with ID {image_id} ground-truth segment with ID {segment_id} has an 'area' that "
            f"does not fit its pixels in '{part.gt_files[i]}' (the IoU union it gives is zero, negative or "
            "NaN)",
            image_id=image_id, file=part.gt_files[i], segment_id=segment_id)
    if kind == "size_mismatch":
        return ImageSizeMismatchError(f"In the image with ID {image_id}: {failure['message']}",
                                      image_id=image_id, file=pred_file)
    message = failure["message"]
    file = part.gt_files[i] if f"'{part.gt_files[i]}'" in message else pred_file
    error_class = PngNotFoundError if kind == "file_missing" else PngError
    return error_class(f"In the image with ID {image_id}: {message}", image_id=image_id, file=file)


def pq_compute(gt_json_file: PathLike, pred_json_file: PathLike, gt_folder: Optional[PathLike] = None,
               pred_folder: Optional[PathLike] = None) -> Dict[str, Any]:
    """Drop-in for ``panopticapi.evaluation.pq_compute``: same arguments, printout and return dict.

    Returns ``{"All" | "Things" | "Stuff": {"pq", "sq", "rq", "n"}, "per_class": {category_id: {...}}}``
    with every value equal to panopticapi's. panopticapi's KeyError texts are kept; where it fails
    obscurely (images of different sizes, an empty category group) a clear FastPQError is raised.
    """
    return report_like_panopticapi(gt_json_file, pred_json_file, gt_folder, pred_folder, evaluate)


def report_like_panopticapi(gt_json_file: PathLike, pred_json_file: PathLike, gt_folder: Optional[PathLike],
                            pred_folder: Optional[PathLike],
                            score: Callable[[str, str, str, str], PanopticResult]) -> Dict[str, Any]:
    """Runs `score` on the resolved paths with panopticapi's printout around it; returns its dict."""
    start = time.time()
    gt_json_file, pred_json_file = os.fspath(gt_json_file), os.fspath(pred_json_file)
    gt_folder = default_folder(gt_json_file) if gt_folder is None else os.fspath(gt_folder)
    pred_folder = default_folder(pred_json_file) if pred_folder is None else os.fspath(pred_folder)
    print("Evaluation panoptic segmentation metrics:")
    print("Ground truth:")
    print("\tSegmentation folder: {}".format(gt_folder))
    print("\tJSON file: {}".format(gt_json_file))
    print("Prediction:")
    print("\tSegmentation folder: {}".format(pred_folder))
    print("\tJSON file: {}".format(pred_json_file))
    result = score(gt_json_file, pred_json_file, gt_folder, pred_folder)
    results = result.to_dict()
    print(result.table())
    print("Time elapsed: {:0.2f} seconds".format(time.time() - start))
    return results
