"""The Cityscapes label table facts the instance-level evaluation uses (ids, names, flags)."""

from __future__ import annotations

from typing import Dict, Tuple

# (id, name, hasInstances, ignoreInEval), in the order of cityscapesscripts' helpers/labels.py.
_LABELS: Tuple[Tuple[int, str, bool, bool], ...] = (
    (0, "unlabeled", False, True), (1, "ego vehicle", False, True), (2, "rectification border", False, True),
    (3, "out of roi", False, True), (4, "static", False, True), (5, "dynamic", False, True),
    (6, "ground", False, True), (7, "road", False, False), (8, "sidewalk", False, False),
    (9, "parking", False, True), (10, "rail track", False, True), (11, "building", False, False),
    (12, "wall", False, False), (13, "fence", False, False), (14, "guard rail", False, True),
    (15, "bridge", False, True), (16, "tunnel", False, True), (17, "pole", False, False),
    (18, "polegroup", False, True), (19, "traffic light", False, False), (20, "traffic sign", False, False),
    (21, "vegetation", False, False), (22, "terrain", False, False), (23, "sky", False, False),
    (24, "person", True, False), (25, "rider", True, False), (26, "car", True, False),
    (27, "truck", True, False), (28, "bus", True, False), (29, "caravan", True, True),
    (30, "trailer", True, True), (31, "train", True, False), (32, "motorcycle", True, False),
    (33, "bicycle", True, False), (-1, "license plate", False, True),
)

ID_TO_NAME: Dict[int, str] = {i: n for i, n, _, _ in _LABELS}
# The 8 evaluated classes, in the reference's order.
INSTANCE_LABELS: Tuple[str, ...] = tuple(n for _, n, inst, ign in _LABELS if inst and not ign)
INSTANCE_LABEL_IDS: Tuple[int, ...] = tuple(i for i, _, inst, ign in _LABELS if inst and not ign)
# Raw instanceIds values counted as void (the ids of labels ignored in evaluation).
VOID_VALUES: Tuple[int, ...] = tuple(i for i, _, _, ign in _LABELS if ign)


def label_of_value(value: int) -> int:
    """The label id of an instanceIds pixel value: the value itself below 1000, else value // 1000."""
    return value if value < 1000 else int(value / 1000)
