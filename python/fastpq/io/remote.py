"""Inputs in object storage or archives: fsspec URLs (``s3://``, ``gs://``, ``http(s)://``,
``zip://member::archive.zip``, ``memory://``, ...) read as bytes, for every metric family.

What a URL is: a string with a protocol (``proto://``) or a chain (``a::b``); ``file://`` and plain
paths are local and keep the local fast path (the C++ core reads the files itself). fsspec and the
protocol's package (``s3fs``, ``gcsfs``, ...) are imported only when a URL is read; they are the
``fastpq[cloud]`` extra.

Reading: a JSON's size is asked for first and a JSON over ``max_json_bytes`` is refused before it
is fetched; at most ``max_bytes + 1`` bytes are read either way. PNGs are fetched whole, on a
bounded thread pool (:func:`fetch_all`), and handed to the C++ reader as bytes, which applies
``max_pixels`` before it takes memory for pixels, as it does for files. An object that cannot be
read raises a :class:`fastpq.errors.RemoteStorageError` subclass naming its URL (and image):
:class:`~fastpq.errors.RemoteNotFoundError` (no object, no bucket),
:class:`~fastpq.errors.RemoteAccessError` (refused) or :class:`~fastpq.errors.RemoteReadError`
(fewer bytes than the object's size, a failed connection).
"""

from __future__ import annotations

import posixpath
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import (FastPQError, LimitExceededError, RemoteAccessError, RemoteNotFoundError, RemoteReadError,
                      RemoteStorageError)

StorageOptions = Optional[Mapping[str, Any]]

#: Objects fetched at once by :func:`fetch_all` (object stores answer many small GETs in parallel).
DEFAULT_FETCH_THREADS: int = 16

_PROTOCOL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(path: Any) -> bool:
    """Whether `path` is an fsspec URL read through fsspec (not a local path, not ``file://``)."""
    if not isinstance(path, str):
        return False
    if "::" in path:
        return True
    return bool(_PROTOCOL.match(path)) and not path.startswith("file://")


def local_path(path: Any) -> Any:
    """A ``file://`` URL as the local path it names; anything else unchanged."""
    if isinstance(path, str) and path.startswith("file://"):
        return path[len("file://"):]
    return path


def _split(url: str) -> Tuple[str, str]:
    """(first link of a chained URL, the rest with its leading '::', or '')."""
    head, sep, rest = url.partition("::")
    return head, sep + rest


def join(folder: str, name: str) -> str:
    """``folder/name`` for a URL folder; in a chained URL the name joins the first link."""
    head, rest = _split(folder)
    match = _PROTOCOL.match(head)
    prefix = match.group(0) if match else ""
    path = head[len(prefix):].rstrip("/")
    return prefix + (path + "/" if path else "") + name.lstrip("/") + rest


def name_of(url: str) -> str:
    """The last path component of a URL (a chained URL's first link)."""
    return posixpath.basename(_split(url)[0].rstrip("/"))


def parent(url: str) -> str:
    """The folder of a URL (a chained URL's first link), as a URL."""
    head, rest = _split(url)
    return posixpath.dirname(head.rstrip("/")) + rest


def normalize(url: str) -> str:
    """A URL with '.' and '..' components of its path resolved (for checks that a file stays in its folder)."""
    head, rest = _split(url)
    match = _PROTOCOL.match(head)
    prefix = match.group(0) if match else ""
    path = head[len(prefix):]
    normal = posixpath.normpath(path) if path else path
    return prefix + (normal if normal != "." else "") + rest


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise FastPQError(f"reading URLs needs fsspec ({e}): pip install 'fastpq[cloud]'") from None
    return fsspec


def filesystem(url: str, storage_options: StorageOptions = None) -> Tuple[Any, str]:
    """(fsspec filesystem, path inside it) of a URL; the protocol's package missing is a clear error."""
    fsspec = _fsspec()
    try:
        return fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as e:
        raise FastPQError(f"reading '{url}' needs a package fsspec names: {e} (pip install 'fastpq[cloud]')",
                          file=url) from None
    except (ValueError, TypeError) as e:
        raise RemoteStorageError(f"cannot open '{url}': {e}", file=url) from None
    except Exception as e:  # an archive that cannot be opened, a bucket that does not exist, ...
        raise translate(e, url, "open") from None


def translate(error: BaseException, url: str, what: str, image_id: object = None) -> RemoteStorageError:
    """The RemoteStorageError subclass for an fsspec / protocol error while reading `url`."""
    if isinstance(error, RemoteStorageError):
        return error
    prefix = f"In the image with ID {image_id}: " if image_id is not None else ""
    detail = str(error) or type(error).__name__
    text = f"{detail} {type(error).__name__}".lower()
    if isinstance(error, FileNotFoundError) or "nosuchkey" in text or "nosuchbucket" in text or "404" in text:
        return RemoteNotFoundError(f"{prefix}{what} '{url}' does not exist ({detail})", image_id=image_id, file=url)
    if isinstance(error, PermissionError) or "accessdenied" in text or "forbidden" in text or "403" in text:
        return RemoteAccessError(f"{prefix}access to {what} '{url}' was denied ({detail})", image_id=image_id,
                                 file=url)
    return RemoteReadError(f"{prefix}cannot read {what} '{url}': {detail}", image_id=image_id, file=url)


