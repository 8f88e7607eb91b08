"""Semantic scores, Cityscapes instance AP and amodal AR on a Dask cluster, by the design of
``fastpq.dask.evaluate``: the client reads what describes the dataset once (folder listings,
results txts, JSONs), each task gets its chunk's part of that (file names or URLs, segment tables,
masks) and returns only the chunk's additive state, and the client adds the states up in chunk
order, so the result equals the single-process one exactly, whatever the scheduling:

* semantic: the chunk's :class:`~fastpq.semantic.state.SemanticState` (confusion counts and each
  image's nonzero entries, integers), concatenated in image order;
* instance AP: the chunk's per-image counts (instance pixels per GT id and per predicted mask),
  which the AP matching reads image by image;
* amodal AR: the chunk's matched-region counts per setting, threshold and detection limit, and its
  region counts (integers), added.

Files may be local paths seen by every worker or fsspec URLs read with ``storage_options`` (no
shared file system then). Errors are the local path's, re-raised on the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import AnnotationError, InvalidOptionError
from .dask_common import add_nested, check_partitions, client_or_default, partition_count, run_chunks, split_points

if TYPE_CHECKING:  # pragma: no cover - typing only
    from distributed import Client

__all__ = ["amodal_ar", "instance_ap", "semantic"]


def _chunks(n: int, partitions: Optional[int], client: Optional["Client"]) -> List[Tuple[int, int]]:
    bounds = split_points(n, partition_count(partitions, client))
    return list(zip(bounds[:-1], bounds[1:]))


def semantic(gt: Any, pred: Any = None, *, client: Optional["Client"] = None, partitions: Optional[int] = None,
             preset: Optional[str] = None, num_classes: Optional[int] = None, ignore_index: Any = None,
             label_map: Optional[Mapping[int, int]] = None, reduce_zero_label: bool = False, instances: Any = None,
             pred_format: str = "labelIds", class_names: Optional[Sequence[str]] = None, workers: int = 1,
             max_pixels: Optional[int] = None, storage_options: Optional[Mapping[str, Any]] = None,
             **options: Any) -> Any:
    """:func:`fastpq.semantic.evaluate` on a Dask cluster: same arguments (``workers``: threads per
    task), same :class:`~fastpq.semantic.SemanticResult` (its state holds every image, in order)."""
    from ..io.limits import DEFAULT_MAX_PIXELS
    from ..semantic.compute import compute
    from ..semantic.sources import resolve
    from ..semantic.spec import make_spec
    from ..semantic.state import SemanticState

    check_partitions(partitions)
    want_instances = preset == "cityscapes" and instances is not False
    spec = make_spec(preset, num_classes=num_classes, ignore_index=ignore_index, label_map=label_map,
                     reduce_zero_label=reduce_zero_label, class_names=class_names, pred_format=pred_format,
                     instances=False, **options)
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else int(max_pixels)
    gts, preds, insts, names = resolve(gt, pred, instances, preset, want_instances, limit, storage_options)
    if preset == "cityscapes":
        spec = make_spec(preset, pred_format=pred_format, instances=insts is not None)
    elif insts is not None:
        raise TypeError(f"instance maps are only scored by the cityscapes preset, not {preset!r}")
    state = SemanticState(spec.n_rows, spec.n_cols, spec.instances)
    if gts:
        client = client_or_default(client)
        chunks = [(gts[a:b], preds[a:b], None if insts is None else insts[a:b], names[a:b])
                  for a, b in _chunks(len(gts), partitions, client)]
        shared = (spec, workers, max_pixels, dict(storage_options or {}))
        for part in run_chunks(_semantic_chunk, chunks, shared, client, "semantic"):
            state.merge(part)
    return compute(spec, state)


def _semantic_chunk(chunk: Tuple[Any, ...], spec: Any, workers: int, max_pixels: Optional[int],
                    storage_options: Dict[str, Any]) -> Any:
    """Runs on a worker: one chunk's semantic state."""
    from ..semantic.evaluation import run_pass
    from ..semantic.state import SemanticState

    gts, preds, insts, names = chunk
    state = SemanticState(spec.n_rows, spec.n_cols, spec.instances)
    run_pass(state, spec, list(gts), list(preds), None if insts is None else list(insts), list(names), workers,
             max_pixels, storage_options)
    return state


