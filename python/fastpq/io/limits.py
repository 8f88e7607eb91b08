"""Limits that keep one evaluation's memory and time bounded, whatever a submission holds.

Each limit is an option of the function that reads the input it bounds; the defaults admit every
public dataset (COCO, Cityscapes, ADE20K, Mapillary Vistas) and refuse what no real submission needs.
"""

from __future__ import annotations

import math
import operator
import time
from typing import Any, Optional, Tuple

from .. import _core
from ..errors import (AnnotationError, AnnotationTypeError, InvalidOptionError, LimitExceededError,
                     TimeBudgetExceededError)

#: PNGs with more pixels are refused before any memory is taken for them (2^27: 11585 x 11585).
DEFAULT_MAX_PIXELS: int = _core.DEFAULT_MAX_PIXELS
#: Segments one image may list in ``segments_info`` (either side). A PNG holds at most 2^24 ids;
#: Mapillary Vistas, the most crowded public set, has well under a thousand per image.
DEFAULT_MAX_SEGMENTS_PER_IMAGE: int = 65_536
#: Proposals one image may have in an amodal proposals file. COCOA scores at most the 1000
#: best-scored proposals of an image; ten times that is refused as no sensible submission.
DEFAULT_MAX_PROPOSALS_PER_IMAGE: int = 10_000
#: Size of a JSON file, checked before it is read (COCO's panoptic_train2017.json is ~0.4 GiB).
DEFAULT_MAX_JSON_BYTES: int = 1 << 30


#: More threads than this is taken for a mistake (the core would try to start them all).
MAX_WORKERS = 4096
INFLATE_BACKENDS = ("", "libdeflate", "zlib")
#: The longest image side the core takes (its sizes are 32-bit), whatever max_pixels allows.
MAX_IMAGE_SIDE = 2**31 - 1


def check_positive(name: str, value: Any) -> None:
    """Refuses a limit that is not a positive 63-bit integer (``bool`` included)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise InvalidOptionError(f"{name} must be a positive integer below 2**63, not {value!r}")


def check_engine_options(workers: Any, max_pixels: Any, inflate: Any = "") -> None:
    """Refuses engine options the C++ core cannot take, before it is called."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 0 <= workers <= MAX_WORKERS:
        raise InvalidOptionError(f"workers must be an integer from 0 (all cores) to {MAX_WORKERS}, not {workers!r}")
    check_positive("max_pixels", max_pixels)
    if inflate not in INFLATE_BACKENDS:
        raise InvalidOptionError(f"inflate must be one of {INFLATE_BACKENDS}, not {inflate!r}")


class Deadline:
    """The end of a time budget, started when the evaluation starts; ``None`` means no budget."""

    def __init__(self, budget: Optional[float]) -> None:
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                                   or math.isnan(budget) or budget <= 0):
            raise InvalidOptionError(f"time_budget must be a positive number of seconds or None, not {budget!r}")
        self.budget = budget
        self.start = time.monotonic()

    @property
    def active(self) -> bool:
        return self.budget is not None

    def check(self, stage: str) -> None:
        """Raises :class:`TimeBudgetExceededError` once the budget is spent; `stage` says where."""
        if self.budget is None:
            return
        elapsed = time.monotonic() - self.start
        if elapsed > self.budget:
            raise TimeBudgetExceededError(
                f"the evaluation ran past its time budget of {self.budget:g} s ({elapsed:.2f} s, {stage})")


def check_count(count: int, limit: int, what: str, image_id: Any, option: str) -> None:
    """Raises :class:`LimitExceededError` naming the image when `count` exceeds `limit`."""
    if count > limit:
        raise LimitExceededError(f"In the image with ID {image_id} the {what} has {count} entries, more than "
                                 f"{option}={limit}", image_id=image_id)


def check_image_size(height: Any, width: Any, max_pixels: int, image_id: Any,
                     file: Optional[str] = None) -> Tuple[int, int]:
    """(height, width) of an image entry as ints, refused unless both are positive integers (numpy's
    included, ``bool`` not) and the image has at most `max_pixels` pixels, before any memory is
    taken for it. Errors name the image and `file`."""
    sides = []
    for name, value in (("height", height), ("width", width)):
        try:
            if isinstance(value, bool):
                raise TypeError
            side = operator.index(value)  # ints, numpy's included; not floats or strings
        except TypeError:
            raise AnnotationTypeError(f"image {image_id!r} has {name} {value!r}, which is not an integer",
                                      image_id=image_id, file=file) from None
        if not 1 <= side <= MAX_IMAGE_SIDE:
            raise AnnotationError(f"image {image_id!r} has {name} {side}, outside 1..{MAX_IMAGE_SIDE}",
                                  image_id=image_id, file=file)
        sides.append(side)
    h, w = sides
    if h * w > max_pixels:
        raise LimitExceededError(f"image {image_id!r} is {h}x{w}, more than max_pixels={max_pixels} pixels",
                                 image_id=image_id, file=file)
    return h, w
