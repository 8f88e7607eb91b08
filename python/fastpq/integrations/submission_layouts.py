"""Where each task finds its predictions in a submission, and submissions already unpacked.

The *root* is found as for panoptic submissions (the archive's top level, or its only top-level
directory when it has no top-level file; ``__MACOSX/`` and ``.DS_Store`` ignored), then:

* ``semantic``: every ``*.png`` below the root is a prediction label map. Cityscapes: each
  ``<city>_<seq>_<frame>*.png`` found at any depth (the official results layout); the other
  presets: the prediction of ground-truth ``a/b.png`` is the root's ``a/b.png``. With those
  presets the single top-level directory stays part of the paths when the ground-truth folder has
  a directory of that name.
* ``instance``: either the Cityscapes results layout (per image a ``<city>_<seq>_<frame>*.txt`` of
  ``maskPath labelId score`` lines, mask PNGs relative to it, everything below the root), or one
  COCO-style results JSON at the root (``[{"image_id": "<city>_<seq>_<frame>", "category_id":
  <label id>, "segmentation": <RLE>, "score": s}, ...]``) and no PNG.
* ``amodal``: exactly one proposals JSON at the root (amodalAPI's results list).

Only those files are unpacked. The tasks that read one JSON (instance, amodal) also take that JSON
alone, not zipped (:func:`is_bare_json`), held to ``max_member_bytes``. :func:`read_folder` applies the same checks and layout to a folder
that is already unpacked (CodaLab and Codabench unzip uploads themselves): no symbolic link, no
special file, names, member count and sizes within the limits; the files are read where they are.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import ArchiveLimitError, SubmissionLayoutError, UnsafeSubmissionError
from .submission_archive import Layout, Member, PathLike, SubmissionLimits, _checked_members, archive_root


@dataclass(frozen=True)
class TaskSubmission:
    """An unpacked submission of a task: absolute paths by role and the names they had in the archive."""

    root: str
    paths: Dict[str, str]
    members: Dict[str, str]

    def folders(self) -> Tuple[str, ...]:
        """Folders made before unpacking, so that a role's folder exists even when empty."""
        return tuple(path for role, path in self.paths.items() if role.endswith("folder"))

    def describe(self) -> Dict[str, str]:
        """The outcome's ``submission`` entry: what was read, by its name in the archive."""
        return dict(self.members)


def _where(prefix: Tuple[str, ...]) -> str:
    return "/".join(prefix) + "/" if prefix else "the top level"


def _files(inside: Sequence[Tuple[Member, Tuple[str, ...]]], suffix: str) -> List[Member]:
    return [m for m, rel in inside if not m.is_dir and rel[-1].lower().endswith(suffix)]


def _top_jsons(inside: Sequence[Tuple[Member, Tuple[str, ...]]]) -> List[Member]:
    return sorted((m for m, rel in inside if not m.is_dir and len(rel) == 1 and rel[0].lower().endswith(".json")),
                  key=lambda m: m.parts)


def semantic_layout(gt_folder: Optional[str] = None, preset: Optional[str] = None) -> Layout:
    """The semantic rule (module docstring) for a ground truth in ``gt_folder``."""

    def layout(members: Sequence[Member], dest: str) -> Tuple[TaskSubmission, List[Member]]:
        strip = True
        if preset != "cityscapes" and gt_folder is not None:
            _, prefix, _ = archive_root(members)
            strip = not (prefix and os.path.isdir(os.path.join(gt_folder, prefix[0])))
        _, prefix, inside = archive_root(members, strip)
        chosen = _files(inside, ".png")
        if not chosen:
            raise SubmissionLayoutError(f"the submission has no PNG label maps at {_where(prefix)} (expected one "
                                        "prediction PNG per ground-truth image)")
        name = "/".join(prefix) or "."
        return TaskSubmission(dest, {"png_folder": os.path.join(dest, *prefix)}, {"png_folder": name}), chosen

    return layout


