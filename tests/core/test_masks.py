"""The C++ RLE mask module (csrc/masks/masks.cpp) against pycocotools' mask API, the reference.

Everything is compared bit for bit: counts, compressed strings, areas, boxes and IoU matrices
(``==``). Random cases are seeded. Malformed input must give ``MaskError`` (a ``ValueError``),
never a crash.
"""

from __future__ import annotations

import math
import time
from typing import List, Sequence

import numpy as np
import pytest

from fastpq import _core as C

M = pytest.importorskip("pycocotools.mask")
from pycocotools import _mask  # noqa: E402  (after the skip)

SIZES = [(1, 1), (1, 17), (23, 1), (2, 3), (7, 7), (16, 40), (41, 13), (64, 64), (100, 80)]


# ------------------------------------------------------------------------------------------------
# helpers


def ref_poly(poly: Sequence[float], h: int, w: int) -> bytes:
    """pycocotools' frPoly (what frPyObjects does for a list of polygons) for one polygon."""
    return _mask.frPoly([list(poly)], h, w)[0]["counts"]


def ref_union(polys: Sequence[Sequence[float]], h: int, w: int) -> bytes:
    """annToRLE: frPyObjects per polygon, then merge."""
    return M.merge(_mask.frPoly([list(p) for p in polys], h, w))["counts"]


def runs_of(mask: np.ndarray) -> List[int]:
    """Run lengths of a binary mask in column-major order, starting with zeros (numpy only)."""
    flat = np.asarray(mask, dtype=np.uint8).ravel(order="F")
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(edges).tolist()
    return ([0] + runs) if flat[0] == 1 else runs


def ref_rle(counts: Sequence[int], h: int, w: int) -> dict:
    """A pycocotools RLE object from uncompressed counts."""
    return _mask.frUncompressedRLE([{"counts": list(counts), "size": [h, w]}], h, w)[0]


def random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    kind = rng.integers(0, 5)
    if kind == 0:
        return np.zeros((h, w), np.uint8)
    if kind == 1:
        return np.ones((h, w), np.uint8)
    if kind == 2:
        return (rng.random((h, w)) < rng.random()).astype(np.uint8)
    m = np.zeros((h, w), np.uint8)  # a few rectangles
    for _ in range(int(rng.integers(1, 4))):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = 1
    return m


def star(rng: np.random.Generator, cx: float, cy: float, r: float, k: int, concave: bool) -> List[float]:
    angles = np.sort(rng.uniform(0, 2 * math.pi, k))
    radii = r * (rng.uniform(0.2, 1.0, k) if concave else np.ones(k))
    return np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)]).ravel().tolist()


def random_polygon(rng: np.random.Generator, h: int, w: int) -> List[float]:
    k = int(rng.integers(3, 51))
    kind = int(rng.integers(0, 9))
    big = max(h, w)
    if kind == 0:  # self-intersecting, anywhere around the image
        return rng.uniform(-3, big + 3, 2 * k).tolist()
    if kind == 1:  # convex
        return star(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.5, big), k, False)
    if kind == 2:  # concave
        return star(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.5, big), k, True)
    if kind == 3:  # along the borders: coordinates on 0, w, h, w - 1, h - 1, with and without .5
        xs = rng.choice([0, 0.5, w - 1, w - 0.5, w, -0.5, w / 2], k)
        ys = rng.choice([0, 0.5, h - 1, h - 0.5, h, -0.5, h / 2], k)
        return np.column_stack([xs, ys]).ravel().tolist()
    if kind == 4:  # partly outside
        return star(rng, rng.choice([0, w]), rng.choice([0, h]), rng.uniform(1, 2 * big), k, True)
    if kind == 5:  # tiny, within a pixel or two
        return (np.repeat(rng.uniform(-1, big + 1, 1), 2 * k) + rng.uniform(-1, 1, 2 * k)).tolist()
    if kind == 6:  # integers, repeated points, negative ones
        return rng.integers(-2, min(big, 6) + 2, 2 * k).astype(float).tolist()
    if kind == 7:  # on the 1/5 grid of the upsampling, and just off it
        return (np.round(rng.uniform(-2, big + 2, 2 * k) * 5) / 5 + rng.choice([0, 0, 1e-9, -1e-9, 0.1], 2 * k)).tolist()
    return (rng.uniform(-big, 2 * big, 2 * k) * 10**rng.integers(0, 3)).tolist()  # large, mostly outside