def instance_ap(gt: Any, pred: Any, *, client: Optional["Client"] = None, partitions: Optional[int] = None,
                workers: int = 1, storage_options: Optional[Mapping[str, Any]] = None) -> Any:
    """:func:`fastpq.instance.evaluate` on a Dask cluster, for a GT folder (or files) and the
    official results folder, local or behind URLs: the client finds the files and parses the
    results txts, the workers count their chunk's PNGs (C++), the client matches the counts."""
    from ..instance import files
    from ..instance.evaluation import _result
    from ..io.remote import is_url, local_path

    check_partitions(partitions)
    gt, pred = local_path(gt), local_path(pred)
    remote = is_url(pred) or (isinstance(gt, str) and is_url(gt))
    if remote:
        from ..instance.remote import gt_urls, per_image_lines

        per_image = per_image_lines(gt_urls(gt, storage_options), pred, storage_options)
    else:
        import os

        root = os.path.abspath(os.fspath(pred))
        walk = files.index_results(root)
        per_image = [(g, files.parse_results_txt(files.find_results_txt(g, walk), root, files.image_key(g)))
                     for g in files.gt_files(gt)]
    client = client_or_default(client)
    chunks = [per_image[a:b] for a, b in _chunks(len(per_image), partitions, client)]
    images: List[Any] = []
    for part in run_chunks(_instance_chunk, chunks, (workers, remote, dict(storage_options or {})), client,
                           "instance"):
        images.extend(part)
    return _result(images)


def _instance_chunk(per_image: List[Any], workers: int, remote: bool, storage_options: Dict[str, Any]) -> Any:
    """Runs on a worker: the per-image counts of one chunk."""
    if remote:
        from ..instance.remote import count_remote

        return count_remote(per_image, workers, storage_options)
    from ..instance.cpp_counting import count_with_core

    return count_with_core(per_image, workers)


def amodal_ar(gt_json: Any, proposals_json: Any, *, client: Optional["Client"] = None,
              partitions: Optional[int] = None, workers: int = 1,
              storage_options: Optional[Mapping[str, Any]] = None, **options: Any) -> Any:
    """:func:`fastpq.amodal.amodal_ar` on a Dask cluster (``annotations="first"``, no per-image
    rows): the client reads both JSONs, each task matches its chunk of images' regions and
    proposals and returns its integer counts, added on the client."""
    from ..amodal.ar import AmodalResult, _average_recall, iou_thresholds, prepare_images

    check_partitions(partitions)
    if options.get("annotations", "first") != "first" or options.get("per_image"):
        raise InvalidOptionError("fastpq.dask.amodal_ar scores annotations='first' without per-image rows")
    options.pop("per_image", None)
    use_visible = bool(options.get("use_visible", False))
    _, images = prepare_images(gt_json, proposals_json, workers=workers, storage_options=storage_options, **options)
    thresholds = iou_thresholds()
    client = client_or_default(client)
    spans = _chunks(len(images), partitions, client) if images else []
    chunks = [(a, images[a:b]) for a, b in spans]
    total: Any = None
    for part in run_chunks(_amodal_chunk, chunks, (thresholds, workers), client, "amodal"):
        total = part if total is None else add_nested(total, part)
    if total is None:
        from .. import _core

        out = _core.amodal_evaluate([], thresholds, workers=workers)
        total = {"matched": out["matched"], "regions": out["regions"]}
    ar, counts = _average_recall(total["matched"], total["regions"], len(thresholds))
    return AmodalResult(ar, counts, use_visible, None)


def _amodal_chunk(chunk: Tuple[int, List[Any]], thresholds: List[float], workers: int) -> Dict[str, List[int]]:
    """Runs on a worker: the matched and region counts of one chunk of images."""
    from .. import _core

    _, images = chunk
    out = _core.amodal_evaluate(
        [(im.height, im.width, im.region_masks, im.region_is_stuff, im.region_occlusion, im.proposal_masks,
          im.proposal_scores) for im in images], thresholds, workers=workers)
    if out["failure"] is not None:
        index, message = out["failure"]
        raise AnnotationError(f"In the image with ID {images[index].image_id}: {message}",
                              image_id=images[index].image_id)
    return {"matched": list(out["matched"]), "regions": list(out["regions"])}
