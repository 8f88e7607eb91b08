"""Finding and parsing the official Cityscapes instance files: GT *_instanceIds.png and the
per-image results txt (``relpath labelId score`` lines) with its mask PNGs."""

from __future__ import annotations

import fnmatch
import math
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple, Union

from ..errors import InstancePredictionError, MissingFolderError, MissingPredictionError
from ..io.folders import walk_tree
from .labels import ID_TO_NAME

GT_SUFFIX = "_gtFine_instanceIds.png"


@dataclass
class PredictionLine:
    """One predicted instance: its mask file, label id and confidence."""

    mask: str
    label_id: int
    score: float


def gt_files(gt: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]) -> List[str]:
    """The GT instanceIds files: every *_gtFine_instanceIds.png under a folder (sorted), or the list given."""
    if isinstance(gt, (str, os.PathLike)):
        root = os.fspath(gt)
        if os.path.isfile(root):
            return [os.path.abspath(root)]
        if not os.path.isdir(root):
            raise MissingFolderError(f"ground-truth folder '{root}' does not exist")
        found = []
        for d, names in walk_tree(root):
            found += [os.path.join(d, n) for n in names if n.endswith(GT_SUFFIX)]
        if not found:
            raise MissingPredictionError(f"no *{GT_SUFFIX} files under '{root}'")
        return sorted(os.path.abspath(f) for f in found)
    return [os.path.abspath(os.fspath(f)) for f in gt]


def image_key(gt_file: str) -> str:
    """``<city>_<seq>_<frame>`` of a Cityscapes file name (the reference's getCsFileInfo parts)."""
    base = os.path.basename(gt_file.partition("::")[0])  # a chained URL's first link names the file
    parts = base.split("_")
    parts = parts[:-1] + parts[-1].split(".")
    if len(parts) not in (5, 6):
        raise InstancePredictionError(f"cannot parse Cityscapes file name '{gt_file}' "
                                      f"(found {len(parts)} parts, expected 5 or 6)")
    return "_".join(parts[:3])


def index_results(pred_root: str) -> List[Tuple[str, List[str]]]:
    """Every (folder, names of its .txt files) under the results root, walked once."""
    if not os.path.isdir(pred_root):
        raise MissingFolderError(f"results folder '{pred_root}' does not exist")
    # os.walk, as the reference's getPrediction walks the results (links to folders not followed)
    return [(d, [n for n in names if n.endswith(".txt")]) for d, _, names in os.walk(pred_root)]


def find_results_txt(gt_file: str, walk: List[Tuple[str, List[str]]]) -> str:
    """The one results txt matching ``<city>_<seq>_<frame>*.txt`` for a GT file (reference rule)."""
    key = image_key(gt_file)
    pattern = key + "*.txt"
    if any(c in key for c in "*?["):
        hits = [os.path.join(d, n) for d, names in walk for n in fnmatch.filter(names, pattern)]
    else:  # what fnmatch matches for this pattern, without a regular expression per name
        hits = [os.path.join(d, n) for d, names in walk for n in names if n.startswith(key) and
                len(n) >= len(key) + 4]
    if len(hits) > 1:
        raise MissingPredictionError(f"found several results files for '{gt_file}': {sorted(hits)}")
    if not hits:
        raise MissingPredictionError(f"found no results file '{pattern}' for '{gt_file}'")
    return hits[0]


def parse_results_txt(txt: str, pred_root: str, image: str) -> List[PredictionLine]:
    """The predictions of one results txt, in the reference's order: a mask listed twice is one
    prediction at its first place with the last line's label and score. Blank lines are skipped."""
    root = os.path.abspath(pred_root)
    try:
        with open(txt, "r") as f:
            text = f.read()
    except OSError as e:
        raise MissingPredictionError(f"image {image}: cannot read results file '{txt}': {e}") from e
    except UnicodeDecodeError as e:
        raise InstancePredictionError(f"image {image}: results file '{txt}' is not UTF-8 text ({e})") from None

    folder = os.path.abspath(os.path.dirname(txt))
    inside = os.path.commonpath([folder, root]) == root

    def mask_of(rel: str, where: str) -> str:
        if os.path.isabs(rel):
            raise InstancePredictionError(f"{where}: mask path '{rel}' must be relative")
        parts = rel.split(os.sep)
        if inside and "" not in parts and "." not in parts and ".." not in parts:
            return folder + os.sep + rel  # already normal and below the results folder
        mask = os.path.abspath(os.path.join(folder, rel))
        if os.path.commonpath([mask, root]) != root:
            raise InstancePredictionError(f"{where}: mask '{mask}' points outside the results folder '{root}'")
        return mask

    return parse_results_text(text, txt, image, mask_of)


def parse_results_text(text: str, txt: str, image: str, mask_of: Callable[[str, str], str]) -> List[PredictionLine]:
    """The lines of a results txt's `text` (read from `txt`); ``mask_of(relpath, where)`` is the
    mask's file (a path or a URL), refusing one outside the results folder."""
    by_mask: Dict[str, PredictionLine] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        fields = line.split()
        where = f"image {image}: results file '{txt}' line {number}"
        if len(fields) != 3:
            raise InstancePredictionError(f"{where}: expected 'relPath labelId score', got {line!r}")
        rel, label_text, score_text = fields
        if "\0" in rel:
            raise InstancePredictionError(f"{where}: mask path {rel!r} holds a NUL character")
        mask = mask_of(rel, where)
        try:
            label_id = int(float(label_text))
            score = float(score_text)
        except (ValueError, OverflowError) as e:
            raise InstancePredictionError(f"{where}: bad label id or score in {line!r}") from e
        if label_id not in ID_TO_NAME:
            raise InstancePredictionError(f"{where}: unknown Cityscapes label id {label_id}")
        if math.isnan(score):
            raise InstancePredictionError(f"{where}: score is NaN")
        by_mask[mask] = PredictionLine(mask, label_id, score)
    return list(by_mask.values())