# ------------------------------------------------------------------------------------------------
# polygons


def test_random_polygons_match_pycocotools():
    rng = np.random.default_rng(1234)
    n = 0
    for h, w in SIZES + [(int(rng.integers(1, 200)), int(rng.integers(1, 200))) for _ in range(12)]:
        for _ in range(120):
            p = random_polygon(rng, h, w)
            assert C.rle_to_string(C.rle_from_polygons([p], h, w)).encode() == ref_poly(p, h, w), (h, w, p)
            n += 1
    assert n > 2000


def test_polygon_unions_match_ann_to_rle():
    rng = np.random.default_rng(99)
    for h, w in SIZES:
        for _ in range(40):
            polys = [random_polygon(rng, h, w) for _ in range(int(rng.integers(1, 5)))]
            counts = C.rle_from_polygons(polys, h, w)
            assert C.rle_to_string(counts).encode() == ref_union(polys, h, w)
            assert sum(counts) == h * w
            # frPyObjects dispatches on the first polygon's length; polygons of 6+ values are polygons.
            ref = M.merge(M.frPyObjects(polys, h, w))["counts"]
            assert C.rle_to_string(counts).encode() == ref


def test_degenerate_polygons():
    cases = [
        [],  # no point
        [3.2, 4.7],  # one point
        [1, 1, 8, 8],  # two points
        [-3.0, -3.0],
        [1, 1, 1, 1, 1, 1],  # three times the same point
        [1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 1],  # repeated vertices
        [-3, -3, -3, -3, 5, 5, -1, 8],  # repeated vertex outside the image
        [-1, -1, -1, -1, -1, 4, -1, 4, 3, 3],
        [0, 0, 5, 5, 10, 10],  # collinear: zero area
        [0, 0, 10, 0, 10, 10, 0, 10, 0, 0],  # closed explicitly
        [0, 0, 10, 10, 10, 0, 0, 10],  # bow tie
        [-0.1, -0.1, -0.3, -0.3, -0.5, 2],  # negative fractions, truncated toward zero
        [0, 0, 0, 9.99, 0, 0],  # along the left border
        [9.5, 0, 9.5, 10, 9.5, 0],
        [0.5, 0.5, 0.5, 0.5, 0.7, 0.5],
        [100, 100, 200, 100, 200, 200],  # entirely outside
        [-50, -50, -40, -50, -40, -40],
        [1e5, -1e5, 3, 4, -1e5, 1e5],  # long edges across the image
    ]
    for h, w in [(10, 10), (1, 10), (10, 1), (1, 1), (7, 13)]:
        for p in cases:
            assert C.rle_to_string(C.rle_from_polygons([p], h, w)).encode() == ref_poly(p, h, w), (h, w, p)


def test_large_coordinates_match_pycocotools():
    # pycocotools walks every upsampled boundary point (5 per pixel of edge length); this module only
    # the ones inside the image, so coordinates of 1e5 stay cheap to check against it.
    rng = np.random.default_rng(5)
    for i in range(20):
        h, w = int(rng.integers(1, 120)), int(rng.integers(1, 120))
        p = rng.uniform(-1e5, 1e5, 2 * int(rng.integers(3, 6)))
        p[0], p[1] = rng.uniform(0, w), rng.uniform(0, h)  # one vertex inside
        if i % 2:
            p = np.round(p)
        assert C.rle_to_string(C.rle_from_polygons([p.tolist()], h, w)).encode() == ref_poly(p.tolist(), h, w)
    for i in range(60):  # long near-vertical (and near-horizontal) edges across the image
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        k = int(rng.integers(3, 7))
        xs, ys = rng.uniform(-3, w + 3, k), rng.uniform(-1, 1, k) * [10, 1e3, 3e4][i % 3]
        if i % 2:
            xs = np.round(xs * 5) / 5
        p = (np.column_stack([ys, xs]) if i % 4 == 0 else np.column_stack([xs, ys])).ravel().tolist()
        assert C.rle_to_string(C.rle_from_polygons([p], h, w)).encode() == ref_poly(p, h, w), (h, w, p)


