"""Replays the fuzzers' seed corpus (tests/fuzz_corpus/<target>/, see fuzz/) through the entry
points Python can reach: every input must give a result or a fastpq error, never anything else,
and where a reference exists (pycocotools, tests/pngwriter.py's decoder, numpy's counts) the
result must agree with it.

The structured targets' files are in the byte format of fuzz/fuzz_input.hpp, read here by
`ByteReader`, field by field as the C++ harnesses read them.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import List

import numpy as np
import pytest
from pycocotools import mask as cocomask

import pngwriter
from fastpq import _core

CORPUS = Path(__file__).resolve().parents[1] / "fuzz_corpus"
INFLATE = ["zlib"] + (["libdeflate"] if _core.build_info()["libdeflate"] else [])
CORE_ERRORS = (_core.FormatError, _core.MaskError)


def corpus(target: str) -> List[Path]:
    return sorted((CORPUS / target).iterdir())


def ids_of(files: List[Path]) -> List[str]:
    return [p.name for p in files]


class ByteReader:
    """fuzz/fuzz_input.hpp's reader: little-endian, front to back, zeros past the end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> int:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return int.from_bytes(chunk.ljust(n, b"\0"), "little")

    def u8(self) -> int:
        return self.take(1)

    def u16(self) -> int:
        return self.take(2)

    def u32(self) -> int:
        return self.take(4)

    def u64(self) -> int:
        return self.take(8)

    def i64(self) -> int:
        return struct.unpack("<q", struct.pack("<Q", self.u64()))[0]

    def f64(self) -> float:
        return struct.unpack("<d", struct.pack("<Q", self.u64()))[0]

    def bytes(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk

    def str16(self) -> bytes:
        return self.bytes(self.u16())

    def double(self) -> float:
        tag = self.u8() % 4
        if tag == 0:
            return self.f64()
        if tag == 3:
            return struct.unpack("<i", struct.pack("<I", self.u32()))[0] / 4.0
        return struct.unpack("<h", struct.pack("<H", self.u16()))[0] / 8.0


def with_fixed_crcs(png: bytes) -> bytes:
    out, pos = bytearray(png), 8
    while len(out) >= pos + 12:
        length = int.from_bytes(out[pos:pos + 4], "big")
        if length > len(out) - pos - 12:
            break
        out[pos + 8 + length:pos + 12 + length] = struct.pack(">I", zlib.crc32(bytes(out[pos + 4:pos + 8 + length])))
        pos += 12 + length
    return bytes(out)


def decode(png: bytes, inflate: str):
    """The ids, or None for a FormatError (the only error allowed)."""
    try:
        ids = _core.decode_png_ids(png, "corpus.png", inflate=inflate)
    except _core.FormatError as e:
        assert "corpus.png" in str(e)
        return None
    assert ids.dtype == np.uint32
    return ids


def test_corpus_is_small_and_complete():
    targets = {p.name for p in CORPUS.iterdir()}
    assert targets == {"png", "png_pair", "rle", "polygon", "pq_match", "amodal", "amodal_consistency", "amodal_edges",
                       "json_scan", "label_png", "semantic", "instance", "mask_png", "panoptic_json"}
    assert all(corpus(t) for t in targets)
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 1 << 20


# --- PNG -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", corpus("png"), ids=ids_of(corpus("png")))
def test_png_seed(path: Path):
    for png in {path.read_bytes(), with_fixed_crcs(path.read_bytes())}:
        results = [decode(png, inflate) for inflate in INFLATE]
        first = results[0]  # zlib
        # The backends agree on what zlib accepts; libdeflate deliberately also decodes a few
        # invalid streams that zlib refuses (libdeflate issue #288).
        for other in results[1:]:
            if first is not None:
                assert other is not None
                np.testing.assert_array_equal(first, other)
        if first is not None:  # the independent decoder of tests/pngwriter.py agrees
            np.testing.assert_array_equal(first, pngwriter.reference_ids(png))


@pytest.mark.parametrize("path", corpus("png_pair"), ids=ids_of(corpus("png_pair")))
def test_png_pair_seed(path: Path):
    r = ByteReader(path.read_bytes())
    gt_png = with_fixed_crcs(r.bytes(r.u32()))
    pred_png = with_fixed_crcs(r.bytes(len(r.data)))
    gt, pred = decode(gt_png, ""), decode(pred_png, "")
    if gt is None or pred is None or gt.shape != pred.shape:
        return
    g, p, counts = _core.joint_histogram(gt, pred)
    pairs, expected = np.unique(np.stack([gt.ravel(), pred.ravel()]), axis=1, return_counts=True)
    np.testing.assert_array_equal(g, pairs[0])
    np.testing.assert_array_equal(p, pairs[1])
    np.testing.assert_array_equal(counts, expected)


# --- RLE and polygons ----------------------------------------------------------------------------

def coco(counts: List[int], h: int, w: int) -> dict:
    return {"size": [h, w], "counts": _core.rle_to_string(counts).encode()}


@pytest.mark.parametrize("path", corpus("rle"), ids=ids_of(corpus("rle")))
def test_rle_seed(path: Path):
    r = ByteReader(path.read_bytes())
    mode = r.u8()
    h, w = (r.u32(), r.u32()) if mode & 0x80 else (r.u16() % 1025, r.u16() % 1025)
    rles = []
    for _ in range(r.u8() % 6):
        kind = r.u8()
        try:
            if kind & 1:
                n = r.u8() % 32
                counts = [r.u32() if kind & 2 else r.u16() for _ in range(n)]
                _core.rle_area(counts, h, w)  # checks that they add up to h*w, as rle_from_counts does
                rles.append(counts)
            else:
                rles.append(_core.rle_from_string(r.str16(), h, w))
        except _core.MaskError:
            pass
    crowd_bits = r.u8()
    crowd = [bool((crowd_bits >> i) & 1) for i in range(len(rles))]
    small = h * w <= 1 << 16
    for counts in rles:
        assert _core.rle_from_string(_core.rle_to_string(counts), h, w) == counts
        area = _core.rle_area(counts, h, w)
        assert area == int(cocomask.area(coco(counts, h, w)))
        if small:
            mask = _core.rle_decode(counts, h, w)
            assert int(mask.sum()) == area
            np.testing.assert_array_equal(_core.rle_decode(_core.rle_encode(mask), h, w), mask)
    if not rles:
        return
    for intersect in (False, True):
        try:
            _core.rle_merge(rles, h, w, intersect)
        except _core.MaskError:
            pass
    ious = _core.rle_iou([(h, w, c) for c in rles], [(h, w, c) for c in rles], crowd)
    expected = cocomask.iou([coco(c, h, w) for c in rles], [coco(c, h, w) for c in rles], [int(c) for c in crowd])
    np.testing.assert_array_equal(ious, np.asarray(expected).reshape(ious.shape))


@pytest.mark.parametrize("path", corpus("polygon"), ids=ids_of(corpus("polygon")))
def test_polygon_seed(path: Path):
    r = ByteReader(path.read_bytes())
    mode = r.u8()
    h, w = r.u16() % 513, r.u16() % 513
    if mode & 0x80:
        big_h, big_w = r.u32(), r.u32()
        if big_h * big_w > 0x7FFFFFFF:
            h, w = big_h, big_w
    polygons = [[r.double() for _ in range(r.u8() % 33)] for _ in range(r.u8() % 5)]
    box = [r.double() for _ in range(4)]
    try:
        counts = _core.rle_from_polygons(polygons, h, w)
    except _core.MaskError:
        counts = None
    comparable = (counts is not None and h > 0 and w > 0 and all(
        len(p) >= 6 and len(p) % 2 == 0 and all(math.isfinite(v) and abs(v) < 1e4 for v in p) for p in polygons))
    if comparable:  # pycocotools' annToRLE: frPyObjects, then merge
        expected = cocomask.merge(cocomask.frPyObjects(polygons, h, w))
        assert _core.rle_to_string(counts).encode() == expected["counts"]
    try:
        _core.rle_from_bbox(box, h, w)
    except _core.MaskError:
        pass


# --- matching ------------------------------------------------------------------------------------

DTYPES = [np.uint8, np.uint16, np.uint32, np.int32, np.int64, np.uint64]


@pytest.mark.parametrize("path", corpus("pq_match"), ids=ids_of(corpus("pq_match")))
def test_pq_match_seed(path: Path):
    r = ByteReader(path.read_bytes())
    count, height, width = r.u8() % 3, r.u8() % 17, r.u8() % 17
    gt_type, pred_type = DTYPES[r.u8() % 6], DTYPES[r.u8() % 6]
    c = r.u8()
    n_categories = -1 if c >= 0x80 else c % 5
    palette = []
    for _ in range(8):
        tag = r.u8()
        palette.append(r.i64() if tag % 4 == 0 else tag % 8)
    pixels = height * width
    gt_maps, pred_maps = [], []
    for _ in range(count):
        gt_maps.append(np.array([palette[r.u8() % 8] for _ in range(pixels)], np.int64).astype(gt_type))
        pred_maps.append(np.array([palette[r.u8() % 8] for _ in range(pixels)], np.int64).astype(pred_type))

    def segment_id() -> int:
        tag = r.u8()
        return palette[tag % 8] if tag < 0xF0 else tag - 0xF8

    def category() -> int:
        c = r.u8()
        if n_categories < 0:
            return c % 3 - 1
        return c - 0xFE + n_categories if c >= 0xFC else c % (n_categories + 1) - 1

    tables = {k: [] for k in ("gt_ids", "gt_categories", "gt_iscrowd", "gt_areas", "pred_ids", "pred_categories")}
    gt_offsets, pred_offsets = [0], [0]
    for i in range(count):
        unsigned = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.int64}[np.dtype(gt_type).itemsize]
        stored = gt_maps[i].view(unsigned).astype(np.int64)  # the harness reads the stored bytes unsigned
        for _ in range(r.u8() % 6):
            sid = segment_id()
            tables["gt_ids"].append(sid)
            tables["gt_categories"].append(category())
            tables["gt_iscrowd"].append(r.u8() & 1)
            tables["gt_areas"].append(r.f64() if r.u8() % 4 == 0 else float((stored == sid).sum()))
        gt_offsets.append(len(tables["gt_ids"]))
        for _ in range(r.u8() % 6):
            tables["pred_ids"].append(segment_id())
            tables["pred_categories"].append(category())
        pred_offsets.append(len(tables["pred_ids"]))
    broken = r.u8() == 0xFF and count > 0
    if broken:
        gt_offsets[1] += 1
    valid = not broken and n_categories >= 0 and all(
        -1 <= c < n_categories for c in tables["gt_categories"] + tables["pred_categories"])
    shape = (count, height, width)
    gt = np.stack(gt_maps).reshape(shape) if count else np.zeros(shape, gt_type)
    pred = np.stack(pred_maps).reshape(shape) if count else np.zeros(shape, pred_type)
    args = (gt, pred,
            gt_offsets, tables["gt_ids"], tables["gt_categories"], tables["gt_iscrowd"], tables["gt_areas"],
            pred_offsets, tables["pred_ids"], tables["pred_categories"], n_categories)
    if not valid:  # tables the Python layer never builds: the core refuses them as a caller's bug
        with pytest.raises((ValueError, MemoryError)):
            _core.evaluate_id_maps(*args, workers=1)
        return
    out = _core.evaluate_id_maps(*args, workers=1, keep_images=True)
    if out["failure"] is not None:
        assert 0 <= out["failure"]["image_index"] < count and out["failure"]["message"]
    else:
        assert len(out["tp"]) == n_categories


