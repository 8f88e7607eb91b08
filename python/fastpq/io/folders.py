"""Listing the files below a dataset folder, as the reference tools' ``glob`` lists them."""

from __future__ import annotations

import os
from typing import List, Tuple, Union


def walk_tree(root: Union[str, "os.PathLike[str]"]) -> List[Tuple[str, List[str]]]:
    """(folder, names of its files) for ``root`` and every folder below it, top-down.

    Links to folders are followed, as ``glob`` follows them (cityscapesscripts finds the ground
    truth with it, and datasets are often put together from links: ``gtFine/val/frankfurt ->
    /data/...``); ``os.walk`` and ``Path.rglob`` skip them. A folder reached again by a link (the
    same real folder) is not listed twice, so a link cycle ends."""
    seen = set()
    out: List[Tuple[str, List[str]]] = []
    for here, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        out.append((here, files))
    return out
