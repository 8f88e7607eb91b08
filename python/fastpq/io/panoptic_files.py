"""File and table helpers shared by ``fastpq.combine`` and ``fastpq.convert``: category tables,
PNG reading and writing (Pillow for everything the project's panoptic PNG reader does not take),
id maps to RGB, and COCO RLE masks to the (h, w, counts) form the core takes."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from .dataset import leaves_its_folder, read_json
from ..errors import (AnnotationError, AnnotationKeyError, AnnotationTypeError, ConversionError, PngError,
                     PngNotFoundError)


def pillow() -> Any:
    """PIL.Image, or a clear error saying how to install it."""
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConversionError(f"reading and writing these PNGs needs Pillow ({e}): pip install 'fastpq[convert]'")
    return Image


@dataclass(frozen=True)
class Categories:
    """A COCO panoptic category list as the core takes it, plus lookups by category id."""

    items: List[Dict[str, Any]]
    ids: List[int]
    isthing: List[int]
    colors: List[Tuple[int, int, int]]
    index: Dict[int, int]

    def table(self) -> Tuple[List[int], List[int], List[Tuple[int, int, int]]]:
        return self.ids, self.isthing, self.colors

    def segment_ids(self, category_ids: Sequence[int]) -> List[int]:
        """Ids for one image's new segments of these categories, in order (see SegmentIdGenerator)."""
        return _core.assign_segment_ids([self.index[c] for c in category_ids], *self.table())


def load_categories(source: Any, *, need_colors: bool = True) -> Categories:
    """A category table from a list of categories, a dict holding "categories", or a JSON file of either.

    Ids must be distinct non-negative integers; each category needs ``isthing`` and (for choosing
    segment ids) ``color``; two stuff categories may not share a colour, as their segments would
    share an id.
    """
    if isinstance(source, Categories):
        return source
    where = source if isinstance(source, str) else None
    if isinstance(source, str):
        source = read_json(source, "categories")
    if isinstance(source, Mapping):
        if "categories" not in source:
            raise AnnotationKeyError("the categories JSON object has no 'categories' list", file=where)
        source = source["categories"]
    if not isinstance(source, list) or not all(isinstance(c, Mapping) for c in source):
        raise AnnotationTypeError("categories must be a list of objects", file=where)
    ids, isthing, colors, index = [], [], [], {}
    stuff_colors: Dict[Tuple[int, int, int], int] = {}
    for c in source:
        for key in ("id", "isthing") + (("color",) if need_colors else ()):
            if key not in c:
                raise AnnotationKeyError(f"category {c.get('id', '?')} has no '{key}'", file=where)
        cid = c["id"]
        if not isinstance(cid, int) or isinstance(cid, bool) or cid < 0 or cid >= 2**31:
            raise AnnotationTypeError(f"category id {cid!r} is not a non-negative integer", file=where)
        if cid in index:
            raise AnnotationError(f"category id {cid} appears twice", file=where)
        raw_color = c.get("color", (0, 0, 0))
        color = tuple(raw_color) if isinstance(raw_color, (list, tuple)) else ()
        if len(color) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255
                                      for v in color):
            raise AnnotationTypeError(f"category {cid} has colour {c.get('color')!r}, not three 0..255 integers",
                                      file=where)
        thing = 1 if c["isthing"] else 0
        if need_colors and not thing:
            if color in stuff_colors:
                raise AnnotationError(f"stuff categories {stuff_colors[color]} and {cid} share the colour {list(color)}, "
                                      "so their segments would share an id", file=where)
            stuff_colors[color] = cid
        index[cid] = len(ids)
        ids.append(cid)
        isthing.append(thing)
        colors.append(color)  # type: ignore[arg-type]
    return Categories(list(source), ids, isthing, colors, index)


def png_name(file_name: str) -> str:
    """The PNG file name of an image: its file name with the extension replaced by '.png'."""
    return os.path.splitext(file_name)[0] + ".png"


