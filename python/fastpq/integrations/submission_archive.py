"""Unpacking an untrusted submission archive: every member checked before anything is written
(paths, special files, encryption, compression methods, declared sizes and ratios, counts), bytes
counted while they are written, and the layout rule that finds the prediction JSON and its PNG
folder (see :mod:`fastpq.server` for the rules in full)."""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..io import zipdir as _zipdir
from ..errors import (ArchiveFormatError, ArchiveLimitError, FastPQError, SubmissionLayoutError,
                      UnsafeSubmissionError)
from ..panoptic.evaluation import DEFAULT_MAX_PIXELS

PathLike = Union[str, "os.PathLike[str]"]
Archive = Union[PathLike, bytes, bytearray, IO[bytes]]

MIB = 1 << 20
GIB = 1 << 30

#: Members smaller than this are not held to max_ratio: however well they compress, they cannot
#: make a bomb, and small JSON files legitimately compress well.
RATIO_FLOOR_BYTES = 1 * MIB
#: The longest member name (bytes, UTF-8) and path component accepted.
MAX_NAME_BYTES = 1024
MAX_COMPONENT_BYTES = 255
#: A central directory entry is 46 bytes plus name, extra field and comment; this bounds what
#: zipfile parses into memory before any member is looked at.
MAX_DIRECTORY_ENTRY_BYTES = 46 + 3 * MAX_NAME_BYTES
_CHUNK = 1 * MIB
_JUNK_DIRECTORIES = ("__MACOSX",)
_JUNK_FILES = (".DS_Store",)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class SubmissionLimits:
    """Bounds on what a submission may hold; anything beyond them is refused with ArchiveLimitError.

    ``max_pixels`` and ``scoring`` are passed to :func:`fastpq.evaluate` (``scoring`` as keyword
    options, e.g. future scoring limits); keyword options given to :func:`score_submission`
    override both.
    """

    max_archive_bytes: int = 4 * GIB
    max_members: int = 10_000
    max_member_bytes: int = 64 * MIB
    max_total_bytes: int = 2 * GIB
    max_ratio: float = 200.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    scoring: Mapping[str, Any] = field(default_factory=dict)
    #: Caps on the scoring process, applied by :class:`fastpq.server.IsolatedScorer` only (an
    #: in-process score_submission shares the caller's process): address space, CPU seconds, wall
    #: seconds, open files and the largest file it may write. None: no cap.
    memory_bytes: Optional[int] = 4 * GIB
    cpu_seconds: Optional[float] = 300.0
    wall_seconds: Optional[float] = 600.0
    open_files: Optional[int] = 1024
    file_bytes: Optional[int] = 4 * GIB


@dataclass(frozen=True)
class Submission:
    """An unpacked submission: absolute paths under ``root`` and the names they had in the archive."""

    root: str
    json_path: str
    png_folder: str
    json_member: str
    png_member: str

    def folders(self) -> Tuple[str, ...]:
        """Folders made before unpacking (an empty PNG folder still exists)."""
        return (self.png_folder,)

    def describe(self) -> Dict[str, str]:
        """The outcome's ``submission`` entry: what was read, by its name in the archive."""
        return {"json": self.json_member, "png_folder": self.png_member}


@dataclass(frozen=True)
class Member:
    """One checked archive member (or file of an unpacked folder): its entry and path components."""

    info: zipfile.ZipInfo
    parts: Tuple[str, ...]
    is_dir: bool


_Member = Member
#: A task's layout rule: (checked members, destination folder) -> (what the scorer needs, the
#: members to unpack). It raises SubmissionLayoutError for an archive it cannot read.
Layout = Callable[[Sequence[Member], str], Tuple[Any, List[Member]]]


# ---------------------------------------------------------------------------
# Unpacking


