"""The HTML report of a semantic evaluation: headline numbers, per-class IoU bars and the confusion
matrix as a heatmap (rows normalised: what each ground-truth class was predicted as), in one
self-contained page (inline SVG drawn by matplotlib; nothing loaded from anywhere, no script)."""

from __future__ import annotations

import html
import math
import os
from typing import Any, List, Union

import numpy as np

from ..semantic.results import SemanticResult
from .report import _CSS, _write
from .report_plots import _INK, _figure, _matplotlib, _prefix_ids, _short, _style, _svg

PathLike = Union[str, "os.PathLike[str]"]
_BAR = "#3b6fb6"


def class_iou_bars(result: SemanticResult, prefix: str = "iou") -> str:
    """Horizontal IoU bars of every scored class, best first (NaN classes listed as n/a)."""
    _matplotlib()
    items = sorted(result.classes.values(), key=lambda c: -1 if math.isnan(c.iou) else c.iou, reverse=True)
    n = max(1, len(items))
    fig = _figure(7.5, 0.6 + 0.2 * n)
    ax = fig.add_axes([0.28, 0.02 + 0.3 / (0.6 + 0.2 * n), 0.68, 1 - 0.5 / (0.6 + 0.2 * n)])
    values = [0.0 if math.isnan(c.iou) else 100 * c.iou for c in items]
    ax.barh(range(n)[:len(items)], values, color=_BAR, height=0.7)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([_short(c.name) + ("  (n/a)" if math.isnan(c.iou) else "") for c in items], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("IoU (%)", fontsize=8, color=_INK)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    _style(ax)
    return _prefix_ids(_svg(fig), prefix)


def confusion_heatmap(result: SemanticResult, prefix: str = "confusion") -> str:
    """The scored classes' confusion matrix, each ground-truth row divided by its pixels."""
    _matplotlib()
    spec = result.spec
    m = result.state.confusion.astype(np.float64)[np.ix_(spec.class_rows, spec.class_cols)]
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = m / m.sum(axis=1, keepdims=True)
    rows = np.nan_to_num(rows)
    k = len(spec.class_names)
    size = min(9.0, 2.5 + 0.16 * k)
    fig = _figure(size + 1.2, size)
    ax = fig.add_axes([0.18, 0.18, 0.72, 0.78])
    image = ax.imshow(rows, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    step = max(1, k // 40)
    ticks = list(range(0, k, step))
    labels = [_short(spec.class_names[i], 14) for i in ticks]
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=6)
    ax.set_xlabel("prediction", fontsize=8, color=_INK)
    ax.set_ylabel("ground truth", fontsize=8, color=_INK)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.ax.tick_params(labelsize=7)
    return _prefix_ids(_svg(fig), prefix)


def _pct(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def render_semantic_report(result: SemanticResult, title: str = "fastpq semantic segmentation report") -> str:
    """The report page as HTML text."""
    head = result.summary()
    rows: List[str] = []
    for key in ("miou", "miiou", "pixel_accuracy", "mean_accuracy", "fwiou", "score"):
        if key in head and head[key] is not None:
            rows.append(f"<tr><td>{html.escape(key)}</td><td>{_pct(head[key])}</td></tr>")
    cat_rows = "".join(f"<tr><td>{html.escape(c.name)}</td><td>{_pct(c.iou)}</td><td>{_pct(c.iiou)}</td></tr>"
                       for c in result.categories.values())
    categories = (f"<section><h2>Categories</h2><table><thead><tr><th>category</th><th>IoU</th><th>iIoU</th></tr>"
                  f"</thead><tbody>{cat_rows}</tbody></table></section>") if result.categories else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body><main>
<h1>{html.escape(title)}</h1>
<p class="sources">preset <code>{html.escape(str(result.preset))}</code>, {result.n_images} images,
{len(result.classes)} classes</p>
<section><h2>Summary</h2><table><thead><tr><th>metric</th><th>%</th></tr></thead><tbody>{''.join(rows)}
</tbody></table></section>
{categories}
<section><h2>IoU per class</h2><div class="chart">{class_iou_bars(result)}</div></section>
<section><h2>Confusion matrix</h2><p class="legend">Each row is a ground-truth class, divided by its pixels:
the diagonal is the class's accuracy, the rest what it was mistaken for.</p>
<div class="chart">{confusion_heatmap(result)}</div></section>
</main></body></html>
"""


def write_semantic_report(result: SemanticResult, out_html: PathLike) -> None:
    """Writes the report of ``result`` to ``out_html``."""
    _write(out_html, render_semantic_report(result))