def output_png_name(file_name: Any, image_id: object, file: Optional[str] = None) -> str:
    """The PNG name an image's output is written under inside the output folder (:func:`png_name`).

    Refused, naming the image and `file`: a file_name that is not a non-empty string, and one that
    would put the PNG outside the output folder (absolute, a drive letter, a '..' component with
    either slash, a NUL byte), where panopticapi writes wherever the JSON says. Sub-folders are
    kept (and created when written)."""
    if not isinstance(file_name, str) or not file_name:
        raise AnnotationTypeError(f"image {image_id!r} has file_name {file_name!r}, not a non-empty string",
                                  image_id=image_id, file=file)
    if leaves_its_folder(file_name):
        raise ConversionError(f"image {image_id!r}: file_name {file_name!r} is not a relative path inside the output "
                              "folder (absolute paths, drive letters, '..' and NUL are refused)", image_id=image_id,
                              file=file)
    return png_name(file_name)


def ids_to_rgb(ids: np.ndarray) -> np.ndarray:
    """An (h, w, 3) uint8 panoptic colour image of an id map: R + 256 G + 65536 B = id."""
    ids = np.ascontiguousarray(ids, dtype="<u4")
    return ids.view(np.uint8).reshape(ids.shape + (4,))[..., :3]


def write_png(path: str, pixels: np.ndarray) -> None:
    """Writes an (h, w, 3) uint8, (h, w) uint8 or (h, w) uint16 array as a PNG."""
    Image = pillow()
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)  # a file_name with a sub-folder
    if pixels.dtype == np.uint16:
        image = Image.fromarray(np.ascontiguousarray(pixels, dtype="<u2"), mode="I;16")
    else:
        image = Image.fromarray(np.ascontiguousarray(pixels))
    image.save(path)


def read_id_png(path: str, image_id: object) -> np.ndarray:
    """A panoptic PNG's id map (the project's own reader), errors naming the image and file."""
    try:
        return _core.read_png_ids(path)
    except _core.FormatError as e:
        cls = PngError if os.path.exists(path) else PngNotFoundError
        raise cls(f"image {image_id!r}: {e}", image_id=image_id, file=path) from None


def read_label_png(path: str, image_id: object, what: str) -> np.ndarray:
    """A single-channel PNG (grey, palette indices, 16 or 32 bit) as a 2-D uint8/uint16/int32 array."""
    Image = pillow()
    if not os.path.exists(path):
        raise PngNotFoundError(f"image {image_id!r}: {what} PNG '{path}' does not exist", image_id=image_id, file=path)
    try:
        with Image.open(path) as image:
            mode = image.mode
            if mode in ("L", "P"):
                return np.asarray(image, dtype=np.uint8)
            if mode.startswith("I;16"):
                return np.asarray(image).astype(np.uint16)
            if mode == "I":
                return np.asarray(image, dtype=np.int32)
    except OSError as e:
        raise PngError(f"image {image_id!r}: cannot read {what} PNG '{path}': {e}", image_id=image_id,
                       file=path) from None
    raise PngError(f"image {image_id!r}: {what} PNG '{path}' has mode {mode}; a single-channel (grey, palette or "
                   "16-bit) PNG of category ids is needed", image_id=image_id, file=path)


def read_rgb_png(path: str, image_id: object, what: str) -> np.ndarray:
    """An 8-bit RGB(A) PNG as an (h, w, 3) uint8 array."""
    Image = pillow()
    if not os.path.exists(path):
        raise PngNotFoundError(f"image {image_id!r}: {what} PNG '{path}' does not exist", image_id=image_id, file=path)
    try:
        with Image.open(path) as image:
            if image.mode not in ("RGB", "RGBA"):
                raise PngError(f"image {image_id!r}: {what} PNG '{path}' has mode {image.mode}, not RGB",
                               image_id=image_id, file=path)
            return np.asarray(image)[..., :3]
    except OSError as e:
        raise PngError(f"image {image_id!r}: cannot read {what} PNG '{path}': {e}", image_id=image_id,
                       file=path) from None


#: RLE sizes and run lengths the core takes (32-bit).
MAX_RLE_VALUE = 2**32 - 1


