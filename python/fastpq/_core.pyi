"""Type stubs for fastpq's compiled core (csrc/bindings.cpp): PNG decoding, joint histograms and
panoptic matching."""

from typing import Any, Dict, List, Optional, Sequence, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

DEFAULT_MAX_PIXELS: int
"""PNGs with more pixels than this are refused by default (2**27)."""

class FormatError(ValueError):
    """A PNG that cannot be read, or is not an 8-bit RGB/RGBA panoptic map."""

class BuildInfo(TypedDict):
    version: str
    inflate: str  # the default inflate backend: "libdeflate" or "zlib"
    libdeflate: bool
    parallel: str  # "openmp" or "threads"
    default_workers: int
    simd: str
    compiler: str

class EvaluationOutput(TypedDict):
    """What evaluate_panoptic returns.

    ``failure`` is None, or the first image that could not be scored, as a dict with ``kind``
    ("file", "file_missing", "size_mismatch", "png_id_not_in_json", "unknown_category",
    "json_ids_not_in_png" or "bad_area"), ``image_index``, ``segment_id``, ``segment_ids`` and
    ``message``. ``images`` is None unless ``keep_images`` was set and no image failed; it then holds
    per-image, per-category columns ``image``, ``category``, ``tp``, ``fp``, ``fn`` and ``iou``.
    """

    tp: List[int]
    fp: List[int]
    fn: List[int]
    iou: List[float]
    failure: Optional[Dict[str, Any]]
    images: Optional[Dict[str, List[Any]]]
    breakdown: Optional[Dict[str, Any]]
    """None unless a breakdown was asked for (and no image failed); else the requested ones of
    ``by_size`` (small, medium, large: each {tp, fp, fn, iou} per category), ``covering``
    ({weighted_iou, gt_area, weighted_iou_normalized, gt_area_normalized} per category) and
    ``boundary`` ({tp, fp, fn, iou} per category); see fastpq.breakdown."""

def build_info() -> BuildInfo:
    """How this copy was built: version, inflate backend, parallelism, SIMD kernels, compiler."""

def evaluate_panoptic(
    gt_files: Sequence[str],
    pred_files: Sequence[str],
    gt_offsets: Sequence[int],
    gt_ids: Sequence[int],
    gt_categories: Sequence[int],
    gt_iscrowd: Sequence[int],
    gt_areas: Sequence[float],
    pred_offsets: Sequence[int],
    pred_ids: Sequence[int],
    pred_categories: Sequence[int],
    n_categories: int,
    workers: int = 0,
    max_pixels: int = 134217728,
    inflate: str = "",
    keep_images: bool = False,
    initial_tp: Optional[Sequence[int]] = None,
    initial_fp: Optional[Sequence[int]] = None,
    initial_fn: Optional[Sequence[int]] = None,
    initial_iou: Optional[Sequence[float]] = None,
    by_size: bool = False,
    covering: bool = False,
    boundary: bool = False,
    boundary_dilation_ratio: float = 0.02,
    initial_breakdown: Optional[Dict[str, Any]] = None,
    semantic: bool = False,
    gt_data: Optional[List[Optional[bytes]]] = None,
    pred_data: Optional[List[Optional[bytes]]] = None,
) -> EvaluationOutput:
    """Scores images given as flat segment tables; image i owns rows offsets[i]:offsets[i+1].

    ``gt_data`` / ``pred_data``: per image the PNG bytes (fetched from object storage) decoded from
    memory instead of reading the file, whose name then names the bytes in messages; None entries
    (or no list) read the files.

    ``semantic`` adds ``semantic``: per image, the pixels of every (gt category index, pred category
    index) pair (void at n_categories) as CSR arrays image_offsets, image_rows, image_cols, image_counts.

    ``by_size``, ``covering`` and ``boundary`` add the breakdowns of fastpq.breakdown to the
    output (``breakdown``); their sums start from ``initial_breakdown`` (a previous output's
    ``breakdown``; a part it lacks starts from zero), so that, like the initial_* lists for the
    totals, a dataset scored in pieces gets the sums of a single pass.

    Category indices are 0..n_categories-1 (-1: unknown). Sums start from the initial_* lists
    (length n_categories) when given. ``max_pixels`` defaults to DEFAULT_MAX_PIXELS (2**27).
    """