def test_huge_coordinates_are_fast_and_consistent():
    big = 2e8  # the largest accepted
    start = time.perf_counter()
    full = C.rle_from_polygons([[-big, -big, big, -big, big, big, -big, big]], 300, 200)
    assert full == [0, 300 * 200]
    band = [[-big, 10.2, big, 10.2, big, 20.7, -big, 20.7]]
    thin = C.rle_from_polygons(band, 300, 200)
    assert time.perf_counter() - start < 1.0
    # the same rows as a band that pycocotools can afford to rasterise
    small = [[-1e4, 10.2, 1e4, 10.2, 1e4, 20.7, -1e4, 20.7]]
    assert C.rle_to_string(thin).encode() == ref_union(small, 300, 200)
    assert C.rle_area(thin, 300, 200) == 200 * 11


def test_bbox_matches_fr_bbox():
    rng = np.random.default_rng(8)
    for h, w in SIZES:
        boxes = np.column_stack([rng.uniform(-5, w + 5, 30), rng.uniform(-5, h + 5, 30),
                                 rng.uniform(0, w + 5, 30), rng.uniform(0, h + 5, 30)])
        boxes[::3] = np.round(boxes[::3])
        refs = _mask.frBbox(boxes, h, w)
        for box, ref in zip(boxes.tolist(), refs):
            assert C.rle_to_string(C.rle_from_bbox(box, h, w)).encode() == ref["counts"]


@pytest.mark.parametrize("poly, message", [
    ([1.0, 2.0, float("nan"), 4.0, 5.0, 6.0], "not finite"),
    ([1.0, 2.0, 3.0, float("inf"), 5.0, 6.0], "not finite"),
    ([1.0, 2.0, 3.0, -float("inf"), 5.0, 6.0], "not finite"),
    ([1.0, 2.0, 3.0, 4.0, 5.0], "odd number"),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 3e8], "out of range"),
])
def test_malformed_polygons(poly, message):
    with pytest.raises(C.MaskError, match=message):
        C.rle_from_polygons([poly], 10, 10)


def test_polygon_argument_errors():
    assert issubclass(C.MaskError, ValueError)
    with pytest.raises(C.MaskError, match="at least one polygon"):
        C.rle_from_polygons([], 10, 10)
    with pytest.raises(C.MaskError, match="not supported"):
        C.rle_from_polygons([[0, 0, 1, 0, 1, 1]], 100000, 100000)
    with pytest.raises(C.MaskError, match="out of range"):
        C.rle_from_polygons([[0, 0, 1, 0, 1, 1]], -1, 10)
    with pytest.raises(TypeError):
        C.rle_from_polygons([["a", 0, 1, 0, 1, 1]], 10, 10)


# ------------------------------------------------------------------------------------------------
# strings, binary masks, area, box


def test_random_masks_round_trip():
    rng = np.random.default_rng(7)
    for h, w in SIZES + [(0, 5), (5, 0), (1, 300), (300, 1)]:
        for _ in range(25):
            mask = random_mask(rng, h, w) if h and w else np.zeros((h, w), np.uint8)
            ref = M.encode(np.asfortranarray(mask[:, :, None]))[0]
            s = ref["counts"]
            counts = C.rle_from_string(s, h, w)
            assert counts == runs_of(mask)
            assert C.rle_from_string(s.decode(), h, w) == counts  # str or bytes
            assert C.rle_to_string(counts).encode() == s
            assert C.rle_encode(mask) == counts
            assert C.rle_encode(mask.astype(bool)) == counts
            assert C.rle_encode(np.asfortranarray(mask)) == counts
            decoded = C.rle_decode(s, h, w)
            assert decoded.dtype == np.uint8 and decoded.shape == (h, w)
            assert np.array_equal(decoded, mask)
            assert C.rle_area(s, h, w) == int(M.area(ref))
            assert C.rle_area(counts, h, w) == int(mask.sum())
            assert C.rle_bbox(s, h, w) == M.toBbox(ref).tolist()


def test_uncompressed_counts_with_odd_runs():
    rng = np.random.default_rng(3)
    for _ in range(400):
        h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        cuts = np.sort(rng.integers(0, h * w + 1, int(rng.integers(0, 12))))
        counts = np.diff(np.concatenate([[0], cuts, [h * w]])).tolist()  # zero-length runs included
        ref = ref_rle(counts, h, w)
        s = C.rle_to_string(counts)
        assert s.encode() == ref["counts"]
        assert C.rle_from_string(s, h, w) == counts
        assert C.rle_area(counts, h, w) == int(M.area([ref])[0])
        assert C.rle_bbox(counts, h, w) == M.toBbox([ref])[0].tolist()  # its quirks included