def instance_layout(members: Sequence[Member], dest: str) -> Tuple[TaskSubmission, List[Member]]:
    """The instance rule (module docstring): Cityscapes results txt + masks, or one results JSON."""
    _, prefix, inside = archive_root(members)
    jsons, pngs, txts = _top_jsons(inside), _files(inside, ".png"), _files(inside, ".txt")
    name = "/".join(prefix) or "."
    if len(jsons) == 1 and not pngs:
        json_name = "/".join(jsons[0].parts)
        return TaskSubmission(dest, {"json": os.path.join(dest, *jsons[0].parts)}, {"json": json_name}), jsons
    if len(jsons) > 1 and not pngs:
        raise SubmissionLayoutError(f"the submission has {len(jsons)} JSON files at {_where(prefix)} "
                                    f"({', '.join(m.parts[-1] for m in jsons)}); it must hold exactly one results JSON")
    if not txts:
        raise SubmissionLayoutError(f"the submission has no instance predictions at {_where(prefix)}: expected the "
                                    "Cityscapes results layout (a <city>_<seq>_<frame>*.txt per image listing its mask "
                                    "PNGs) or one COCO-style results JSON")
    folder = os.path.join(dest, *prefix)
    return TaskSubmission(dest, {"results_folder": folder}, {"results_folder": name}), txts + pngs


def json_layout(what: str) -> Layout:
    """Exactly one JSON at the root (amodal proposals)."""

    def layout(members: Sequence[Member], dest: str) -> Tuple[TaskSubmission, List[Member]]:
        _, prefix, inside = archive_root(members)
        jsons = _top_jsons(inside)
        if len(jsons) != 1:
            found = f"{len(jsons)} ({', '.join(m.parts[-1] for m in jsons)})" if jsons else "none"
            raise SubmissionLayoutError(f"the submission must hold exactly one {what} JSON at {_where(prefix)}; "
                                        f"found {found}")
        json_name = "/".join(jsons[0].parts)
        return TaskSubmission(dest, {"json": os.path.join(dest, *jsons[0].parts)}, {"json": json_name}), jsons

    return layout


def read_folder(folder: PathLike, limits: SubmissionLimits, layout: Layout) -> Any:
    """The submission in an unpacked folder, checked as an archive's members are and laid out by
    ``layout``; its paths point into ``folder`` (nothing is copied)."""
    root = os.path.abspath(os.fspath(folder))
    infos: List[zipfile.ZipInfo] = []
    for here, dirs, files in os.walk(root):
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(here, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                name.encode("utf-8")  # bytes that are not UTF-8 come as surrogates, which no engine path takes
            except UnicodeEncodeError:
                shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
                raise UnsafeSubmissionError(f"{shown!r} has a name that is not UTF-8", file=shown) from None
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                raise UnsafeSubmissionError(f"{rel!r} is a symbolic link", file=rel)
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise UnsafeSubmissionError(f"{rel!r} is a special file (mode {stat.S_IFMT(mode):o})", file=rel)
            info = zipfile.ZipInfo(rel + "/" if stat.S_ISDIR(mode) else rel)
            info.external_attr = (stat.S_IFMT(mode) | 0o644) << 16
            info.file_size = info.compress_size = 0 if stat.S_ISDIR(mode) else os.lstat(path).st_size
            infos.append(info)
            if len(infos) > limits.max_members:
                raise ArchiveLimitError(f"the submission has more than max_members = {limits.max_members} files "
                                        "and folders")
        dirs.sort()
    submission, _ = layout(_checked_members(infos, limits), root)
    return submission


def is_bare_json(archive: Any) -> bool:
    """True for a submission that is a JSON file (a path, or bytes) rather than a zip: it does not
    start with a zip signature and its first non-blank byte opens a JSON array or object."""
    if isinstance(archive, (bytes, bytearray)):
        head = bytes(archive[:64])
    elif isinstance(archive, (str, os.PathLike)) and os.path.isfile(archive):
        with open(archive, "rb") as f:
            head = f.read(64)
    else:
        return False
    return not head.startswith(b"PK") and head.lstrip()[:1] in (b"[", b"{")


def copy_bare_json(archive: Any, dest: str, limits: SubmissionLimits) -> str:
    """Copies a bare JSON submission into ``dest`` (as ``submission.json``, or its own name when
    that is a plain ``*.json`` name), within ``max_member_bytes``; returns ``dest``."""
    name = "submission.json"
    if isinstance(archive, (str, os.PathLike)):
        base = os.path.basename(os.fspath(archive))
        if base.lower().endswith(".json") and base not in (".json",) and "\\" not in base:
            name = base
        with open(archive, "rb") as f:
            data = f.read(limits.max_member_bytes + 1)
    else:
        data = bytes(archive[:limits.max_member_bytes + 1])
    if len(data) > limits.max_member_bytes:
        raise ArchiveLimitError(f"the submitted JSON has more than max_member_bytes = {limits.max_member_bytes} "
                                "bytes", file=name)
    with open(os.path.join(dest, name), "xb") as f:
        f.write(data)
    return dest
