"""Shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable, Tuple, TypeVar

T = TypeVar("T")


def machine_description() -> str:
    """Cores, CPU model, OS and Python."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{os.cpu_count()} logical cores ({usable} usable), {model}; "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}")


def median_time(fn: Callable[[], T], repeat: int, warmup: int = 1) -> Tuple[float, T]:
    """Median wall-clock seconds of ``repeat`` calls of ``fn`` after ``warmup`` untimed ones (page
    cache, imports, first-call costs), and the value of the last call."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value
