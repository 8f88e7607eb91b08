"""Exceptions raised by fastpq.

Every error fastpq raises for bad input is a :class:`FastPQError`. Where panopticapi raises a
built-in exception for the same input, fastpq's class also derives from that built-in
(``KeyError``, ``TypeError``, ``FileNotFoundError``, ``ZeroDivisionError``), so code that catches
panopticapi's errors keeps working.
"""

from __future__ import annotations

from typing import Optional


class FastPQError(Exception):
    """Base class: an input that cannot be scored, with where it was found."""

    def __init__(self, message: str, *, image_id: object = None, file: Optional[str] = None,
                 segment_id: Optional[int] = None) -> None:
        super().__init__(message)
        self.image_id = image_id
        self.file = file
        self.segment_id = segment_id

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Rebuilt from the message and the fields, so that errors cross process boundaries
        # (Dask, multiprocessing) whatever pickling support the other side installed.
        return (type(self), self.args, self.__dict__)


class AnnotationError(FastPQError, ValueError):
    """A JSON file whose structure or values cannot be evaluated."""


class AnnotationKeyError(AnnotationError, KeyError):
    """A JSON object lacks a field that the evaluation needs (panopticapi: KeyError)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AnnotationTypeError(AnnotationError, TypeError):
    """A JSON value has the wrong type, e.g. a list where an object belongs (panopticapi: TypeError)."""


class MissingPredictionError(FastPQError):
    """A ground-truth image has no prediction (panopticapi raises a plain Exception)."""


class MissingFolderError(FastPQError, FileNotFoundError):
    """A PNG folder does not exist."""


class PngError(FastPQError, ValueError):
    """A PNG file that cannot be read, or is not an 8-bit RGB/RGBA panoptic map."""


class PngNotFoundError(PngError, FileNotFoundError):
    """A PNG file named by the JSON does not exist."""


class ImageSizeMismatchError(FastPQError, ValueError):
    """Ground truth and prediction PNGs of one image have different sizes."""


class SegmentMismatchError(FastPQError, KeyError):
    """A prediction JSON and its PNG disagree; the message is panopticapi's KeyError text."""

    def __str__(self) -> str:  # KeyError quotes its message; keep panopticapi's look.
        return KeyError.__str__(self)


class EmptyCategoryGroupError(FastPQError, ZeroDivisionError):
    """No category of a group (All / Things / Stuff) has any segment, so its PQ is undefined."""


class InvalidOptionError(FastPQError, ValueError):
    """An evaluation option out of its range (such as a negative boundary dilation ratio)."""
