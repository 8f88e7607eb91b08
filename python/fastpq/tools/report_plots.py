"""The report's charts, drawn with matplotlib (Agg, no pyplot state) into inline SVG text."""

from __future__ import annotations

import io
import math
import re
from typing import Any, List, Sequence

from ..errors import FastPQError
from ..panoptic.results import ClassResult

THING_COLOR = "#3b6fb6"
STUFF_COLOR = "#e08a2c"
_INK = "#333333"
_GRID = "#dddddd"


def _matplotlib() -> Any:
    try:
        import matplotlib.figure  # binds matplotlib; importing the module _figure draws with is the check
    except ImportError as e:
        raise FastPQError(f"the report draws its charts with matplotlib ({e}): pip install 'fastpq[report]'") from None
    return matplotlib


def _svg(fig: Any) -> str:
    """The figure as an <svg> element ready to inline: no XML prolog, DOCTYPE or RDF metadata, and
    element ids prefixed per figure so that two charts in one page never share an id."""
    matplotlib = _matplotlib()
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fastpq"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    fig.patch.set_facecolor("white")
    return fig


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.tick_params(colors=_INK, labelsize=8)
    ax.set_axisbelow(True)


def class_pq_bars(classes: Sequence[ClassResult], prefix: str = "bars") -> str:
    """Horizontal PQ bars of the present categories, best first (down the columns), things and stuff
    in two colours; long lists are laid out in up to three columns."""
    _matplotlib()
    present: List[ClassResult] = sorted((c for c in classes if c.present), key=lambda c: -c.pq)
    n = max(len(present), 1)
    columns = 1 if n <= 24 else 2 if n <= 60 else 3
    per_column = math.ceil(n / columns)
    row, top, bottom = 0.2, 0.45, 0.15  # inches
    height = top + bottom + row * per_column
    width = 7.5 if columns == 1 else 11.0
    fig = _figure(width, height)
    for k in range(columns):
        part = present[k * per_column:(k + 1) * per_column]
        label, gap = 1.35 / width, 0.3 / width  # room for category names; space between columns
        ax = fig.add_axes((k / columns + label, bottom / height, 1 / columns - label - gap,
                           row * per_column / height))
        y = list(range(len(part)))
        ax.barh(y, [100 * c.pq for c in part], height=0.72,
                color=[THING_COLOR if c.isthing else STUFF_COLOR for c in part])
        for yi, c in zip(y, part):
            ax.text(100 * c.pq + 1.5, yi, f"{100 * c.pq:.1f}", va="center", fontsize=7, color=_INK)
        ax.set_yticks(y)
        ax.set_yticklabels([_short(c.name) for c in part], fontsize=8)
        ax.set_ylim(per_column - 0.5, -0.5)
        ax.set_xlim(0, 115)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.xaxis.grid(True, color=_GRID, linewidth=0.6)
        ax.xaxis.tick_top()
        _style(ax)
        ax.tick_params(axis="y", length=0)
        ax.spines["bottom"].set_visible(False)
        ax.spines["top"].set_visible(True)
        ax.spines["top"].set_color("#999999")
    return _prefix_ids(_svg(fig), prefix)


def sq_rq_scatter(classes: Sequence[ClassResult], prefix: str = "scatter") -> str:
    """SQ against RQ, a point per present category sized by its ground-truth segments, with PQ
    iso-lines (PQ = SQ x RQ); up to five of the lowest-PQ categories that have a match are named
    (those without one all lie at the origin), never two names on one spot."""
    _matplotlib()
    present = [c for c in classes if c.present]
    fig = _figure(7.0, 5.4)
    ax = fig.add_axes((0.1, 0.1, 0.86, 0.84))
    xs = [i / 200 for i in range(1, 201)]
    for level in (0.2, 0.4, 0.6, 0.8):
        pts = [(x, level / x) for x in xs if level / x <= 1.0]
        ax.plot([100 * p[0] for p in pts], [100 * p[1] for p in pts], color="#bbbbbb", linewidth=0.8,
                linestyle="--", zorder=1)
        ax.text(100 * pts[0][0] + 1, 98, f"PQ {int(100 * level)}", fontsize=7, color="#999999", ha="left", va="top")
    for isthing, color, label in ((True, THING_COLOR, "things"), (False, STUFF_COLOR, "stuff")):
        group = [c for c in present if c.isthing == isthing]
        if not group:
            continue
        ax.scatter([100 * c.rq for c in group], [100 * float(c.sq) for c in group],
                   s=[12 + 10 * math.sqrt(c.tp + c.fn) for c in group], color=color, alpha=0.75,
                   edgecolors="white", linewidths=0.6, label=label, zorder=3)
    named: List[ClassResult] = []
    for c in sorted((c for c in present if c.tp > 0), key=lambda c: c.pq)[:5]:
        if any(abs(c.rq - o.rq) < 0.04 and abs(float(c.sq) - float(o.sq)) < 0.04 for o in named):
            continue  # a name on top of another helps nobody
        named.append(c)
        left = c.rq > 0.8  # names near the right edge go to the left of their point
        ax.annotate(_short(c.name), (100 * c.rq, 100 * float(c.sq)), xytext=(-5 if left else 5, 3),
                    textcoords="offset points", ha="right" if left else "left", fontsize=7, color=_INK, zorder=4)
    ax.set_xlim(-2, 102)
    ax.set_ylim(-2, 102)
    ax.set_xlabel("RQ (%)", fontsize=9, color=_INK)
    ax.set_ylabel("SQ (%)", fontsize=9, color=_INK)
    ax.grid(True, color=_GRID, linewidth=0.6)
    _style(ax)
    ax.legend(loc="lower right", fontsize=8, frameon=False, markerscale=0.8)
    return _prefix_ids(_svg(fig), prefix)


def _short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[:limit - 1] + "\u2026"


def _prefix_ids(svg: str, prefix: str) -> str:
    """Makes the SVG's ids (and the references to them) unique within the page."""
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)
