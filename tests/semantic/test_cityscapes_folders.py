"""Pairing Cityscapes folders: each ``*_gtFine_labelIds.png`` with the one prediction below the
prediction folder whose name matches ``<city>_<seq>_<frame>*.png``, against an oracle that applies
that rule with fnmatch to every file, as cityscapesscripts' getPrediction does."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import List

import numpy as np
import pytest
from PIL import Image

from fastpq.errors import ImageSetMismatchError, MissingPredictionError
from fastpq.semantic.sources import resolve

PIXELS = np.zeros((2, 3), dtype=np.uint8)


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(PIXELS).save(path, format="PNG")


def _oracle(gt_dir: Path, pred_dir: Path) -> List[List[str]]:
    """Per ground truth (sorted), every prediction file its pattern matches, in walk order."""
    walk = [(root, files) for root, _, files in os.walk(pred_dir)]
    out = []
    for gt in sorted(gt_dir.rglob("*_gtFine_labelIds.png")):
        pattern = "_".join(gt.name.split("_")[:3]) + "*.png"
        out.append([os.path.join(root, f) for root, files in walk for f in fnmatch.filter(files, pattern)])
    return out


def _tree(tmp_path: Path, keys: List[str], preds: List[str]) -> tuple:
    gt_dir, pred_dir = tmp_path / "gtFine" / "val", tmp_path / "results"
    for key in keys:
        _touch(gt_dir / key.split("_")[0] / f"{key}_gtFine_labelIds.png")
    for name in preds:
        _touch(pred_dir / name)
    pred_dir.mkdir(parents=True, exist_ok=True)
    return gt_dir, pred_dir


def _resolved(gt_dir: Path, pred_dir: Path) -> List[str]:
    _, preds, _, _ = resolve(gt_dir, pred_dir, None, "cityscapes", want_instances=False)
    return preds


KEYS = ["aachen_000000_000019", "aachen_000001_000019", "bremen_000000_000019", "zurich_000010_000019"]


@pytest.mark.parametrize("layout", ["flat", "nested", "long-names", "mixed-case-suffix"])
def test_each_ground_truth_gets_the_prediction_the_rule_names(tmp_path, layout):
    names = {
        "flat": [f"{k}_pred.png" for k in KEYS],
        "nested": [f"{k.split('_')[0]}/{k}_leftImg8bit.png" for k in KEYS],
        "long-names": [f"{k}.png" if i % 2 else f"{k}_leftImg8bit_labelIds.png" for i, k in enumerate(KEYS)],
        "mixed-case-suffix": [f"{k}_x.png" for k in KEYS] + [f"{KEYS[0]}_y.PNG", "notes.txt"],
    }[layout]
    gt_dir, pred_dir = _tree(tmp_path, KEYS, names)
    expected = _oracle(gt_dir, pred_dir)
    assert all(len(found) == 1 for found in expected)
    if layout == "mixed-case-suffix" and os.path.normcase("A") == "A":
        # fnmatch is case-sensitive here: the .PNG file matches no pattern, and is counted as an
        # extra prediction (a .png in any case), as before.
        with pytest.raises(ImageSetMismatchError, match=r"_y\.PNG"):
            _resolved(gt_dir, pred_dir)
        return
    assert _resolved(gt_dir, pred_dir) == [found[0] for found in expected]


def test_a_longer_frame_number_is_a_second_match_as_fnmatch_makes_it(tmp_path):
    """``aachen_000000_000019*.png`` also matches ``aachen_000000_0000190_x.png``: two predictions."""
    gt_dir, pred_dir = _tree(tmp_path, KEYS[:1], [f"{KEYS[0]}_x.png", f"{KEYS[0]}0_x.png"])
    assert len(_oracle(gt_dir, pred_dir)[0]) == 2
    with pytest.raises(ImageSetMismatchError, match="several predictions match aachen_000000_000019"):
        _resolved(gt_dir, pred_dir)


def test_missing_and_extra_predictions(tmp_path):
    gt_dir, pred_dir = _tree(tmp_path, KEYS, [f"{k}_x.png" for k in KEYS[1:]])
    with pytest.raises(MissingPredictionError, match="aachen_000000_000019"):
        _resolved(gt_dir, pred_dir)
    _touch(pred_dir / f"{KEYS[0]}_x.png")
    _touch(pred_dir / "sub" / "munich_000000_000019_x.png")
    with pytest.raises(ImageSetMismatchError, match="munich_000000_000019_x.png"):
        _resolved(gt_dir, pred_dir)


def test_a_key_with_pattern_characters_is_matched_as_a_pattern(tmp_path):
    """A ground-truth name holding ``[`` makes its key an fnmatch pattern, as it always did."""
    key = "ci[ty]_000000_000019"
    gt_dir, pred_dir = _tree(tmp_path, [key], ["cit_000000_000019_x.png"])
    expected = _oracle(gt_dir, pred_dir)
    assert expected == [[str(pred_dir / "cit_000000_000019_x.png")]]
    assert _resolved(gt_dir, pred_dir) == expected[0]


@pytest.mark.parametrize("spelling", ["{root}", "{root}/", "{root}//../gt", ".", "", "./", "../gt"])
def test_plain_folders_pair_by_the_path_below_the_folder_however_it_is_spelled(tmp_path, monkeypatch, spelling):
    """Plain (non-Cityscapes) folders: each ground truth's path below its folder, as pathlib's
    relative_to gives it, names its prediction, whatever the spelling of the folder."""
    from fastpq.semantic.sources import _plain_folders

    root = tmp_path / "data"
    names = ["x.png", "a/y.png", "a/b c/z.png", "a/b c/ü/w.png"]
    for name in names:
        for side in ("gt", "pred"):
            (root / side / name).parent.mkdir(parents=True, exist_ok=True)
            (root / side / name).write_bytes(b"")
    monkeypatch.chdir(root / "gt")
    folder = Path(spelling.format(root=root / "gt"))
    gts, preds, _, names_out = _plain_folders(folder, root / "pred")
    listed = sorted(folder.rglob("*.png"), key=lambda p: p.relative_to(folder).as_posix())
    assert gts == names_out == [str(p) for p in listed]
    assert preds == [os.path.join(str(root / "pred"), p.relative_to(folder).as_posix()) for p in listed]
    assert sorted(p.relative_to(folder).as_posix() for p in listed) == sorted(names)