def test_bbox_quirks():
    # No foreground but two or more runs: pycocotools' unsigned arithmetic wraps around.
    for counts, h, w in [([50, 0], 5, 10), ([10, 0, 40], 5, 10), ([50], 5, 10), ([0], 0, 3), ([], 0, 3)]:
        ref = ref_rle(counts, h, w) if counts else {"size": [h, w], "counts": b""}
        assert C.rle_bbox(counts, h, w) == M.toBbox([ref])[0].tolist()


def test_large_counts_string_round_trip():
    # Counts of up to 2**31 - 1 need 7 characters (pycocotools' decoder is only right up to 2**29).
    for counts in ([2**31 - 1], [0, 2**31 - 1], [2**30, 2**30 - 1], [5, 2**31 - 8, 2], [1, 2, 3, 2**31 - 7]):
        s = C.rle_to_string(counts)
        assert s.encode() == ref_rle(counts, 1, sum(counts))["counts"]  # pycocotools' encoder
        assert C.rle_from_string(s, 1, sum(counts)) == counts


@pytest.mark.parametrize("s, h, w, message", [
    ("a", 10, 10, "ends inside"),  # continuation bit on the last character
    ("0a", 10, 10, "ends inside"),
    ("5p", 10, 10, "outside '0'..'o'"),
    ("5/", 10, 10, "outside '0'..'o'"),
    ("5\x00", 10, 10, "outside '0'..'o'"),
    ("5\u00e9", 10, 10, "outside '0'..'o'"),
    ("```````0", 10, 10, "more than 7"),
    ("O", 10, 10, "run length -1"),  # a negative first count
    ("01o", 1, 5, "run length"),  # negative after the delta
    ("R1", 10, 10, "add up to 34 pixels"),
    ("1", 10, 10, "add up to 1 pixels"),
    ("", 10, 10, "add up to 0 pixels"),
    ("k3", 10, 10, "more than the 100 pixels"),
    ("0", 70000, 70000, "not supported"),
])
def test_malformed_strings(s, h, w, message):
    with pytest.raises(C.MaskError, match=message):
        C.rle_from_string(s, h, w)


def test_bad_counts_and_masks():
    with pytest.raises(C.MaskError, match="add up to"):
        C.rle_area([3, 4], 3, 3)
    with pytest.raises(C.MaskError, match="out of range"):
        C.rle_area([-1, 10], 3, 3)
    with pytest.raises(C.MaskError, match="out of range"):
        C.rle_to_string([2**32])
    with pytest.raises(C.MaskError, match="0 and 1 only"):
        C.rle_encode(np.array([[0, 2]], np.uint8))
    with pytest.raises(C.MaskError, match="2-D"):
        C.rle_encode(np.zeros((2, 2, 2), np.uint8))
    assert C.rle_from_string("", 0, 7) == []
    assert C.rle_area("", 0, 7) == 0


def py_decode(s: bytes):
    """The string format decoded in plain Python: counts, or None where the decoder must refuse."""
    counts, p = [], 0
    while p < len(s):
        x, k = 0, 0
        while True:
            if p == len(s) or not 48 <= s[p] < 112 or k == 7:
                return None
            c = s[p] - 48
            x |= (c & 0x1F) << (5 * k)
            p, k = p + 1, k + 1
            if not c & 0x20:
                if c & 0x10:
                    x -= 1 << (5 * k)
                break
        if len(counts) > 2:
            x += counts[-2]
        if not 0 <= x < 2**32:
            return None
        counts.append(x)
    return counts


