"""Writes the seed corpus of the libFuzzer harnesses in fuzz/ to tests/fuzz_corpus/<target>/.

The PNG seeds are encoded with tests/pngwriter.py (independent of the reader under test) plus two
of the real COCO sample's PNGs when /work/shared is there; RLE strings come from pycocotools (the
reference); the structured targets' seeds are written in the byte format of fuzz/fuzz_input.hpp,
which tests/core/test_fuzz_corpus.py reads back. Run from the repository root:

    python fuzz/make_corpus.py

Files are named after what they hold; running it again rewrites the same files. Fuzzer findings
kept as seeds (regression_*, libdeflate_lenient_*) are not generated here: they are added by hand.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path
from typing import Dict, Iterable, List, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import pngwriter as pw  # noqa: E402

CORPUS = ROOT / "tests" / "fuzz_corpus"
SAMPLE = ROOT.parent / "shared" / "data" / "coco_panoptic_sample"


class Bytes:
    """The writer side of fuzz_input.hpp's ByteReader (little-endian, front to back)."""

    def __init__(self) -> None:
        self.parts: List[bytes] = []

    def u8(self, v: int) -> "Bytes":
        self.parts.append(struct.pack("<B", v & 0xFF))
        return self

    def u16(self, v: int) -> "Bytes":
        self.parts.append(struct.pack("<H", v & 0xFFFF))
        return self

    def u32(self, v: int) -> "Bytes":
        self.parts.append(struct.pack("<I", v & 0xFFFFFFFF))
        return self

    def u64(self, v: int) -> "Bytes":
        self.parts.append(struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF))
        return self

    def f64(self, v: float) -> "Bytes":
        self.parts.append(struct.pack("<d", v))
        return self

    def raw(self, b: bytes) -> "Bytes":
        self.parts.append(b)
        return self

    def str16(self, b: bytes) -> "Bytes":
        return self.u16(len(b)).raw(b)

    def double(self, v: float) -> "Bytes":
        """fuzz_double: a multiple of 1/8 in int16 range as such, anything else as a raw double."""
        if abs(v) <= 4096 and v * 8 == int(v * 8):
            return self.u8(1).u16(int(v * 8))
        return self.u8(0).f64(v)

    def data(self) -> bytes:
        return b"".join(self.parts)


def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


# --- PNG -----------------------------------------------------------------------------------------

