"""Listing dataset folders: links to folders are followed as the references' glob follows them."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
from PIL import Image

from fastpq.instance.files import gt_files
from fastpq.io.folders import walk_tree
from fastpq.semantic.sources import resolve


def _png(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((2, 3), value, np.uint8)).save(path)


def test_links_to_folders_are_followed_and_a_link_cycle_ends(tmp_path):
    real = tmp_path / "elsewhere" / "bremen"
    _png(real / "a.png")
    root = tmp_path / "root"
    _png(root / "aachen" / "b.png")
    os.symlink(real, root / "bremen")
    os.symlink(root, root / "aachen" / "loop")  # a cycle back to the root
    listed = sorted(os.path.relpath(os.path.join(d, f), root) for d, files in walk_tree(root) for f in files)
    assert listed == ["aachen/b.png", "bremen/a.png"]
    # glob, as cityscapesscripts searches the ground truth, finds the same files one level down
    found = sorted(os.path.relpath(p, root) for p in glob.glob(str(root / "*" / "*.png")))
    assert found == listed


def test_a_linked_city_is_scored_as_the_references_find_it(tmp_path):
    keys = ["aachen_000000_000019", "bremen_000000_000019"]
    gt_dir = tmp_path / "gtFine" / "val"
    pred_dir = tmp_path / "results"
    _png(gt_dir / "aachen" / f"{keys[0]}_gtFine_labelIds.png")
    _png(tmp_path / "store" / "bremen" / f"{keys[1]}_gtFine_labelIds.png")
    _png(tmp_path / "store" / "bremen" / f"{keys[1]}_gtFine_instanceIds.png")
    _png(gt_dir / "aachen" / f"{keys[0]}_gtFine_instanceIds.png")
    os.symlink(tmp_path / "store" / "bremen", gt_dir / "bremen")
    for key in keys:
        _png(pred_dir / f"{key}_pred.png")
    gts, preds, _, _ = resolve(gt_dir, pred_dir, None, "cityscapes", want_instances=False)
    assert [Path(g).name for g in gts] == [f"{k}_gtFine_labelIds.png" for k in keys]
    assert [Path(p).name for p in preds] == [f"{k}_pred.png" for k in keys]
    assert [Path(g).name for g in gt_files(str(gt_dir))] == [f"{k}_gtFine_instanceIds.png" for k in keys]
