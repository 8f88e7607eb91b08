"""Cityscapes instance-level AP: fastpq against cityscapesscripts 2.3.0, end to end from the
official files (gtFine *_instanceIds.png, results txt + one mask PNG per prediction), in one run.

The issue's setting is 200 Cityscapes-size images (1024x2048) with 50 and 200 predictions each:
``--images 200 --height 1024 --width 2048``. The defaults are smaller so that generation plus the
reference finish in a few minutes on 2 shared cores. The data comes from
fastpq.synthetic.cityscapes_instances (``--instances`` GT instances per image, about one prediction
each plus duplicates and false positives). Every result dict is checked equal to the reference's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "instance"))

from _machine import machine_description, median_time  # noqa: E402
from cityscapes_reference import run_reference  # noqa: E402

import fastpq.instance as I  # noqa: E402
from fastpq.synthetic.cityscapes_instances import generate  # noqa: E402


def main() -> int:
    """Generates the data, times both tools and prints the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--height", type=int, default=512)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--instances", type=int, nargs="+", default=[40, 160])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engine", default="auto")
    a = ap.parse_args()
    print(machine_description())
    print(f"{a.images} images of {a.height}x{a.width}")
    print(f"{'instances':>10} {'preds/img':>10} {'cityscapesscripts s':>20} {'fastpq s':>10} {'ratio':>8}")
    for n in a.instances:
        with tempfile.TemporaryDirectory() as tmp:
            gt, res = generate(tmp, seed=n, images=a.images, height=a.height, width=a.width, instances=n)
            preds = sum(len(t.read_text().splitlines()) for t in Path(res).glob("*.txt")) / a.images
            ref_t, ref = median_time(lambda: run_reference(str(gt), str(res)), repeat=1, warmup=0)
            ours_t, ours = median_time(lambda: I.evaluate(str(gt), str(res), engine=a.engine), repeat=a.repeat)
            ok = json.dumps(ref, sort_keys=True, default=float) == json.dumps(ours.to_dict(), sort_keys=True)
            print(f"{n:>10} {preds:>10.0f} {ref_t:>20.2f} {ours_t:>10.3f} {ref_t / ours_t:>7.1f}x"
                  + ("" if ok else "  RESULTS DIFFER"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
