"""The catalogue of hostile or broken submissions an evaluation server must survive.

Each entry breaks one thing in an otherwise valid dataset written to disk, scores it through the
public API, and checks the exception class and the image id, file and segment id it names. Where
panopticapi silently accepts the input, the default (compatible) mode must give panopticapi's
numbers and ``strict=True`` must refuse it. The closing note's table is this file's list.
"""

from __future__ import annotations

import copy
import json
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import numpy as np
import pytest

import fastpq
import pngwriter
from conftest import CAR, CATEGORIES, PERSON, SKY, assert_fastpq_does_not_crash, assert_results_close, \
    run_reference, write_id_png

H, W = 6, 8


def _maps():
    gt = np.zeros((H, W), np.uint32)
    gt[:3, :4] = 11          # person
    gt[:3, 4:] = 12          # car
    gt[3:, :] = 13           # sky
    gt[5, 7] = 0             # one void pixel
    pred = gt.copy()
    pred[gt == 11] = 21
    pred[gt == 12] = 22
    pred[gt == 13] = 23
    pred[0, 0] = 22          # a slightly wrong pixel
    return gt, pred


GT_SEGMENTS = [{"id": 11, "category_id": PERSON, "iscrowd": 0}, {"id": 12, "category_id": CAR, "iscrowd": 0},
               {"id": 13, "category_id": SKY, "iscrowd": 0}]
PRED_SEGMENTS = [{"id": 21, "category_id": PERSON}, {"id": 22, "category_id": CAR}, {"id": 23, "category_id": SKY}]


@dataclass
class Submission:
    """A valid two-image dataset (ids 1 and 2) on disk, whose JSON and files a case may break."""

    root: Path
    gt: Dict[str, Any] = field(default_factory=dict)
    pred: Dict[str, Any] = field(default_factory=dict)
    pred_bytes: Optional[bytes] = None  # replaces the prediction JSON's text when set

    @property
    def gt_json(self) -> Path:
        return self.root / "gt.json"

    @property
    def pred_json(self) -> Path:
        return self.root / "pred.json"

    def png(self, side: str, image_id: int) -> Path:
        return self.root / side / f"{image_id}.png"

    def write(self) -> None:
        self.gt_json.write_text(json.dumps(self.gt))
        if self.pred_bytes is not None:
            self.pred_json.write_bytes(self.pred_bytes)
        else:
            self.pred_json.write_text(json.dumps(self.pred))

    def evaluate(self, **options: Any) -> fastpq.PanopticResult:
        self.write()
        return fastpq.evaluate(self.gt_json, self.pred_json, **options)


def make_submission(root: Path) -> Submission:
    gt_map, pred_map = _maps()
    (root / "gt").mkdir(parents=True)
    (root / "pred").mkdir()
    gt = {"images": [], "annotations": [], "categories": copy.deepcopy(CATEGORIES)}
    pred = {"annotations": []}
    for image_id in (1, 2):
        write_id_png(root / "gt" / f"{image_id}.png", gt_map)
        write_id_png(root / "pred" / f"{image_id}.png", pred_map)
        segments = [dict(s, area=int(np.count_nonzero(gt_map == s["id"]))) for s in GT_SEGMENTS]
        gt["images"].append({"id": image_id, "file_name": f"{image_id}.jpg", "height": H, "width": W})
        gt["annotations"].append({"image_id": image_id, "file_name": f"{image_id}.png", "segments_info": segments})
        pred["annotations"].append({"image_id": image_id, "file_name": f"{image_id}.png",
                                    "segments_info": copy.deepcopy(PRED_SEGMENTS)})
    return Submission(root, gt, pred)


@pytest.fixture
def sub(tmp_path) -> Submission:
    return make_submission(tmp_path / "submission")


def pred_segments(s: Submission, image_id: int = 2):
    return s.pred["annotations"][image_id - 1]["segments_info"]


