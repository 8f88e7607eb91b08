#!/usr/bin/env python3
"""The combination heuristic: fastpq against panopticapi's combine_semantic_and_instance_predictions.

Usage::

    python3 benchmarks/bench_combine.py [--images N] [--repeat R]

``N`` COCO-size (480x640) images (default 32) are made by :func:`fastpq.synthetic.generate_image`:
instances are the things of the ground truth and of the perturbed prediction (so they overlap),
with random scores; the semantic map is the prediction's category map. Both are written as each
tool takes them (panopticapi: detection results plus a semantic JSON of per-category RLEs;
fastpq: the same detection results plus semantic PNGs). Rows:

* panopticapi ``combine_predictions``: files in, files out, with its process pool (one process
  per core);
* fastpq ``combine_predictions``: files in, files out, all cores (and one thread);
* fastpq ``combine``: in memory (instances and semantic maps in, id maps out), all cores and one
  thread: the C++ heuristic plus RLE decoding, no PNG I/O.

Timings are medians of ``R`` runs (default 3) after a warm-up. The outputs are checked first:
segment by segment, fastpq's equals panopticapi's (same categories and pixels, in order).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict

import _machine  # benchmarks/_machine.py, next to this script
from _machine import median_time

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from panopticapi.combine_semantic_and_instance_predictions import combine_predictions as reference_combine
from fastpq import synthetic
from fastpq.combine import combine, combine_predictions


def rle(mask: np.ndarray) -> Dict[str, Any]:
    r = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode()}


def make_inputs(root: Path, n: int) -> Dict[str, Any]:
    rng = np.random.default_rng(0)
    spec = synthetic.COCO_LIKE
    categories = spec.categories()
    isthing = {c["id"]: c["isthing"] for c in categories}
    images, instances, semseg, semantic = [], [], [], {}
    (root / "semantic").mkdir(parents=True)
    for index in range(n):
        g = synthetic.generate_image(spec, index, seed=11)
        images.append(g.image)
        for id_map, segments in ((g.gt_id_map, g.gt_segments), (g.pred_id_map, g.pred_segments)):
            for s in segments:
                if isthing[s["category_id"]]:
                    instances.append({"image_id": g.image["id"], "category_id": s["category_id"],
                                      "score": float(rng.uniform(0.3, 1.0)), "segmentation": rle(id_map == s["id"])})
        sem = np.zeros(g.pred_id_map.shape, np.uint8)
        for s in g.pred_segments:
            sem[g.pred_id_map == s["id"]] = s["category_id"]
        semantic[g.image["id"]] = sem
        Image.fromarray(sem).save(root / "semantic" / (os.path.splitext(g.image["file_name"])[0] + ".png"))
        semseg += [{"image_id": g.image["id"], "category_id": int(c), "segmentation": rle(sem == c)}
                   for c in np.unique(sem) if c != 0]
    paths = {"images": root / "images.json", "categories": root / "categories.json",
             "instances": root / "instances.json", "semseg": root / "semseg.json"}
    paths["images"].write_text(json.dumps({"images": images, "categories": categories}))
    paths["categories"].write_text(json.dumps(categories))
    paths["instances"].write_text(json.dumps(instances))
    paths["semseg"].write_text(json.dumps(semseg))
    return {"paths": paths, "images": images, "instances": instances, "semantic": semantic,
            "categories": categories, "root": root}


def read_ids(path: Path) -> np.ndarray:
    rgb = np.array(Image.open(path), dtype=np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def check_equal(ref_json: Path, ours_json: Path) -> int:
    ref, ours = json.loads(ref_json.read_text()), json.loads(ours_json.read_text())
    n = 0
    for ra, oa in zip(ref["annotations"], ours["annotations"]):
        rmap, omap = read_ids(ref_json.with_suffix("") / ra["file_name"]), read_ids(ours_json.with_suffix("") / oa["file_name"])
        rsegs = [s for s in ra["segments_info"] if (rmap == s["id"]).any()]
        assert [s["category_id"] for s in rsegs] == [s["category_id"] for s in oa["segments_info"]]
        for rs, os_ in zip(rsegs, oa["segments_info"]):
            assert np.array_equal(rmap == rs["id"], omap == os_["id"])
        n += len(rsegs)
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-combine-") as tmp:
        d = make_inputs(Path(tmp), args.images)
        p = d["paths"]
        ref_json, ours_json = Path(tmp) / "ref.json", Path(tmp) / "ours.json"

        def run_reference() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                reference_combine(str(p["semseg"]), str(p["instances"]), str(p["images"]), str(p["categories"]),
                                  None, str(ref_json), 0.5, 0.5, 64 * 64)

        def run_files(workers: int) -> Callable[[], None]:
            return lambda: combine_predictions(str(p["instances"]), str(p["images"]), str(ours_json),
                                               semantic_folder=str(d["root"] / "semantic"), workers=workers)

        def run_memory(workers: int) -> Callable[[], None]:
            return lambda: combine(d["images"], d["instances"], d["semantic"], d["categories"], workers=workers)

        run_reference()
        run_files(0)()
        n_segments = check_equal(ref_json, ours_json)
        rows = [("panopticapi combine_predictions (process pool)", median_time(run_reference, args.repeat)[0])]
        rows.append(("fastpq combine_predictions, all cores", median_time(run_files(0), args.repeat)[0]))
        rows.append(("fastpq combine_predictions, 1 thread", median_time(run_files(1), args.repeat)[0]))
        rows.append(("fastpq combine (in memory), all cores", median_time(run_memory(0), args.repeat)[0]))
        rows.append(("fastpq combine (in memory), 1 thread", median_time(run_memory(1), args.repeat)[0]))
    print(f"machine: {_machine.machine_description()}")
    print(f"{args.images} COCO-size images, {len(d['instances'])} instances; outputs equal segment by segment "
          f"({n_segments} segments)\n")
    base = rows[0][1]
    print(f"| {'':48s} | {'time (s)':>9s} | {'images/s':>9s} | {'speed-up':>8s} |")
    print(f"|{'-' * 50}|{'-' * 11}|{'-' * 11}|{'-' * 10}|")
    for name, t in rows:
        print(f"| {name:48s} | {t:9.3f} | {args.images / t:9.1f} | {base / t:7.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