@pytest.mark.parametrize("path", corpus("amodal_consistency"), ids=ids_of(corpus("amodal_consistency")))
def test_amodal_consistency_seed(path: Path):
    """fuzz_amodal_consistency's input through the binding: one score per ordered annotator pair, in
    order, with counts and scores in range, or a failure naming an image and a reason."""
    r = ByteReader(path.read_bytes())
    matching, threshold = r.u8() % 3, r.double()

    def mask():
        if r.u8() % 2 == 0:
            return r.str16().decode("latin-1")
        return [[r.double() for _ in range(r.u8() % 17)] for _ in range(r.u8() % 3)]

    images = []
    for _ in range(r.u8() % 3):
        h, w = r.u8() % 33, r.u8() % 33
        images.append((h, w, [[mask() for _ in range(r.u8() % 4)] for _ in range(r.u8() % 4)]))
    out = _core.amodal_region_consistency(images, threshold, matching, workers=1)
    if out["failure"] is not None:
        index, message = out["failure"]
        assert 0 <= index < len(images) and message
        return
    expected = [(i, x, y) for i, (_, _, anns) in enumerate(images)
                for x in range(len(anns)) for y in range(len(anns)) if x != y]
    assert list(zip(out["image"], out["x"], out["y"])) == expected
    for k, (i, x, y) in enumerate(expected):
        anns = images[i][2]
        assert out["regions_x"][k] == len(anns[x]) and out["regions_y"][k] == len(anns[y])
        assert 0 <= out["matched_x"][k] <= len(anns[x]) and 0 <= out["matched_y"][k] <= len(anns[y])
        for name in ("precision", "recall", "f"):
            v = out[name][k]
            assert math.isnan(v) or 0.0 <= v <= 1.0