def write_png(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def png_with(**kw: Any) -> bytes:
    """An RGB PNG of the prediction map of the base dataset, with fields overridden."""
    _, pred_map = _maps()
    return pngwriter.encode_ids(pred_map, **kw)


def raw_png(color_type: int, bit_depth: int = 8, interlace: int = 0) -> bytes:
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    row = b"\0" + bytes(W * channels * bit_depth // 8)
    chunks = [(b"IHDR", pngwriter.ihdr_body(W, H, bit_depth, color_type, 0, 0, interlace))]
    if color_type == 3:
        chunks.append((b"PLTE", bytes(3 * 4)))
    chunks += [(b"IDAT", zlib.compress(row * H)), (b"IEND", b"")]
    return pngwriter.png_file(chunks)


def with_bad_crc(png: bytes) -> bytes:
    offset, _, body = [c for c in pngwriter.chunks_of(png) if c[1] == b"IDAT"][0]
    crc_at = offset + 8 + len(body)
    return png[:crc_at] + bytes([png[crc_at] ^ 0xFF]) + png[crc_at + 1:]


def huge_header() -> bytes:
    """Claims 100000 x 100000 pixels (10^10) with a few bytes of data."""
    return pngwriter.png_file([(b"IHDR", pngwriter.ihdr_body(100_000, 100_000)),
                               (b"IDAT", zlib.compress(b"\0" * 100)), (b"IEND", b"")])


def inflating_past_declared_size() -> bytes:
    """IDAT whose data inflates to more scanlines than IHDR declares (a small deflate bomb)."""
    _, pred_map = _maps()
    rgb = pngwriter.ids_to_rgb(pred_map)
    raw = pngwriter.raw_scanlines(rgb, 0) + b"\0" * (1 << 20)
    return png_with(raw=raw)


@dataclass
class Bad:
    """One catalogue entry: how to break the submission and what fastpq must answer."""

    name: str
    breaks: Callable[[Submission], Any]
    error: type
    message: str                       # a part of the error's text
    image_id: Any = None
    file: Optional[str] = None         # the named file's last path component
    segment_id: Optional[int] = None
    options: Dict[str, Any] = field(default_factory=dict)
    strict: Optional["Bad"] = None     # what strict mode answers instead, where it differs


def _set(target: Dict[str, Any], key: str, value: Any) -> None:
    target[key] = value


CATALOGUE = [
    # --- JSON -------------------------------------------------------------------------------------------------
    Bad("not JSON", lambda s: setattr(s, "pred_bytes", b"\x89PNG not json at all"),
        fastpq.AnnotationError, "is not valid JSON", file="pred.json"),
    Bad("truncated JSON", lambda s: setattr(s, "pred_bytes", json.dumps(s.pred).encode()[:57]),
        fastpq.AnnotationError, "is not valid JSON", file="pred.json"),
    Bad("JSON nested a million deep (crashes orjson)", lambda s: setattr(s, "pred_bytes", b"[" * 10**6 + b"]" * 10**6),
        fastpq.AnnotationError, "nest deeper than 512 levels", file="pred.json"),
    Bad("JSON nested 600 deep inside a string-laden object",
        lambda s: setattr(s, "pred_bytes", b'{"a": "[[[\\"]]", "b": ' + b"{" * 600 + b"}" * 600 + b"}"),
        fastpq.AnnotationError, "nest deeper than 512 levels", file="pred.json"),
    Bad("JSON that is a list, not an object", lambda s: setattr(s, "pred_bytes", b"[]"),
        fastpq.AnnotationTypeError, "does not hold an object", file="pred.json"),
    Bad("JSON larger than max_json_bytes", lambda s: None, fastpq.LimitExceededError, "max_json_bytes=100",
        file="gt.json", options={"max_json_bytes": 100}),
    Bad("'annotations' missing", lambda s: s.pred.pop("annotations"), fastpq.AnnotationKeyError,
        "has no 'annotations' list"),
    Bad("'annotations' not a list", lambda s: _set(s.pred, "annotations", {"1": {}}), fastpq.AnnotationTypeError,
        "'annotations' in the prediction JSON is not a list"),
    Bad("image ids as strings", lambda s: [a.update(image_id=str(a["image_id"])) for a in s.pred["annotations"]],
        fastpq.MissingPredictionError, "no prediction for the image with id: 1", image_id=1,
        strict=Bad("", None, fastpq.StrictModeError, "image with ID 1, which the ground truth does not have",
                   image_id="1")),
    Bad("image id a list", lambda s: s.pred["annotations"][0].update(image_id=[1]), fastpq.AnnotationTypeError,
        "cannot be an id"),
    Bad("segments_info not a list", lambda s: s.pred["annotations"][1].update(segments_info={"id": 21}),
        fastpq.AnnotationTypeError, "'segments_info' is not a list", image_id=2),
    Bad("segment without category_id", lambda s: pred_segments(s)[1].pop("category_id"), fastpq.AnnotationKeyError,
        "segment with ID 22 has no 'category_id'", image_id=2, segment_id=22),
    Bad("segment id a string", lambda s: pred_segments(s)[1].update(id="22"), fastpq.AnnotationTypeError,
        "has id '22', which is not a 64-bit integer", image_id=2),
    Bad("segment id a float", lambda s: pred_segments(s)[1].update(id=22.0), fastpq.AnnotationTypeError,
        "which is not a 64-bit integer", image_id=2),
    Bad("segment id beyond 64 bits", lambda s: pred_segments(s)[1].update(id=2**70), fastpq.AnnotationTypeError,
        "which is not a 64-bit integer", image_id=2),
    Bad("segment id >= 2^24 (not in the PNG)", lambda s: pred_segments(s)[1].update(id=2**24 + 22),
        fastpq.SegmentMismatchError, "segment with ID 22 is presented in PNG and not presented in JSON",
        image_id=2, segment_id=22, file="2.png",
        strict=Bad("", None, fastpq.StrictModeError, "segment ID 16777238 is outside 1..16777215", image_id=2,
                   segment_id=2**24 + 22)),
    Bad("negative segment id (not in the PNG)", lambda s: pred_segments(s)[1].update(id=-22),
        fastpq.SegmentMismatchError, "segment with ID 22 is presented in PNG", image_id=2, segment_id=22,
        strict=Bad("", None, fastpq.StrictModeError, "segment ID -22 is outside", image_id=2, segment_id=-22)),
    Bad("unknown category", lambda s: pred_segments(s)[1].update(category_id=999), fastpq.SegmentMismatchError,
        "segment with ID 22 has unknown category_id 999", image_id=2, segment_id=22),
    Bad("JSON segment missing from the PNG", lambda s: pred_segments(s).append({"id": 99, "category_id": CAR}),
        fastpq.SegmentMismatchError, "segment IDs [99] are presented in JSON and not presented in PNG", image_id=2,
        segment_id=99, file="2.png"),
    Bad("file_name not a string", lambda s: s.pred["annotations"][1].update(file_name=7), fastpq.AnnotationKeyError,
        "has no 'file_name' string", image_id=2),
    Bad("more segments than max_segments_per_image", lambda s: None, fastpq.LimitExceededError,
        "max_segments_per_image=2", image_id=1, options={"max_segments_per_image": 2}),
    Bad("empty prediction set", lambda s: s.pred.update(annotations=[]), fastpq.MissingPredictionError,
        "no prediction for the image with id: 1", image_id=1),
    Bad("ground truth without 'categories'", lambda s: s.gt.pop("categories"), fastpq.AnnotationKeyError,
        "has no 'categories' list"),
    Bad("time budget spent", lambda s: None, fastpq.TimeBudgetExceededError, "time budget of 1e-09 s",
        options={"time_budget": 1e-9}),
    # --- PNG files --------------------------------------------------------------------------------------------
    Bad("missing PNG", lambda s: s.png("pred", 2).unlink(), fastpq.PngNotFoundError, "No such file",
        image_id=2, file="2.png"),
    Bad("a folder where the PNG belongs", lambda s: (s.png("pred", 2).unlink(), s.png("pred", 2).mkdir()),
        fastpq.PngError, "", image_id=2, file="2.png"),
    Bad("not a PNG", lambda s: write_png(s.png("pred", 2), b"GIF89a" + bytes(100)), fastpq.PngError,
        "not a PNG file", image_id=2, file="2.png"),
    Bad("empty PNG file", lambda s: write_png(s.png("pred", 2), b""), fastpq.PngError, "", image_id=2,
        file="2.png"),
    Bad("truncated PNG", lambda s: write_png(s.png("pred", 2), png_with()[:60]), fastpq.PngError, "",
        image_id=2, file="2.png"),
    Bad("bad CRC", lambda s: write_png(s.png("pred", 2), with_bad_crc(png_with())), fastpq.PngError, "CRC",
        image_id=2, file="2.png"),
    Bad("palette PNG", lambda s: write_png(s.png("pred", 2), raw_png(3)), fastpq.PngError, "", image_id=2,
        file="2.png"),
    Bad("grey PNG", lambda s: write_png(s.png("pred", 2), raw_png(0)), fastpq.PngError, "", image_id=2,
        file="2.png"),
    Bad("16-bit PNG", lambda s: write_png(s.png("pred", 2), raw_png(2, 16)), fastpq.PngError, "16", image_id=2,
        file="2.png"),
    Bad("interlaced PNG", lambda s: write_png(s.png("pred", 2), raw_png(2, 8, 1)), fastpq.PngError, "interlac",
        image_id=2, file="2.png"),
    Bad("IHDR claiming 10^10 pixels", lambda s: write_png(s.png("pred", 2), huge_header()), fastpq.PngError,
        "max_pixels", image_id=2, file="2.png"),
    Bad("image above a lowered max_pixels", lambda s: None, fastpq.PngError, "max_pixels", image_id=1,
        file="1.png", options={"max_pixels": H * W - 1}),
    Bad("IDAT inflating past the declared size", lambda s: write_png(s.png("pred", 2), inflating_past_declared_size()),
        fastpq.PngError, "", image_id=2, file="2.png"),
    Bad("GT and prediction of different sizes",
        lambda s: write_id_png(s.png("pred", 2), np.full((H, W + 1), 23, np.uint32)), fastpq.ImageSizeMismatchError,
        "", image_id=2, file="2.png"),
]


@pytest.mark.parametrize("bad", CATALOGUE, ids=[b.name for b in CATALOGUE])
@pytest.mark.parametrize("strict", [False, True], ids=["compatible", "strict"])
def test_catalogue(sub, bad, strict):
    bad.breaks(sub)
    sub.write()
    options = bad.options
    if strict and bad.strict is not None:
        bad = bad.strict
    assert_fastpq_does_not_crash(sub.gt_json, sub.pred_json)
    with pytest.raises(bad.error) as info:
        fastpq.evaluate(sub.gt_json, sub.pred_json, strict=strict, **options)
    e = info.value
    assert isinstance(e, fastpq.FastPQError)
    assert bad.message in str(e)
    assert e.image_id == bad.image_id
    assert e.segment_id == bad.segment_id
    if bad.file is not None:
        assert e.file is not None and Path(e.file).name == bad.file
        if not isinstance(e, fastpq.SegmentMismatchError):  # those keep panopticapi's text
            assert bad.file in str(e)


def test_catalogue_inputs_are_otherwise_valid(sub):
    """The base submission scores, equal to panopticapi, so each entry fails for its own reason."""
    sub.write()
    result = sub.evaluate()
    assert_results_close(result.to_dict(), run_reference(sub.gt_json, sub.pred_json))
    assert result.groups["All"].n == 3


def test_errors_keep_panopticapis_key_error_texts(sub):
    pred_segments(sub)[1].update(category_id=999)
    sub.write()
    with pytest.raises(KeyError) as ours:
        fastpq.pq_compute(sub.gt_json, sub.pred_json)
    with pytest.raises(KeyError) as theirs:
        run_reference(sub.gt_json, sub.pred_json)
    assert str(ours.value) == str(theirs.value)


# ---------------------------------------------------------------------------------------------------------------
# What panopticapi accepts silently: the compatible mode keeps its numbers, strict mode refuses.


def _duplicate_prediction(s: Submission) -> None:
    twin = copy.deepcopy(s.pred["annotations"][0])
    twin["segments_info"][0]["category_id"] = CAR  # the last one wins in panopticapi
    s.pred["annotations"].append(twin)


def _absolute_file_name(s: Submission) -> None:
    s.pred["annotations"][1]["file_name"] = os.fspath(s.png("pred", 2).resolve())


def _escaping_file_name(s: Submission) -> None:
    outside = s.root / "outside.png"
    outside.write_bytes(s.png("pred", 2).read_bytes())
    s.pred["annotations"][1]["file_name"] = "../outside.png"


def _duplicate_segment(s: Submission) -> None:
    pred_segments(s).append({"id": 22, "category_id": PERSON})


def _duplicate_gt_image(s: Submission) -> None:
    s.gt["annotations"].append(copy.deepcopy(s.gt["annotations"][0]))


def _gt_segment_of_unknown_category(s: Submission) -> None:
    s.gt["annotations"][1]["segments_info"][1]["category_id"] = 999


def _no_categories(s: Submission) -> None:
    s.gt["categories"] = []


STRICT_ONLY = [
    ("two predictions for one image", _duplicate_prediction, "two annotations for the image with ID 1", 1, None),
    ("prediction for an unknown image",
     lambda s: s.pred["annotations"].append(dict(copy.deepcopy(s.pred["annotations"][0]), image_id=77)),
     "image with ID 77, which the ground truth does not have", 77, None),
    ("segment id listed twice", _duplicate_segment, "segment ID 22 is listed twice", 2, 22),
    ("absolute file_name", _absolute_file_name, "is not a plain relative path", 2, None),
    ("file_name escaping its folder", _escaping_file_name, "is not a plain relative path", 2, None),
    ("two GT annotations for one image", _duplicate_gt_image, "two annotations for the image with ID 1", 1, None),
    ("GT segment of an unknown category", _gt_segment_of_unknown_category, "category_id 999", 2, 12),
]


@pytest.mark.parametrize("name,breaks,message,image_id,segment_id", STRICT_ONLY, ids=[c[0] for c in STRICT_ONLY])
def test_compatible_mode_keeps_panopticapis_numbers_strict_mode_refuses(sub, name, breaks, message, image_id,
                                                                        segment_id):
    breaks(sub)
    result = sub.evaluate()
    assert_results_close(result.to_dict(), run_reference(sub.gt_json, sub.pred_json))
    with pytest.raises(fastpq.StrictModeError) as info:
        sub.evaluate(strict=True)
    assert message in str(info.value)
    assert (info.value.image_id, info.value.segment_id) == (image_id, segment_id)
    assert isinstance(info.value, fastpq.AnnotationError)


@pytest.mark.parametrize("name", ["a\\b.png", "..\\2.png", "C:2.png", "2.png\x00.txt", "/abs/2.png"])
def test_strict_mode_refuses_file_names_that_can_leave_their_folder(sub, name):
    sub.pred["annotations"][1]["file_name"] = name
    with pytest.raises(fastpq.StrictModeError, match="is not a plain relative path") as info:
        sub.evaluate(strict=True)
    assert info.value.image_id == 2


@pytest.mark.parametrize("segment_id", [0, -5, 2**24, 2**40])
def test_strict_mode_refuses_ids_a_png_cannot_hold(sub, segment_id):
    pred_segments(sub).append({"id": segment_id, "category_id": CAR})
    with pytest.raises(fastpq.StrictModeError, match="outside 1..16777215") as info:
        sub.evaluate(strict=True)
    assert info.value.segment_id == segment_id


def test_gt_without_categories(sub):
    """panopticapi fails on the first predicted segment (its category is unknown), and so does fastpq;
    without predicted segments both divide by zero (fastpq says which group is empty); strict mode
    refuses the ground truth itself."""
    _no_categories(sub)
    sub.write()
    with pytest.raises(KeyError) as theirs:
        run_reference(sub.gt_json, sub.pred_json)
    with pytest.raises(fastpq.SegmentMismatchError) as ours:
        fastpq.pq_compute(sub.gt_json, sub.pred_json)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(fastpq.StrictModeError, match="lists no categories"):
        sub.evaluate(strict=True)

    gt_map, _ = _maps()
    for image_id in (1, 2):
        write_id_png(sub.png("pred", image_id), np.zeros_like(gt_map))
        pred_segments(sub, image_id).clear()
    sub.write()
    with pytest.raises(ZeroDivisionError):
        run_reference(sub.gt_json, sub.pred_json)
    with pytest.raises(fastpq.EmptyCategoryGroupError):
        fastpq.pq_compute(sub.gt_json, sub.pred_json)
    assert math.isnan(sub.evaluate().pq)


def test_strict_mode_accepts_a_valid_submission(sub):
    assert sub.evaluate(strict=True).to_dict() == sub.evaluate().to_dict()


# ---------------------------------------------------------------------------------------------------------------
# Limits


@pytest.mark.parametrize("option", ["max_segments_per_image", "max_json_bytes", "max_pixels"])
@pytest.mark.parametrize("value", [0, -1, True, 1.5, 2**70, "9"])
def test_limits_must_be_positive_integers(sub, option, value):
    sub.write()
    with pytest.raises(fastpq.InvalidOptionError, match=option):
        fastpq.evaluate(sub.gt_json, sub.pred_json, **{option: value})


@pytest.mark.parametrize("budget", [0, -1.0, float("nan"), "1"])
def test_time_budget_must_be_a_positive_number(sub, budget):
    sub.write()
    with pytest.raises(fastpq.InvalidOptionError, match="time_budget"):
        fastpq.evaluate(sub.gt_json, sub.pred_json, time_budget=budget)


@pytest.mark.parametrize("options,name", [({"workers": -1}, "workers"), ({"workers": 2**40}, "workers"),
                                          ({"workers": 1.0}, "workers"), ({"inflate": "gzip"}, "inflate")])
def test_engine_options_are_checked_before_the_core_runs(sub, options, name):
    sub.write()
    with pytest.raises(fastpq.InvalidOptionError, match=name):
        fastpq.evaluate(sub.gt_json, sub.pred_json, **options)


def test_amodal_engine_options_are_checked(amodal_gt, tmp_path):
    gt, proposals = amodal_gt
    with pytest.raises(fastpq.InvalidOptionError, match="workers"):
        fastpq.amodal_ar(gt, _write(tmp_path / "p.json", proposals), workers=-3)


def test_limits_at_the_bound_are_accepted(sub):
    sub.write()
    size = max(sub.gt_json.stat().st_size, sub.pred_json.stat().st_size)
    expected = sub.evaluate().to_dict()
    assert sub.evaluate(max_json_bytes=size, max_segments_per_image=3, max_pixels=H * W,
                        time_budget=60.0).to_dict() == expected


def test_time_budget_is_checked_between_batches(tmp_path, monkeypatch):
    """A budget spent while images are scored stops the evaluation before the next batch."""
    from fastpq import limits

    sub = make_submission(tmp_path / "s")
    for image_id in range(3, 60):
        for side in ("gt", "pred"):
            os.link(sub.png(side, 1), sub.png(side, image_id))
        sub.gt["annotations"].append(dict(copy.deepcopy(sub.gt["annotations"][0]), image_id=image_id,
                                          file_name=f"{image_id}.png"))
        sub.pred["annotations"].append(dict(copy.deepcopy(sub.pred["annotations"][0]), image_id=image_id,
                                            file_name=f"{image_id}.png"))
    clock = iter([0.0] + [1.0] * 3 + [100.0] * 1000)  # start, three stage checks, then past the budget
    monkeypatch.setattr(limits.time, "monotonic", lambda: next(clock))
    with pytest.raises(fastpq.TimeBudgetExceededError, match="16 of 59 images scored"):
        sub.evaluate(time_budget=10.0, workers=1)


def test_json_read_stops_at_the_limit(tmp_path):
    """The size check happens before parsing: a 50 MB file is refused without being read."""
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(50 << 20)
    gt = make_submission(tmp_path / "s")
    gt.write()
    with pytest.raises(fastpq.LimitExceededError, match="52428800 bytes") as info:
        fastpq.evaluate(gt.gt_json, big, gt.root / "gt", gt.root / "pred", max_json_bytes=1 << 20)
    assert info.value.file == os.fspath(big)


# ---------------------------------------------------------------------------------------------------------------
# Amodal proposals


@pytest.fixture(scope="module")
def amodal_gt(tmp_path_factory):
    from fastpq.synthetic_amodal import generate_amodal_dataset

    gt, proposals = generate_amodal_dataset(tmp_path_factory.mktemp("amodal"), n_images=3, max_proposals=20, seed=1)
    return gt, json.loads(Path(proposals).read_text())


def _write(path: Path, proposals: Any) -> Path:
    path.write_text(json.dumps(proposals))
    return path


@pytest.mark.parametrize("score,strict_only", [(float("nan"), False), (float("inf"), True), (-0.5, True),
                                               ("high", False), (None, False)])
def test_amodal_bad_scores(amodal_gt, tmp_path, score, strict_only):
    gt, proposals = amodal_gt
    proposals = copy.deepcopy(proposals)
    proposals[3]["score"] = score
    image_id = proposals[3]["image_id"]
    path = _write(tmp_path / "p.json", proposals)
    if strict_only:
        fastpq.amodal_ar(gt, path)  # pycocotools sorts such scores like any other
        error = fastpq.StrictModeError
    else:
        error = fastpq.AnnotationError
    with pytest.raises(error, match=f"In the image with ID {image_id} a proposal") as info:
        fastpq.amodal_ar(gt, path, strict=True)
    assert info.value.image_id == image_id


def test_amodal_million_proposals_for_one_image(amodal_gt, tmp_path):
    gt, proposals = amodal_gt
    one = proposals[0]
    path = tmp_path / "million.json"
    text = json.dumps(one)
    with open(path, "w") as f:
        f.write("[" + ",".join([text] * 1_000_000) + "]")
    with pytest.raises(fastpq.LimitExceededError, match="max_proposals_per_image=10000") as info:
        fastpq.amodal_ar(gt, path)
    assert info.value.image_id == one["image_id"]
    with pytest.raises(fastpq.LimitExceededError, match="max_json_bytes"):
        fastpq.amodal_ar(gt, path, max_json_bytes=1 << 20)


def test_amodal_proposals_for_unknown_images(amodal_gt, tmp_path):
    gt, proposals = amodal_gt
    path = _write(tmp_path / "p.json", proposals + [dict(proposals[0], image_id=12345)])
    assert fastpq.amodal_ar(gt, path).to_dict() == fastpq.amodal_ar(gt, _write(tmp_path / "q.json",
                                                                               proposals)).to_dict()
    with pytest.raises(fastpq.StrictModeError, match="12345") as info:
        fastpq.amodal_ar(gt, path, strict=True)
    assert info.value.image_id == 12345


@pytest.mark.parametrize("image_id", [[1], {"a": 1}])
def test_amodal_unhashable_image_id(amodal_gt, tmp_path, image_id):
    gt, proposals = amodal_gt
    path = _write(tmp_path / "p.json", [dict(proposals[0], image_id=image_id)])
    with pytest.raises(fastpq.AnnotationTypeError, match="cannot be an id"):
        fastpq.amodal_ar(gt, path)


# ---------------------------------------------------------------------------------------------------------------
# The JSON nesting scan that guards the parsers


def _depth_oracle(value: Any) -> int:
    if isinstance(value, (list, dict)):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max((_depth_oracle(c) for c in children), default=0)
    return 0


def _random_json(rng: np.random.Generator, depth: int) -> Any:
    kind = rng.integers(0, 4 if depth < 12 else 2)
    if kind == 0:
        return "".join(rng.choice(list('ab[]{}"\\\\/ '), size=int(rng.integers(0, 8))))
    if kind == 1:
        return int(rng.integers(-5, 5))
    if kind == 2:
        return [_random_json(rng, depth + 1) for _ in range(int(rng.integers(0, 4)))]
    return {f"k{i}[": _random_json(rng, depth + 1) for i in range(int(rng.integers(0, 4)))}


def test_nesting_depth_scan_equals_the_parsed_depth():
    from fastpq import _core

    rng = np.random.default_rng(7)
    for _ in range(2000):
        value = _random_json(rng, 0)
        text = json.dumps(value, ensure_ascii=bool(rng.integers(0, 2))).encode()
        assert _core.json_nesting_depth(text, 10**9) == _depth_oracle(value), text
    assert _core.json_nesting_depth(b"[" * 1000, 10) == 11  # stops once past the bound
    assert _core.json_nesting_depth(b'"unterminated [[[', 10) == 0


@pytest.mark.parametrize("height,width,error", [(1, 2_000_000_000, fastpq.LimitExceededError),
                                                (100_000, 100_000, fastpq.LimitExceededError),
                                                (-4, 8, fastpq.AnnotationError)])
def test_amodal_image_sizes_are_bounded(amodal_gt, tmp_path, height, width, error):
    """A COCOA image claiming 2e9 pixels would make every mask of it that large: refused up front."""
    gt, proposals = amodal_gt
    data = json.loads(Path(gt).read_text())
    data["images"][1].update(height=height, width=width)
    path = _write(tmp_path / "gt.json", data)
    with pytest.raises(error) as info:
        fastpq.amodal_ar(path, _write(tmp_path / "p.json", proposals))
    assert info.value.image_id == data["images"][1]["id"]


def test_amodal_max_pixels_option(amodal_gt, tmp_path):
    gt, proposals = amodal_gt
    data = json.loads(Path(gt).read_text())
    largest = max(im["height"] * im["width"] for im in data["images"])
    path = _write(tmp_path / "p.json", proposals)
    assert fastpq.amodal_ar(gt, path, max_pixels=largest).to_dict() == fastpq.amodal_ar(gt, path).to_dict()
    with pytest.raises(fastpq.LimitExceededError, match=f"max_pixels={largest - 1}"):
        fastpq.amodal_ar(gt, path, max_pixels=largest - 1)