def read_png_ids(path: Union[str, bytes], max_pixels: int = 134217728, inflate: str = "") -> npt.NDArray[np.uint32]:
    """Reads a panoptic PNG file into a (height, width) array of ids R + 256 G + 256^2 B.

    Raises FormatError for a file that cannot be read or is not an 8-bit RGB/RGBA PNG.
    """

def decode_png_ids(data: bytes, name: str = "<memory>", max_pixels: int = 134217728,
                   inflate: str = "") -> npt.NDArray[np.uint32]:
    """Decodes panoptic PNG bytes (``name`` is used in error messages) like read_png_ids."""

def inflate_png_files(paths: Sequence[str], workers: int = 0, max_pixels: int = 134217728,
                      inflate: str = "") -> Dict[str, int]:
    """Reads every PNG and inflates its image data into reused per-thread buffers, nothing more (no
    unfiltering, no Adler-32 check): the floor under any PNG scorer, for the benchmarks. Returns
    ``files``, ``compressed_bytes`` and ``inflated_bytes``; raises for the first bad file in order."""

class ImagePairDecisions(TypedDict):
    """What match_image_pair returns: per segment, in table order, ``*_status`` (0 matched, 1 unmatched:
    FN / FP, 2 ignored: crowd / mostly void or crowd), ``*_match`` (the partner's table index, -1) and
    ``*_iou`` (the match's IoU, 0); ``failure`` as in EvaluationOutput (image_index 0) or None."""

    failure: Optional[Dict[str, Any]]
    gt_status: List[int]
    gt_match: List[int]
    gt_iou: List[float]
    pred_status: List[int]
    pred_match: List[int]
    pred_iou: List[float]

def match_image_pair(gt_file: str, pred_file: str, gt_ids: Sequence[int], gt_categories: Sequence[int],
                     gt_iscrowd: Sequence[int], gt_areas: Sequence[float], pred_ids: Sequence[int],
                     pred_categories: Sequence[int], n_categories: int, max_pixels: int = 134217728,
                     inflate: str = "") -> ImagePairDecisions:
    """Matches one PNG pair as evaluate_panoptic does and says what was decided for each segment."""


def joint_histogram(
    gt: npt.NDArray[np.uint32], pred: npt.NDArray[np.uint32]
) -> "tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint64]]": ...

def evaluate_id_maps(
    gt: npt.NDArray[np.uint32],
    pred: npt.NDArray[np.uint32],
    gt_offsets: Sequence[int],
    gt_ids: Sequence[int],
    gt_categories: Sequence[int],
    gt_iscrowd: Sequence[int],
    gt_areas: Sequence[float],
    pred_offsets: Sequence[int],
    pred_ids: Sequence[int],
    pred_categories: Sequence[int],
    n_categories: int,
    workers: int = 0,
    keep_images: bool = False,
    initial_tp: Optional[Sequence[int]] = None,
    initial_fp: Optional[Sequence[int]] = None,
    initial_fn: Optional[Sequence[int]] = None,
    initial_iou: Optional[Sequence[float]] = None,
    by_size: bool = False,
    covering: bool = False,
    boundary: bool = False,
    boundary_dilation_ratio: float = 0.02,
    initial_breakdown: Optional[Dict[str, Any]] = None,
) -> EvaluationOutput: ...

# ---- masks ----
# COCO RLE masks, bit-identical to pycocotools' mask API (csrc/masks.hpp). An RLE argument is a
# compressed string (str or bytes) or uncompressed counts; counts are returned as lists of ints.

class MaskError(ValueError):
    """A malformed RLE string or polygon, counts that do not add up to h*w, RLEs of different sizes."""

RleArg = Union[str, bytes, Sequence[int]]
SizedRle = Union[tuple[int, int, RleArg], Dict[str, Any]]  # (h, w, rle) or {"size": [h, w], "counts": rle}

