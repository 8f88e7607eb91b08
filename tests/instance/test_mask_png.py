"""The run-based mask reader (csrc/png/mask_png.cpp, sparse_inflate.cpp) against Pillow, on PNGs
written by tests/pngwriter.py with every filter type per row, every accepted colour type and bit
depth, stored / fast / best zlib levels and split IDAT chunks; and the GT value runs of the
instance counter against numpy counts of the decoded images."""

from __future__ import annotations

import io
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastpq import _core

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pngwriter  # noqa: E402

FORMATS = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (3, 1), (3, 2), (3, 4), (3, 8), (4, 8), (2, 8), (6, 8)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def pack_rows(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """H x (W*C) samples as the PNG row bytes of that bit depth (big-endian, MSB-first bits)."""
    h = samples.shape[0]
    if bit_depth == 16:
        return samples.astype(">u2").view(np.uint8).reshape(h, -1)
    if bit_depth == 8:
        return samples.astype(np.uint8)
    per = 8 // bit_depth
    w = samples.shape[1]
    padded = np.zeros((h, -(-w // per) * per), np.uint16)
    padded[:, :w] = samples
    shifts = (8 - bit_depth * (np.arange(per) + 1)).astype(np.uint16)
    return (padded.reshape(h, -1, per) << shifts).sum(axis=2).astype(np.uint8)


def write_png(rows: np.ndarray, width: int, ct: int, bd: int, filters, level: int, idat_size=None,
              palette: bytes = b"") -> bytes:
    bpp = max(1, CHANNELS[ct] * bd // 8)
    prior = np.zeros(rows.shape[1], np.uint8)
    raw = []
    for y, row in enumerate(rows):
        raw.append(pngwriter.filter_row(int(filters[y]), row, prior, bpp))
        prior = row
    data = zlib.compress(b"".join(raw), level)
    chunks = [(b"IHDR", pngwriter.ihdr_body(width, rows.shape[0], bd, ct))]
    if palette:
        chunks.append((b"PLTE", palette))
    chunks += [(b"IDAT", p) for p in pngwriter.split(data, idat_size)] + [(b"IEND", b"")]
    return pngwriter.png_file(chunks)


def samples_for(rng, ct: int, bd: int, h: int, w: int, dense: bool) -> np.ndarray:
    """Mostly zero samples (a few rectangles, some sparse noise), or noise everywhere."""
    c = CHANNELS[ct]
    top = (1 << bd) - 1
    out = np.zeros((h, w, c), np.int64)
    if dense:
        out[:] = rng.integers(0, top + 1, size=out.shape)
    else:
        for _ in range(3):
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            out[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = rng.integers(0, top + 1, size=c)
        noise = rng.random((h, w)) < 0.01
        out[noise] = rng.integers(0, top + 1, size=(int(noise.sum()), c))
        out[h // 2] = rng.integers(0, 2, size=(w, c)) * top  # a row of faint / strong values
    return out.reshape(h, w * c)


def runs_to_mask(runs: np.ndarray, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    for y, a, b in runs.tolist():
        assert a < b <= w and not m[y, a:b].any()
        m[y, a:b] = True
    return m


@pytest.mark.parametrize("ct,bd", FORMATS)
@pytest.mark.parametrize("case", range(4))
def test_mask_runs_equal_pillow_convert_L(ct: int, bd: int, case: int) -> None:
    rng = np.random.default_rng([ct, bd, case])
    dense = case == 3  # noise: more non-zero runs than the sparse decoder keeps, decoded densely
    h, w = (int(rng.integers(1, 40)), int(rng.integers(1, 70))) if not dense else (200, 300)
    rows = pack_rows(samples_for(rng, ct, bd, h, w, dense), bd)
    palette = b""
    if ct == 3:
        colours = rng.integers(0, 3, size=(256, 3)).astype(np.uint8)  # (1, 0, 0) is 0 after convert("L")
        colours[0] = (0, 0, 0) if case != 1 else (90, 10, 10)          # case 1: entry 0 is not black
        palette = colours[: int(rng.integers(1, 257))].tobytes()
    filters = rng.integers(0, 5, size=h) if case != 2 else np.full(h, 4)
    png = write_png(rows, w, ct, bd, filters, level=[0, 1, 9, 6][case], idat_size=[None, 7, None, 50][case],
                    palette=palette)
    hh, ww, runs, was_dense = _core.mask_png_runs(png, "m.png")
    expected = np.array(Image.open(io.BytesIO(png)).convert("L")) != 0
    assert (hh, ww) == (h, w)
    np.testing.assert_array_equal(runs_to_mask(runs, h, w), expected)
    assert was_dense if dense and rows.size >= 10000 else not (was_dense and not dense)


def test_large_binary_mask_is_read_sparsely() -> None:
    m = np.zeros((1024, 2048), np.uint8)
    m[100:400, 300:900] = 255
    m[500, ::3] = 255
    buf = io.BytesIO()
    Image.fromarray(m).save(buf, format="PNG")
    h, w, runs, was_dense = _core.mask_png_runs(buf.getvalue())
    assert not was_dense
    np.testing.assert_array_equal(runs_to_mask(runs, h, w), m != 0)


@pytest.mark.parametrize("damage", ["adler", "bitflip", "truncate", "long", "short"])
def test_broken_image_data_is_a_format_error(damage: str) -> None:
    rows = np.zeros((20, 30), np.uint8)
    rows[5:9, 3:20] = 255
    raw = b"".join(pngwriter.filter_row(1, r, np.zeros(30, np.uint8), 1) for r in rows)
    data = zlib.compress(raw, 9)
    if damage == "adler":
        data = data[:-1] + bytes([data[-1] ^ 1])
    elif damage == "bitflip":
        data = data[:6] + bytes([data[6] ^ 0x55]) + data[7:]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "long":
        data = zlib.compress(raw + b"\0" * 31, 9)
    else:
        data = zlib.compress(raw[:-31], 9)
    png = pngwriter.png_file([(b"IHDR", pngwriter.ihdr_body(30, 20, 8, 0)), (b"IDAT", data), (b"IEND", b"")])
    with pytest.raises(_core.FormatError, match="bad.png"):
        _core.mask_png_runs(png, "bad.png")


@pytest.mark.parametrize("bd", [8, 16])
def test_gt_value_runs_count_like_numpy(bd: int) -> None:
    rng = np.random.default_rng(bd)
    h, w = 37, 61
    ids = np.full((h, w), 7, np.int64)
    ids[:, :5] = 0
    for k in range(12):
        y, x = rng.integers(0, h - 3), rng.integers(0, w - 3)
        ids[y:y + rng.integers(2, 20), x:x + rng.integers(2, 30)] = (26000 + k) if bd == 16 else 20 + k
    ids[rng.random((h, w)) < 0.02] = 11 if bd == 8 else 33001
    gt = write_png(pack_rows(ids, bd), w, 0, bd, rng.integers(0, 5, size=h), level=6)
    masks, expected = [], []
    values, index = np.unique(ids, return_inverse=True)
    for m in range(5):
        mask = (rng.random((h, w)) < [0.0, 0.01, 0.3, 1.0, 0.05][m]).astype(np.int64)
        masks.append(write_png(pack_rows(mask, 8) * 255, w, 0, 8, rng.integers(0, 5, size=h), level=6))
        expected.append(np.bincount(index.ravel()[mask.ravel() != 0], minlength=values.size))
    ((error, message, got_ids, pixels, overlap),) = _core.instance_count_memory([gt], [masks], ["g"], [["m"] * 5])
    assert error == 0, message
    np.testing.assert_array_equal(got_ids, values)
    np.testing.assert_array_equal(pixels, np.bincount(index.ravel()))
    np.testing.assert_array_equal(overlap, np.array(expected))


def test_a_cut_short_stream_is_corrupt_not_too_long() -> None:
    # Past the input the decoder reads zero bits; in a dynamic block whose all-zero code is literal 0
    # (Huffman-only streams of mostly-zero masks: literal 0 is the lowest, most frequent symbol) those
    # decode as literals without end. Every cut must say the data is corrupt or truncated (as the dense
    # reader does), not that it inflates past its size.
    w, h = 600, 600
    mask = np.zeros((h, w), np.uint8)
    mask[100:300, 200:400] = 255
    mask[500:510, ::7] = 255
    rows = np.concatenate([np.zeros((h, 1), np.uint8), mask], axis=1).tobytes()  # filter None
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_HUFFMAN_ONLY)
    full = packer.compress(rows) + packer.flush()
    for cut in [len(full) // 4, len(full) // 2, len(full) - 40, len(full) - 9, len(full) - 5]:
        png = pngwriter.png_file([(b"IHDR", pngwriter.ihdr_body(w, h, 8, 0)), (b"IDAT", full[:cut]), (b"IEND", b"")])
        with pytest.raises(_core.FormatError, match="corrupt or truncated") as info:
            _core.mask_png_runs(png, "cut.png")
        assert "past the size" not in str(info.value)


def test_a_palette_after_the_image_data_is_ignored_as_pillow_does() -> None:
    w, h = 8, 2
    data = zlib.compress(b"".join(b"\x00" + bytes(range(8)) for _ in range(h)))
    png = pngwriter.png_file([(b"IHDR", pngwriter.ihdr_body(w, h, 8, 3)), (b"PLTE", bytes(24)), (b"IDAT", data),
                              (b"PLTE", bytes([9, 9, 9]) * 8), (b"IEND", b"")])
    expected = np.array(Image.open(io.BytesIO(png)).convert("L")) != 0
    hh, ww, runs, _ = _core.mask_png_runs(png, "late_plte.png")
    np.testing.assert_array_equal(runs_to_mask(runs, hh, ww), expected)
    assert not expected.any()
