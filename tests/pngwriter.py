"""A minimal, independent PNG encoder for tests of fastpq's PNG reader.

Written from the PNG specification (https://www.w3.org/TR/png/) with nothing but struct, zlib and
numpy, so it shares no code with the reader under test. It writes 8-bit RGB / RGBA images with a
chosen filter type per row, a chosen zlib level and the IDAT data split into chunks of a chosen
size, and it can assemble arbitrary chunk lists (wrong CRCs, odd chunk orders, bad headers) for
tests of broken files.
"""

from __future__ import annotations

import struct
import zlib
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"

NONE, SUB, UP, AVERAGE, PAETH = 0, 1, 2, 3, 4
FILTERS = (NONE, SUB, UP, AVERAGE, PAETH)

# A chunk given to `png_file`: (type, body) gets a correct length and CRC; (type, body, crc)
# uses the CRC given; raw bytes are copied as they are.
Chunk = Union[Tuple[bytes, bytes], Tuple[bytes, bytes, int], bytes]


# --- chunks -------------------------------------------------------------------------------------

def crc(chunk_type: bytes, body: bytes) -> int:
    return zlib.crc32(chunk_type + body) & 0xFFFFFFFF


def chunk(chunk_type: bytes, body: bytes = b"", crc_value: Optional[int] = None) -> bytes:
    """One chunk: length, type, body, CRC (the correct one unless `crc_value` is given)."""
    assert len(chunk_type) == 4
    if crc_value is None:
        crc_value = crc(chunk_type, body)
    return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", crc_value)


def ihdr_body(width: int, height: int, bit_depth: int = 8, color_type: int = 2,
              compression: int = 0, filter_method: int = 0, interlace: int = 0) -> bytes:
    return struct.pack(">IIBBBBB", width, height, bit_depth, color_type, compression,
                       filter_method, interlace)


def png_file(chunks: Iterable[Chunk], signature: bytes = SIGNATURE) -> bytes:
    """The signature followed by the chunks (see `Chunk`)."""
    out = [signature]
    for c in chunks:
        if isinstance(c, (bytes, bytearray)):
            out.append(bytes(c))
        elif len(c) == 2:
            out.append(chunk(c[0], c[1]))
        else:
            out.append(chunk(c[0], c[1], c[2]))
    return b"".join(out)


def split(data: bytes, size: Optional[int]) -> List[bytes]:
    """`data` cut into pieces of `size` bytes (one piece when size is None)."""
    if size is None or len(data) == 0:
        return [data]
    return [data[i:i + size] for i in range(0, len(data), size)]


# --- filters (PNG spec, section 7.3 / 9) --------------------------------------------------------

