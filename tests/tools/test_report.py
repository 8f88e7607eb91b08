"""fastpq.segments and fastpq.report: per-segment decisions and per-image PQ against panopticapi, the HTML
report parsed (sections, embedded images, no network, summary numbers), a hand-built layout's colours, the
report rendered in headless Chromium, and the ``fastpq report`` command."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
from PIL import Image

import fastpq
import panopticapi.evaluation as panopticapi_evaluation
from fastpq import cli, synthetic
from fastpq.tools.report_plots import STUFF_COLOR, THING_COLOR
from fastpq.tools.report_thumbs import STATUS_COLORS, VOID_COLOR
from fastpq.errors import AnnotationKeyError, PngNotFoundError
from fastpq.report import image_scores, worst_images, write_report, write_result_report
from fastpq.segments import match_image
from conftest import CAR, GRASS, PERSON, SKY, PanopticImage, _quietly

SECTIONS = ("summary", "class-pq", "sq-rq", "worst", "classes")


# ---------------------------------------------------------------------------
# Helpers


def panopticapi_image_stat(gt_json: Path, pred_json: Path, image_id: Any, gt_folder: Optional[Path] = None,
                           pred_folder: Optional[Path] = None) -> Tuple[Any, Dict[Any, Any]]:
    """panopticapi's PQStat of one image alone (pq_compute_single_core on it), and its categories."""
    gt = json.loads(Path(gt_json).read_text())
    pred = json.loads(Path(pred_json).read_text())
    categories = {c["id"]: c for c in gt["categories"]}
    (gt_ann,) = [a for a in gt["annotations"] if a["image_id"] == image_id]
    pred_ann = {a["image_id"]: a for a in pred["annotations"]}[image_id]
    gt_folder = gt_folder or Path(str(gt_json).replace(".json", ""))
    pred_folder = pred_folder or Path(str(pred_json).replace(".json", ""))
    stat, _ = _quietly(panopticapi_evaluation.pq_compute_single_core, 0, [(gt_ann, pred_ann)], str(gt_folder),
                       str(pred_folder), categories)
    return stat, categories


def panopticapi_image_pq(stat: Any, categories: Dict[Any, Any]) -> float:
    """panopticapi's All PQ of a one-image dataset; NaN where it would divide by zero (nothing present)."""
    if not any(stat.pq_per_cat[c].tp + stat.pq_per_cat[c].fp + stat.pq_per_cat[c].fn for c in categories):
        return math.nan
    return stat.pq_average(categories, isthing=None)[0]["pq"]


def image_ids_of(gt_json: Path) -> List[Any]:
    return [a["image_id"] for a in json.loads(Path(gt_json).read_text())["annotations"]]


def assert_decisions_match_panopticapi(gt_json: Path, pred_json: Path, gt_folder: Optional[Path] = None,
                                       pred_folder: Optional[Path] = None) -> None:
    for image_id in image_ids_of(gt_json):
        d = match_image(gt_json, pred_json, image_id, gt_folder, pred_folder)
        stat, categories = panopticapi_image_stat(gt_json, pred_json, image_id, gt_folder, pred_folder)
        for c in categories:
            ref = stat.pq_per_cat[c]
            assert d.counts(c) == (ref.tp, ref.fp, ref.fn), (image_id, c)
            iou = sum(s.iou for s in d.gt if s.status == "tp" and s.category_id == c)
            assert abs(iou - ref.iou) <= 1e-12, (image_id, c, iou, ref.iou)
        # A match is one pair seen from both sides, of one category, with one IoU above 0.5.
        gt_by_id = {s.segment_id: s for s in d.gt}
        for p in d.pred:
            if p.status == "tp":
                g = gt_by_id[p.matched_id]
                assert (g.status, g.matched_id, g.iou, g.category_id) == ("tp", p.segment_id, p.iou, p.category_id)
                assert p.iou > 0.5
            else:
                assert p.matched_id is None and p.iou == 0.0
        assert sum(s.status == "tp" for s in d.gt) == sum(s.status == "tp" for s in d.pred)


