"""Dispatch of the per-image counting for file inputs: the C++ counter when the build has it
(parallel over images, GIL released), else the numpy / Pillow path."""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

from ..errors import InvalidOptionError


def count_files(per_image: List[Tuple[str, Any]], engine: str, workers: int,
                numpy_counter: Callable[..., Any]) -> List[Any]:
    """Counts every image of ``per_image`` ((gt file, prediction lines) pairs)."""
    if engine not in ("auto", "cpp", "numpy"):
        raise InvalidOptionError(f"engine must be 'auto', 'cpp' or 'numpy', not {engine!r}")
    from .. import _core
    if engine != "numpy" and hasattr(_core, "instance_count_files"):
        from .cpp_counting import count_with_core
        return count_with_core(per_image, workers)
    if engine == "cpp":
        raise InvalidOptionError("this build of fastpq._core has no instance_count_files")
    return [numpy_counter(g, lines, engine, workers) for g, lines in per_image]