@pytest.mark.parametrize("path", corpus("amodal_edges"), ids=ids_of(corpus("amodal_edges")))
def test_amodal_edges_seed(path: Path):
    """fuzz_amodal_edges' input through the binding: one score per ordered annotator pair, in order,
    boundary counts equal to seg2bmap of pycocotools-decoded masks, equal matched counts for both
    sides, scores in range; or a failure naming an image, or a refused tolerance."""
    r = ByteReader(path.read_bytes())
    max_dist = r.double() if r.u8() % 2 else r.u8() / 255.0 * 0.1

    def mask():
        if r.u8() % 2 == 0:
            return r.str16().decode("latin-1")
        return [[r.double() for _ in range(r.u8() % 17)] for _ in range(r.u8() % 3)]

    images = []
    for _ in range(r.u8() % 3):
        h, w = r.u8() % 33, r.u8() % 33
        images.append((h, w, [[mask() for _ in range(r.u8() % 4)] for _ in range(r.u8() % 4)]))
    if not 0 <= max_dist <= 0.1:
        with pytest.raises(ValueError, match="tolerance"):
            _core.amodal_edge_consistency(images, max_dist, workers=1)
        return
    out = _core.amodal_edge_consistency(images, max_dist, workers=1)
    if out["failure"] is not None:
        index, message = out["failure"]
        assert 0 <= index < len(images) and message
        return
    expected = [(i, x, y) for i, (_, _, anns) in enumerate(images)
                for x in range(len(anns)) for y in range(len(anns)) if x != y]
    assert list(zip(out["image"], out["x"], out["y"])) == expected

    def edges(h, w, masks):
        total = np.zeros((h, w), bool)
        for m in masks:
            rle = {"size": [h, w], "counts": m.encode("latin-1")} if isinstance(m, str) else \
                cocomask.merge(cocomask.frPyObjects(m, h, w))
            d = cocomask.decode(rle).astype(bool)
            total[:, :-1] |= d[:, :-1] != d[:, 1:]
            total[:-1, :] |= d[:-1, :] != d[1:, :]
            total[:-1, :-1] |= d[:-1, :-1] != d[1:, 1:]
        return int(total.sum())

    for k, (i, x, y) in enumerate(expected):
        h, w, anns = images[i]
        assert out["edges_x"][k] == edges(h, w, anns[x]) and out["edges_y"][k] == edges(h, w, anns[y])
        assert out["matched_x"][k] == out["matched_y"][k] <= min(out["edges_x"][k], out["edges_y"][k])
        for name in ("precision", "recall", "f"):
            v = out[name][k]
            assert math.isnan(v) or 0.0 <= v <= 1.0