def paeth_predictor(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Paeth predictor, elementwise, on int arrays: a = left, b = above, c = upper left."""
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def filter_row(filter_type: int, row: np.ndarray, prior: np.ndarray, bpp: int) -> bytes:
    """Filters one scanline (bytes as a uint8 array) against the previous one (zeros for the
    first row): returns the filter type byte followed by the residuals."""
    x = row.astype(np.int64)
    b = prior.astype(np.int64)
    a = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]])  # left (0 before the first pixel)
    c = np.concatenate([np.zeros(bpp, np.int64), b[:-bpp]])  # upper left
    if filter_type == NONE:
        pred = np.zeros_like(x)
    elif filter_type == SUB:
        pred = a
    elif filter_type == UP:
        pred = b
    elif filter_type == AVERAGE:
        pred = (a + b) // 2
    elif filter_type == PAETH:
        pred = paeth_predictor(a, b, c)
    else:  # any other byte: written as is, with unfiltered data (for invalid-filter tests)
        pred = np.zeros_like(x)
    residual = ((x - pred) % 256).astype(np.uint8)
    return bytes([filter_type]) + residual.tobytes()


def unfilter_rows(raw: bytes, width: int, height: int, bpp: int) -> np.ndarray:
    """The reverse of `filter_row` over a whole image: an HxWxbpp uint8 array. A plain,
    byte-by-byte reference decoder (filter types 0-4 only)."""
    stride = width * bpp
    assert len(raw) == (stride + 1) * height
    out = np.zeros((height, stride), np.uint8)
    prior = [0] * stride
    for y in range(height):
        base = y * (stride + 1)
        f, res = raw[base], raw[base + 1:base + 1 + stride]
        cur = [0] * stride
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            if f == NONE:
                p = 0
            elif f == SUB:
                p = a
            elif f == UP:
                p = b
            elif f == AVERAGE:
                p = (a + b) >> 1
            elif f == PAETH:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                raise ValueError(f"invalid filter type {f}")
            cur[i] = (res[i] + p) & 0xFF
        out[y] = cur
        prior = cur
    return out.reshape(height, width, bpp)


def reference_ids(png: bytes) -> np.ndarray:
    """Ids of an 8-bit, non-interlaced RGB/RGBA PNG, decoded by this module alone (no checks
    beyond what decoding needs)."""
    chunks = chunks_of(png)
    ihdr = next(body for _, t, body in chunks if t == b"IHDR")
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    assert depth == 8 and color_type in (2, 6) and interlace == 0
    raw = zlib.decompress(b"".join(body for _, t, body in chunks if t == b"IDAT"))
    return rgb_to_ids(unfilter_rows(raw, width, height, 3 if color_type == 2 else 4))


# --- images -------------------------------------------------------------------------------------

def ids_to_rgb(ids: np.ndarray) -> np.ndarray:
    """HxW ids -> HxWx3 uint8 with id = R + 256*G + 65536*B."""
    ids = np.asarray(ids, np.uint32)
    return np.stack([ids & 0xFF, (ids >> 8) & 0xFF, (ids >> 16) & 0xFF], axis=-1).astype(np.uint8)


def rgb_to_ids(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 (or x4: alpha ignored) uint8 -> HxW uint32 ids."""
    rgb = np.asarray(rgb).astype(np.uint32)
    return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)