def object_size(fs: Any, path: str) -> Optional[int]:
    """The size of an object as the storage states it, or None where it does not say."""
    info = fs.info(path)
    size = info.get("size")
    if info.get("type") == "directory":
        raise IsADirectoryError(f"'{path}' is a folder")
    return int(size) if isinstance(size, int) else None


def read_bytes(url: str, storage_options: StorageOptions = None, *, what: str = "object",
               max_bytes: Optional[int] = None, limit_name: str = "max_json_bytes",
               image_id: object = None) -> bytes:
    """The bytes of the object at `url` (one GET). With `max_bytes`, the object's size is asked for
    first and a larger object is refused before it is fetched; no more than ``max_bytes + 1`` bytes
    are read, and fewer bytes than the stated size is a truncated object (:class:`RemoteReadError`)."""
    fs, path = filesystem(url, storage_options)
    size = None
    try:
        if max_bytes is None:
            data = fs.cat_file(path)
        else:
            size = object_size(fs, path)
            if size is not None and size > max_bytes:
                raise LimitExceededError(f"{what} '{url}' has {size} bytes, more than {limit_name}={max_bytes}",
                                         image_id=image_id, file=url)
            with fs.open(path, "rb") as f:
                data = f.read(max_bytes + 1)
    except FastPQError:
        raise
    except Exception as e:
        raise translate(e, url, what, image_id) from None
    if max_bytes is not None and len(data) > max_bytes:
        raise LimitExceededError(f"{what} '{url}' has more than {limit_name}={max_bytes} bytes", image_id=image_id,
                                 file=url)
    if size is not None and len(data) != size:
        prefix = f"In the image with ID {image_id}: " if image_id is not None else ""
        raise RemoteReadError(f"{prefix}{what} '{url}' is truncated: {len(data)} of its {size} bytes arrived",
                              image_id=image_id, file=url)
    return bytes(data)


def isdir(url: str, storage_options: StorageOptions = None) -> bool:
    """Whether `url` names a folder (a prefix holding objects, or a folder of an archive)."""
    fs, path = filesystem(url, storage_options)
    try:
        return bool(fs.isdir(path))
    except (FileNotFoundError, PermissionError):
        return False
    except Exception as e:
        raise translate(e, url, "folder") from None


def list_files(folder: str, storage_options: StorageOptions = None, suffix: str = "") -> List[str]:
    """Every object below `folder` whose name ends with `suffix`, as sorted posix paths relative to it."""
    fs, path = filesystem(folder, storage_options)
    try:
        found = fs.find(path)
    except Exception as e:
        raise translate(e, folder, "folder") from None
    root = path.rstrip("/")
    out = []
    for item in found:
        rel = item[len(root):].lstrip("/") if item.startswith(root) else item
        if rel and rel.endswith(suffix):
            out.append(rel)
    return sorted(out)


#: What :func:`fetch_all` gives for an object: its bytes, or the error reading it raised.
Fetched = Union[bytes, FastPQError]


def fetch_all(urls: Sequence[str], storage_options: StorageOptions = None, *, what: str = "PNG",
              image_ids: Optional[Sequence[object]] = None, threads: int = DEFAULT_FETCH_THREADS) -> List[Fetched]:
    """The bytes of every URL, in order, fetched on at most `threads` threads; an object that cannot
    be read gives its :class:`FastPQError` in its place (the caller raises the first in its order)."""
    ids = list(image_ids) if image_ids is not None else [None] * len(urls)

    def one(item: Tuple[str, object]) -> Fetched:
        url, image_id = item
        try:
            return read_bytes(url, storage_options, what=what, image_id=image_id)
        except FastPQError as e:
            return e

    items = list(zip(urls, ids))
    if len(items) <= 1 or threads <= 1:
        return [one(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(one, items))


def first_failure(fetched: Sequence[Fetched]) -> Tuple[int, Optional[FastPQError]]:
    """(index, error) of the first object that could not be read, or (len, None)."""
    for i, item in enumerate(fetched):
        if isinstance(item, FastPQError):
            return i, item
    return len(fetched), None


def storage_key(storage_options: StorageOptions) -> Dict[str, Any]:
    """Storage options as a plain dict (what is shipped to Dask tasks)."""
    return dict(storage_options or {})


def fetch_pairs(gt_files: Sequence[str], pred_files: Sequence[str], image_ids: Sequence[object],
                storage_options: StorageOptions = None, threads: int = DEFAULT_FETCH_THREADS
                ) -> Tuple[Optional[List[Optional[bytes]]], Optional[List[Optional[bytes]]], int,
                           Optional[FastPQError]]:
    """The PNG bytes of image pairs whose files are URLs, for the C++ engine's ``gt_data`` /
    ``pred_data`` (None for a local file, which the engine reads itself; None for a side with no
    URL), with the index of the first image that could not be fetched and its error (len, None)."""
    out: List[Optional[List[Optional[bytes]]]] = []
    first, error = len(gt_files), None
    for files in (gt_files, pred_files):
        wanted = [i for i, f in enumerate(files) if is_url(f)]
        if not wanted:
            out.append(None)
            continue
        fetched = fetch_all([files[i] for i in wanted], storage_options, what="PNG",
                            image_ids=[image_ids[i] for i in wanted], threads=threads)
        data: List[Optional[bytes]] = [None] * len(files)
        for i, item in zip(wanted, fetched):
            if isinstance(item, FastPQError):
                if i < first:
                    first, error = i, item
            else:
                data[i] = item
        out.append(data)
    return out[0], out[1], first, error
