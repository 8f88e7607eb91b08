"""A zip archive's central directory, located exactly as CPython's ``zipfile`` locates it, so that
an untrusted archive can be bounded before ``zipfile.ZipFile`` parses its whole directory.

``zipfile.ZipFile`` reads the central directory into memory and builds one ``ZipInfo`` per entry
before anything can be checked; the entry counts in the end records are not what it goes by (it
parses entries until it has consumed the directory's byte size). So a pre-check must find the
same end record, the same zip64 record and the same directory bytes ``zipfile`` will use, and
count the entries in those bytes. The rules followed here (CPython 3.8 to 3.11 ``_EndRecData``,
``_EndRecData64`` and ``_RealGetContents``):

* The end record is the last 22 bytes when they start with its signature and end with a zero
  comment length; otherwise the last occurrence of the signature in the last 64 KiB + 22 bytes.
* A zip64 end record is used whenever a zip64 locator lies just before the end record and a
  zip64 record signature just before the locator, whatever the end record's fields say.
* The directory starts at (end record offset - directory size - 76 when zip64 is used); the
  directory offset field is ignored (that is how prepended stubs are tolerated).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO, Optional, Tuple

from ..errors import ArchiveFormatError, ArchiveLimitError

_END = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")
_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_SIGNATURE = b"PK\x06\x06"
_ENTRY = struct.Struct("<4s4B4HL2L5H2L")
_ENTRY_SIGNATURE = b"PK\x01\x02"
_MAX_COMMENT = 0xFFFF + 1  # zipfile searches one byte further back than the longest comment needs
_PLACEHOLDER_COUNT, _PLACEHOLDER_SIZE = 0xFFFF, 0xFFFFFFFF


@dataclass(frozen=True)
class Directory:
    """Where ``zipfile`` will read the central directory, and what the end records declare."""

    start: int
    size: int
    declared_entries: int
    declared_size: int
    zip64: bool


def locate(fp: IO[bytes], size: int) -> Directory:
    """The central directory ``zipfile.ZipFile`` will parse in ``fp`` (``size`` bytes long).

    Raises ArchiveFormatError where ``zipfile`` would find no usable end record.
    """
    end_at, fields = _end_record(fp, size)
    entries, directory_size = fields[4], fields[5]
    zip64 = _zip64_record(fp, end_at)
    if zip64 is None:
        return Directory(end_at - directory_size, directory_size, entries, directory_size, False)
    entries64, directory_size64 = zip64[7], zip64[8]
    # zipfile goes by the zip64 record alone; values in the normal record that are not
    # placeholders are declarations too, and the larger of the two is the one to hold to.
    declared_entries = max(entries64, entries if entries != _PLACEHOLDER_COUNT else 0)
    declared_size = max(directory_size64, directory_size if directory_size != _PLACEHOLDER_SIZE else 0)
    return Directory(end_at - directory_size64 - _END64.size - _LOCATOR.size, directory_size64, declared_entries,
                     declared_size, True)


def check(fp: IO[bytes], size: int, max_entries: int, max_entry_bytes: int) -> None:
    """Refuses, reading at most ``max_entries * max_entry_bytes`` bytes, an archive whose central
    directory declares or holds more than ``max_entries`` entries or is longer than that bound."""
    directory = locate(fp, size)
    if directory.declared_entries > max_entries:
        raise ArchiveLimitError(f"the archive declares {directory.declared_entries} members, more than "
                                f"max_members = {max_entries}")
    if directory.declared_size > max_entries * max_entry_bytes:
        raise ArchiveLimitError(f"the archive's central directory has {directory.declared_size} bytes, more than "
                                f"{max_entries} members (max_members) can need")
    if directory.start < 0:
        raise ArchiveFormatError("the archive is not a readable zip file: its central directory would start "
                                 "before the archive does")
    fp.seek(directory.start)
    held = count_entries(fp.read(directory.size), directory.size, max_entries + 1)
    if held > max_entries:
        raise ArchiveLimitError(f"the archive's central directory holds more than max_members = {max_entries} "
                                f"members (it declares {directory.declared_entries})")


def count_entries(data: bytes, directory_size: int, stop_at: int) -> int:
    """How many entries ``zipfile`` parses from ``data`` (the directory bytes it reads), counting
    no further than ``stop_at``. A malformed entry ends the count: ``zipfile`` refuses there."""
    count, at = 0, 0
    while at < directory_size and count < stop_at:
        if at + _ENTRY.size > len(data) or data[at:at + 4] != _ENTRY_SIGNATURE:
            break
        fields = _ENTRY.unpack_from(data, at)
        count += 1
        at += _ENTRY.size + fields[12] + fields[13] + fields[14]
    return count


def _end_record(fp: IO[bytes], size: int) -> Tuple[int, Tuple[int, ...]]:
    """(offset, fields) of the end-of-central-directory record zipfile will use."""
    if size >= _END.size:
        fp.seek(size - _END.size)
        last = fp.read(_END.size)
        if last[:4] == _END_SIGNATURE and last[-2:] == b"\0\0":
            return size - _END.size, _END.unpack(last)
    window_start = max(size - _MAX_COMMENT - _END.size, 0)
    fp.seek(window_start)
    tail = fp.read(size - window_start)
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or at + _END.size > len(tail):
        raise ArchiveFormatError("the archive is not a zip file, or is truncated: it has no end-of-central-directory "
                                 "record")
    return window_start + at, _END.unpack_from(tail, at)


def _zip64_record(fp: IO[bytes], end_at: int) -> Optional[Tuple[int, ...]]:
    """The fields of the zip64 end record zipfile will use with the end record at ``end_at``, if any.

    zipfile seeks relative to the end of the file; an archive too short for the zip64 record
    before ``end_at`` is either read without zip64 or refused by zipfile (its directory would
    start before the archive), so it is read here without zip64 and held to the normal record.
    """
    if end_at < _LOCATOR.size + _END64.size:
        return None
    fp.seek(end_at - _LOCATOR.size - _END64.size)
    raw = fp.read(_END64.size + _LOCATOR.size)
    locator = _LOCATOR.unpack_from(raw, _END64.size)
    if locator[0] != _LOCATOR_SIGNATURE:
        return None
    if locator[1] != 0 or locator[3] > 1:
        raise ArchiveFormatError("the archive is not a readable zip file: it spans multiple disks")
    record = _END64.unpack_from(raw)
    return record if record[0] == _END64_SIGNATURE else None
