"""Exceptions raised by fastpq.

Every error fastpq raises for bad input is a :class:`FastPQError`. Where panopticapi raises a
built-in exception for the same input, fastpq's class also derives from that built-in
(``KeyError``, ``TypeError``, ``FileNotFoundError``, ``ZeroDivisionError``,
``json.JSONDecodeError``), so code that catches
panopticapi's errors keeps working.
"""

from __future__ import annotations

import json
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


class JsonSyntaxError(AnnotationError, json.JSONDecodeError):
    """A JSON file that is not valid JSON (panopticapi's ``json.load`` raises ``json.JSONDecodeError``).

    ``pos``, ``lineno`` and ``colno`` say where, as the parser found it; ``doc`` is left empty
    rather than hold a whole file."""

    def __init__(self, message: str, *, image_id: object = None, file: Optional[str] = None,
                 segment_id: Optional[int] = None, pos: int = 0, lineno: int = 1, colno: int = 1) -> None:
        ValueError.__init__(self, message)  # json.JSONDecodeError's own __init__ formats another message
        self.image_id, self.file, self.segment_id = image_id, file, segment_id
        self.msg, self.doc, self.pos, self.lineno, self.colno = message, "", pos, lineno, colno


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


class StrictModeError(AnnotationError):
    """An input panopticapi accepts silently (and fastpq too by default) but ``strict=True`` refuses,
    e.g. two predictions for one image or a prediction for an image the ground truth lacks."""


class LimitExceededError(FastPQError, ValueError):
    """An input larger than a configured limit (``max_json_bytes``, ``max_segments_per_image``, ...)."""


class TimeBudgetExceededError(FastPQError, TimeoutError):
    """The evaluation ran past its ``time_budget``; nothing partial is returned."""


class ImageSetMismatchError(FastPQError, ValueError):
    """Two evaluations that must cover the same images (a paired comparison, both directions of an
    annotator consistency study) do not."""


class ConversionError(FastPQError, ValueError):
    """An input that cannot be combined into, or converted to or from, a COCO panoptic prediction."""


class SubmissionError(FastPQError, ValueError):
    """A submission archive that cannot be scored: see the subclasses (``fastpq.server``)."""


class ArchiveFormatError(SubmissionError):
    """The submission is not a readable zip archive (not a zip, truncated, corrupt, unsupported compression)."""


class UnsafeSubmissionError(SubmissionError):
    """A submission that would reach outside itself or hide its content: a member path with '..', an
    absolute path or a drive letter, a symlink or other special file, an encrypted or duplicate member,
    or a prediction ``file_name`` that leaves the PNG folder."""


class ArchiveLimitError(SubmissionError):
    """A submission archive beyond a bound of :class:`fastpq.server.SubmissionLimits`: too many members,
    a member or a total too large, a compression ratio of a zip bomb, a size header that lies."""


class SubmissionLayoutError(SubmissionError):
    """A submission archive without exactly one prediction JSON and one PNG folder at its top level."""


class InvalidOptionError(FastPQError, ValueError):
    """An evaluation option out of its range (such as a negative boundary dilation ratio)."""


class ResourceLimitError(FastPQError):
    """A submission's scoring process overran a cap (memory, CPU or wall time, files) or died;
    ``limit`` names which: "memory_bytes", "cpu_seconds", "wall_seconds", "file_bytes", "signal"."""

    def __init__(self, message: str, *, limit: str = "", **where: object) -> None:
        super().__init__(message, **where)  # type: ignore[arg-type]
        self.limit = limit


class LabelError(FastPQError, ValueError):
    """A label map holds a value that is neither an evaluated class nor ignored (semantic scores)."""


class InstancePredictionError(FastPQError, ValueError):
    """A Cityscapes instance prediction that cannot be scored: a malformed results line, an unknown
    label id, a NaN score, a mask outside the results folder or of the wrong size (the message names
    the image and the file)."""


class RemoteStorageError(FastPQError, OSError):
    """An object in remote storage (an fsspec URL: ``s3://``, ``gs://``, ``zip://``, ...) that cannot
    be read; the message and ``file`` name its URL (and ``image_id`` the image, where known)."""


class RemoteNotFoundError(RemoteStorageError, FileNotFoundError):
    """No object (or folder) at a URL, or no such bucket."""


class RemoteAccessError(RemoteStorageError, PermissionError):
    """The storage refused access to a URL (credentials, a bucket policy)."""


class RemoteReadError(RemoteStorageError):
    """An object that could not be read in full: the connection failed, or fewer bytes arrived than
    the storage said the object holds (a truncated object)."""