@pytest.mark.parametrize("path", corpus("amodal"), ids=ids_of(corpus("amodal")))
def test_amodal_seed(path: Path):
    r = ByteReader(path.read_bytes())
    flags = r.u8()
    thresholds = [0.5 + 0.05 * i for i in range(10)]
    if flags & 1:
        thresholds = [r.double() for _ in range(10)]
    if flags & 2:
        thresholds.pop()

    def not_nan(v: float) -> float:
        return 0.0 if math.isnan(v) else v

    def mask():
        if r.u8() % 2 == 0:
            return r.str16().decode("latin-1")
        return [[r.double() for _ in range(r.u8() % 17)] for _ in range(r.u8() % 3)]

    images = []
    for _ in range(r.u8() % 3):
        h, w = r.u8() % 33, r.u8() % 33
        regions, stuff, occlusion, proposals, scores = [], [], [], [], []
        for _ in range(r.u8() % 5):
            regions.append(mask())
            stuff.append(bool(r.u8() & 1))
            occlusion.append(not_nan(r.double()))
        for _ in range(r.u8() % 6):
            proposals.append(mask())
            scores.append(not_nan(r.double()))
        images.append((h, w, regions, stuff, occlusion, proposals, scores))
    if flags & 4 and images and images[0][6]:
        images[0][6].pop()
    if flags & 2 or (flags & 4 and images and len(images[0][6]) != len(images[0][5])):
        with pytest.raises(ValueError):  # a caller's bug, refused before any work
            _core.amodal_evaluate(images, thresholds, workers=1)
        return
    out = _core.amodal_evaluate(images, thresholds, workers=1)
    if out["failure"] is not None:
        index, message = out["failure"]
        assert 0 <= index < len(images) and message
    else:
        for s, regions in enumerate(out["regions"]):
            assert all(0 <= out["matched"][s * 40 + k] <= regions for k in range(40))