def unpack_submission(archive: Archive, dest: PathLike, limits: SubmissionLimits = SubmissionLimits(),
                      layout: Optional[Layout] = None) -> Any:
    """Checks a submission archive and unpacks its JSON and PNG folder under ``dest``; with
    ``layout``, what that rule picks instead (see :mod:`fastpq.integrations.submission_layouts`),
    returning what it returns.

    Raises a :class:`fastpq.errors.SubmissionError` subclass for an archive that is not a zip,
    unsafe, beyond ``limits`` or not laid out as the module docstring says; nothing is written
    before every member has passed the checks. Files already written when unpacking stops are
    left for the caller to remove (``score_submission`` removes the whole folder).
    """
    dest = os.path.abspath(os.fspath(dest))
    if isinstance(archive, (bytes, bytearray)):
        if len(archive) > limits.max_archive_bytes:
            raise ArchiveLimitError(f"the archive has {len(archive)} bytes, more than max_archive_bytes = "
                                    f"{limits.max_archive_bytes}")
        return _unpack_file(io.BytesIO(archive), len(archive), dest, limits, layout or panoptic_layout)
    if isinstance(archive, (str, os.PathLike)):
        with open(archive, "rb") as f:
            return _unpack_file(f, os.fstat(f.fileno()).st_size, dest, limits, layout or panoptic_layout)
    archive.seek(0, os.SEEK_END)
    size = archive.tell()
    archive.seek(0)
    return _unpack_file(archive, size, dest, limits, layout or panoptic_layout)


def _unpack_file(fp: IO[bytes], size: int, dest: str, limits: SubmissionLimits, layout: Layout) -> Any:
    if size > limits.max_archive_bytes:
        raise ArchiveLimitError(f"the archive has {size} bytes, more than max_archive_bytes = "
                                f"{limits.max_archive_bytes}")
    _check_central_directory(fp, size, limits)
    try:
        zf = zipfile.ZipFile(fp)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
            struct.error) as e:
        raise ArchiveFormatError(f"the archive is not a readable zip file: {e}") from None
    with zf:
        members = _checked_members(zf.infolist(), limits)
        submission, chosen = layout(members, dest)
        for folder in getattr(submission, "folders", lambda: ())():
            os.makedirs(folder, exist_ok=True)
        written = 0
        for member in chosen:
            written = _extract(zf, member, dest, written, limits)
    return submission


def _check_central_directory(fp: IO[bytes], size: int, limits: SubmissionLimits) -> None:
    """Refuses, before zipfile parses it, a central directory that declares or holds more entries,
    or more bytes, than ``max_members`` allows (the directory zipfile will use: see ``_zipdir``)."""
    _zipdir.check(fp, size, limits.max_members, MAX_DIRECTORY_ENTRY_BYTES)