def rle_from_string(s: Union[str, bytes], h: int, w: int) -> List[int]: ...
def rle_to_string(counts: Sequence[int]) -> str: ...
def rle_from_polygons(polygons: Sequence[Sequence[float]], h: int, w: int) -> List[int]: ...
def rle_from_bbox(bbox: Sequence[float], h: int, w: int) -> List[int]: ...
def rle_merge(rles: Sequence[RleArg], h: int, w: int, intersect: bool = False) -> List[int]: ...
def rle_area(rle: RleArg, h: int, w: int) -> int: ...
def rle_bbox(rle: RleArg, h: int, w: int) -> List[float]: ...
def rle_iou(dt: Sequence[SizedRle], gt: Sequence[SizedRle], iscrowd: Sequence[bool]) -> npt.NDArray[np.float64]: ...
def rle_encode(mask: npt.NDArray[Any]) -> List[int]: ...
def rle_decode(rle: RleArg, h: int, w: int) -> npt.NDArray[np.uint8]: ...

def json_nesting_depth(text: bytes, stop_above: int) -> int: ...
def json_scan(text: bytes, stop_above: int) -> Tuple[int, int]:
    """(nesting depth as json_nesting_depth gives it, the longest run of digits outside strings)."""


def boundary_band(ids: npt.ArrayLike, dilation: int) -> npt.NDArray[np.uint8]:
    """1 where a pixel of an (H, W) id map is within chessboard distance ``dilation`` of another id
    or of the image edge (its segment's Boundary IoU band), else 0."""

def boundary_dilation(height: int, width: int, ratio: float) -> int:
    """The Boundary IoU API's band width max(1, round(ratio * diagonal)), ties to even, capped at
    max(height, width) (where every pixel is in its band already)."""

# ---- amodal ----

class AmodalOutput(TypedDict):
    """What amodal_evaluate returns. Counts are flat, indexed as in csrc/amodal_match.hpp:
    ``matched[(setting * n_thresholds + threshold) * n_max_dets + k]`` and ``regions[setting]``.
    ``images`` holds a (matched, regions) pair per image when keep_images was set, else is empty;
    ``failure`` is None or (index of the first image that could not be evaluated, message)."""

    matched: List[int]
    regions: List[int]
    images: List[Tuple[List[int], List[int]]]
    failure: Optional[Tuple[int, str]]

AmodalMask = Union[str, Sequence[Sequence[float]]]  # a compressed RLE string, or polygons
AmodalImageArg = Tuple[int, int, List[AmodalMask], Sequence[bool], Sequence[float], List[AmodalMask], Sequence[float]]
"""(height, width, region masks, region is_stuff, region occlusion rate, proposal masks, proposal scores)."""

def amodal_evaluate(images: List[AmodalImageArg], thresholds: Sequence[float], workers: int = 0,
                    keep_images: bool = False) -> AmodalOutput:
    """COCOA matching counts over images: per setting, threshold and detection limit, the regions matched."""

# ---- combine ----
# Category tables are parallel lists: COCO category ids, isthing (0/1) and (r, g, b) colors.

class CombineOutput(TypedDict):
    """What combine_panoptic returns: per image, its (height, width) id map and its segments as
    columns (ids, category indices, areas, [x, y, width, height] boxes); ``failure`` is None or
    (index of the first image that could not be combined, message)."""

    ids: List[npt.NDArray[np.uint32]]
    segments: List[Tuple[List[int], List[int], List[int], List[List[int]]]]
    failure: Optional[Tuple[int, str]]

CombineMask = Tuple[int, int, Union[str, bytes, Sequence[int]]]  # (h, w, compressed string or counts)
CombineImageArg = Tuple[int, int, Optional[npt.NDArray[Any]], List[CombineMask], Sequence[float], Sequence[int]]
"""(height, width, semantic map of category ids (uint8, uint16 or int32) or None, masks, scores,
category indices)."""

def combine_panoptic(images: List[CombineImageArg], category_ids: Sequence[int], isthing: Sequence[int],
                     colors: Sequence[Sequence[int]], confidence_thr: float, overlap_thr: float,
                     stuff_area_limit: float, void_value: Optional[int], workers: int = 0) -> CombineOutput:
    """panopticapi's combination of instance masks and semantic maps, per image in parallel."""

def assign_segment_ids(segment_categories: Sequence[int], category_ids: Sequence[int], isthing: Sequence[int],
                       colors: Sequence[Sequence[int]]) -> List[int]:
    """Ids for one image's new segments (category indices, in order), as combine_panoptic chooses them."""

def segment_stats(ids: npt.ArrayLike) -> Tuple[List[int], List[int], List[List[int]]]:
    """(ids ascending, areas, [x, y, width, height] boxes) of the non-zero segments of a (height, width) id map."""