# --- JSON nesting scan ---------------------------------------------------------------------------


def _json_depth_oracle(text: bytes) -> int:
    """Depth of '[' / '{' outside strings, tracking the string and escape state byte by byte."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:
                escaped = True
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in b"]}" and depth > 0:
            depth -= 1
    return deepest


@pytest.mark.parametrize("path", corpus("json_scan"), ids=ids_of(corpus("json_scan")))
def test_json_scan_seed(path: Path):
    data = path.read_bytes()
    bound, text = data[0], data[1:]
    full = _core.json_nesting_depth(text, 2**62)
    assert full == _json_depth_oracle(text)
    bounded = _core.json_nesting_depth(text, bound)
    assert bounded > bound if full > bound else bounded == full


@pytest.mark.parametrize("path", corpus("panoptic_json"), ids=ids_of(corpus("panoptic_json")))
def test_panoptic_json_seed(path: Path):
    # The C++ reader takes a seed or gives up; what it takes, Python's parser reads to the same tables.
    from fastpq.io.json_files import parse_json
    from fastpq.io.dataset import Categories, build_tables

    r = ByteReader(path.read_bytes())
    n = r.u16()
    gt_text, pred_text = r.data[2:2 + n], r.data[2 + n:]
    out = _core.panoptic_json_tables(gt_text, pred_text, 1 << 16)
    if out is None:
        return
    gt, pred = parse_json(gt_text), parse_json(pred_text)
    tables = build_tables(gt, pred, "g", "p", Categories.from_json(gt))
    for key in ("image_ids", "gt_offsets", "gt_ids", "gt_categories", "gt_iscrowd", "gt_areas", "pred_offsets",
                "pred_ids", "pred_categories"):
        assert out[key] == getattr(tables, key), key


def test_rle_encode_of_an_empty_mask():
    """Regression (fuzz_rle, UBSan): encoding a mask without pixels addressed its data; pycocotools gives [0]."""
    for shape in [(0, 6), (6, 0), (0, 0)]:
        mask = np.zeros(shape, np.uint8)
        assert _core.rle_encode(mask) == [0]
        assert cocomask.encode(np.asfortranarray(mask[:, :, None]))[0]["counts"] == b"0"


# --- label maps and the semantic pass ---------------------------------------------------------------

@pytest.mark.parametrize("path", corpus("label_png"), ids=ids_of(corpus("label_png")))
def test_label_png_seed(path: Path):
    from PIL import Image
    import io

    png = path.read_bytes()
    results = []
    for inflate in INFLATE:
        try:
            results.append(_core.decode_label_png(png, "corpus.png", inflate=inflate))
        except _core.FormatError as e:
            assert "corpus.png" in str(e)
            results.append(None)
    for other in results[1:]:
        if results[0] is not None:
            np.testing.assert_array_equal(results[0], other)
    if results[0] is None:
        return
    image = Image.open(io.BytesIO(png))
    expected = np.array(image)
    if image.mode == "1":
        expected = expected.astype(np.uint8)  # Pillow's bits; fastpq gives the raw 0 / 1 samples
    elif image.mode == "LA":
        expected = expected[..., 0]
    elif image.mode == "RGB":
        e = expected.astype(np.uint32)
        expected = e[..., 0] + 256 * e[..., 1] + 65536 * e[..., 2]
    np.testing.assert_array_equal(results[0], expected)


_SEMANTIC_TYPES = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64]


def _semantic_map(r: ByteReader, kind: int, w: int, h: int):
    if kind >= 8:
        return r.bytes(r.u32() % 4096)
    dtype = np.dtype(_SEMANTIC_TYPES[kind]).newbyteorder("<")
    raw = r.bytes(w * h * dtype.itemsize).ljust(w * h * dtype.itemsize, b"\0")
    return np.frombuffer(raw, dtype=dtype).reshape(h, w).astype(dtype.newbyteorder("="))


@pytest.mark.parametrize("path", corpus("semantic"), ids=ids_of(corpus("semantic")))
def test_semantic_seed(path: Path):
    r = ByteReader(path.read_bytes())
    n_rows, n_cols, table = r.u8() % 40 + 1, r.u8() % 40 + 1, r.u8() % 64
    code = lambda byte, n: byte % (n + 3) - 2  # noqa: E731
    gt_other, pred_other = code(r.u8(), n_rows), code(r.u8(), n_cols)
    gt_lut = np.array([code(r.u8(), n_rows) for _ in range(table)], dtype=np.int32)
    pred_lut = np.array([code(r.u8(), n_cols) for _ in range(table)], dtype=np.int32)
    w, h, types, inst, imin = r.u8() % 33, r.u8() % 33, r.u8(), r.u8() & 1, r.u16()
    g, p = _semantic_map(r, types & 15, w, h), _semantic_map(r, types >> 4, w, h)
    i = _semantic_map(r, 2, w, h)
    args = ([g], [p], [i] if inst else None, gt_lut, pred_lut, gt_other, pred_other, n_rows, n_cols)
    try:
        out = _core.semantic_confusion(*args, instance_min=imin, per_image=True, max_pixels=1 << 16)
    except _core.FormatError:
        return
    decoded = [x if isinstance(x, np.ndarray) else _core.decode_label_png(x) for x in (g, p)]
    a, b = (x.astype(np.int64).ravel() for x in decoded)

    def codes(values, lut, other):
        inside = (values >= 0) & (values < len(lut))
        return np.where(inside, lut[np.clip(values, 0, max(len(lut) - 1, 0))] if len(lut) else other, other)

    ca, cb = codes(a, gt_lut, gt_other), codes(b, pred_lut, pred_other)
    assert not ((ca == -2) | (cb == -2)).any()
    keep = (ca >= 0) & (cb >= 0)
    expected = np.bincount(ca[keep] * n_cols + cb[keep], minlength=n_rows * n_cols).reshape(n_rows, n_cols)
    np.testing.assert_array_equal(out["confusion"], expected)


# --- Cityscapes instance counting and the mask reader -------------------------------------------------

def _pillow_nonzero(png: bytes) -> np.ndarray:
    from PIL import Image
    import io
    return np.array(Image.open(io.BytesIO(png)).convert("L")) != 0


@pytest.mark.parametrize("path", corpus("mask_png"), ids=ids_of(corpus("mask_png")))
def test_mask_png_seed(path: Path):
    png = path.read_bytes()
    try:
        h, w, runs, _ = _core.mask_png_runs(png, "corpus.png")
    except _core.FormatError as e:
        assert "corpus.png" in str(e)
        return
    got = np.zeros((h, w), bool)
    for y, a, b in runs.tolist():
        got[y, a:b] = True
    np.testing.assert_array_equal(got, _pillow_nonzero(png))


@pytest.mark.parametrize("path", corpus("instance"), ids=ids_of(corpus("instance")))
def test_instance_seed(path: Path):
    from PIL import Image
    import io
    r = ByteReader(path.read_bytes())
    gt = r.bytes(r.u32())
    masks = []
    while r.pos < len(r.data) and len(masks) < 8:
        masks.append(r.bytes(r.u32()))
    names = [f"corpus_mask_{i}.png" for i in range(len(masks))]
    ((error, message, ids, pixels, overlap),) = _core.instance_count_memory([gt], [masks], ["corpus_gt.png"], [names],
                                                                           1, 1 << 18)
    if error:
        assert "corpus" in message
        return
    values, index = np.unique(np.array(Image.open(io.BytesIO(gt))), return_inverse=True)
    np.testing.assert_array_equal(ids, values)
    np.testing.assert_array_equal(pixels, np.bincount(index.ravel()))
    expected = [np.bincount(index.ravel()[_pillow_nonzero(m).ravel()], minlength=values.size) for m in masks]
    np.testing.assert_array_equal(overlap, np.array(expected).reshape(len(masks), values.size))
