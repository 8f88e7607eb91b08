"""The label tables the semantic presets score against.

Cityscapes: the 34 label ids of its label definition (id, name, trainId, category, whether the class
has instances, whether the evaluation ignores it) and the average instance size per class that its
pixel-level evaluation weighs instance IoU with. ADE20K: the 150 classes of the scene-parsing
benchmark (label 1..150; 0 is "other"), named by the first synonym of the benchmark's object list.
The tests check both tables against cityscapesscripts and the benchmark's list.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Tuple


class CityscapesLabel(NamedTuple):
    id: int
    name: str
    train_id: int
    category: str
    has_instances: bool
    ignore_in_eval: bool


# id, name, trainId, category, hasInstances, ignoreInEval
CITYSCAPES_LABELS: Tuple[CityscapesLabel, ...] = tuple(CityscapesLabel(*row) for row in (
    (0, "unlabeled", 255, "void", False, True),
    (1, "ego vehicle", 255, "void", False, True),
    (2, "rectification border", 255, "void", False, True),
    (3, "out of roi", 255, "void", False, True),
    (4, "static", 255, "void", False, True),
    (5, "dynamic", 255, "void", False, True),
    (6, "ground", 255, "void", False, True),
    (7, "road", 0, "flat", False, False),
    (8, "sidewalk", 1, "flat", False, False),
    (9, "parking", 255, "flat", False, True),
    (10, "rail track", 255, "flat", False, True),
    (11, "building", 2, "construction", False, False),
    (12, "wall", 3, "construction", False, False),
    (13, "fence", 4, "construction", False, False),
    (14, "guard rail", 255, "construction", False, True),
    (15, "bridge", 255, "construction", False, True),
    (16, "tunnel", 255, "construction", False, True),
    (17, "pole", 5, "object", False, False),
    (18, "polegroup", 255, "object", False, True),
    (19, "traffic light", 6, "object", False, False),
    (20, "traffic sign", 7, "object", False, False),
    (21, "vegetation", 8, "nature", False, False),
    (22, "terrain", 9, "nature", False, False),
    (23, "sky", 10, "sky", False, False),
    (24, "person", 11, "human", True, False),
    (25, "rider", 12, "human", True, False),
    (26, "car", 13, "vehicle", True, False),
    (27, "truck", 14, "vehicle", True, False),
    (28, "bus", 15, "vehicle", True, False),
    (29, "caravan", 255, "vehicle", True, True),
    (30, "trailer", 255, "vehicle", True, True),
    (31, "train", 16, "vehicle", True, False),
    (32, "motorcycle", 17, "vehicle", True, False),
    (33, "bicycle", 18, "vehicle", True, False),
))

# The categories in the order the evaluation reports them (first appearance in the table).
CITYSCAPES_CATEGORIES: Tuple[str, ...] = tuple(dict.fromkeys(label.category for label in CITYSCAPES_LABELS))

# Average pixel count of a ground-truth instance per class, the weights of instance-level IoU.
CITYSCAPES_AVG_CLASS_SIZE: Dict[str, float] = {
    "bicycle": 4672.3249222261,
    "caravan": 36771.8241758242,
    "motorcycle": 6298.7200839748,
    "rider": 3930.4788056518,
    "bus": 35732.1511111111,
    "train": 67583.7075812274,
    "car": 12794.0202738185,
    "person": 3462.4756337644,
    "truck": 27855.1264367816,
    "trailer": 16926.9763313609,
}


def cityscapes_train_id_to_label_id() -> Dict[int, int]:
    """trainId -> label id of the 19 evaluated classes; trainId 255 (ignored) -> 0 ("unlabeled")."""
    table = {label.train_id: label.id for label in CITYSCAPES_LABELS if not label.ignore_in_eval}
    table[255] = 0
    return table


ADE20K_CLASSES: Tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper",
    "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow",
    "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower",
    "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair",
    "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier",
    "awning", "streetlight", "booth", "television", "airplane", "dirt track", "apparel", "pole", "land",
    "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship", "fountain",
    "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name",
    "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood",
    "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)


def unique_names(names: List[str]) -> List[str]:
    """Class names made unique by a ' (k)' suffix on repeats, so they can key a dict."""
    seen: Dict[str, int] = {}
    out = []
    for name in names:
        k = seen.get(name, 0)
        seen[name] = k + 1
        out.append(name if k == 0 else f"{name} ({k})")
    return out
