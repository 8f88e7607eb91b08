"""Reading JSON files (local paths or fsspec URLs) with one clear error, and the PNG folder rules
panopticapi applies to them (the default folder, a missing folder)."""

from __future__ import annotations

import contextlib
import gc
import json
import os
from typing import Any, Dict, Iterator, Optional

from .. import _core
from ..errors import AnnotationError, AnnotationTypeError, JsonSyntaxError, LimitExceededError, MissingFolderError
from .remote import StorageOptions, is_url, local_path

try:  # an optional, faster parser; the values it returns are the same
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

#: JSON that nests arrays / objects deeper than this is refused before it is parsed: COCO files
#: nest five deep, and text like a million '[' exhausts the C stack of recursive parsers (orjson
#: crashes on it). panopticapi's ``json`` gives up near 1000 levels.
MAX_JSON_DEPTH = 512


def read_json(path: str, what: str, max_bytes: Optional[int] = None,
              storage_options: StorageOptions = None) -> Any:
    """Parses a JSON file (a path, or an fsspec URL read with `storage_options`) of any value,
    turning I/O and syntax errors into one clear error.

    A file larger than `max_bytes` is refused before it is read (and reading stops there, should
    the file grow meanwhile; for a URL, where the storage states the object's size)."""
    path = local_path(path)
    return decode_json(read_json_bytes(path, what, max_bytes, storage_options), path, what)


def read_json_bytes(path: str, what: str, max_bytes: Optional[int] = None,
                    storage_options: StorageOptions = None) -> bytes:
    """The bytes of a JSON file (path or URL), with read_json's checks and I/O errors."""
    path = local_path(path)
    try:
        if is_url(path):
            from .remote import read_bytes

            return read_bytes(path, storage_options, what=f"{what} JSON file", max_bytes=max_bytes)
        return _read_local(path, what, max_bytes)
    except OSError as e:
        if isinstance(e, (LimitExceededError, AnnotationError)) or hasattr(e, "image_id"):
            raise  # a RemoteStorageError names the URL already
        raise AnnotationError(f"cannot read {what} JSON file '{path}': {e.strerror or e}", file=path) from None


def decode_json(raw: bytes, path: str, what: str) -> Any:
    """The value of the JSON text `raw` read from `path`, with read_json's syntax errors."""
    try:
        return parse_json(raw)
    except json.JSONDecodeError as e:  # orjson's too
        where = dict(pos=e.pos, lineno=e.lineno, colno=e.colno)
        raise JsonSyntaxError(f"{what} JSON file '{path}' is not valid JSON: {e}", file=path, **where) from None
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        if isinstance(e, LimitExceededError):
            raise
        raise AnnotationError(f"{what} JSON file '{path}' is not valid JSON: {e}", file=path) from None


def _read_local(path: str, what: str, max_bytes: Optional[int]) -> bytes:
    with open(path, "rb") as f:
        if max_bytes is None:
            return f.read()
        size = os.fstat(f.fileno()).st_size
        raw = f.read(max_bytes + 1) if size <= max_bytes else b""
        if size > max_bytes or len(raw) > max_bytes:
            raise LimitExceededError(f"{what} JSON file '{path}' has {max(size, len(raw))} bytes, more "
                                     f"than max_json_bytes={max_bytes}", file=path)
        return raw


def load_json(path: str, what: str, max_bytes: Optional[int] = None,
              storage_options: StorageOptions = None) -> Dict[str, Any]:
    """Parses a JSON file (path or URL) that must hold an object."""
    return object_of_json(read_json_bytes(path, what, max_bytes, storage_options), path, what)


def object_of_json(raw: bytes, path: str, what: str) -> Dict[str, Any]:
    """The object the JSON text `raw` of file `path` must hold, with load_json's errors."""
    data = decode_json(raw, local_path(path), what)
    if not isinstance(data, dict):
        raise AnnotationTypeError(f"{what} JSON file '{path}' does not hold an object", file=path)
    return data


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Holds off Python's cyclic garbage collector while many acyclic objects are made (a parsed
    COCO file holds hundreds of thousands of dicts): each collection would walk all of them, which
    doubles the time of a parse. The collector is re-enabled, if it was enabled, on the way out."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_json(raw: bytes) -> Any:
    """The value of JSON text, refused (ValueError) when it nests deeper than MAX_JSON_DEPTH."""
    if raw[:3] == b"\xef\xbb\xbf":  # json.load of text (panopticapi's reader) refuses it; orjson skips it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (JSON text must not start with a byte order mark)",
                                   raw[:3].decode("utf-8"), 0)
    depth, longest_digits = _core.json_scan(raw, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels")
    with gc_paused():
        # orjson reads an integer beyond 64 bits as a float (some versions) or refuses it (others);
        # json keeps it an int, as panopticapi's json.load does. 19 digits may pass 2**63.
        if _orjson is not None and longest_digits < 19:
            try:
                return _orjson.loads(raw)
            except _orjson.JSONDecodeError:
                pass  # let json decide, and say why
        return json.loads(raw)


def default_folder(json_file: str) -> str:
    """panopticapi's default PNG folder: the JSON path with '.json' removed (everywhere)."""
    return json_file.replace(".json", "")


def require_folder(folder: str, what: str, storage_options: StorageOptions = None) -> None:
    """Raises panopticapi's message when a PNG folder (a path or a URL) is missing."""
    folder = local_path(folder)
    if is_url(folder):
        from .remote import isdir

        exists = isdir(folder, storage_options)
    else:
        exists = os.path.isdir(folder)
    if not exists:
        raise MissingFolderError(f"Folder {folder} with {what} segmentations doesn't exist", file=folder)
