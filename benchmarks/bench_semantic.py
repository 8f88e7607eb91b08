"""Semantic segmentation scoring: fastpq against the references and peers, in one run, on the same files.

Data (fastpq.synthetic.semantic, cached under --data): Cityscapes-size pairs (1024x2048 labelIds +
instanceIds + prediction PNGs) and ADE20K-size pairs (~512x683, 150 classes). Rows:

- fastpq: ``fastpq.semantic.evaluate`` end to end from the PNG files (cityscapes preset with iIoU
  and categories; ade20k preset);
- the bound: reading and inflating every PNG fastpq reads once (``_core.inflate_png_files``, on as
  many threads as fastpq uses; no unfiltering, no Adler-32 check, no counting);
- hotcoco ``SemanticEval.update_folders`` and vernier ``evaluate_semantic_from_pngs`` (their mIoU,
  parallel, from the same files; for Cityscapes over the 34 label ids, without iIoU);
- cityscapesscripts ``evaluateImgLists`` (pure Python, with iIoU), torchmetrics
  ``MulticlassJaccardIndex`` (Pillow decoding) and a numpy ``bincount`` baseline (Pillow decoding):
  these are slow, so they run on the first --slow-images images and their time is scaled to the set;
- in memory: ``SemanticQuality.update`` on uint8 arrays against a read of both arrays
  (``np.count_nonzero``, a memory-bandwidth bound).

Every tool's mIoU is checked against fastpq's where they compute the same number. Times are medians
of --repeat runs after a warm-up; ratios are each tool's time over fastpq's in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_description, median_time  # noqa: E402

import fastpq.semantic as S  # noqa: E402
from fastpq import _core  # noqa: E402
from fastpq.synthetic.semantic import write_ade20k_like, write_cityscapes_like  # noqa: E402


def _data(root: Path, kind: str, n: int, h: int, w: int):
    folder = root / f"{kind}-{n}-{h}x{w}"
    done = folder / "done"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        t = time.perf_counter()
        writer = write_cityscapes_like if kind == "cityscapes" else write_ade20k_like
        writer(folder, n, seed=0, height=h, width=w, workers=2)
        done.write_text("")
        print(f"(generated {n} {kind}-like pairs in {time.perf_counter() - t:.0f} s)", flush=True)
    if kind == "cityscapes":
        gts = sorted((folder / "gtFine" / "val").rglob("*_labelIds.png"))
        insts = [Path(str(g).replace("labelIds", "instanceIds")) for g in gts]
        preds = [folder / "results" / (g.name.replace("_gtFine_labelIds.png", "_pred.png")) for g in gts]
        flat = folder / "flat"  # same names on both sides, for the peers that pair by name
        if not (flat / "done").exists():
            for side, files in (("gt", gts), ("pred", preds)):
                (flat / side).mkdir(parents=True, exist_ok=True)
                for g, f in zip(gts, files):
                    link = flat / side / g.name
                    if not link.exists():
                        os.symlink(f, link)
            (flat / "done").write_text("")
        return folder, [str(g) for g in gts], [str(p) for p in preds], [str(i) for i in insts], flat
    gts = sorted((folder / "annotations" / "validation").glob("*.png"))
    preds = [folder / "pred" / g.name for g in gts]
    return folder, [str(g) for g in gts], [str(p) for p in preds], None, None


def _read_bound(files, workers):
    _core.inflate_png_files(files, workers)


def _numpy_bincount(gts, preds, k, ignore=None):
    m = np.zeros(k * k, dtype=np.int64)
    for g, p in zip(gts, preds):
        a = np.array(Image.open(g)).astype(np.int64).ravel()
        b = np.array(Image.open(p)).astype(np.int64).ravel()
        if ignore is not None:
            keep = a != ignore
            a, b = a[keep], b[keep]
        m += np.bincount(a * k + b, minlength=k * k)
    return m.reshape(k, k)


def _torchmetrics(gts, preds, k, ignore=None):
    import torch
    from torchmetrics.classification import MulticlassJaccardIndex

    metric = MulticlassJaccardIndex(num_classes=k, ignore_index=ignore, validate_args=False)
    for g, p in zip(gts, preds):
        metric.update(torch.from_numpy(np.array(Image.open(p)).astype(np.int64)),
                      torch.from_numpy(np.array(Image.open(g)).astype(np.int64)))
    return float(metric.compute())


def _cityscapes_reference(gts, preds):
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as E

    had = hasattr(np, "in1d")
    if not had:
        np.in1d = np.isin  # removed in numpy 2.4; its iIoU path calls it
    E.CSUPPORT = False
    E.args.quiet, E.args.JSONOutput = True, False
    try:
        return E.evaluateImgLists(preds, gts, E.args)
    finally:
        if not had:
            del np.in1d


def _row(name, seconds, base, note=""):
    return f"| {name} | {seconds:.3f} | {seconds / base:.2f}x | {note} |"


def bench_set(kind, args, root):
    h, w, n = (1024, 2048, args.cityscapes) if kind == "cityscapes" else (512, 683, args.ade)
    folder, gts, preds, insts, flat = _data(root, kind, n, h, w)
    slow = min(args.slow_images, n)
    scale = n / slow
    workers = args.workers or os.cpu_count()
    rows = []
    if kind == "cityscapes":
        t_fast, r = median_time(lambda: S.evaluate(folder / "gtFine" / "val", folder / "results",
                                                   preset="cityscapes", workers=args.workers), args.repeat)
    else:
        t_fast, r = median_time(lambda: S.evaluate(folder / "annotations" / "validation", folder / "pred",
                                                   preset="ade20k", workers=args.workers), args.repeat)
    rows.append(_row("fastpq" + (" (IoU, iIoU, categories)" if kind == "cityscapes" else " (ade20k)"), t_fast, t_fast))
    if kind == "cityscapes":  # what the peers compute: the label-id IoUs, without the instance files
        t_plain, _ = median_time(lambda: S.evaluate(folder / "gtFine" / "val", folder / "results", preset="cityscapes",
                                                    instances=False, workers=args.workers), args.repeat)
        rows.append(_row("fastpq (IoU and categories, no iIoU: the peers' work)", t_plain, t_fast,
                         f"{t_fast / t_plain:.2f}x faster than with iIoU"))
    files = gts + preds + (insts or [])
    t_bound, _ = median_time(lambda: _read_bound(files, workers), args.repeat)
    rows.append(_row("bound: read + inflate every PNG once", t_bound, t_fast, f"{len(files)} files, {workers} threads"))
    k, ignore = (34, None) if kind == "cityscapes" else (150, None)
    plain = S.evaluate(gts, preds, num_classes=k + (0 if kind == "cityscapes" else 1), workers=args.workers)
    try:
        import hotcoco.semantic as hs

        gt_dir, pred_dir = (flat / "gt", flat / "pred") if flat else (folder / "annotations" / "validation",
                                                                    folder / "pred")

        def run_hotcoco():
            ev = hs.SemanticEval(k + (0 if kind == "cityscapes" else 1), ignore_index=None)
            ev.update_folders(str(gt_dir), str(pred_dir))
            return ev.confusion()

        t, conf = median_time(run_hotcoco, args.repeat)
        agree = np.array_equal(np.asarray(conf, dtype=np.uint64), plain.confusion)
        rows.append(_row("hotcoco SemanticEval.update_folders", t, t_fast, f"confusion equal: {agree}"))
    except Exception as e:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
        rows.append(f"| hotcoco | - | - | {type(e).__name__}: {e} |")
    try:
        import vernier.semantic as vs

        mapping_g = dict(enumerate(gts))
        mapping_p = dict(enumerate(preds))

        def run_vernier():
            return vs.evaluate_semantic_from_pngs(mapping_g, mapping_p, k + (0 if kind == "cityscapes" else 1),
                                                  "corrected", num_threads=workers)

        t, _ = median_time(run_vernier, args.repeat)
        rows.append(_row("vernier evaluate_semantic_from_pngs", t, t_fast))
    except Exception as e:  # noqa: BLE001
        rows.append(f"| vernier | - | - | {type(e).__name__}: {str(e)[:80]} |")
    t, _ = median_time(lambda: _numpy_bincount(gts[:slow], preds[:slow], k + (0 if kind == "cityscapes" else 1)), 1, 0)
    rows.append(_row("numpy bincount (Pillow decode)", t * scale, t_fast, f"{slow} images, scaled x{scale:.1f}"))
    t, _ = median_time(lambda: _torchmetrics(gts[:slow], preds[:slow], k + (0 if kind == "cityscapes" else 1)), 1, 0)
    rows.append(_row("torchmetrics MulticlassJaccardIndex (Pillow decode)", t * scale, t_fast,
                     f"{slow} images, scaled x{scale:.1f}"))
    if kind == "cityscapes":
        t, ref = median_time(lambda: _cityscapes_reference(gts[:slow], preds[:slow]), 1, 0)
        sub = S.evaluate(gts[:slow], preds[:slow], preset="cityscapes", instances=insts[:slow])
        same = ref["averageScoreInstClasses"] == sub.miiou and ref["averageScoreClasses"] == sub.miou
        rows.append(_row("cityscapesscripts evaluateImgLists (pure Python, iIoU)", t * scale, t_fast,
                         f"{slow} images, scaled x{scale:.1f}; IoU and iIoU equal: {same}"))
    print(f"\n### {kind}-like, {n} pairs of {h}x{w} (median of {args.repeat} runs after a warm-up)\n")
    print("| tool | time (s) | vs fastpq | note |\n|---|---:|---:|---|")
    print("\n".join(rows))
    return r


def bench_memory(args):
    rng = np.random.default_rng(0)
    n, h, w = args.memory_pairs, 1024, 2048
    cell = 64
    gts = [np.repeat(np.repeat(rng.integers(0, 19, (h // cell, w // cell)), cell, 0), cell, 1).astype(np.uint8)
           for _ in range(n)]
    preds = [np.where(rng.random((h, w)) < 0.05, rng.integers(0, 19, (h, w)), g).astype(np.uint8) for g in gts]

    def fastpq_run():
        m = S.SemanticQuality(num_classes=19, workers=args.workers)
        m.update(gts, preds)
        return m.compute()

    t_fast, _ = median_time(fastpq_run, args.repeat)

    def bound():
        with ThreadPoolExecutor(args.workers or os.cpu_count()) as pool:
            list(pool.map(np.count_nonzero, gts + preds))

    t_bound, _ = median_time(bound, args.repeat)
    print(f"\n### In memory: {n} pairs of {h}x{w} uint8 arrays ({2 * n * h * w / 2**20:.0f} MiB)\n")
    print("| tool | time (s) | vs fastpq | note |\n|---|---:|---:|---|")
    print(_row("fastpq SemanticQuality.update + compute", t_fast, t_fast))
    print(_row("bound: read both arrays once (np.count_nonzero)", t_bound, t_fast))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cityscapes", type=int, default=500, help="Cityscapes-size pairs (default %(default)s)")
    p.add_argument("--ade", type=int, default=2000, help="ADE20K-size pairs (default %(default)s)")
    p.add_argument("--slow-images", type=int, default=20, help="images for the slow tools (scaled)")
    p.add_argument("--memory-pairs", type=int, default=16)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--data", default="/tmp/fastpq-bench-semantic", help="where generated data is cached")
    args = p.parse_args()
    root = Path(args.data)
    root.mkdir(parents=True, exist_ok=True)
    print(machine_description())
    if args.cityscapes:
        bench_set("cityscapes", args, root)
    if args.ade:
        bench_set("ade20k", args, root)
    if args.memory_pairs:
        bench_memory(args)


if __name__ == "__main__":
    main()
