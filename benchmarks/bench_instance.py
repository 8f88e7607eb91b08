"""Cityscapes instance-level AP: fastpq against cityscapesscripts 2.3.0, end to end from the
official files (gtFine *_instanceIds.png, results txt + one mask PNG per prediction), in one run.

The issue's setting, the default: 200 Cityscapes-size images (1024x2048) with about 50 and about
200 predictions each. The data comes from fastpq.synthetic.cityscapes_instances: ``--unique``
distinct images are generated (2M-pixel masks take minutes to write on small machines) and written
again under other frame numbers until there are ``--images``; no tool caches anything between
images, so each copy costs what a new image costs. cityscapesscripts is timed on the first
``--reference-images`` images and its time scaled to all of them (it is linear in images: per image
it reads the GT and every mask and compares them pixel by pixel); the table says so. Every fastpq
result on that subset is checked equal to the reference's. ``fastpq in memory`` is InstanceAP fed
the subset's GT arrays and COCO RLE masks (decoding the PNGs is not timed), scaled the same way.
``--data DIR`` keeps the generated trees for later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "instance"))

from _machine import machine_description, median_time  # noqa: E402
from cityscapes_reference import run_reference  # noqa: E402

import fastpq.instance as I  # noqa: E402
from fastpq.synthetic.cityscapes_instances import generate  # noqa: E402

# predictions per image -> (GT instances per image, instance extent) that give about that many
SETTINGS: Dict[int, Tuple[int, Tuple[int, int]]] = {50: (57, (10, 3)), 200: (212, (24, 8))}


def build_tree(root: Path, preds: int, images: int, unique: int, height: int, width: int) -> Tuple[Path, Path]:
    """The GT folder and results folder of ``images`` images (``unique`` generated, then copied)."""
    gt_dir, res = root / "gtFine" / "val", root / "results"
    if (root / "complete").exists():
        return gt_dir, res
    shutil.rmtree(root, ignore_errors=True)
    instances, extent = SETTINGS[preds]
    generate(str(root), seed=instances, images=unique, height=height, width=width, instances=instances,
             extent=extent)
    city = gt_dir / "synth"
    for i in range(unique, images):
        src, dst = f"synth_{instances:06d}_{i % unique:06d}", f"synth_{instances:06d}_{i:06d}"
        for kind in ("instanceIds", "labelIds"):
            shutil.copyfile(city / f"{src}_gtFine_{kind}.png", city / f"{dst}_gtFine_{kind}.png")
        lines = []
        for line in (res / f"{src}_pred.txt").read_text().split("\n"):
            if line:
                rel, label, score = line.split(" ")
                new = rel.replace(src, dst)
                os.link(res / rel, res / new)
                lines.append(f"{new} {label} {score}")
        (res / f"{dst}_pred.txt").write_text("\n".join(lines) + "\n")
    (root / "complete").write_text("ok")
    return gt_dir, res


def subset(gt_dir: Path, n: int, into: Path) -> Path:
    """A folder with links to the first n GT files (the reference and fastpq then read only those)."""
    city = into / "val" / "synth"
    city.mkdir(parents=True, exist_ok=True)
    for g in sorted(gt_dir.rglob("*_gtFine_instanceIds.png"))[:n]:
        (city / g.name).symlink_to(g)
    return into / "val"


def in_memory_inputs(gt_dir: Path, res: Path) -> List[tuple]:
    """(image id, GT array, [(COCO RLE, label, score)]) of every image under gt_dir."""
    import numpy as np
    from PIL import Image
    from fastpq import _core
    out = []
    for g in sorted(gt_dir.rglob("*_gtFine_instanceIds.png")):
        key = "_".join(g.name.split("_")[:3])
        preds = []
        for line in (res / f"{key}_pred.txt").read_text().split("\n"):
            if line:
                rel, label, score = line.split(" ")
                m = (np.array(Image.open(res / rel).convert("L")) != 0).astype(np.uint8)
                preds.append(({"size": list(m.shape), "counts": _core.rle_encode(m)}, int(label), float(score)))
        out.append((key, np.array(Image.open(g)), preds))
    return out


def main() -> int:
    """Generates (or reuses) the data, times the tools and prints the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--unique", type=int, default=40)
    ap.add_argument("--height", type=int, default=1024)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--preds", type=int, nargs="+", default=[50, 200], choices=sorted(SETTINGS))
    ap.add_argument("--reference-images", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--data", default=None, help="keep the generated trees here (reused when complete)")
    a = ap.parse_args()
    print(machine_description())
    print(f"{a.images} images of {a.height}x{a.width} ({a.unique} generated, the rest copies); cityscapesscripts "
          f"timed on {a.reference_images} images and scaled to {a.images}")
    print(f"{'preds/img':>9} {'GT inst./img':>12} {'cityscapesscripts s':>20} {'fastpq files s':>15} {'ratio':>7} "
          f"{'fastpq in memory s':>19}")
    with tempfile.TemporaryDirectory() as tmp:
        for preds in a.preds:
            root = Path(a.data or tmp) / f"instance_{a.images}x{a.height}x{a.width}_p{preds}"
            gt_dir, res = build_tree(root, preds, a.images, a.unique, a.height, a.width)
            n_preds = sum(len(t.read_text().split()) // 3 for t in res.glob("*.txt")) / a.images
            part = subset(gt_dir, a.reference_images, Path(tmp) / f"subset{preds}")
            scale = a.images / a.reference_images
            ref_t, ref = median_time(lambda: run_reference(str(part), str(res)), repeat=1, warmup=0)
            ok = json.dumps(ref, sort_keys=True) == json.dumps(I.evaluate(str(part), str(res)).to_dict(),
                                                                 sort_keys=True)
            ours_t, ours = median_time(lambda: I.evaluate(str(gt_dir), str(res), workers=a.workers), repeat=a.repeat)
            inputs = in_memory_inputs(part, res)

            def in_memory() -> dict:
                m = I.InstanceAP()
                for key, ids, p in inputs:
                    m.update(key, ids, p)
                return m.compute().to_dict()

            mem_t, mem = median_time(in_memory, repeat=1, warmup=0)
            ok &= json.dumps(mem, sort_keys=True) == json.dumps(ref, sort_keys=True)
            gt_inst = SETTINGS[preds][0]
            print(f"{n_preds:>9.0f} {gt_inst:>12} {ref_t * scale:>15.1f} (x{scale:.0f}) {ours_t:>15.3f} "
                  f"{ref_t * scale / ours_t:>6.1f}x {mem_t * scale:>14.2f} (x{scale:.0f})"
                  + ("" if ok else "  RESULTS DIFFER"))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"total {time.perf_counter() - t0:.0f} s")
    sys.exit(code)
