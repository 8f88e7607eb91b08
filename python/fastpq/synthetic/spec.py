"""The dataset kinds the synthetic generators know, and the PNG id encoding they write.

A :class:`DatasetSpec` fixes an image size, category sets and the rates of every perturbation;
``COCO_LIKE`` and ``CITYSCAPES_LIKE`` are the two shapes the tests and benchmarks use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np
from PIL import Image

VOID = 0
#: Segment ids are drawn from ``[1, MAX_SEGMENT_ID)``: they must fit in 24-bit RGB.
MAX_SEGMENT_ID = 1 << 24

Segment = Dict[str, Any]
Polygon = List[float]
IntRange = Tuple[int, int]
FloatRange = Tuple[float, float]

# Category ids of COCO panoptic (80 things, 53 stuff) and Cityscapes (8 things, 11 stuff).
COCO_THING_IDS: Tuple[int, ...] = (
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66),
    67, 70, *range(72, 83), *range(84, 91),
)
COCO_STUFF_IDS: Tuple[int, ...] = (
    92, 93, 95, 100, 107, 109, 112, 118, 119, 122, 125, 128, 130, 133, 138, 141,
    144, 145, 147, 148, 149, 151, 154, 155, 156, 159, 161, 166, 168, 171, 175,
    176, 177, 178, 180, 181, *range(184, 201),
)
CITYSCAPES_THING_IDS: Tuple[int, ...] = (24, 25, 26, 27, 28, 31, 32, 33)
CITYSCAPES_STUFF_IDS: Tuple[int, ...] = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23)

_CITYSCAPES_CITIES = ("frankfurt", "lindau", "munster")


@dataclass(frozen=True)
class DatasetSpec:
    """Shape and statistics of a synthetic panoptic dataset.

    Ranges are inclusive ``(low, high)`` pairs; probabilities are per image
    unless said otherwise. Radii are fractions of ``min(height, width)``.
    When ``thing_ids``/``stuff_ids`` are left empty, non-contiguous ids are
    made up, things first.
    """

    name: str
    height: int
    width: int
    n_categories: int
    n_things: int
    thing_ids: Tuple[int, ...] = ()
    stuff_ids: Tuple[int, ...] = ()
    #: Cityscapes-style string image ids and file names instead of COCO integers.
    string_image_ids: bool = False

    # Ground-truth scene content.
    stuff_bands: IntRange = (2, 5)
    stuff_blobs: IntRange = (0, 3)
    things_per_image: IntRange = (3, 15)
    #: How many distinct thing categories an image draws its things from.
    thing_categories_per_image: IntRange = (1, 5)
    thing_radius: FloatRange = (0.03, 0.2)
    #: Per thing: probability that it is a (larger) crowd region.
    crowd_prob: float = 0.08
    #: Per crowd region: probability of a second crowd region of its category.
    second_crowd_prob: float = 0.3
    #: Per segment: probability that void pixels line its boundary.
    void_boundary_prob: float = 0.25
    void_boundary_width: IntRange = (1, 3)
    void_blobs: IntRange = (0, 2)
    #: Edge case: a segment listed in the GT JSON with no pixel in the PNG.
    empty_gt_segment_prob: float = 0.05
    #: Edge case: GT PNG pixels whose id the JSON does not list.
    unlisted_gt_id_prob: float = 0.05

    # Prediction perturbations (per GT segment unless said otherwise).
    pred_shift_prob: float = 0.5
    pred_max_shift: int = 4
    pred_miss_prob: float = 0.1
    pred_split_prob: float = 0.08
    pred_crowd_split_prob: float = 0.5
    #: Per thing category with several instances: probability two get merged.
    pred_merge_prob: float = 0.3
    #: Per predicted segment: probability of a wrong category.
    pred_wrong_class_prob: float = 0.08
    #: Per boundary pixel and pass: probability it takes its neighbour's label.
    pred_ragged_prob: float = 0.3
    pred_ragged_passes: int = 2
    pred_extra_segments: IntRange = (0, 3)
    pred_void_blobs: IntRange = (0, 2)
    pred_void_boundary_prob: float = 0.05
    #: Write prediction annotations in a shuffled order (matching is by image id).
    shuffle_pred_annotations: bool = True

    def __post_init__(self) -> None:
        n_stuff = self.n_categories - self.n_things
        if self.height < 16 or self.width < 16:
            raise ValueError("images must be at least 16x16")
        if self.n_things < 1 or n_stuff < 1:
            raise ValueError("need at least one thing and one stuff category")
        if not self.thing_ids and not self.stuff_ids:
            things, stuff = _default_category_ids(self.n_things, n_stuff)
            object.__setattr__(self, "thing_ids", things)
            object.__setattr__(self, "stuff_ids", stuff)
        if len(self.thing_ids) != self.n_things or len(self.stuff_ids) != n_stuff:
            raise ValueError("thing_ids/stuff_ids do not match n_things/n_categories")
        all_ids = self.thing_ids + self.stuff_ids
        if len(set(all_ids)) != len(all_ids) or min(all_ids) < 1:
            raise ValueError("category ids must be unique positive integers")

    @property
    def category_ids(self) -> Tuple[int, ...]:
        """All category ids, sorted."""
        return tuple(sorted(self.thing_ids + self.stuff_ids))

    def categories(self) -> List[Dict[str, Any]]:
        """The COCO ``categories`` list, sorted by id."""
        things = set(self.thing_ids)
        result = []
        for cat in self.category_ids:
            kind = "thing" if cat in things else "stuff"
            result.append({
                "id": cat,
                "name": f"{kind}_{cat}",
                "supercategory": kind,
                "isthing": int(cat in things),
                "color": [(cat * 67) % 256, (cat * 131) % 256, (cat * 197) % 256],
            })
        return result


def _default_category_ids(n_things: int, n_stuff: int) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Non-contiguous made-up ids: things skip multiples of 5, stuff ids are odd and above them."""
    things = tuple(i for i in range(1, 5 * n_things) if i % 5 != 0)[:n_things]
    first_stuff = 10 * (things[-1] // 10 + 1) + 1
    stuff = tuple(range(first_stuff, first_stuff + 2 * n_stuff, 2))
    return things, stuff


COCO_LIKE = DatasetSpec(
    "coco", 480, 640, 133, 80,
    thing_ids=COCO_THING_IDS,
    stuff_ids=COCO_STUFF_IDS,
    stuff_bands=(2, 4),
    things_per_image=(1, 12),
    thing_radius=(0.03, 0.25),
    void_boundary_prob=0.3,
    pred_max_shift=3,
)

CITYSCAPES_LIKE = DatasetSpec(
    "cityscapes", 1024, 2048, 19, 8,
    thing_ids=CITYSCAPES_THING_IDS,
    stuff_ids=CITYSCAPES_STUFF_IDS,
    string_image_ids=True,
    stuff_bands=(3, 6),
    stuff_blobs=(1, 4),
    things_per_image=(4, 30),
    thing_categories_per_image=(2, 5),
    thing_radius=(0.015, 0.12),
    crowd_prob=0.1,
    void_boundary_prob=0.2,
    pred_max_shift=6,
)


@dataclass(frozen=True)
class DatasetPaths:
    """Where :func:`generate_dataset` wrote a dataset."""

    gt_json: Path
    gt_folder: Path
    pred_json: Path
    pred_folder: Path


@dataclass
class GeneratedImage:
    """One image's ground truth and prediction, before anything is written."""

    image: Dict[str, Any]
    png_name: str
    gt_id_map: np.ndarray
    gt_segments: List[Segment]
    pred_id_map: np.ndarray
    pred_segments: List[Segment]


# ---------------------------------------------------------------------------
# PNG encoding


def id_to_rgb(id_map: np.ndarray) -> np.ndarray:
    """Encode an HxW map of segment ids as an HxWx3 uint8 RGB array."""
    ids = np.asarray(id_map, dtype="<u4")
    return np.ascontiguousarray(ids[..., None].view(np.uint8)[..., :3])


def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """Decode an HxWx3 RGB array into an HxW uint32 map of segment ids."""
    rgb = np.asarray(rgb, dtype=np.uint32)
    return rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)


def write_png(path: Union[str, Path], id_map: np.ndarray) -> None:
    """Save an id map as an RGB PNG with Pillow's default settings."""
    Image.fromarray(id_to_rgb(id_map)).save(path)


def read_png(path: Union[str, Path]) -> np.ndarray:
    """Load an RGB panoptic PNG as an HxW uint32 map of segment ids."""
    with Image.open(path) as image:
        return rgb_to_id(np.asarray(image.convert("RGB")))

