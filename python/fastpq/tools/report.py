"""``fastpq report``: one self-contained HTML file describing a panoptic evaluation.

The page holds the summary table (All / Things / Stuff), per-class PQ bars, an SQ-against-RQ
scatter and the worst images, ground truth and prediction side by side with every segment
coloured by what the matching decided (TP green, FP red, FN orange, ignored grey, void dark).
Charts are inline SVG (matplotlib), thumbnails base64 PNG (Pillow); the page loads nothing
from anywhere and runs no script.

Per-image PQ is panopticapi's PQ of a dataset made of that image alone: the mean, over the
categories with a TP, FP or FN in the image, of ``iou_sum / (tp + fp/2 + fn/2)``. Images where no
category is present have no PQ (NaN) and are never listed among the worst.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..io.dataset import Categories, SegmentTables
from ..errors import FastPQError
from ..panoptic.evaluation import DEFAULT_MAX_PIXELS, evaluate_tables, prepare
from ..panoptic.results import GROUPS, PanopticResult
from ..panoptic.segments import FN, FP, IGNORED, TP, ImageDecisions, match_tables_image

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_WORST = 8


@dataclass(frozen=True)
class ImageScore:
    """One image's PQ and counts, summed over its categories."""

    image_id: Any
    file_name: str
    pq: float
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True)
class ImagePanel:
    """A worst image as the report shows it: its score, decisions and two thumbnails (data URIs)."""

    score: ImageScore
    decisions: ImageDecisions
    gt_picture: str
    pred_picture: str


def image_scores(result: PanopticResult) -> List[ImageScore]:
    """Per-image PQ (see the module docstring) in dataset order, from ``evaluate(..., per_image=True)``.

    Images where nothing is present (no TP, FP or FN: PQ would be 0 / 0) have no per-image row and are
    left out. Raises FastPQError for a result without per-image rows.
    """
    if result.per_image is None:
        raise FastPQError("per-image PQ needs a result of evaluate(..., per_image=True)")
    by_image: Dict[Any, List[Dict[str, Any]]] = {}
    for row in result.per_image:
        by_image.setdefault(row["image_id"], []).append(row)
    scores = []
    for image_id, rows in by_image.items():
        pqs = [r["iou"] / (r["tp"] + 0.5 * r["fp"] + 0.5 * r["fn"]) for r in rows
               if r["tp"] + r["fp"] + r["fn"] > 0]
        scores.append(ImageScore(image_id, rows[0]["file_name"], sum(pqs) / len(pqs) if pqs else math.nan,
                                 sum(r["tp"] for r in rows), sum(r["fp"] for r in rows), sum(r["fn"] for r in rows)))
    return scores


def worst_images(result: PanopticResult, n: int) -> List[ImageScore]:
    """The n images of lowest PQ, ties in dataset order; images without a PQ are never among them."""
    scored = [s for s in image_scores(result) if not math.isnan(s.pq)]
    return sorted(scored, key=lambda s: s.pq)[:max(n, 0)]


def write_report(gt_json_file: PathLike, pred_json_file: PathLike, out_html: PathLike,
                 gt_folder: Optional[PathLike] = None, pred_folder: Optional[PathLike] = None, *,
                 worst: int = DEFAULT_WORST, workers: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS,
                 title: Optional[str] = None) -> PanopticResult:
    """Scores a COCO panoptic prediction and writes the HTML report to `out_html`.

    Arguments as :func:`fastpq.evaluate`; `worst` images (lowest per-image PQ) are drawn. Returns the
    result the report shows. Raises the FastPQError evaluate raises for bad input.
    """
    tables, categories = prepare(gt_json_file, pred_json_file, gt_folder, pred_folder)
    result = evaluate_tables(tables, categories, workers=workers, max_pixels=max_pixels, per_image=True)
    panels = _panels(result, tables, categories, worst, max_pixels)
    sources = [("ground truth", os.fspath(gt_json_file)), ("prediction", os.fspath(pred_json_file))]
    page = render_report(result, panels, title=title or f"fastpq report: {os.path.basename(os.fspath(pred_json_file))}",
                         sources=sources, n_images=len(tables))
    _write(out_html, page)
    return result


