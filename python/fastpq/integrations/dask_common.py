"""What every ``fastpq.dask`` family shares: chunking, running one task per chunk on a Dask client
(or Dask's local scheduler), carrying a worker's FastPQError back, and the fixed order in which the
chunks' partial states are gathered and reduced on the client.

Each chunk enters the graph as one opaque literal (``traverse=False``): Dask neither walks nor
hashes the tables inside it. The partial states come back to the client as a list in chunk order
and the caller reduces them in that order, so the result does not depend on which worker ran what
or when it finished. The first chunk (in input order) that failed gives the error raised.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import FastPQError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from distributed import Client

#: Default number of chunks per Dask thread (or per core with the local scheduler): a few, so
#: that a slow chunk does not leave the other threads idle at the end.
PARTITIONS_PER_THREAD: int = 4


def check_partitions(partitions: Any) -> None:
    """Refuses a partitions argument that is not None or a positive integer."""
    if partitions is not None and (isinstance(partitions, bool) or not isinstance(partitions, int)
                                   or partitions < 1):
        raise ValueError(f"partitions must be a positive integer, not {partitions!r}")


def split_points(n: int, partitions: int) -> List[int]:
    """Boundaries of `partitions` contiguous, nearly equal chunks of n images (at most n chunks)."""
    p = max(1, min(partitions, n))
    return [i * n // p for i in range(p + 1)]


@dataclass(frozen=True)
class Failure:
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
    def of(cls, error: FastPQError) -> "Failure":
        return cls(type(error), error.args[0] if error.args else "", dict(vars(error)))

    def error(self) -> FastPQError:
        """The exception again: same class, message, image_id, file and segment_id."""
        error = self.cls(self.message)
        for name, value in self.attributes.items():
            setattr(error, name, value)
        return error


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` returning a :class:`Failure` instead of raising a FastPQError (runs on a worker)."""

    def run(*args: Any) -> Any:
        try:
            return fn(*args)
        except FastPQError as error:
            return Failure.of(error)

    run.__name__ = getattr(fn, "__name__", "fastpq_task")
    return run


def default_client() -> Optional["Client"]:
    """The current distributed client, or None (no client, or distributed not installed)."""
    try:
        from distributed import default_client as current
    except ImportError:
        return None
    try:
        return current()
    except ValueError:
        return None


def run_chunks(task: Callable[..., Any], chunks: Sequence[Any], shared: Tuple[Any, ...],
               client: Optional["Client"], name: str) -> List[Any]:
    """``task(chunk, *shared)`` for every chunk, as Dask tasks; their results in chunk order.
    `shared` (options, categories, ...) enters the graph once. Raises the first chunk's error."""
    import dask  # only here: fastpq itself does not depend on Dask

    token = uuid.uuid4().hex
    shared_node = dask.delayed(shared, name=f"fastpq-{name}-shared-{token}", traverse=False)
    run = guarded(task)
    states = []
    for i, chunk in enumerate(chunks):
        node = dask.delayed(chunk, name=f"fastpq-{name}-chunk-{token}-{i}", traverse=False)
        states.append(dask.delayed(_apply, pure=True)(run, node, shared_node,
                                                      dask_key_name=f"fastpq-{name}-state-{token}-{i}"))
    if client is not None:
        results = list(dask.compute(*states, scheduler=client))
    else:
        results = list(dask.compute(*states))  # the threaded scheduler unless dask.config names another
    for state in results:
        if isinstance(state, Failure):
            raise state.error()
    return results


def _apply(run: Callable[..., Any], chunk: Any, shared: Tuple[Any, ...]) -> Any:
    return run(chunk, *shared)


def partition_count(partitions: Optional[int], client: Optional["Client"]) -> int:
    """The number of chunks: `partitions`, or PARTITIONS_PER_THREAD per thread of the client's
    workers (per core without a client)."""
    if partitions is not None:
        return partitions
    threads = sum(client.nthreads().values()) if client is not None else (os.cpu_count() or 1)
    return PARTITIONS_PER_THREAD * max(threads, 1)


def client_or_default(client: Optional["Client"]) -> Optional["Client"]:
    """`client`, else the current default client (None: Dask's local scheduler)."""
    return client if client is not None else default_client()


def add_nested(a: Any, b: Any) -> Any:
    """Element-wise sum of two sums of the same shape (numbers, lists and dicts of them)."""
    if isinstance(a, dict):
        return {key: add_nested(a[key], b[key]) for key in a}
    if isinstance(a, list):
        return [add_nested(x, y) for x, y in zip(a, b)]
    return a + b