def _checked_members(infos: Sequence[zipfile.ZipInfo], limits: SubmissionLimits) -> List[_Member]:
    """Every member's name, type, encryption, compression and declared size, against the limits."""
    if len(infos) > limits.max_members:
        raise ArchiveLimitError(f"the archive has {len(infos)} members, more than max_members = {limits.max_members}")
    members: List[_Member] = []
    seen: Dict[Tuple[str, ...], str] = {}
    total = 0
    for info in infos:
        name = info.filename
        reason = _unsafe_path_reason(name)
        if reason is not None:
            raise UnsafeSubmissionError(f"member {name!r} {reason}", file=name)
        parts = tuple(name.rstrip("/").split("/"))
        mode = stat.S_IFMT(info.external_attr >> 16)
        if mode == stat.S_IFLNK:
            raise UnsafeSubmissionError(f"member {name!r} is a symbolic link", file=name)
        if mode not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeSubmissionError(f"member {name!r} is a special file (mode {mode:o})", file=name)
        if info.flag_bits & 0x41:  # bit 6: strong encryption
            raise UnsafeSubmissionError(f"member {name!r} is encrypted", file=name)
        if info.flag_bits & 0x20:
            raise ArchiveFormatError(f"member {name!r} holds compressed patched data (zip flag bit 5), which "
                                     "zipfile cannot read", file=name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveFormatError(f"member {name!r} uses compression method {info.compress_type}; only stored "
                                     "and deflate are accepted", file=name)
        if parts in seen:
            raise UnsafeSubmissionError(f"member {name!r} appears twice in the archive (also as {seen[parts]!r})",
                                        file=name)
        seen[parts] = name
        _check_declared_size(info, total, limits)
        total += info.file_size
        members.append(_Member(info, parts, name.endswith("/")))
    files = {m.parts for m in members if not m.is_dir}
    for m in members:
        for n in range(1, len(m.parts)):
            if m.parts[:n] in files:
                raise UnsafeSubmissionError(f"member {m.info.filename!r} is inside {'/'.join(m.parts[:n])!r}, "
                                            "which is a file", file=m.info.filename)
    return members


def _unsafe_path_reason(name: str) -> Optional[str]:
    """Why a relative path from the submission could land outside its folder (None when it cannot)."""
    if "\\" in name:
        return "contains a backslash"
    if "\x00" in name:
        return "contains a NUL character"
    if name.startswith("/"):
        return "has an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if ".." in parts:
        return "has a '..' component (a path outside the submission)"
    if any(p in ("", ".") for p in parts):
        return "has an empty or '.' path component"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES or \
            any(len(p.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES for p in parts):
        return "has a name that is too long"
    return None


def _check_declared_size(info: zipfile.ZipInfo, total_before: int, limits: SubmissionLimits) -> None:
    name = info.filename
    if info.file_size > limits.max_member_bytes:
        raise ArchiveLimitError(f"member {name!r} declares {info.file_size} bytes, more than max_member_bytes = "
                                f"{limits.max_member_bytes}", file=name)
    if total_before + info.file_size > limits.max_total_bytes:
        raise ArchiveLimitError(f"the archive's members declare more than max_total_bytes = {limits.max_total_bytes} "
                                f"bytes in all (reached at member {name!r})", file=name)
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise ArchiveLimitError(f"member {name!r} declares a compression ratio of "
                                f"{info.file_size / max(info.compress_size, 1):.0f}:1, more than max_ratio = "
                                f"{limits.max_ratio:g} (a zip bomb?)", file=name)


def archive_root(members: Sequence[Member], strip_single_directory: bool = True
                 ) -> Tuple[List[Member], Tuple[str, ...], List[Tuple[Member, Tuple[str, ...]]]]:
    """The members that count (no ``__MACOSX/``, no ``.DS_Store``), the root's path components (the
    archive's only top-level directory when it has no top-level file, else the top level) and each
    member below the root with its path relative to it."""
    kept = [m for m in members if m.parts[0] not in _JUNK_DIRECTORIES and m.parts[-1] not in _JUNK_FILES]
    top_dirs = {m.parts[0] for m in kept if m.is_dir or len(m.parts) > 1}
    top_files = [m for m in kept if not m.is_dir and len(m.parts) == 1]
    prefix: Tuple[str, ...] = ()
    if strip_single_directory and not top_files and len(top_dirs) == 1:
        prefix = (next(iter(top_dirs)),)
    inside = [(m, m.parts[len(prefix):]) for m in kept if m.parts[:len(prefix)] == prefix and
              len(m.parts) > len(prefix)]
    return kept, prefix, inside


def panoptic_layout(members: Sequence[Member], dest: str) -> Tuple[Submission, List[Member]]:
    """Finds the prediction JSON and the PNG folder (the rule in the module docstring)."""
    kept, prefix, inside = archive_root(members)
    jsons = sorted(rel[0] for m, rel in inside if not m.is_dir and len(rel) == 1 and rel[0].lower().endswith(".json"))
    where = "/".join(prefix) + "/" if prefix else "the top level"
    if not jsons:
        raise SubmissionLayoutError(f"the submission has no prediction JSON at {where} (expected <name>.json next to "
                                    "a folder <name>/ of PNGs)")
    if len(jsons) > 1:
        raise SubmissionLayoutError(f"the submission has {len(jsons)} JSON files at {where} ({', '.join(jsons)}); it "
                                    "must hold exactly one prediction JSON")
    folders = sorted({rel[0] for m, rel in inside if m.is_dir or len(rel) > 1})
    stem = jsons[0][:-len(".json")]
    if stem in folders:
        folder = stem
    elif len(folders) == 1:
        folder = folders[0]
    elif not folders:
        raise SubmissionLayoutError(f"the submission has no PNG folder next to {jsons[0]!r} at {where}")
    else:
        raise SubmissionLayoutError(f"the submission has {len(folders)} folders at {where} ({', '.join(folders)}) and "
                                    f"none is named {stem!r} like its JSON: cannot tell which holds the PNGs")
    json_parts, folder_parts = prefix + (jsons[0],), prefix + (folder,)
    chosen = [m for m in kept if not m.is_dir and (m.parts == json_parts or
                                                   m.parts[:len(folder_parts)] == folder_parts)]
    submission = Submission(root=dest, json_path=os.path.join(dest, *json_parts),
                            png_folder=os.path.join(dest, *folder_parts), json_member="/".join(json_parts),
                            png_member="/".join(folder_parts))
    return submission, chosen


_layout = panoptic_layout


def _extract(zf: zipfile.ZipFile, member: _Member, dest: str, written_before: int, limits: SubmissionLimits) -> int:
    """Streams one member to disk, counting the bytes; returns the running total of bytes written."""
    info, name = member.info, member.info.filename
    target = os.path.join(dest, *member.parts)
    if not _inside(os.path.realpath(os.path.dirname(target)), os.path.realpath(dest)):
        raise UnsafeSubmissionError(f"member {name!r} would be written outside the submission", file=name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    size = 0
    total = written_before
    try:
        with zf.open(info) as source, open(target, "xb") as out:
            while True:
                chunk = source.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                total += len(chunk)
                _check_written(name, size, total, info, limits)
                out.write(chunk)
    except FastPQError:
        raise
    except zipfile.BadZipFile as e:
        raise ArchiveFormatError(f"member {name!r} does not match its header ({e}): corrupt, or a header that lies "
                                 f"about its size ({info.file_size} bytes) or checksum", file=name) from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # the server's disk is full: not the submission's fault
        raise ArchiveFormatError(f"member {name!r} cannot be unpacked: {e.strerror or type(e).__name__}",
                                 file=name) from None
    except (EOFError, zlib.error, ValueError, struct.error) as e:
        raise ArchiveFormatError(f"member {name!r} cannot be unpacked: corrupt or truncated ({e})", file=name) from None
    if size != info.file_size:
        raise ArchiveFormatError(f"member {name!r} inflates to {size} bytes but its header declares {info.file_size}",
                                 file=name)
    return total


def _check_written(name: str, size: int, total: int, info: zipfile.ZipInfo, limits: SubmissionLimits) -> None:
    """The limits again, on the bytes actually inflated (a header may lie). CPython's zipfile itself
    stops at the declared size and then fails the CRC check; these checks do not rely on that."""
    if size > info.file_size:
        raise ArchiveLimitError(f"member {name!r} inflates to more than the {info.file_size} bytes its header "
                                "declares", file=name)
    if size > limits.max_member_bytes:
        raise ArchiveLimitError(f"member {name!r} inflates to more than max_member_bytes = {limits.max_member_bytes}",
                                file=name)
    if total > limits.max_total_bytes:
        raise ArchiveLimitError(f"the archive inflates to more than max_total_bytes = {limits.max_total_bytes}",
                                file=name)
    if size > RATIO_FLOOR_BYTES and size > limits.max_ratio * max(info.compress_size, 1):
        raise ArchiveLimitError(f"member {name!r} inflates more than max_ratio = {limits.max_ratio:g} times its "
                                "compressed size (a zip bomb?)", file=name)


# ---------------------------------------------------------------------------
# Helpers


def _inside(path: str, folder: str, strict: bool = False) -> bool:
    """True when `path` is `folder` (unless strict) or below it; both absolute and normalised."""
    if path == folder:
        return not strict
    return path.startswith(folder.rstrip(os.sep) + os.sep)