def test_fuzz_string_decoder():
    rng = np.random.default_rng(2024)
    alphabet = np.frombuffer(bytes(range(48, 112)), np.uint8)
    valid = [M.encode(np.asfortranarray(random_mask(rng, 9, 11)[:, :, None]))[0]["counts"] for _ in range(50)]
    accepted = 0
    for i in range(6000):
        n = int(rng.integers(0, 24))
        if i % 4 == 0:  # any byte
            s = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        elif i % 4 == 3:  # a valid string with a byte or two changed, dropped or added
            b = bytearray(valid[i % len(valid)])
            for _ in range(int(rng.integers(1, 3))):
                at = int(rng.integers(0, len(b) + 1))
                op = rng.integers(0, 3)
                if op == 0 and at < len(b):
                    b[at] = int(rng.choice(alphabet))
                elif op == 1 and at < len(b):
                    del b[at]
                else:
                    b.insert(at, int(rng.choice(alphabet)))
            s = bytes(b)
        else:  # the RLE alphabet; one character per count more likely
            s = rng.choice(alphabet, n).tobytes()
            if i % 4 == 2:
                s = bytes(b & 0xDF for b in s)
        expected = py_decode(s)
        h, w = int(rng.integers(0, 40)), int(rng.integers(0, 40))
        if expected is not None and 0 < sum(expected) < 10**6 and rng.random() < 0.8:
            h, w = (1, sum(expected)) if rng.random() < 0.5 else (sum(expected), 1)
        if i % 4 == 3 and rng.random() < 0.5:
            h, w = 9, 11
        try:
            counts = C.rle_from_string(s, h, w)
        except C.MaskError:
            assert expected is None or sum(expected) != h * w
            continue
        accepted += 1
        assert counts == expected and sum(counts) == h * w
        longest = max((len(t) for t in bytes(b & 0x20 for b in s).split(b"\x00")), default=0) + 1
        if longest > 6:
            continue  # pycocotools' decoder overflows on numbers of 7 characters
        ref = M.merge([{"size": [h, w], "counts": s}])  # one RLE: decoded by pycocotools, re-encoded
        assert C.rle_to_string(counts).encode() == ref["counts"]
        assert C.rle_area(s, h, w) == int(M.area([{"size": [h, w], "counts": s}])[0])
    assert accepted > 300


# ------------------------------------------------------------------------------------------------
# merge and IoU


def test_merge_matches_pycocotools():
    rng = np.random.default_rng(11)
    for h, w in SIZES:
        for _ in range(25):
            masks = [random_mask(rng, h, w) for _ in range(int(rng.integers(1, 5)))]
            refs = [M.encode(np.asfortranarray(m[:, :, None]))[0] for m in masks]
            strings = [r["counts"] for r in refs]
            for intersect in (False, True):
                ours = C.rle_merge(strings, h, w, intersect=intersect)
                assert C.rle_to_string(ours).encode() == M.merge(refs, intersect=intersect)["counts"]
                expected = np.logical_and.reduce(masks) if intersect else np.logical_or.reduce(masks)
                assert np.array_equal(C.rle_decode(ours, h, w), expected.astype(np.uint8))


def test_merge_with_zero_length_runs():
    # Zero-length runs are kept where pycocotools keeps them; where its merge would lose pixels,
    # the merge is refused.
    assert C.rle_merge([[3, 0, 2], [5]], 1, 5) == [3, 0, 2]
    assert C.rle_to_string(C.rle_merge([[3, 0, 0, 2], [5]], 1, 5)) == "3002"
    rng = np.random.default_rng(12)
    refused = 0
    for _ in range(400):
        h, w = int(rng.integers(2, 8)), int(rng.integers(2, 8))
        rles = []
        for _ in range(2):
            cuts = np.sort(rng.integers(0, h * w + 1, int(rng.integers(0, 6))))
            rles.append(np.diff(np.concatenate([[0], cuts, [h * w]])).tolist())
        refs = [ref_rle(c, h, w) for c in rles]
        for intersect in (False, True):
            try:
                ours = C.rle_merge(rles, h, w, intersect=intersect)
            except C.MaskError as e:
                assert "lose pixels" in str(e)
                refused += 1
                continue
            if len(ours) > h * w + 1:
                continue  # pycocotools' merge would write past the end of its buffer
            assert C.rle_to_string(ours).encode() == M.merge(refs, intersect=intersect)["counts"]
    # Zero-length runs at the same place in both: pycocotools' merge stops early ("2" for a 1x5
    # mask); refused here. Its IoU stops early too, and gives 0 where the masks overlap: reproduced.
    for a, b in ([[2, 0, 0, 3], [2, 0, 0, 3]], [[2, 0, 0, 3], [2, 0, 1, 2]], [[0, 0, 5], [0, 0, 5]]):
        assert M.merge([ref_rle(a, 1, 5), ref_rle(b, 1, 5)])["counts"] in (b"2", b"0")
        with pytest.raises(C.MaskError, match="lose pixels"):
            C.rle_merge([a, b], 1, 5)
        assert C.rle_iou([(1, 5, a)], [(1, 5, b)], [False]) == M.iou([ref_rle(a, 1, 5)], [ref_rle(b, 1, 5)], [0])
    with pytest.raises(C.MaskError, match="no RLEs"):
        C.rle_merge([], 2, 2)
    with pytest.raises(C.MaskError, match="add up to"):
        C.rle_merge([[4], [3]], 2, 2)


