"""Shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
from pathlib import Path


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
