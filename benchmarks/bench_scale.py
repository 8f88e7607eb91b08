"""Panoptic quality at scale: one process vs fastpq.dask on a LocalCluster of 2 worker processes
(1 thread each), from local files and from an S3 endpoint, at 500 / 2000 / 5000 COCO-like images.

Data: ``--unique`` distinct COCO-like scenes (480x640, fastpq.synthetic) are generated once into
benchmarks/bench_data/scale/ (git-ignored); the larger sets tile them (hard links, new image ids
and file names), so generation stays a minute while every image is still read and scored. The S3
endpoint is moto's server (``moto[server]``) on loopback in this process, read with s3fs; it is a
Python server sharing this machine's cores, so its numbers measure fastpq's fetching against a slow
local store, not a real object store.

Targets (issue 16): Dask from local files within 1.3x of the single-process time; time linear in
the number of images (5000 within 11x of 500). Results are checked equal (counts) to one process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from _machine import machine_description  # noqa: E402

import fastpq  # noqa: E402
import fastpq.dask  # noqa: E402
from fastpq import synthetic  # noqa: E402

DATA = REPO / "benchmarks" / "bench_data" / "scale"


def tiled(n: int, unique: int) -> Path:
    """The dataset of n images: the unique scenes repeated (hard links), written once."""
    base = DATA / f"unique{unique}"
    if not (base / "gt.json").exists():
        synthetic.generate_dataset(base, synthetic.COCO_LIKE, unique, seed=16, workers=2)
    root = DATA / f"n{n}_of{unique}"
    if (root / "gt.json").exists():
        return root
    gt, pred = json.loads((base / "gt.json").read_text()), json.loads((base / "pred.json").read_text())
    for sub in ("gt", "pred"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    pred_by_id = {a["image_id"]: a for a in pred["annotations"]}
    images, gt_anns, pred_anns = [], [], []
    for i in range(n):
        src = gt["annotations"][i % unique]
        image = dict(gt["images"][i % unique], id=i, file_name=f"{i:012d}.jpg")
        name = f"{i:012d}.png"
        for sub in ("gt", "pred"):
            target = root / sub / name
            if not target.exists():
                os.link(base / sub / (src["file_name"] if sub == "gt" else pred_by_id[src["image_id"]]["file_name"]),
                        target)
        images.append(image)
        gt_anns.append(dict(src, image_id=i, file_name=name))
        pred_anns.append(dict(pred_by_id[src["image_id"]], image_id=i, file_name=name))
    (root / "gt.json").write_text(json.dumps({"images": images, "annotations": gt_anns,
                                              "categories": gt["categories"]}))
    (root / "pred.json").write_text(json.dumps({"images": images, "annotations": pred_anns,
                                                "categories": gt["categories"]}))
    return root


def timed(fn: Callable[[], Any], repeat: int) -> "tuple[float, Any]":
    """Best wall time of `repeat` runs (after none: the first run is timed too) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def counts(result: Any) -> List[Any]:
    return [(c.category_id, c.tp, c.fp, c.fn) for c in result.classes]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 5000])
    ap.add_argument("--s3-sizes", type=int, nargs="*", default=[500, 2000, 5000],
                    help="sizes also scored from the S3 endpoint (uploading takes time)")
    ap.add_argument("--unique", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    print(machine_description())
    import distributed

    s3 = None
    if a.s3_sizes:
        from s3_server import start

        s3 = start()
        s3.client.create_bucket(Bucket="bench")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=40)
    client = distributed.Client(cluster, set_as_default=False)
    rows: List[Dict[str, Optional[float]]] = []
    try:
        for n in a.sizes:
            root = tiled(n, a.unique)
            gt, pred = str(root / "gt.json"), str(root / "pred.json")
            t_single, single = timed(lambda: fastpq.evaluate(gt, pred, workers=2), a.repeat)
            t_dask, dask_result = timed(lambda: fastpq.dask.evaluate(gt, pred, client=client), a.repeat)
            assert counts(dask_result) == counts(single)
            t_s3 = None
            if s3 is not None and n in a.s3_sizes:
                url = s3.upload("bench", root, f"n{n}")
                t_s3, s3_result = timed(lambda: fastpq.dask.evaluate(f"{url}/gt.json", f"{url}/pred.json",
                                                                     client=client,
                                                                     storage_options=s3.storage_options), 1)
                assert counts(s3_result) == counts(single)
            rows.append({"n": n, "single": t_single, "dask": t_dask, "s3": t_s3})
            print(f"  {n} images: single {t_single:.2f} s, dask {t_dask:.2f} s"
                  + (f", dask from S3 {t_s3:.2f} s" if t_s3 is not None else ""), flush=True)
    finally:
        client.close()
        cluster.close()
        if s3 is not None:
            s3.server.stop()
    base = rows[0]
    print()
    print("| images | 1 process (s) | Dask 2 proc, local (s) | Dask / 1 proc | Dask 2 proc, S3 (s) | S3 / 1 proc "
          f"| 1 proc vs {base['n']} | Dask vs {base['n']} |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        s3_text = f"{r['s3']:.2f} | {r['s3'] / r['single']:.2f}x" if r["s3"] is not None else "- | -"
        print(f"| {r['n']} | {r['single']:.2f} | {r['dask']:.2f} | {r['dask'] / r['single']:.2f}x | {s3_text} "
              f"| {r['single'] / base['single']:.2f}x | {r['dask'] / base['dask']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
