"""Deterministic generator of Cityscapes-style instance data written as real files:
``gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_{instanceIds,labelIds}.png`` and the official
results layout ``results/<city>_<seq>_<frame>_pred.txt`` + ``results/masks/*.png``.

Scenes have stuff areas, void and group (id < 1000) regions, instances of the 8 classes (some tiny,
some caravans that are neither class nor void); predictions are shifted copies, duplicates, misses,
false positives, masks on void / group regions and predictions of non-instance labels, with scores
drawn so that ties happen. A pure function of (seed, image index). Needs numpy and Pillow.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

CLASS_IDS = (24, 25, 26, 27, 28, 31, 32, 33)


def _scene(rng, h: int, w: int, n_inst: int, extent: Tuple[int, int] = (10, 3)):
    import numpy as np
    ids = np.full((h, w), 7, dtype=np.uint16)              # road
    ids[: h // 3] = 23                                      # sky
    ids[:, : w // 8] = 0                                    # void (unlabeled)
    ids[h // 3: h // 2, w // 2:] = 18                       # polegroup (void)
    gy, gx = rng.integers(0, h - h // 4), rng.integers(0, w - w // 4)
    ids[gy: gy + h // 5, gx: gx + w // 5] = rng.choice(CLASS_IDS)  # a group region
    used = {}
    for _ in range(n_inst):
        label = int(rng.choice(CLASS_IDS + (29,)))
        k = used.get(label, 0)
        used[label] = k + 1
        tiny = rng.random() < 0.15
        bh = int(rng.integers(2, 8)) if tiny else int(rng.integers(h // extent[0] + 2, h // extent[1] + 3))
        bw = int(rng.integers(2, 8)) if tiny else int(rng.integers(w // extent[0] + 2, w // extent[1] + 3))
        y, x = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        ids[y: y + bh, x: x + bw] = label * 1000 + k
    return ids


def _predictions(rng, ids, keep_curves: bool) -> List[Tuple[object, int, float]]:
    import numpy as np
    h, w = ids.shape
    preds = []
    exact = set()  # with exact=True, one exact copy per class and image keeps every curve non-empty
    for v in np.unique(ids):
        v = int(v)
        label = v // 1000 if v >= 1000 else v
        m = ids == v
        if keep_curves and v >= 1000 and label in CLASS_IDS and label not in exact and m.sum() >= 100:
            exact.add(label)
            preds.append((m, label, round(float(rng.random()), 1)))
            continue
        if v < 1000 and label not in CLASS_IDS and rng.random() < 0.7:
            continue
        if rng.random() < 0.2:
            continue                                         # a miss
        dy, dx = rng.integers(-h // 20 - 1, h // 20 + 2, size=2)
        m = np.roll(m, (int(dy), int(dx)), axis=(0, 1))
        pl = label if label in CLASS_IDS or rng.random() < 0.5 else int(rng.choice(CLASS_IDS))
        score = round(float(rng.random()), 1)
        preds.append((m, pl, score))
        if rng.random() < 0.3:                               # a duplicate
            preds.append((np.roll(m, 1, axis=1), pl, round(float(rng.random()), 1)))
    for _ in range(int(rng.integers(0, 4))):                 # false positives, some off-class
        m = np.zeros((h, w), bool)
        y, x = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4))
        m[y: y + int(rng.integers(2, h // 3)), x: x + int(rng.integers(2, w // 3))] = True
        preds.append((m, int(rng.choice(CLASS_IDS + (7,))), round(float(rng.random()), 2)))
    if rng.random() < 0.2:
        preds.append((np.zeros((h, w), bool), int(rng.choice(CLASS_IDS)), 0.5))  # empty mask
    return preds


def generate(root: str, seed: int = 0, images: int = 4, height: int = 64, width: int = 128,
             instances: int = 8, city: str = "synth", keep_curves: bool = True,
             extent: Tuple[int, int] = (10, 3)) -> Tuple[Path, Path]:
    """Writes ``root/gtFine/val/<city>/...`` and ``root/results/...``; returns (gt folder, results folder).

    ``keep_curves`` adds an exact prediction of one large instance per class and image, so that no
    class with GT ends with every prediction ignored (where cityscapesscripts crashes, its issue #89).
    Instances that are not tiny span 1/extent[0] to 1/extent[1] of the image's height and width;
    smaller ones overlap less, so more of them survive as separate GT instances and predictions."""
    import numpy as np
    from PIL import Image
    base = Path(root)
    gt_dir = base / "gtFine" / "val" / city
    res = base / "results"
    (res / "masks").mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    for i in range(images):
        rng = np.random.default_rng([seed, i])
        stem = f"{city}_{seed:06d}_{i:06d}"
        ids = _scene(rng, height, width, instances, extent)
        Image.fromarray(ids).save(gt_dir / f"{stem}_gtFine_instanceIds.png")
        labels = np.where(ids >= 1000, ids // 1000, ids).astype(np.uint8)
        Image.fromarray(labels).save(gt_dir / f"{stem}_gtFine_labelIds.png")
        lines = []
        for j, (m, label, score) in enumerate(_predictions(rng, ids, keep_curves)):
            rel = f"masks/{stem}_{j:03d}.png"
            im = Image.fromarray((m * 255).astype(np.uint8))
            (im.convert("1") if j % 3 == 0 else im).save(res / rel)
            lines.append(f"{rel} {label} {score}")
        (res / f"{stem}_pred.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    return base / "gtFine" / "val", res