def write_result_report(result: PanopticResult, out_html: PathLike, *, worst: int = DEFAULT_WORST,
                        title: str = "fastpq report") -> None:
    """Writes the report of a result without its files (e.g. from ``fastpq.PanopticQuality``): the
    summary, the charts and, with per-image rows, the `worst` images' scores without pictures."""
    _write(out_html, render_report(result, None, worst=worst, title=title))


def _panels(result: PanopticResult, tables: SegmentTables, categories: Categories, worst: int,
            max_pixels: int) -> List[ImagePanel]:
    from .report_thumbs import image_thumbnails

    index_of: Dict[Any, int] = {}
    for i, image_id in enumerate(tables.image_ids):
        index_of.setdefault(image_id, i)
    panels = []
    for score in worst_images(result, worst):
        decisions = match_tables_image(tables, categories, index_of[score.image_id], max_pixels=max_pixels)
        gt_picture, pred_picture = image_thumbnails(decisions, max_pixels)
        panels.append(ImagePanel(score, decisions, gt_picture, pred_picture))
    return panels


def _write(out_html: PathLike, page: str) -> None:
    try:
        with open(out_html, "w", encoding="utf-8") as f:
            f.write(page)
    except OSError as e:
        raise FastPQError(f"cannot write the report to '{os.fspath(out_html)}': {e.strerror or e}",
                          file=os.fspath(out_html)) from None


# ---------------------------------------------------------------------------
# HTML

_CSS = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222;
       margin: 0; background: #f4f5f7; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 0 0 8px; }
section { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 18px 22px;
          margin: 18px 0; }
