"""Panoptic quality on a Dask cluster: ``fastpq.dask.pq_compute``, a drop-in for ``fastpq.pq_compute``.

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

The PNG files are read by the workers: they must see the same paths as the client (a shared file
system; relative paths are taken relative to each worker's working directory). An image that cannot
be scored raises, on the client, the same :class:`fastpq.FastPQError` (class, message, image_id,
file, segment_id) as ``fastpq.pq_compute``: the first failing image in GT order.

Dask is imported only when :func:`pq_compute` runs: ``import fastpq`` does not need it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ..io.dataset import Categories, SegmentTables
from ..errors import FastPQError
from ..panoptic.evaluation import DEFAULT_MAX_PIXELS, PathLike, evaluate_tables, prepare, report_like_panopticapi
from ..panoptic.results import PanopticResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    from distributed import Client

__all__ = ["PARTITIONS_PER_THREAD", "PartialState", "add_states", "evaluate", "pq_compute", "split_points"]

#: Default number of chunks per Dask thread (or per core with the local scheduler): a few, so
#: that a slow chunk does not leave the other threads idle at the end.
PARTITIONS_PER_THREAD: int = 4

#: What a task returns: per-category (tp, fp, fn, iou sum), in the GT JSON's category order.
PartialState = Tuple[List[int], List[int], List[int], List[float]]


def pq_compute(gt_json_file: PathLike, pred_json_file: PathLike, gt_folder: Optional[PathLike] = None,
               pred_folder: Optional[PathLike] = None, client: Optional["Client"] = None,
               partitions: Optional[int] = None, *, workers: int = 1,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> Dict[str, Any]:
    """``fastpq.pq_compute`` on a Dask cluster: same arguments, printout, return dict and errors.

    Args:
        gt_json_file, pred_json_file, gt_folder, pred_folder: as :func:`fastpq.pq_compute`.
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
                                                    workers=workers, max_pixels=max_pixels))



def evaluate(gt_json_file: PathLike, pred_json_file: PathLike, gt_folder: Optional[PathLike] = None,
             pred_folder: Optional[PathLike] = None, client: Optional["Client"] = None,
             partitions: Optional[int] = None, *, workers: int = 1,
             max_pixels: int = DEFAULT_MAX_PIXELS) -> PanopticResult:
    """:func:`fastpq.evaluate` on a Dask cluster (arguments as :func:`pq_compute`), quietly.

    Returns the :class:`fastpq.PanopticResult` (without per-image rows).
    """
    if partitions is not None and (isinstance(partitions, bool) or not isinstance(partitions, int)
                                   or partitions < 1):
        raise ValueError(f"partitions must be a positive integer, not {partitions!r}")
    tables, categories = prepare(gt_json_file, pred_json_file, gt_folder, pred_folder)

    k = len(categories)
    if len(tables) == 0:
        zeros: PartialState = ([0] * k, [0] * k, [0] * k, [0.0] * k)
        return PanopticResult.from_totals(categories, *zeros)

    import dask  # only here: fastpq itself does not depend on Dask

    if client is None:
        client = _default_client()
    if partitions is None:
        threads = sum(client.nthreads().values()) if client is not None else (os.cpu_count() or 1)
        partitions = PARTITIONS_PER_THREAD * max(threads, 1)
    bounds = split_points(len(tables), partitions)

    # Each chunk enters the graph as one opaque literal (traverse=False): Dask neither walks nor
    # hashes the segment lists.
    token = uuid.uuid4().hex
    categories_node = dask.delayed(categories, name=f"fastpq-categories-{token}", traverse=False)
    states = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        chunk = dask.delayed(tables.chunk(a, b), name=f"fastpq-images-{token}-{i}", traverse=False)
        states.append(dask.delayed(_partial_state, pure=True)(
            chunk, categories_node, workers, max_pixels, dask_key_name=f"fastpq-state-{token}-{i}"))
    total = dask.delayed(_reduce, pure=True)(states, dask_key_name=f"fastpq-total-{token}")
    if client is not None:
        (state,) = dask.compute(total, scheduler=client)
    else:
        (state,) = dask.compute(total)  # the threaded scheduler unless dask.config names another
    if isinstance(state, _Failure):
        raise state.error()
    return PanopticResult.from_totals(categories, *state)


def split_points(n: int, partitions: int) -> List[int]:
    """Boundaries of `partitions` contiguous, nearly equal chunks of n images (at most n chunks)."""
    p = max(1, min(partitions, n))
    return [i * n // p for i in range(p + 1)]


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


@dataclass(frozen=True)
class _Failure:
    """A FastPQError in transit from a worker: its class, message and fields.

    The exception object itself is not sent, because ``distributed`` pickles exceptions with
    tblib, which cannot rebuild every fastpq error class (``PngNotFoundError`` derives from both
    ``ValueError`` and ``FileNotFoundError``, and tblib's ``cls.__new__(cls)`` then fails); the
    client would get a plain ``Exception`` instead. A class and plain values always pickle.
    """

    cls: type
    message: Any
    attributes: Dict[str, Any]

    @classmethod
    def of(cls, error: FastPQError) -> "_Failure":
        return cls(type(error), error.args[0] if error.args else "", dict(vars(error)))

    def error(self) -> FastPQError:
        """The exception again: same class, message, image_id, file and segment_id."""
        error = self.cls(self.message)
        for name, value in self.attributes.items():
            setattr(error, name, value)
        return error


def _partial_state(tables: SegmentTables, categories: Categories, workers: int,
                   max_pixels: int) -> Union[PartialState, _Failure]:
    """Runs on a worker: scores one chunk of images, returns its per-category sums.

    A chunk that cannot be scored returns its error (the first failing image of the chunk) instead
    of raising it, so that the client raises the error of the first failing chunk, that is the
    first failing image in GT order, as ``fastpq.pq_compute`` does, whichever task fails first.
    """
    try:
        result = evaluate_tables(tables, categories, workers=workers, max_pixels=max_pixels)
    except FastPQError as error:
        return _Failure.of(error)
    return ([c.tp for c in result.classes], [c.fp for c in result.classes], [c.fn for c in result.classes],
            [c.iou for c in result.classes])


def _reduce(states: Sequence[Union[PartialState, _Failure]]) -> Union[PartialState, _Failure]:
    """The first chunk's failure, if any, else the partial states added in chunk order."""
    for state in states:
        if isinstance(state, _Failure):
            return state
    return add_states(states)  # type: ignore[arg-type]


def _default_client() -> Optional["Client"]:
    """The current distributed client, or None (no client, or distributed not installed)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None