def write_sample_prediction(root: Path, sample: Path, make) -> Path:
    """root/pred.json + root/pred/*.png from make(gt_map, gt_segments, categories) -> (map, segments)."""
    gt = json.loads((sample / "panoptic_examples.json").read_text())
    (root / "pred").mkdir(parents=True)
    annotations = []
    for ann in gt["annotations"]:
        gt_map = synthetic.read_png(sample / "panoptic_examples" / ann["file_name"])
        pred_map, segments = make(gt_map, ann["segments_info"], gt["categories"])
        synthetic.write_png(root / "pred" / ann["file_name"], pred_map)
        annotations.append({"image_id": ann["image_id"], "file_name": ann["file_name"], "segments_info": segments})
    path = root / "pred.json"
    path.write_text(json.dumps({"annotations": annotations}))
    return path


class PageParser(HTMLParser):
    """Collects what the tests look at: every tag's attributes, text per element id, table cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, Dict[str, str]]] = []
        self.summary: Dict[str, Dict[str, Tuple[str, str]]] = {}
        self._group: Optional[str] = None
        self._cell: Optional[Tuple[str, str]] = None
        self._text: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "tr" and "data-group" in a:
            self._group = a["data-group"]
            self.summary[self._group] = {}
        if tag == "td" and self._group and "data-key" in a:
            self._cell = (a["data-key"], a["data-value"])
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._group is not None:
            key, value = self._cell
            self.summary[self._group][key] = (value, "".join(self._text))
            self._cell = None
        if tag == "tr":
            self._group = None

    def all(self, tag: str, **attrs: str) -> List[Dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def decode_data_png(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,"), uri[:40]
    raw = base64.b64decode(uri.split(",", 1)[1], validate=True)
    with Image.open(io.BytesIO(raw)) as im:
        im.verify()
    with Image.open(io.BytesIO(raw)) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def inline_svgs(page: str) -> List[ET.Element]:
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    return [ET.fromstring(s) for s in svgs]


# ---------------------------------------------------------------------------
# Per-segment decisions


def test_decisions_agree_with_panopticapi_on_generated_images(coco_like):
    assert_decisions_match_panopticapi(coco_like.gt_json, coco_like.pred_json)


def test_decisions_agree_with_panopticapi_on_cityscapes_like_images(cityscapes_like):
    assert_decisions_match_panopticapi(cityscapes_like.gt_json, cityscapes_like.pred_json)


@pytest.mark.parametrize("kind", ["identity", "perturbed"])
def test_decisions_agree_with_panopticapi_on_the_coco_sample(coco_sample, tmp_path, kind):
    import dataclasses

    def identity(gt_map, segments, categories):
        return gt_map, [{"id": s["id"], "category_id": s["category_id"]} for s in segments]

    def perturbed(gt_map, segments, categories):
        things = tuple(c["id"] for c in categories if c["isthing"] == 1)
        stuff = tuple(c["id"] for c in categories if c["isthing"] != 1)
        spec = dataclasses.replace(synthetic.COCO_LIKE, name="sample", height=gt_map.shape[0], width=gt_map.shape[1],
                                   n_categories=len(categories), n_things=len(things), thing_ids=things,
                                   stuff_ids=stuff)
        return synthetic.perturb(np.random.default_rng(3), gt_map, segments, spec)

    pred_json = write_sample_prediction(tmp_path, coco_sample, identity if kind == "identity" else perturbed)
    gt_json = coco_sample / "panoptic_examples.json"
    assert_decisions_match_panopticapi(gt_json, pred_json, coco_sample / "panoptic_examples", tmp_path / "pred")
    if kind == "identity":  # crowds: every GT crowd is ignored; a prediction on an earlier crowd is an FP
        for image_id in image_ids_of(gt_json):
            d = match_image(gt_json, pred_json, image_id, coco_sample / "panoptic_examples", tmp_path / "pred")
            assert all(s.status == ("ignored" if s.segment_id in crowd_ids(gt_json, image_id) else "tp")
                       for s in d.gt)


def crowd_ids(gt_json: Path, image_id: Any) -> set:
    (ann,) = [a for a in json.loads(Path(gt_json).read_text())["annotations"] if a["image_id"] == image_id]
    return {s["id"] for s in ann["segments_info"] if s["iscrowd"] == 1}


# A hand-built layout, 200 x 500, five 100-pixel columns:
#   GT:   person 1 | car 2     | grass 3  | person crowd 4 | void
#   pred: person 11| void      | sky 13   | person 14      | grass 15
# By panopticapi's rules: 1-11 match (IoU 1, TP); car 2 and grass 3 are FNs; sky 13 is an FP; the crowd 4
# is ignored and excuses person 14 (all its pixels on a person crowd); grass 15 lies on void only.
# Per-image PQ = mean over person (1), car (0), grass (0), sky (0) = 0.25.
COLUMNS = 5


def layout_case(make_case, extra_gt=(), extra_pred=()):
    gt = np.zeros((200, 500), np.uint32)
    pred = np.zeros((200, 500), np.uint32)
    for k, (g, p) in enumerate([(1, 11), (2, 0), (3, 13), (4, 14), (0, 15)]):
        gt[:, 100 * k:100 * (k + 1)] = g
        pred[:, 100 * k:100 * (k + 1)] = p
    gt_segments = [{"id": 1, "category_id": PERSON}, {"id": 2, "category_id": CAR},
                   {"id": 3, "category_id": GRASS}, {"id": 4, "category_id": PERSON, "iscrowd": 1}]
    pred_segments = [{"id": 11, "category_id": PERSON}, {"id": 13, "category_id": SKY},
                     {"id": 14, "category_id": PERSON}, {"id": 15, "category_id": GRASS}]
    return make_case([PanopticImage(7, gt, gt_segments, anchors=False), *extra_gt],
                     [PanopticImage(7, pred, pred_segments, anchors=False), *extra_pred])


EXPECTED_GT = {1: "tp", 2: "fn", 3: "fn", 4: "ignored"}
EXPECTED_PRED = {11: "tp", 13: "fp", 14: "ignored", 15: "ignored"}


def test_decisions_of_a_hand_built_layout(make_case):
    case = layout_case(make_case)
    d = match_image(case.gt_json, case.pred_json, 7)
    assert {s.segment_id: s.status for s in d.gt} == EXPECTED_GT
    assert {s.segment_id: s.status for s in d.pred} == EXPECTED_PRED
    assert [(s.matched_id, s.iou) for s in d.gt if s.status == "tp"] == [(11, 1.0)]
    assert d.counts(PERSON) == (1, 0, 0) and d.counts(CAR) == (0, 0, 1) and d.counts(SKY) == (0, 1, 0)
    assert_decisions_match_panopticapi(case.gt_json, case.pred_json)


def test_match_image_errors_name_the_image(make_case, tmp_path):
    case = layout_case(make_case)
    with pytest.raises(AnnotationKeyError, match="no image with id 8"):
        match_image(case.gt_json, case.pred_json, 8)
    (case.pred_folder / "7.png").unlink()
    with pytest.raises(PngNotFoundError) as info:
        match_image(case.gt_json, case.pred_json, 7)
    assert info.value.image_id == 7 and info.value.file.endswith("7.png")


# ---------------------------------------------------------------------------
# Per-image PQ


def test_image_pq_is_panopticapi_on_the_image_alone(coco_like):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, per_image=True)
    scores = image_scores(result)
    assert [s.image_id for s in scores] == image_ids_of(coco_like.gt_json)
    for s in scores:
        stat, categories = panopticapi_image_stat(coco_like.gt_json, coco_like.pred_json, s.image_id)
        expected = panopticapi_image_pq(stat, categories)
        assert abs(s.pq - expected) <= 1e-12, (s.image_id, s.pq, expected)
        assert (s.tp, s.fp, s.fn) == tuple(sum(getattr(stat.pq_per_cat[c], k) for c in categories)
                                           for k in ("tp", "fp", "fn"))
    worst = worst_images(result, 5)
    assert [s.pq for s in worst] == sorted(s.pq for s in scores)[:5]


def test_image_pq_of_the_hand_layout_and_images_without_pq_are_skipped(make_case):
    empty = PanopticImage(8, np.zeros((4, 4), np.uint32), [], anchors=False)  # void only: nothing present
    case = layout_case(make_case, [empty], [empty])
    result = fastpq.evaluate(case.gt_json, case.pred_json, per_image=True)
    by_id = {s.image_id: s for s in image_scores(result)}
    assert list(by_id) == [7]
    assert by_id[7].pq == 0.25 and (by_id[7].tp, by_id[7].fp, by_id[7].fn) == (1, 1, 2)
    stat, categories = panopticapi_image_stat(case.gt_json, case.pred_json, 8)
    assert math.isnan(panopticapi_image_pq(stat, categories))
    assert [s.image_id for s in worst_images(result, 8)] == [7]


# ---------------------------------------------------------------------------
# The HTML


@pytest.fixture(scope="module")
def report_page(tmp_path_factory, coco_like) -> Tuple[Path, str, Any]:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = write_report(coco_like.gt_json, coco_like.pred_json, out, worst=4)
    return out, out.read_text(encoding="utf-8"), result


def test_report_has_every_section_and_nothing_external(report_page):
    _, page, _ = report_page
    p = parse(page)
    assert [a["id"] for a in p.all("section")] == list(SECTIONS)
    assert not p.all("script") and not p.all("link") and not p.all("iframe")
    for tag, attrs in p.tags:
        for key in ("src", "href", "xlink:href", "srcset", "action", "data"):
            value = attrs.get(key)
            if value is not None and tag not in ("svg", "path", "use"):
                assert value.startswith("data:"), (tag, key, value[:60])
            elif value is not None:
                assert value.startswith("#"), (tag, key, value[:60])
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, flags=re.I)
    assert "url(http" not in page and "@import" not in page


def test_every_embedded_image_decodes(report_page):
    _, page, result = report_page
    p = parse(page)
    images = p.all("img")
    assert len(images) == 2 * 4
    for img in images:
        picture = decode_data_png(img["src"])
        assert max(picture.shape[:2]) <= 320 and len(np.unique(picture.reshape(-1, 3), axis=0)) >= 2
    svgs = inline_svgs(page)
    assert len(svgs) == 2
    names = {c.name for c in result.classes if c.present}
    bar_text = {t.text for t in svgs[0].iter() if t.tag.endswith("text")}
    assert names <= bar_text  # every present class is labelled (the generated names are short)
    bar_fills = " ".join(e.get("style", "") + e.get("fill", "") for e in svgs[0].iter()).lower()
    assert THING_COLOR.lower() in bar_fills and STUFF_COLOR.lower() in bar_fills
    scatter_text = " ".join(t.text or "" for t in svgs[1].iter() if t.tag.endswith("text"))
    assert "RQ (%)" in scatter_text and "SQ (%)" in scatter_text
    ids = re.findall(r'(?<![\w-])id="([^"]+)"', page)
    assert len(ids) > 10 and len(set(ids)) == len(ids)


def test_summary_numbers_are_the_results(report_page, coco_like):
    _, page, result = report_page
    summary = parse(page).summary
    assert list(summary) == ["All", "Things", "Stuff"]
    reference = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json)
    for name in summary:
        g = reference.groups[name]
        for key in ("pq", "sq", "rq"):
            value, text = summary[name][key]
            assert float(value) == getattr(g, key) == getattr(result.groups[name], key)
            assert text == f"{100 * getattr(g, key):.1f}"
        assert summary[name]["n"] == (str(g.n), str(g.n))


def test_worst_panels_are_the_lowest_pq_images_in_order(report_page):
    _, page, result = report_page
    panels = parse(page).all("div", **{"class": "worst"})
    expected = worst_images(result, 4)
    assert [p["data-image-id"] for p in panels] == [str(s.image_id) for s in expected]
    assert [float(p["data-pq"]) for p in panels] == [s.pq for s in expected]


def test_thumbnail_colours_of_a_hand_built_layout(make_case, tmp_path):
    case = layout_case(make_case)
    out = tmp_path / "layout.html"
    write_report(case.gt_json, case.pred_json, out)
    page = out.read_text(encoding="utf-8")
    p = parse(page)
    (gt_img,) = p.all("img", **{"class": "gt"})
    (pred_img,) = p.all("img", **{"class": "pred"})
    gt, pred = decode_data_png(gt_img["src"]), decode_data_png(pred_img["src"])
    assert gt.shape == pred.shape == (128, 320, 3)  # 200 x 500 scaled to 320 wide
    centres = [int((100 * k + 50) * 0.64) for k in range(COLUMNS)]
    gt_expected = ["tp", "fn", "fn", "ignored", None]
    pred_expected = ["tp", None, "fp", "ignored", "ignored"]
    for x, g, q in zip(centres, gt_expected, pred_expected):
        assert tuple(gt[64, x]) == (STATUS_COLORS[g] if g else VOID_COLOR), ("gt", x)
        assert tuple(pred[64, x]) == (STATUS_COLORS[q] if q else VOID_COLOR), ("pred", x)
    rows = {(a["data-side"], int(a["data-segment-id"])): a["data-status"] for a in p.all("tr") if "data-side" in a}
    assert rows == {**{("gt", k): v for k, v in EXPECTED_GT.items()},
                    **{("pred", k): v for k, v in EXPECTED_PRED.items() if v != "tp"}}
    (panel,) = p.all("div", **{"class": "worst"})
    assert float(panel["data-pq"]) == 0.25


def test_result_only_report_has_scores_without_pictures(coco_like, tmp_path):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, per_image=True)
    out = tmp_path / "result.html"
    write_result_report(result, out)
    page = out.read_text(encoding="utf-8")
    p = parse(page)
    assert [a["id"] for a in p.all("section")] == list(SECTIONS)
    assert not p.all("img") and len(inline_svgs(page)) == 2
    worst = worst_images(result, 8)
    for s in worst:
        assert f"<td>{s.image_id}</td><td>{s.file_name}</td><td>{100 * s.pq:.1f}</td>" in page


def test_empty_group_shows_a_dash_and_worst_zero_draws_nothing(make_case, tmp_path):
    one = np.array([[1, 1], [0, 0]], np.uint32)  # a single person, matched: Stuff has no category present
    case = make_case([PanopticImage(3, one, [{"id": 1, "category_id": PERSON}], anchors=False)],
                     [PanopticImage(3, one, [{"id": 1, "category_id": PERSON}], anchors=False)])
    out = tmp_path / "empty.html"
    result = write_report(case.gt_json, case.pred_json, out, worst=0)
    page = out.read_text(encoding="utf-8")
    summary = parse(page).summary
    assert result.groups["Stuff"].n == 0 and summary["Stuff"]["pq"] == ("nan", "\u2013")
    assert summary["Things"]["pq"] == ("1.0", "100.0") and summary["Stuff"]["n"] == ("0", "0")
    assert not parse(page).all("img") and "No image to show" in page


# ---------------------------------------------------------------------------
# Headless Chromium


def chromium_binary() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
window.addEventListener('load', () => {
  const bad = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const svgs = [...document.querySelectorAll('main svg')].map(s => s.getBoundingClientRect().width);
  document.body.setAttribute('data-probe', JSON.stringify(
      {images: document.images.length, broken: bad, svg_widths: svgs, errors: window.__errors}));
});
</script>"""


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_report_renders_in_headless_chromium(report_page, tmp_path):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium); the HTML checks above still ran")
    html_path, page, _ = report_page
    shot = tmp_path / "shot.png"
    run = run_chromium(binary, tmp_path / "profile1", f"--screenshot={shot}", "--window-size=1280,2000",
                       html_path.resolve().as_uri())
    assert shot.is_file(), run.stderr[-3000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    assert "Failed to load resource" not in run.stderr and "net::ERR" not in run.stderr

    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("RGB")).astype(np.int32)
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not blank
    for colour in (THING_COLOR, STUFF_COLOR):  # the PQ bars are drawn
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).max(axis=2) <= 8).sum() > 500, colour

    # The same page with a probe script: every image decoded, both charts laid out, no script error.
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = run_chromium(binary, tmp_path / "profile2", "--dump-dom", probed.resolve().as_uri())
    found = re.search(r"data-probe=\"([^\"]*)\"", run.stdout)
    assert found, run.stderr[-3000:]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["images"] == 8 and probe["broken"] == [] and probe["errors"] == []
    assert len(probe["svg_widths"]) == 2 and min(probe["svg_widths"]) > 300


# ---------------------------------------------------------------------------
# The command


def test_cli_report(coco_like, tmp_path, capsys):
    out = tmp_path / "cli.html"
    status = cli.main(["report", os.fspath(coco_like.gt_json), os.fspath(coco_like.pred_json), "-o", os.fspath(out),
                       "--worst", "2", "--title", "run <7>"])
    stdout = capsys.readouterr().out
    assert status == 0 and f"report written to {out}" in stdout
    page = out.read_text(encoding="utf-8")
    p = parse(page)
    assert len(p.all("div", **{"class": "worst"})) == 2
    assert "<title>run &lt;7&gt;</title>" in page
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json)
    assert result.table() in stdout


def test_cli_report_bad_input_is_one_line_naming_the_image(make_case, tmp_path, capsys):
    case = layout_case(make_case)
    (case.gt_folder / "7.png").unlink()
    out = tmp_path / "bad.html"
    status = cli.main(["report", os.fspath(case.gt_json), os.fspath(case.pred_json), "-o", os.fspath(out)])
    err = capsys.readouterr().err
    assert status == 1 and "image with ID 7" in err and "7.png" in err
    assert not out.exists()