def raw_scanlines(pixels: np.ndarray, filters: Union[int, Sequence[int]]) -> bytes:
    """Filtered scanlines (filter byte + residuals per row) of an HxWxC uint8 image. `filters`
    is one filter type for every row or one per row."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w, bpp = pixels.shape
    if isinstance(filters, int):
        filters = [filters] * h
    assert len(filters) == h
    rows = pixels.reshape(h, w * bpp)
    prior = np.zeros(w * bpp, np.uint8)
    out = []
    for y in range(h):
        out.append(filter_row(filters[y], rows[y], prior, bpp))
        prior = rows[y]
    return b"".join(out)


def encode(pixels: np.ndarray, filters: Union[int, Sequence[int]] = NONE, level: int = 6,
           idat_size: Optional[int] = None, *, raw: Optional[bytes] = None,
           ihdr: Optional[bytes] = None, before_idat: Sequence[Chunk] = (),
           after_idat: Sequence[Chunk] = (), end: bool = True) -> bytes:
    """An 8-bit RGB (HxWx3) or RGBA (HxWx4) PNG of `pixels`.

    filters: one filter type for all rows, or one per row. level: zlib level. idat_size: bytes per
    IDAT chunk (None: one chunk). raw: scanline bytes to compress instead of the image's (for
    too-long / too-short data). ihdr: an IHDR body to use instead of the image's.
    before_idat / after_idat: extra chunks. end: whether to write IEND.
    """
    pixels = np.asarray(pixels, np.uint8)
    h, w, channels = pixels.shape
    assert channels in (3, 4)
    if raw is None:
        raw = raw_scanlines(pixels, filters)
    if ihdr is None:
        ihdr = ihdr_body(w, h, 8, 2 if channels == 3 else 6)
    data = zlib.compress(raw, level)
    chunks: List[Chunk] = [(b"IHDR", ihdr), *before_idat]
    chunks += [(b"IDAT", piece) for piece in split(data, idat_size)]
    chunks += list(after_idat)
    if end:
        chunks.append((b"IEND", b""))
    return png_file(chunks)


def encode_ids(ids: np.ndarray, filters: Union[int, Sequence[int]] = NONE, level: int = 6,
               idat_size: Optional[int] = None, alpha: Optional[np.ndarray] = None, **kw) -> bytes:
    """A PNG whose pixels hold `ids` (RGB, or RGBA with the given HxW alpha plane)."""
    rgb = ids_to_rgb(ids)
    if alpha is not None:
        rgb = np.concatenate([rgb, np.asarray(alpha, np.uint8)[..., None]], axis=-1)
    return encode(rgb, filters, level, idat_size, **kw)


def encode_raw(width: int, height: int, raw: bytes, *, bit_depth: int = 8, color_type: int = 2,
               interlace: int = 0, level: int = 6) -> bytes:
    """A PNG with the given header fields and already-filtered scanline bytes `raw`."""
    return png_file([(b"IHDR", ihdr_body(width, height, bit_depth, color_type, 0, 0, interlace)),
                     (b"IDAT", zlib.compress(raw, level)), (b"IEND", b"")])


def chunks_of(png: bytes) -> List[Tuple[int, bytes, bytes]]:
    """(offset, type, body) of each chunk of a well-formed PNG."""
    pos, out = 8, []
    while pos + 12 <= len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        out.append((pos, png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


# --- hand-made deflate streams ------------------------------------------------------------------

_LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
                115, 131, 163, 195, 227, 258]
_LENGTH_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
_DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
              1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
_DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12,
               12, 13, 13]


def deflate_fixed(symbols: Sequence[Union[int, Tuple[int, ...]]]) -> bytes:
    """One final deflate block with the fixed Huffman codes (RFC 1951, 3.2.6) holding `symbols`:
    an int is a literal byte, (length, distance) a match, written even when it is invalid (a
    distance before the start of the data). (length, distance, symbol) writes the length as the
    given length symbol without extra bits, e.g. the invalid 286 or 287 for a length of 258."""
    bits: List[int] = []

    def put(value: int, n: int) -> None:  # extra bits and header fields: LSB first
        bits.extend((value >> i) & 1 for i in range(n))

    def code(value: int, n: int) -> None:  # Huffman codes: MSB first
        bits.extend((value >> i) & 1 for i in reversed(range(n)))

    def symbol(s: int) -> None:
        if s < 144:
            code(0x30 + s, 8)
        elif s < 256:
            code(0x190 + s - 144, 9)
        elif s < 280:
            code(s - 256, 7)
        else:
            code(0xC0 + s - 280, 8)

    put(1, 1)  # BFINAL
    put(1, 2)  # BTYPE = fixed Huffman
    for s in symbols:
        if isinstance(s, int):
            symbol(s)
            continue
        length, distance = s[:2]
        if len(s) == 3:
            symbol(s[2])
        else:
            i = max(k for k in range(len(_LENGTH_BASE)) if _LENGTH_BASE[k] <= length)
            symbol(257 + i)
            put(length - _LENGTH_BASE[i], _LENGTH_EXTRA[i])
        j = max(k for k in range(len(_DIST_BASE)) if _DIST_BASE[k] <= distance)
        code(j, 5)
        put(distance - _DIST_BASE[j], _DIST_EXTRA[j])
    symbol(256)  # end of block
    bits.extend([0] * (-len(bits) % 8))
    return bytes(sum(bits[i + k] << k for k in range(8)) for i in range(0, len(bits), 8))


def zlib_wrap(deflate: bytes, adler: int) -> bytes:
    """A zlib stream: header (no dictionary, fastest), the raw deflate data, the Adler-32 given."""
    return b"\x78\x01" + deflate + struct.pack(">I", adler)
