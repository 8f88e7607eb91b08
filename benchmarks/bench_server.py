"""The cost of isolation: IsolatedScorer (a fresh capped process per submission) against in-process
score_submission, on the same COCO-size submissions, one at a time; the difference per submission is
the price of a process start, its imports and the hand-over (target: under 150 ms)."""

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=20, help="submissions per run (default 20)")
    parser.add_argument("--images", type=int, default=5, help="COCO-size images per submission (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported (default 3)")
    args = parser.parse_args()
    print(machine_description())
    with tempfile.TemporaryDirectory() as root:
        paths = synthetic.generate_dataset(root, synthetic.COCO_LIKE, args.images, seed=0, workers=2)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("pred.json", paths.pred_json.read_bytes())
            for png in sorted(paths.pred_folder.iterdir()):
                z.writestr(f"pred/{png.name}", png.read_bytes())
        archive = buffer.getvalue()
        scorer = server.IsolatedScorer(gt_json=paths.gt_json, limits=SubmissionLimits())
        runs = {"in process (score_submission)": lambda: score_submission(archive, paths.gt_json),
                "isolated (IsolatedScorer.score)": lambda: scorer.score(archive)}
        assert all(f()["status"] == "ok" for f in runs.values())  # warm-up, and both score
        times = {}
        for name, f in runs.items():
            samples = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                for _ in range(args.submissions):
                    f()
                samples.append((time.perf_counter() - start) / args.submissions)
            times[name] = sorted(samples)[len(samples) // 2]
    base = times["in process (score_submission)"]
    print(f"\n### {args.submissions} submissions of {args.images} COCO-size images, one at a time "
          f"(median of {args.repeat} runs)\n")
    print("| path | per submission (ms) | vs in process |\n|---|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {1000 * t:.1f} | {t / base:.2f}x |")
    overhead = times["isolated (IsolatedScorer.score)"] - base
    print(f"\nisolation adds {1000 * overhead:.0f} ms per submission (target: under 150 ms) -> "
          f"{'MET' if overhead < 0.150 else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