def segment_ids(h: int, w: int, seed: int) -> np.ndarray:
    """A small panoptic-looking map: a few rectangles of different ids on void."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((h, w), np.uint32)
    for _ in range(4):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        ids[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = rng.integers(1, 1 << 24)
    return ids


def png_seeds() -> List[bytes]:
    seeds = {}
    for f in pw.FILTERS:
        seeds[f"filter{f}_rgb_37x9.png"] = pw.encode_ids(segment_ids(9, 37, f), filters=f)
        alpha = np.full((6, 70), 255, np.uint8)
        seeds[f"filter{f}_rgba_70x6.png"] = pw.encode_ids(segment_ids(6, 70, 10 + f), filters=f, alpha=alpha)
    mixed = segment_ids(16, 33, 99)
    seeds["mixed_filters_split_idat.png"] = pw.encode_ids(mixed, filters=[i % 5 for i in range(16)], idat_size=40)
    seeds["ancillary_chunks.png"] = pw.encode_ids(segment_ids(4, 4, 5), before_idat=[(b"tEXt", b"k\0v")],
                                                  after_idat=[(b"zTXt", b"x")])
    seeds["one_pixel.png"] = pw.encode_ids(np.array([[0x123456]], np.uint32))
    seeds["stored_deflate.png"] = pw.encode_ids(segment_ids(5, 8, 7), level=0)
    seeds["bad_crc.png"] = pw.png_file([(b"IHDR", pw.ihdr_body(2, 2)), (b"IDAT", zlib.compress(b"\0" * 14), 0),
                                        (b"IEND", b"")])
    seeds["palette.png"] = pw.encode_raw(2, 2, b"\0\0\0" * 2, color_type=3)
    seeds["sixteen_bit.png"] = pw.encode_raw(1, 1, b"\0" + b"\0" * 6, bit_depth=16)
    seeds["interlaced.png"] = pw.encode_raw(1, 1, b"\0\0\0\0", interlace=1)
    seeds["too_short_data.png"] = pw.encode_raw(4, 4, b"\0" * 20)
    seeds["truncated.png"] = seeds["one_pixel.png"][:-20]
    for path in sorted((SAMPLE / "panoptic_examples").glob("*.png"))[:1]:
        seeds["coco_" + path.name] = path.read_bytes()
    for path in sorted((SAMPLE / "panoptic_examples_2ch_format").glob("*.png"))[:1]:
        seeds["coco_2ch_" + path.name] = path.read_bytes()
    seeds.update(grey_png_seeds())
    for name, data in seeds.items():
        write("png", name, data)
    pairs = [("filter0_rgb_37x9.png", "filter4_rgb_37x9.png"), ("filter1_rgba_70x6.png", "filter3_rgba_70x6.png"),
             ("mixed_filters_split_idat.png", "mixed_filters_split_idat.png"), ("one_pixel.png", "one_pixel.png"),
             ("filter2_rgb_37x9.png", "palette.png")]
    for gt, pred in pairs:
        write("png_pair", f"{gt[:-4]}__{pred[:-4]}", Bytes().u32(len(seeds[gt])).raw(seeds[gt]).raw(seeds[pred]).data())
    return list(seeds.values())


def grey_png_seeds() -> Dict[str, bytes]:
    """8- and 16-bit grey label maps (blocks of values, some noise) with every filter type, for
    fuzz_png's grey mode."""
    rng = np.random.default_rng(5)

    def grey(h: int, w: int, depth: int, filters: List[int]) -> bytes:
        values = np.kron(rng.integers(0, 1 << depth, (h // 3 + 1, w // 5 + 1)), np.ones((3, 5), np.int64))[:h, :w]
        values[rng.random((h, w)) < 0.05] = 7
        if depth == 8:
            pixels = values.astype(np.uint8)[..., None]
        else:
            pixels = np.stack([(values >> 8) & 255, values & 255], axis=-1).astype(np.uint8)
        raw = pw.raw_scanlines(pixels, [filters[y % len(filters)] for y in range(h)])
        return pw.png_file([(b"IHDR", pw.ihdr_body(w, h, depth, 0)), (b"IDAT", zlib.compress(raw, 6)), (b"IEND", b"")])

    return {"grey8_filters_37x9.png": grey(9, 37, 8, [0, 1, 2, 3, 4]),
            "grey16_filters_70x6.png": grey(6, 70, 16, [4, 3, 2, 1, 0, 2])}


# --- RLE and polygons ----------------------------------------------------------------------------

def rle_seeds() -> None:
    from pycocotools import mask as cocomask

    rng = np.random.default_rng(1)
    strings = []
    for h, w in [(7, 5), (16, 16), (1, 30)]:
        m = (rng.random((h, w)) < 0.4).astype(np.uint8)
        strings.append((h, w, cocomask.encode(np.asfortranarray(m))["counts"]))
    box = np.zeros((16, 16), np.uint8)
    box[3:9, 4:12] = 1
    strings.append((16, 16, cocomask.encode(np.asfortranarray(box))["counts"]))
    for i, (h, w, s) in enumerate(strings):
        b = Bytes().u8(0).u16(h).u16(w).u8(3)
        b.u8(0).str16(s)
        b.u8(1).u8(3).u16(h * w // 2).u16(1).u16(h * w - h * w // 2 - 1)  # raw counts
        b.u8(0).str16(strings[3][2] if (h, w) == (16, 16) else s)
        write("rle", f"strings_{h}x{w}_{i}", b.u8(0b101).data())
    write("rle", "zero_length_runs", Bytes().u8(0).u16(4).u16(4).u8(2)
          .u8(1).u8(5).u16(0).u16(4).u16(0).u16(8).u16(4)
          .u8(1).u8(4).u16(4).u16(0).u16(0).u16(12).u8(0).data())
    write("rle", "huge_size", Bytes().u8(0x80).u32(1 << 16).u32(1 << 15).u8(1).u8(0).str16(b"0000").u8(0).data())
    write("rle", "bad_string", Bytes().u8(0).u16(3).u16(3).u8(2).u8(0).str16(b"9:~").u8(0).str16(b"oooooooo1").u8(0).data())

    def polygon(name: str, h: int, w: int, polys: Sequence[Sequence[float]], bbox: Sequence[float], mode: int = 0) -> None:
        b = Bytes().u8(mode).u16(h).u16(w)
        if mode & 0x80:
            b.u32(1 << 20).u32(1 << 20)
        b.u8(len(polys))
        for p in polys:
            b.u8(len(p))
            for v in p:
                b.double(v)
        for v in bbox:
            b.double(v)
        write("polygon", name, b.data())

    polygon("triangle", 20, 30, [[2, 3, 25.5, 4, 10, 18.25]], [1, 1, 5, 5])
    polygon("concave_and_square", 32, 32, [[1, 1, 30, 1, 16, 16, 30, 30, 1, 30], [0, 0, 4, 0, 4, 4, 0, 4]], [0, 0, 32, 32])
    polygon("outside_image", 10, 10, [[-5, -5, 40, -3, 12, 60], [11, 11, 15, 11, 13, 14]], [-3, -3, 100, 2.5])
    polygon("steep_and_flat", 64, 8, [[0.5, 0, 1.5, 63, 6.5, 63.5], [0, 10, 7.9, 10.1, 0, 10.2]], [2, 2, 0, 0])
    polygon("nan_inf", 8, 8, [[float("nan"), 1, 2, 3, 4, 5], [1, float("inf"), 2, 3, 4, 5]], [float("nan"), 0, 1, 1])
    polygon("huge", 8, 8, [[1e300, 1, 2, 3, 4, 5], [-3e8, 1, 2, 3, 4, 5], [1.5e8, 2, -1.5e8, 3, 4, 7]], [1e308, 0, 1e308, 1])
    polygon("odd_and_empty", 8, 8, [[1, 2, 3], []], [0, 0, 0, 0])
    polygon("too_many_pixels", 4, 4, [[0, 0, 1, 0, 1, 1]], [0, 0, 1, 1], mode=0x80)


# --- matching ------------------------------------------------------------------------------------

def pq_seeds() -> None:
    # One 4x4 image: gt id 1 (cat 0) on the left half, 2 (cat 1, crowd) top right, 0 void bottom
    # right; the prediction shifts the left half by a column.
    def case(name: str, n_images: int, gt_map: List[int], pred_map: List[int], gt_segs, pred_segs, types=(2, 2),
             n_categories: int = 2, palette=(0, 1, 2, 3, 4, 5, 6, 7), size=(4, 4), break_offsets=False) -> None:
        b = Bytes().u8(n_images).u8(size[0]).u8(size[1]).u8(types[0]).u8(types[1]).u8(n_categories)
        for v in palette:
            if isinstance(v, tuple):  # (raw,) a 64-bit id
                b.u8(0).u64(v[0])
            else:
                b.u8(v * 4 + 1 if v < 8 else 0)
                if v >= 8:
                    b.u64(v)
        for _ in range(n_images):
            b.raw(bytes(gt_map)).raw(bytes(pred_map))
            b.u8(len(gt_segs))
            for sid, cat, crowd, area in gt_segs:
                b.u8(sid).u8(cat + 1).u8(crowd)
                if area is None:
                    b.u8(1)
                else:
                    b.u8(0).f64(area)
            b.u8(len(pred_segs))
            for sid, cat in pred_segs:
                b.u8(sid).u8(cat + 1)
        b.u8(0xFF if break_offsets else 0)
        write("pq_match", name, b.data())

    gt = [1, 1, 2, 2] * 2 + [1, 1, 0, 0] * 2
    pred = [3, 1, 1, 2] * 2 + [3, 1, 1, 0] * 2
    case("match_and_crowd", 1, gt, pred, [(1, 0, 0, None), (2, 1, 1, None)], [(1, 0), (2, 1), (3, 0)])
    case("two_images_u8_i64", 2, gt, pred, [(1, 0, 0, None), (2, 1, 1, None)], [(1, 0), (2, 1), (3, 0)], types=(0, 4))
    case("png_id_not_in_json", 1, gt, pred, [(1, 0, 0, None)], [(1, 0)])
    case("bad_area", 1, gt, pred, [(1, 0, 0, -50.0), (2, 1, 1, float("nan"))], [(1, 0), (2, 1), (3, 0)])
    case("id_out_of_range", 1, gt, pred, [(1, 0, 0, None)], [(1, 0), (3, 0)], palette=(0, 1, 2, (1 << 30,), 4, 5, 6, 7))
    case("broken_offsets", 1, gt, pred, [(1, 0, 0, None)], [(1, 0)], break_offsets=True)
    case("negative_categories", 1, gt, pred, [(1, 0, 0, None)], [(1, 0)], n_categories=0x80)


def amodal_seeds() -> None:
    from pycocotools import mask as cocomask

    def rle(m: np.ndarray) -> bytes:
        return cocomask.encode(np.asfortranarray(m.astype(np.uint8)))["counts"]

    a = np.zeros((12, 16), bool)
    a[2:8, 3:10] = True
    b = np.zeros((12, 16), bool)
    b[3:9, 4:12] = True
    c = np.zeros((12, 16), bool)
    c[9:, :] = True

    def mask_rle(m: np.ndarray) -> Bytes:
        return Bytes().u8(0).str16(rle(m))

    def image(regions, proposals, h=12, w=16) -> Bytes:
        out = Bytes().u8(h).u8(w).u8(len(regions))
        for m, stuff, occ in regions:
            out.raw(m.data()).u8(stuff).double(occ)
        out.u8(len(proposals))
        for m, score in proposals:
            out.raw(m.data()).double(score)
        return out

    poly = Bytes().u8(1).u8(1).u8(8)
    for v in [1, 1, 10, 1, 10, 7, 1, 7]:
        poly.double(v)
    img = image([(mask_rle(a), 0, 0.0), (mask_rle(c), 1, 0.5), (poly, 0, 0.125)],
                [(mask_rle(b), 0.75), (mask_rle(a), 0.5), (mask_rle(c), 0.5), (Bytes().u8(0).str16(b"bad"), 0.25)])
    matrix = Bytes().u8(3).u8(2).u8(0).double(0).u8(1).double(0.5)
    for v in [0.9, 0.1, 0.6, 0.55, 0.0, 1.0]:
        matrix.double(v)
    write("amodal", "one_image", Bytes().u8(0).u8(1).raw(img.data()).raw(matrix.data()).data())
    ok = image([(mask_rle(a), 0, 0.0)], [(mask_rle(a), 1.0)])
    write("amodal", "two_images_fuzzed_thresholds",
          Bytes().u8(1).raw(b"".join(Bytes().double(t).data() for t in [0.5, 0.25, 0.75, 1.0, 0.0, 0.5, 0.6, 0.7, 0.8, 0.9]))
          .u8(2).raw(ok.data()).raw(img.data()).u8(0).u8(0).data())
    write("amodal", "nine_thresholds", Bytes().u8(2).u8(1).raw(ok.data()).data())


def amodal_consistency_seeds() -> None:
    from pycocotools import mask as cocomask

    def mask_rle(m: np.ndarray) -> Bytes:
        return Bytes().u8(0).str16(cocomask.encode(np.asfortranarray(m.astype(np.uint8)))["counts"])

    a = np.zeros((12, 16), bool)
    a[2:8, 3:10] = True
    b = np.zeros((12, 16), bool)
    b[3:9, 4:12] = True
    c = np.zeros((12, 16), bool)
    c[9:, :] = True
    poly = Bytes().u8(1).u8(1).u8(8)
    for v in [1, 1, 10, 1, 10, 7, 1, 7]:
        poly.double(v)

    def image(annotators, h=12, w=16) -> Bytes:
        out = Bytes().u8(h).u8(w).u8(len(annotators))
        for regions in annotators:
            out.u8(len(regions))
            for m in regions:
                out.raw(m.data())
        return out

    three = image([[mask_rle(a), mask_rle(c)], [mask_rle(b), poly], [mask_rle(c)]])
    matrix = Bytes().u8(3).u8(2)
    for v in [0.9, 0.1, 0.6, 0.55, 0.0, 1.0]:
        matrix.double(v)
    for rule in range(3):
        write("amodal_consistency", f"three_annotators_rule{rule}",
              Bytes().u8(rule).double(0.5).u8(1).raw(three.data()).raw(matrix.data()).data())
    bad = image([[Bytes().u8(0).str16(b"bad")], [mask_rle(a)]])
    write("amodal_consistency", "bad_rle_and_empty_image",
          Bytes().u8(0).double(0.25).u8(2).raw(image([]).data()).raw(bad.data()).u8(0).u8(0).data())


def mask_png_seeds() -> None:
    """Small masks of every colour type the mask reader takes, with every filter type, for
    fuzz_mask_png (its run decoding against its dense decoding)."""
    rng = np.random.default_rng(14)

    def grey(name: str, rows: np.ndarray, width: int, ct: int, bd: int, bpp: int, plte: bytes = b"") -> None:
        prior = np.zeros(rows.shape[1], np.uint8)
        raw = []
        for y, row in enumerate(rows):
            raw.append(pw.filter_row(y % 5, row, prior, bpp))
            prior = row
        chunks = [(b"IHDR", pw.ihdr_body(width, rows.shape[0], bd, ct))] + ([(b"PLTE", plte)] if plte else [])
        chunks += [(b"IDAT", zlib.compress(b"".join(raw), 9)), (b"IEND", b"")]
        write("mask_png", name, pw.png_file(chunks))

    m = np.zeros((12, 20), np.uint8)
    m[2:9, 4:15] = 255
    m[10, ::3] = 255
    grey("grey8_box_all_filters", m, 20, 0, 8, 1)
    grey("grey1_box", np.packbits(m != 0, axis=1), 20, 0, 1, 1)
    grey("grey16_box", (m.astype(">u2") * 257).view(np.uint8).reshape(12, 40), 20, 0, 16, 2)
    grey("palette8_box", (m != 0).astype(np.uint8) * 2, 20, 3, 8, 1, bytes([0, 0, 0, 1, 0, 0, 200, 10, 10]))
    rgb = np.zeros((12, 20, 3), np.uint8)
    rgb[m != 0] = rng.integers(0, 4, size=(int((m != 0).sum()), 3))
    grey("rgb8_faint", rgb.reshape(12, 60), 20, 2, 8, 3)
    ids = np.full((12, 20), 7, np.uint16)
    ids[3:9, 2:11] = 26001
    grey("grey16_instance_ids", ids.astype(">u2").view(np.uint8).reshape(12, 40), 20, 0, 16, 2)


def amodal_edges_seeds() -> None:
    from pycocotools import mask as cocomask

    def mask_rle(m: np.ndarray) -> Bytes:
        return Bytes().u8(0).str16(cocomask.encode(np.asfortranarray(m.astype(np.uint8)))["counts"])

    def image(annotators, h=12, w=16) -> Bytes:
        out = Bytes().u8(h).u8(w).u8(len(annotators))
        for regions in annotators:
            out.u8(len(regions))
            for m in regions:
                out.raw(m.data())
        return out

    a = np.zeros((12, 16), bool)
    a[2:8, 3:10] = True
    shifted = np.roll(a, 1, axis=1)
    c = np.zeros((12, 16), bool)
    c[9:, :] = True
    poly = Bytes().u8(1).u8(1).u8(8)
    for v in [1, 1, 10, 1, 10, 7, 1, 7]:
        poly.double(v)
    three = image([[mask_rle(a), mask_rle(c)], [mask_rle(shifted), poly], [mask_rle(c)]])
    for name, k in (("exact", 0), ("bsds_tolerance", 19), ("wide", 255)):  # max_dist = k / 255 * 0.1
        write("amodal_edges", f"three_annotators_{name}", Bytes().u8(0).u8(k).u8(1).raw(three.data()).data())
    bad = image([[Bytes().u8(0).str16(b"bad")], [mask_rle(a)]])
    write("amodal_edges", "bad_rle_and_empty_image",
          Bytes().u8(0).u8(40).u8(2).raw(image([]).data()).raw(bad.data()).data())
    write("amodal_edges", "tolerance_out_of_range",
          Bytes().u8(1).u8(0).double(0.5).u8(1).raw(three.data()).data())


def main() -> None:
    png_seeds()
    mask_png_seeds()
    rle_seeds()
    pq_seeds()
    amodal_seeds()
    amodal_consistency_seeds()
    amodal_edges_seeds()
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    print(f"seed corpus: {sum(1 for p in CORPUS.rglob('*') if p.is_file())} files, {total} bytes in {CORPUS}")


if __name__ == "__main__":
    main()
