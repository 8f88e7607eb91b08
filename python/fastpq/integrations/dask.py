"""Every metric family on a Dask cluster: ``fastpq.dask.pq_compute`` (a drop-in for
``fastpq.pq_compute``) and ``evaluate`` (with its breakdowns), ``semantic``, ``instance_ap`` and
``amodal_ar`` (:mod:`fastpq.integrations.dask_families`).

The client parses both JSON files once (with the same checks and errors as :func:`fastpq.evaluate`),
splits the images into chunks of their segment tables and sends each chunk to a Dask task. A task
runs fastpq's C++ engine on its images and returns only its *partial state*: four per-category lists,
the TP / FP / FN counts and the sum of the matched IoUs. Those lists are reduced by adding them up,
in chunk order, and the sums give the PQ / SQ / RQ exactly as a single pass does.

Why this works on any cluster size: panoptic quality is a function of the per-category sums alone,
and sums are additive, so the images can be cut into any number of chunks, scored anywhere in any
order, and the partial states combined in any grouping. The counts are integers, hence identical;
the IoU sums are floats, added in a different grouping than one pass over the images, so they equal
the single-pass sums within rounding (a few ulps, far below 1e-12). The state a task returns is a few
numbers per category, whatever the number of images, so the reduction costs nothing.

The PNGs are read by the workers. Local paths must be the same on every worker (a shared file
system; relative paths are taken relative to each worker's working directory); with fsspec URLs
(``s3://``, ``gs://``, ...) and ``storage_options`` no shared file system is needed: each task
ships its chunk's segment tables and URLs, and the worker fetches its own chunk's bytes. An image that cannot
be scored raises, on the client, the same :class:`fastpq.FastPQError` (class, message, image_id,
file, segment_id) as ``fastpq.pq_compute``: the first failing image in GT order.

Dask is imported only when :func:`pq_compute` runs: ``import fastpq`` does not need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..io.dataset import Categories, SegmentTables
from ..panoptic.breakdown import DEFAULT_BOUNDARY_DILATION_RATIO, BreakdownSums
from ..panoptic.evaluation import DEFAULT_MAX_PIXELS, PathLike, evaluate_tables, prepare, report_like_panopticapi
from ..panoptic.results import PanopticResult
from .dask_common import (PARTITIONS_PER_THREAD, Failure as _Failure, add_nested, check_partitions,
                          client_or_default, default_client as _default_client, partition_count, run_chunks,
                          split_points)
from .dask_families import amodal_ar, instance_ap, semantic

if TYPE_CHECKING:  # pragma: no cover - typing only
    from distributed import Client

__all__ = ["PARTITIONS_PER_THREAD", "PartialState", "add_states", "amodal_ar", "evaluate", "instance_ap",
           "pq_compute", "semantic", "split_points"]

#: What a task returns: per-category (tp, fp, fn, iou sum), in the GT JSON's category order.
PartialState = Tuple[List[int], List[int], List[int], List[float]]


def pq_compute(gt_json_file: PathLike, pred_json_file: PathLike, gt_folder: Optional[PathLike] = None,
               pred_folder: Optional[PathLike] = None, client: Optional["Client"] = None,
               partitions: Optional[int] = None, *, workers: int = 1,
               max_pixels: int = DEFAULT_MAX_PIXELS,
               storage_options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """``fastpq.pq_compute`` on a Dask cluster: same arguments, printout, return dict and errors.

    Args:
        gt_json_file, pred_json_file, gt_folder, pred_folder: as :func:`fastpq.pq_compute`; paths
            or fsspec URLs (read with ``storage_options``, on the client and on the workers).
        client: a ``distributed.Client``; by default the current default client if there is one,
            else Dask's local threaded scheduler (or the scheduler set in ``dask.config``).
        partitions: number of chunks the images are split into; by default
            :data:`PARTITIONS_PER_THREAD` per thread of the client's workers (per core without a
            client), at most one per image.
        workers: threads fastpq's engine uses inside each task (1: Dask's threads give the parallelism).
        max_pixels: PNGs with more pixels are refused (as in :func:`fastpq.evaluate`).

    Returns ``{"All" | "Things" | "Stuff": {"pq", "sq", "rq", "n"}, "per_class": {...}}``, equal to
    ``fastpq.pq_compute``'s (n, TP / FP / FN identical; scores within rounding, 1e-12).
    Raises the same :class:`fastpq.FastPQError` as ``fastpq.pq_compute`` (re-raised from the worker).
    """
    return report_like_panopticapi(
        gt_json_file, pred_json_file, gt_folder, pred_folder,
        lambda gt, pred, gt_dir, pred_dir: evaluate(gt, pred, gt_dir, pred_dir, client=client, partitions=partitions,
                                                    workers=workers, max_pixels=max_pixels,
                                                    storage_options=storage_options))


def evaluate(gt_json_file: PathLike, pred_json_file: PathLike, gt_folder: Optional[PathLike] = None,
             pred_folder: Optional[PathLike] = None, client: Optional["Client"] = None,
             partitions: Optional[int] = None, *, workers: int = 1,
             max_pixels: int = DEFAULT_MAX_PIXELS, storage_options: Optional[Mapping[str, Any]] = None,
             by_size: bool = False, covering: bool = False, covering_normalize_by_image_size: bool = True,
             boundary: bool = False,
             boundary_dilation_ratio: float = DEFAULT_BOUNDARY_DILATION_RATIO) -> PanopticResult:
    """:func:`fastpq.evaluate` on a Dask cluster (arguments as :func:`pq_compute`), quietly, with
    the breakdowns of :func:`fastpq.evaluate` (``by_size``, ``covering``, ``boundary``).

    The client parses the JSONs once; each task gets its chunk's segment tables and file names or
    URLs, scores them on a worker and returns only its per-category sums (and breakdown sums),
    added on the client in chunk order. Returns the :class:`fastpq.PanopticResult` (without
    per-image rows).
    """
    check_partitions(partitions)
    tables, categories = prepare(gt_json_file, pred_json_file, gt_folder, pred_folder,
                                 storage_options=storage_options)
    k = len(categories)
    options = {"workers": workers, "max_pixels": max_pixels, "by_size": by_size, "covering": covering,
               "boundary": boundary, "boundary_dilation_ratio": boundary_dilation_ratio,
               "storage_options": dict(storage_options or {})}
    if len(tables) == 0:
        zeros: PartialState = ([0] * k, [0] * k, [0] * k, [0.0] * k)
        return PanopticResult.from_totals(categories, *zeros)

    client = client_or_default(client)
    bounds = split_points(len(tables), partition_count(partitions, client))
    chunks = [tables.chunk(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    states = run_chunks(_partial_state, chunks, (categories, options), client, "panoptic")
    totals = add_states([s[:4] for s in states])
    result = PanopticResult.from_totals(categories, *totals)
    breakdown = BreakdownSums(k)
    sums = states[0][4]
    for s in states[1:]:
        sums = add_nested(sums, s[4]) if sums is not None else None
    breakdown.update(sums)
    breakdown.attach(result, categories, covering_normalize_by_image_size)
    return result


def add_states(states: Sequence[PartialState]) -> PartialState:
    """Adds partial states element by element, in the order given."""
    first_tp, first_fp, first_fn, first_iou = states[0]
    tp, fp, fn, iou = list(first_tp), list(first_fp), list(first_fn), list(first_iou)
    for s_tp, s_fp, s_fn, s_iou in states[1:]:
        for i in range(len(tp)):
            tp[i] += s_tp[i]
            fp[i] += s_fp[i]
            fn[i] += s_fn[i]
            iou[i] += s_iou[i]
    return tp, fp, fn, iou


def _partial_state(tables: SegmentTables, categories: Categories, options: Dict[str, Any]) -> Tuple[Any, ...]:
    """Runs on a worker: scores one chunk of images (fetching its URLs), returns its per-category
    sums and breakdown sums. An error is the chunk's first failing image's (see dask_common)."""
    result = evaluate_tables(tables, categories, **options)
    return ([c.tp for c in result.classes], [c.fp for c in result.classes], [c.fn for c in result.classes],
            [c.iou for c in result.classes], result.breakdown_sums)