LabelSource = Union[str, bytes, npt.NDArray[Any]]

def semantic_confusion(gt: List[LabelSource], pred: List[LabelSource], instances: Optional[List[LabelSource]],
                       gt_lut: npt.ArrayLike, pred_lut: npt.ArrayLike, gt_other: int, pred_other: int,
                       n_rows: int, n_cols: int, instance_min: int = 1000, per_image: bool = False,
                       workers: int = 0, max_pixels: int = 134217728, inflate: str = "",
                       gt_skipped: Sequence[int] = ()) -> Dict[str, Any]:
    """One pass over label-map pairs (paths, PNG bytes or C-contiguous 2-D integer arrays): the
    (n_rows, n_cols) uint64 confusion of the lookup-table codes (>= 0 an index, -1 skip, -2 refuse:
    FormatError naming the file, value and first pixel), ``pixels``, ``sizes``; with ``per_image``
    each image's nonzero entries (image_offsets, image_rows, image_cols, image_counts); with
    ``instances`` the pixels per (instance value >= instance_min, predicted column; n_cols for a
    skipped prediction) (instance_offsets, instance_ids, instance_cols, instance_counts).
    ``gt_skipped``: ground-truth values outside ``gt_lut`` that are skipped (negative ignore values)
    where any other outside value gets ``gt_other``'s code."""

def read_label_png(path: str, max_pixels: int = 134217728, inflate: str = "") -> npt.NDArray[Any]:
    """A label-map PNG as an (H, W) array: uint8 (grey <= 8 bits, palette), uint16 (16-bit grey), uint32 (RGB)."""

def decode_label_png(data: bytes, name: str = "<memory>", max_pixels: int = 134217728,
                     inflate: str = "") -> npt.NDArray[Any]:
    """read_label_png for PNG bytes."""

# ---- amodal consistency (csrc/amodal/amodal_consistency.hpp) ----

ConsistencyImageArg = Tuple[int, int, List[List[AmodalMask]]]
"""(height, width, one list of region masks per annotation)."""

def amodal_region_consistency(images: List[ConsistencyImageArg], threshold: float = 0.5, matching: int = 0,
                              workers: int = 0) -> Dict[str, Any]:
    """Every ordered annotator pair of every image, as flat numpy columns: image, x, y, regions_x,
    regions_y, matched_x, matched_y (int64), precision, recall, f (float64); and ``failure``: None or
    (image index, message). matching: 0 bipartite, 1 greedy, 2 any."""

def amodal_edge_consistency(images: List[ConsistencyImageArg], max_dist: float = 0.0075,
                            workers: int = 0) -> Dict[str, Any]:
    """Edge consistency of every ordered annotator pair of every image, as flat numpy columns: image,
    x, y, edges_x, edges_y, matched_x, matched_y (int64), precision, recall, f (float64); and
    ``failure``: None or (image index, message). max_dist in [0, 0.1] of the image diagonal."""

def amodal_boundary_map(masks: List[Any], height: int, width: int) -> npt.NDArray[np.uint8]:
    """The boundary map (height x width, 0/1) of RLE-string or polygon masks: seg2bmap per mask, united."""

# ---- instance (csrc/instance/, csrc/bindings/register_instance.cpp) ----
def instance_count_files(gt_paths: Sequence[str], masks: Sequence[Sequence[str]], workers: int = 0,
                         max_pixels: int = 134217728) -> List[Tuple[int, str, npt.NDArray[np.uint32],
                                                                    npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Per image (error kind 0 ok / 1 format / 2 not found / 3 size, message, distinct instanceIds
    values, their pixel counts, masks x values pixel counts); PNGs read in C++, parallel over images."""
    ...
def instance_count_memory(gt_pngs: Sequence[bytes], masks: Sequence[Sequence[bytes]], gt_names: Sequence[str],
                          mask_names: Sequence[Sequence[str]], workers: int = 0, max_pixels: int = 134217728
                          ) -> List[Tuple[int, str, npt.NDArray[np.uint32], npt.NDArray[np.int64],
                                          npt.NDArray[np.int64]]]:
    """instance_count_files for PNG bytes in memory; the names (URLs) are used in messages."""
    ...