def sized_rle(segmentation: Any, height: int, width: int, where: str, *, image_id: object = None,
              file: Optional[str] = None) -> Tuple[int, int, Any]:
    """(h, w, counts) of a COCO segmentation: an RLE {"size", "counts"} or polygons (rasterised).

    The RLE's size must be two non-negative integers and its counts a compressed string or a list
    of non-negative integers, each below 2**32, adding up to height x width; errors start with
    `where` and carry `image_id` and `file`. Whether the size matches the image is left to the caller."""
    if isinstance(segmentation, Mapping):
        if "size" not in segmentation or "counts" not in segmentation:
            raise AnnotationKeyError(f"{where}: an RLE segmentation needs 'size' and 'counts'", image_id=image_id,
                                     file=file)
        size = segmentation["size"]
        if not (isinstance(size, (list, tuple)) and len(size) == 2
                and all(_is_count(v) for v in size)):
            raise AnnotationTypeError(f"{where}: RLE size {size!r} is not [height, width] of non-negative integers",
                                      image_id=image_id, file=file)
        h, w = int(size[0]), int(size[1])
        counts = _rle_counts(segmentation["counts"], where, image_id, file)
        if isinstance(counts, list) and sum(counts) != h * w:
            raise AnnotationError(f"{where}: RLE counts add up to {sum(counts)} pixels, but a {h}x{w} mask has "
                                  f"{h * w}", image_id=image_id, file=file)
        return h, w, counts
    if isinstance(segmentation, list):
        try:
            return height, width, _core.rle_from_polygons(segmentation, height, width)
        except (_core.MaskError, TypeError) as e:
            raise AnnotationError(f"{where}: bad polygon segmentation: {e}", image_id=image_id, file=file) from None
    raise AnnotationTypeError(f"{where}: segmentation is neither an RLE object nor a list of polygons",
                              image_id=image_id, file=file)


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value <= MAX_RLE_VALUE


def _rle_counts(counts: Any, where: str, image_id: object, file: Optional[str]) -> Any:
    """An RLE's counts as the core takes them: the compressed string, or the run lengths as a list of ints."""
    if isinstance(counts, (str, bytes)):
        return counts
    if isinstance(counts, (list, tuple, np.ndarray)):
        runs = np.asarray(counts)
        if runs.ndim == 1 and (runs.size == 0 or (runs.dtype.kind in "iu" and runs.min() >= 0
                                                  and runs.max() <= MAX_RLE_VALUE)):
            return runs.astype(np.int64).tolist()
    raise AnnotationTypeError(f"{where}: RLE counts must be a compressed string or a list of non-negative integers "
                              f"below 2**32, not {_preview(counts)}", image_id=image_id, file=file)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def hashable_id(value: Any, what: str, file: Optional[str] = None) -> Any:
    """`value` (an image id), refused with an error naming `what` when it cannot key a dict (a list, an object)."""
    try:
        hash(value)
    except TypeError:
        raise AnnotationTypeError(f"{what} has id {_preview(value)}, which is not a number or string",
                                  file=file) from None
    return value


def run_parallel(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> List[Any]:
    """fn over items on threads (Pillow and the core release the GIL), results in input order."""
    items = list(items)
    n = workers if workers > 0 else (os.cpu_count() or 1)
    if n <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(n, len(items))) as pool:
        return list(pool.map(fn, items))


def write_json(path: str, data: Any) -> None:
    """Writes a JSON file (compact, as panopticapi's save_json)."""
    with open(path, "w") as f:
        json.dump(data, f)


def ensure_folder(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)


def images_of(data: Any, where: Optional[str]) -> List[Dict[str, Any]]:
    """The "images" list of a COCO JSON object, each with id, file_name, height and width."""
    if not isinstance(data, Mapping) or not isinstance(data.get("images"), list):
        raise AnnotationKeyError("the JSON has no 'images' list", file=where)
    for img in data["images"]:
        for key in ("id", "file_name", "height", "width"):
            if not isinstance(img, Mapping) or key not in img:
                raise AnnotationKeyError(f"an image entry has no '{key}'", file=where)
    return data["images"]
