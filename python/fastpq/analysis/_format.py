"""How analysis results print: numbers for JSON (NaN as null) and interval tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

from .per_image import GROUP_NAMES, METRICS

if TYPE_CHECKING:
    from .resampling import Interval


def _json_number(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def _interval_table(intervals: Mapping[str, Mapping[str, Interval]], title: str) -> str:
    lines = [title, "{:10s}| {:>21s} {:>21s} {:>21s}".format("", "PQ [interval]", "SQ [interval]", "RQ [interval]")]
    for g in GROUP_NAMES:
        cells = []
        for m in METRICS:
            iv = intervals[g][m]
            cells.append("{:5.1f} [{:5.1f}, {:5.1f}]".format(100 * iv.estimate, 100 * iv.lower, 100 * iv.upper))
        lines.append("{:10s}| {:>21s} {:>21s} {:>21s}".format(g, *cells))
    return "\n".join(lines)
