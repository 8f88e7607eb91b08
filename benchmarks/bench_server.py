"""The cost of isolation: IsolatedScorer (a capped child process per submission) against in-process
score_submission, on the same submissions, one at a time: COCO-size panoptic and Cityscapes-size
semantic ones; the difference per submission is the price of the child's start and the hand-over
(target: under 150 ms)."""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_description  # noqa: E402

from fastpq import server, synthetic  # noqa: E402
from fastpq.server import SubmissionLimits, score_submission  # noqa: E402


def _zip(entries) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, path in entries:
            z.writestr(name, Path(path).read_bytes())
    return buffer.getvalue()


def _panoptic_case(root: str, images: int):
    """COCO-size panoptic submissions: the archive and the scorers' ground-truth arguments."""
    paths = synthetic.generate_dataset(root, synthetic.COCO_LIKE, images, seed=0, workers=2)
    archive = _zip([("pred.json", paths.pred_json)] +
                   [(f"pred/{png.name}", png) for png in sorted(paths.pred_folder.iterdir())])
    return archive, {"task": "panoptic", "gt_json": paths.gt_json}


def _semantic_case(root: str, images: int):
    """Cityscapes-size (1024 x 2048) semantic submissions, scored with the cityscapes preset."""
    from fastpq.synthetic.semantic import write_cityscapes_like

    triples = write_cityscapes_like(root, images, seed=0, height=1024, width=2048, workers=2)
    archive = _zip([(Path(pred).name, pred) for _, _, pred in triples])
    return archive, {"task": "semantic", "gt_folder": Path(root) / "gtFine" / "val", "preset": "cityscapes"}


CASES = {"panoptic": ("COCO-size panoptic", _panoptic_case), "semantic": ("Cityscapes-size semantic", _semantic_case)}


def _median_per_submission(f, submissions: int, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(submissions):
            f()
        samples.append((time.perf_counter() - start) / submissions)
    return sorted(samples)[len(samples) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=20, help="submissions per run (default 20)")
    parser.add_argument("--images", type=int, default=5, help="images per submission (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported (default 3)")
    parser.add_argument("--tasks", default="panoptic,semantic", help="comma-separated: panoptic, semantic")
    args = parser.parse_args()
    print(machine_description())
    print(f"\n### {args.submissions} submissions of {args.images} images each, one at a time "
          f"(median of {args.repeat} runs)\n")
    print("| submissions | in process (ms) | isolated (ms) | isolation adds (ms) |\n|---|---:|---:|---:|")
    verdicts = []
    for task in args.tasks.split(","):
        label, make = CASES[task]
        with tempfile.TemporaryDirectory() as root:
            archive, config = make(root, args.images)
            options = dict(config)
            task_name = options.pop("task")
            scorer = server.IsolatedScorer(task_name, limits=SubmissionLimits(), **options)
            gt = {k: options.pop(k) for k in ("gt_json", "gt_folder") if k in options}
            runs = {"in": lambda: score_submission(archive, task=task_name, **gt, **options),
                    "isolated": lambda: scorer.score(archive)}
            assert all(f()["status"] == "ok" for f in runs.values())  # warm-up, and both score
            times = {name: _median_per_submission(f, args.submissions, args.repeat) for name, f in runs.items()}
        overhead = times["isolated"] - times["in"]
        print(f"| {label} | {1000 * times['in']:.1f} | {1000 * times['isolated']:.1f} | {1000 * overhead:.0f} |")
        verdicts.append(f"{label}: isolation adds {1000 * overhead:.0f} ms per submission (target: under 150 ms) -> "
                        f"{'MET' if overhead < 0.150 else 'NOT MET'}")
    print()
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