def test_iou_matches_pycocotools():
    rng = np.random.default_rng(21)
    for h, w in SIZES:
        for _ in range(6):
            dt_masks = [random_mask(rng, h, w) for _ in range(int(rng.integers(1, 9)))]
            gt_masks = [random_mask(rng, h, w) for _ in range(int(rng.integers(1, 9)))]
            dt = [M.encode(np.asfortranarray(m[:, :, None]))[0] for m in dt_masks]
            gt = [M.encode(np.asfortranarray(m[:, :, None]))[0] for m in gt_masks]
            iscrowd = (rng.random(len(gt)) < 0.4).tolist()
            ref = M.iou(dt, gt, iscrowd)
            ours = C.rle_iou([(h, w, r["counts"]) for r in dt], gt, iscrowd)  # tuples and dicts
            assert ours.dtype == np.float64 and ours.shape == ref.shape
            assert np.array_equal(ours, ref)
            # exact values, straight from the masks
            for d, md in enumerate(dt_masks):
                for g, mg in enumerate(gt_masks):
                    inter = int(np.logical_and(md, mg).sum())
                    den = int(md.sum()) if iscrowd[g] else int(np.logical_or(md, mg).sum())
                    assert ours[d, g] == (inter / den if inter else 0.0)


def test_iou_odd_cases():
    h, w = 5, 10
    cases = [[h * w], [h * w, 0], [10, 0, 40], [0, h * w], [3, 0, 0, 4, 43], [2, 0, 0, 3, 45], [20, 5, 25],
             [0, 1, 49], [49, 1]]
    other = [([30, 0], 5, 6), ([12, 3, 15], 5, 6), ([30], 5, 6)]  # a different size: -1 where boxes overlap
    dt = [(h, w, c) for c in cases] + [(hh, ww, c) for c, hh, ww in other]
    gt = list(dt)
    for iscrowd in ([False] * len(gt), [True] * len(gt), [i % 2 == 1 for i in range(len(gt))]):
        ref = M.iou([ref_rle(c, hh, ww) for hh, ww, c in dt], [ref_rle(c, hh, ww) for hh, ww, c in gt], iscrowd)
        assert np.array_equal(C.rle_iou(dt, gt, iscrowd), ref)
    assert (C.rle_iou(dt, gt, [False] * len(gt)) == -1).any()
    assert C.rle_iou([], gt, [False] * len(gt)).shape == (0, len(gt))
    assert C.rle_iou(dt, [], []).shape == (len(dt), 0)
    # other argument forms: numpy counts and flags, COCO dicts with str counts
    as_dicts = [{"size": [hh, ww], "counts": C.rle_to_string(c)} for hh, ww, c in dt]
    flags = np.arange(len(gt)) % 2 == 1
    expected = C.rle_iou(dt, gt, flags.tolist())
    assert np.array_equal(C.rle_iou(as_dicts, [(hh, ww, np.array(c, np.uint32)) for hh, ww, c in gt], flags), expected)
    assert np.array_equal(C.rle_iou(dt, gt, flags.astype(np.uint8)), expected)
    with pytest.raises(TypeError):
        C.rle_iou([(h, w, 5)], gt, flags)
    with pytest.raises(C.MaskError, match="iscrowd"):
        C.rle_iou(dt, gt, [False])
    with pytest.raises(C.MaskError, match="add up to"):
        C.rle_iou([(2, 2, [1, 2])], [(2, 2, [4])], [False])


def test_iou_of_polygons():
    rng = np.random.default_rng(31)
    for h, w in [(50, 60), (1, 40), (33, 1)]:
        dt = [[random_polygon(rng, h, w)] for _ in range(8)]
        gt = [[random_polygon(rng, h, w) for _ in range(int(rng.integers(1, 3)))] for _ in range(8)]
        dt_ours = [(h, w, C.rle_from_polygons(p, h, w)) for p in dt]
        gt_ours = [(h, w, C.rle_from_polygons(p, h, w)) for p in gt]
        dt_ref = [M.merge(_mask.frPoly(p, h, w)) for p in dt]
        gt_ref = [M.merge(_mask.frPoly(p, h, w)) for p in gt]
        iscrowd = [i % 3 == 0 for i in range(len(gt))]
        assert np.array_equal(C.rle_iou(dt_ours, gt_ours, iscrowd), M.iou(dt_ref, gt_ref, iscrowd))