.sources { color: #555; font-size: 13px; margin: 0; }
.sources code { background: #eef0f3; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 5px 12px; text-align: right; border-bottom: 1px solid #e4e6ea; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eef0f3; font-weight: 600; }
table.segments { font-size: 12px; margin-top: 8px; }
table.segments td, table.segments th { padding: 2px 8px; }
.chart svg { max-width: 100%; height: auto; display: block; }
.legend { font-size: 13px; color: #444; margin: 0 0 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px;
          margin: 0 4px 0 12px; border: 1px solid rgba(0,0,0,.15); }
.worst { border-top: 1px solid #e4e6ea; padding: 14px 0 6px; }
.worst:first-of-type { border-top: none; }
.pair { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.segment-list { max-height: 250px; overflow-y: auto; border: 1px solid #e4e6ea; border-radius: 4px; }
.segment-list table.segments { margin-top: 0; }
.segment-list thead th { position: sticky; top: 0; }
figure { margin: 0; }
figure img { display: block; image-rendering: pixelated; border: 1px solid #ccc; max-width: 100%; }
figcaption { font-size: 12px; color: #555; margin-top: 4px; }
.pq { font-weight: 600; }
.muted { color: #777; font-size: 13px; }
td.tp { color: #1e7b1e; } td.fp { color: #b71c1c; } td.fn { color: #c25e00; } td.ignored { color: #777; }
details summary { cursor: pointer; font-size: 13px; color: #345; margin-top: 6px; }
"""


def render_report(result: PanopticResult, panels: Optional[Sequence[ImagePanel]], *, worst: int = DEFAULT_WORST,
                  title: str = "fastpq report", sources: Sequence[Tuple[str, str]] = (),
                  n_images: Optional[int] = None) -> str:
    """The report page as one HTML string (see the module docstring). `panels` None: a report from a
    result alone, which lists the `worst` images' scores (with per-image rows) instead of pictures."""
    from .. import __version__
    from .report_plots import class_pq_bars, sq_rq_scatter

    present = [c for c in result.classes if c.present]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        _sources(sources, n_images, __version__),
        _summary_section(result),
        '<section id="class-pq"><h2>PQ per class</h2>',
        _legend_things_stuff(),
        f'<div class="chart">{class_pq_bars(result.classes)}</div>' if present
        else '<p class="muted">No category has a segment.</p>',
        "</section>",
        '<section id="sq-rq"><h2>SQ against RQ per class</h2>',
        '<p class="legend">One point per class, sized by its ground-truth segments (TP + FN); dashed lines join '
        "equal PQ = SQ &times; RQ. Classes without any match lie at the origin "
        f"({sum(1 for c in present if c.tp == 0)} here).</p>",
        f'<div class="chart">{sq_rq_scatter(result.classes)}</div>' if present
        else '<p class="muted">No category has a segment.</p>',
        "</section>",
        _worst_section(result, panels, worst),
        _class_table_section(result),
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _percent(x: float) -> str:
    return "&ndash;" if math.isnan(x) else f"{100 * x:.1f}"


def _sources(sources: Sequence[Tuple[str, str]], n_images: Optional[int], version: str) -> str:
    items = [f"{_e(what)} <code>{_e(path)}</code>" for what, path in sources]
    if n_images is not None:
        items.append(f"{n_images} images")
    items.append(f"fastpq {_e(version)}")
    return '<p class="sources">' + " &middot; ".join(items) + "</p>"


def _summary_section(result: PanopticResult) -> str:
    rows = []
    for name, _ in GROUPS:
        g = result.groups[name]
        cells = "".join(f'<td data-key="{key}" data-value="{float(value)!r}">{_percent(value)}</td>'
                        for key, value in (("pq", g.pq), ("sq", g.sq), ("rq", g.rq)))
        rows.append(f'<tr data-group="{name}"><td>{name}</td>{cells}'
                    f'<td data-key="n" data-value="{g.n}">{g.n}</td></tr>')
    return ('<section id="summary"><h2>Summary</h2>'
            '<table class="summary"><thead><tr><th></th><th>PQ</th><th>SQ</th><th>RQ</th><th>N</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            '<p class="muted">In percent; N is the number of categories with a segment. The numbers are '
            "panopticapi's pq_compute.</p></section>")


def _legend_things_stuff() -> str:
    from .report_plots import STUFF_COLOR, THING_COLOR

    return (f'<p class="legend"><span class="swatch" style="background:{THING_COLOR}"></span>things'
            f'<span class="swatch" style="background:{STUFF_COLOR}"></span>stuff</p>')


def _status_legend() -> str:
    from .report_thumbs import STATUS_COLORS, VOID_COLOR

    labels = ((TP, "TP (matched)"), (FP, "FP (prediction)"), (FN, "FN (ground truth)"),
              (IGNORED, "ignored (crowd, void)"))
    spans = [f'<span class="swatch" style="background:rgb{STATUS_COLORS[s]}"></span>{_e(text)}' for s, text in labels]
    spans.append(f'<span class="swatch" style="background:rgb{VOID_COLOR}"></span>no segment')
    return '<p class="legend">' + "".join(spans) + "</p>"


def _worst_section(result: PanopticResult, panels: Optional[Sequence[ImagePanel]], worst: int) -> str:
    out = ['<section id="worst"><h2>Worst images</h2>']
    if panels is not None and not panels:
        out.append('<p class="muted">No image to show: none was asked for, or no image has a PQ.</p>')
    elif panels:
        out.append('<p class="muted">Lowest per-image PQ: panopticapi\'s PQ of the image alone (mean over the '
                   "categories present in it). Segment borders are drawn darker.</p>")
        out.append(_status_legend())
        for rank, panel in enumerate(panels, 1):
            out.append(_panel(rank, panel, result))
    elif result.per_image is not None:
        out.append('<p class="muted">No pictures (the report was made from a result, not from files).</p>')
        out.append(_scores_table(worst_images(result, worst)))
    else:
        out.append('<p class="muted">No per-image rows in this result.</p>')
    out.append("</section>")
    return "\n".join(out)


def _scores_table(scores: Sequence[ImageScore]) -> str:
    rows = "".join(f"<tr><td>{_e(s.image_id)}</td><td>{_e(s.file_name)}</td><td>{_percent(s.pq)}</td>"
                   f"<td>{s.tp}</td><td>{s.fp}</td><td>{s.fn}</td></tr>" for s in scores)
    return ("<table><thead><tr><th>image</th><th>file</th><th>PQ</th><th>TP</th><th>FP</th><th>FN</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")


def _panel(rank: int, panel: ImagePanel, result: PanopticResult) -> str:
    s = panel.score
    names = {c.category_id: c.name for c in result.classes}
    return "\n".join([
        f'<div class="worst" data-image-id="{_e(s.image_id)}" data-pq="{s.pq!r}">',
        f'<h3>{rank}. {_e(s.file_name)} <span class="muted">(image {_e(s.image_id)})</span> &mdash; '
        f'<span class="pq">PQ {_percent(s.pq)}</span> <span class="muted">TP {s.tp} &middot; FP {s.fp} &middot; '
        f"FN {s.fn}</span></h3>",
        '<div class="pair">',
        f'<figure><img class="gt" alt="ground truth of image {_e(s.image_id)}" src="{panel.gt_picture}">'
        "<figcaption>ground truth</figcaption></figure>",
        f'<figure><img class="pred" alt="prediction of image {_e(s.image_id)}" src="{panel.pred_picture}">'
        "<figcaption>prediction</figcaption></figure>",
        _segment_table(panel.decisions, names),
        "</div>",
        "</div>",
    ])


def _segment_table(d: ImageDecisions, names: Dict[Any, str]) -> str:
    def name(category_id: Any) -> str:
        return "(unknown category)" if category_id is None else names.get(category_id, str(category_id))

    rows = []
    for side, segments in (("gt", d.gt), ("pred", d.pred)):
        for seg in segments:
            if side == "pred" and seg.status == TP:
                continue  # listed once, on its ground-truth row
            gt_id, pred_id = (seg.segment_id, seg.matched_id) if side == "gt" else (seg.matched_id, seg.segment_id)
            rows.append(f'<tr data-side="{side}" data-segment-id="{seg.segment_id}" data-status="{seg.status}">'
                        f"<td>{_e(name(seg.category_id))}</td><td>{'' if gt_id is None else gt_id}</td>"
                        f"<td>{'' if pred_id is None else pred_id}</td>"
                        f'<td class="{seg.status}">{seg.status.upper() if seg.status != IGNORED else "ignored"}</td>'
                        f"<td>{f'{seg.iou:.3f}' if seg.status == TP else ''}</td></tr>")
    return ('<div class="segment-list"><table class="segments"><thead><tr><th>category</th>'
            "<th>GT id</th><th>pred id</th><th>status</th><th>IoU</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _class_table_section(result: PanopticResult) -> str:
    rows = "".join(
        f'<tr data-category-id="{_e(c.category_id)}"><td>{_e(c.name)}</td><td>{"thing" if c.isthing else "stuff"}</td>'
        f"<td>{_percent(c.pq)}</td><td>{_percent(float(c.sq))}</td><td>{_percent(c.rq)}</td>"
        f"<td>{c.tp}</td><td>{c.fp}</td><td>{c.fn}</td></tr>"
        for c in sorted((c for c in result.classes if c.present), key=lambda c: c.pq))
    return ('<section id="classes"><h2>Classes</h2><details><summary>every present class, worst first</summary>'
            "<table><thead><tr><th>class</th><th>kind</th><th>PQ</th><th>SQ</th><th>RQ</th><th>TP</th><th>FP</th>"
            f"<th>FN</th></tr></thead><tbody>{rows}</tbody></table></details></section>")
