"""The label-map PNG reader against maps written with every PNG filter type, row by row.

The PNGs come from tests/pngwriter.py (an independent encoder written from the PNG specification),
so each filter's residuals are exactly what the specification defines; the maps are runs with
sparse noise, the shape under which the reader takes its 8-byte shortcuts (zero residuals under a
repeating or equal row above), plus pure noise where it cannot."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

import fastpq.semantic as S
from fastpq.errors import PngError
import pngwriter as pw


def _runs_with_noise(rng: np.random.Generator, h: int, w: int, levels: int, noise: float) -> np.ndarray:
    cuts = np.sort(rng.integers(0, w, size=(h, 3)), axis=1)
    base = rng.integers(0, levels, size=(h // 4 + 1, 4))
    x = np.arange(w)
    rows = [np.choose((x[None, :] >= cuts[y][:, None]).sum(0), base[y // 4]) for y in range(h)]
    out = np.array(rows, dtype=np.int64)
    flip = rng.random((h, w)) < noise
    out[flip] = rng.integers(0, levels, size=int(flip.sum()))
    return out


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("noise", [0.0, 0.01, 1.0])
def test_every_filter_decodes_to_the_labels(tmp_path, bits, noise):
    rng = np.random.default_rng(bits * 7 + int(noise * 100))
    h, w = 48, 61  # a width that is no multiple of 8, so every row has a tail
    levels = 256 if bits == 8 else 65536
    labels = _runs_with_noise(rng, h, w, levels, noise)
    if bits == 8:
        pixels = labels.astype(np.uint8)[..., None]
    else:
        pixels = labels.astype(">u2").view(np.uint8).reshape(h, w, 2)
    filters = [int(f) for f in rng.integers(0, 5, size=h)]
    filters[:5] = [pw.SUB, pw.PAETH, pw.AVERAGE, pw.UP, pw.NONE]  # the first row's filters read zeros above
    raw = pw.raw_scanlines(pixels, filters)
    for name, f in (("mixed", None), ("sub", pw.SUB), ("paeth", pw.PAETH), ("up", pw.UP), ("average", pw.AVERAGE)):
        data = raw if f is None else pw.raw_scanlines(pixels, f)
        path = tmp_path / f"{name}.png"
        path.write_bytes(pw.encode_raw(w, h, data, bit_depth=bits, color_type=0))
        got = S.read_label_map(str(path))
        assert got.shape == (h, w)
        np.testing.assert_array_equal(got.astype(np.int64), labels, err_msg=name)


def test_paeth_rows_that_copy_the_row_above_and_repeat_the_left_pixel(tmp_path):
    # Rows built so that zero-residual Paeth blocks meet both shortcuts and their boundaries.
    h, w = 6, 64
    labels = np.zeros((h, w), dtype=np.int64)
    labels[0] = np.repeat(np.arange(8), 8)        # the row above: steps every 8 pixels
    labels[1] = labels[0]                         # a == c from the start: copies the row above
    labels[2, :13] = 200                          # a left pixel different from the one above, then
    labels[2, 13:] = labels[1, 13:]               # equal to it (copy) -- and back
    labels[3] = 9                                 # a constant row under a stepped row
    labels[4] = 9                                 # repeats under a repeating row
    labels[5, ::9] = 77                           # sparse residuals
    pixels = labels.astype(np.uint8)[..., None]
    path = tmp_path / "paeth.png"
    path.write_bytes(pw.encode_raw(w, h, pw.raw_scanlines(pixels, pw.PAETH), bit_depth=8, color_type=0))
    np.testing.assert_array_equal(S.read_label_map(str(path)).astype(np.int64), labels)


def _packed_rows(labels: np.ndarray, bits: int) -> np.ndarray:
    """Rows of sub-byte samples packed as PNG packs them: most significant bits first, each row
    padded to whole bytes (the padding left zero)."""
    h, w = labels.shape
    per_byte = 8 // bits
    padded = np.zeros((h, -(-w // per_byte) * per_byte), np.uint16)
    padded[:, :w] = labels
    groups = padded.reshape(h, -1, per_byte)
    shifts = np.array([8 - bits * (k + 1) for k in range(per_byte)], np.uint16)
    return (groups << shifts).sum(axis=2).astype(np.uint8)[..., None]


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("color_type", [0, 3], ids=["grey", "palette"])
def test_sub_byte_labels_are_read_as_pillow_reads_them(tmp_path, bits, color_type):
    """Pillow (and so cityscapesscripts, mmseg's and ADE20K's loaders) scales 2- and 4-bit grey to
    8 bits (x85, x17; libpng's expansion does the same) and reads 1-bit grey as 0 / 1 and palette
    indices as they are. An optimiser that stores an 8-bit map of labels 0 and 17 as 4-bit grey
    must not change its labels."""
    from PIL import Image

    rng = np.random.default_rng(bits + 10 * color_type)
    h, w = 9, 13  # rows that end inside a byte
    labels = rng.integers(0, 1 << bits, size=(h, w))
    raw = pw.raw_scanlines(_packed_rows(labels, bits), [int(f) for f in rng.integers(0, 5, size=h)])
    chunks = [(b"IHDR", pw.ihdr_body(w, h, bits, color_type, 0, 0, 0))]
    if color_type == 3:
        chunks.append((b"PLTE", bytes(range(3 << bits))))
    path = tmp_path / "sub_byte.png"
    path.write_bytes(pw.png_file(chunks + [(b"IDAT", zlib.compress(raw)), (b"IEND", b"")]))
    pillow = np.array(Image.open(path)).astype(np.int64)
    scale = {0: {1: 1, 2: 85, 4: 17}, 3: {1: 1, 2: 1, 4: 1}}[color_type][bits]
    np.testing.assert_array_equal(pillow, labels * scale)  # the oracle itself
    np.testing.assert_array_equal(S.read_label_map(str(path)).astype(np.int64), pillow)
    k = 256
    r = S.evaluate([str(path)], [pillow.astype(np.uint8)], num_classes=k)
    assert np.trace(r.confusion) == h * w  # the file and Pillow's array agree on every pixel


@pytest.mark.parametrize("entries", [256, 257])
def test_palettes_of_more_than_256_entries_are_refused_as_pillow_refuses_them(tmp_path, entries):
    from PIL import Image

    raw = pw.raw_scanlines(np.array([[[0], [5]]], np.uint8), pw.NONE)
    chunks = [(b"IHDR", pw.ihdr_body(2, 1, 8, 3, 0, 0, 0)), (b"PLTE", bytes(3 * entries)),
              (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]
    path = tmp_path / "palette.png"
    path.write_bytes(pw.png_file(chunks))
    if entries <= 256:
        assert S.read_label_map(str(path)).tolist() == [[0, 5]] == np.array(Image.open(path)).tolist()
        return
    with pytest.raises(Exception):
        np.array(Image.open(path))
    with pytest.raises(PngError, match="palette of more than 256 entries"):
        S.read_label_map(str(path))


# --- the benchmarks' floor: read + inflate only ----------------------------------------------------

def test_inflate_png_files_inflates_every_file_and_names_the_first_bad_one(tmp_path):
    from fastpq import _core

    rng = np.random.default_rng(5)
    paths, inflated, compressed = [], 0, 0
    for k, (bits, colour, channels) in enumerate([(8, 0, 1), (16, 0, 1), (8, 2, 3), (8, 6, 4)]):
        h, w = 17 + k, 23 + 3 * k
        pixels = rng.integers(0, 4, size=(h, w, channels * bits // 8)).astype(np.uint8)
        raw = pw.raw_scanlines(pixels, [int(f) for f in rng.integers(0, 5, size=h)])
        data = pw.encode_raw(w, h, raw, bit_depth=bits, color_type=colour)
        path = tmp_path / f"{k}.png"
        path.write_bytes(data)
        paths.append(str(path))
        inflated += len(raw)
        compressed += sum(len(body) for _, t, body in pw.chunks_of(data) if t == b"IDAT")
    for workers in (1, 2):
        assert _core.inflate_png_files(paths, workers) == {"files": 4, "compressed_bytes": compressed,
                                                           "inflated_bytes": inflated}
    broken = tmp_path / "broken.png"
    good = Path(paths[0]).read_bytes()
    broken.write_bytes(good[:-20])  # IDAT cut short: its CRC no longer matches / chunks end early
    missing = str(tmp_path / "missing.png")
    with pytest.raises(_core.FormatError, match=r"broken\.png"):
        _core.inflate_png_files(paths + [str(broken), missing], 2)
    with pytest.raises(_core.FormatError, match=r"missing\.png"):
        _core.inflate_png_files(paths + [missing, str(broken)], 2)
    with pytest.raises(_core.FormatError, match="max_pixels"):
        _core.inflate_png_files(paths, 1, max_pixels=100)
