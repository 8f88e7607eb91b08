"""Load on the submission worker: concurrent scoring equals one-by-one scoring, and memory stays flat.

* 20 different submissions (18 scored, 2 refused) scored at once from 20 threads and from a
  process pool give exactly (``==``) the outcomes of scoring them one by one: fastpq adds its sums
  in a fixed order, so nothing may depend on scheduling.
* 1000 evaluations in one process (``fastpq.evaluate``, failing evaluations and
  ``score_submission`` calls) leave the resident set flat after a warm-up.
"""

from __future__ import annotations

import concurrent.futures
import functools
import io
import json
import multiprocessing
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

import fastpq
from fastpq import server, synthetic

SPEC = synthetic.DatasetSpec("load", 48, 64, 10, 5)
N_IMAGES = 6
N_SUBMISSIONS = 20
BROKEN = {7: "not-a-png", 13: "zip-slip"}  # submissions refused, so that error outcomes are compared too


def write_prediction(root: Path, gt: List[synthetic.GeneratedImage], seed: int) -> Path:
    """A prediction of the shared ground truth, perturbed with its own seed; returns its JSON path."""
    folder = root / "pred"
    folder.mkdir(parents=True)
    annotations = []
    for index, image in enumerate(gt):
        rng = np.random.default_rng([seed, index])
        with warnings.catch_warnings():  # the generator's splits may take the mean of an empty slice
            warnings.simplefilter("ignore", RuntimeWarning)
            id_map, segments = synthetic.perturb(rng, image.gt_id_map, image.gt_segments, SPEC)
        synthetic.write_png(folder / image.png_name, id_map)
        annotations.append({"image_id": image.image["id"], "file_name": image.png_name, "segments_info": segments})
    pred_json = root / "pred.json"
    pred_json.write_text(json.dumps({"annotations": annotations, "categories": SPEC.categories()}))
    return pred_json


def zip_prediction(pred_json: Path, breakage: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(pred_json, "pred.json")
        for i, png in enumerate(sorted(pred_json.with_suffix("").iterdir())):
            data = png.read_bytes()
            if breakage == "not-a-png" and i == 2:
                data = data[:40]
            z.writestr(f"pred/{png.name}", data)
        if breakage == "zip-slip":
            z.writestr("../evil.png", b"x")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def load_case(tmp_path_factory) -> Dict[str, Any]:
    root = tmp_path_factory.mktemp("load")
    gt = synthetic.generate_dataset(root / "gt", SPEC, N_IMAGES, seed=5)
    images = [synthetic.generate_image(SPEC, index, seed=5) for index in range(N_IMAGES)]
    pred_jsons = [write_prediction(root / f"sub{k}", images, seed=1000 + k) for k in range(N_SUBMISSIONS)]
    archives = [zip_prediction(p, BROKEN.get(k, "")) for k, p in enumerate(pred_jsons)]
    return {"gt_json": str(gt.gt_json), "pred_jsons": pred_jsons, "archives": archives, "root": root}


def without_time(outcome: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in outcome.items() if k != "elapsed_s"}


def test_concurrent_scoring_equals_one_by_one(load_case, tmp_path):
    gt_json, archives = load_case["gt_json"], load_case["archives"]
    score = functools.partial(server.score_submission, gt_json=gt_json, tmp_dir=str(tmp_path))
    one_by_one = [without_time(score(a)) for a in archives]

    # The sequential outcomes are the right ones: fastpq.evaluate on the unzipped predictions.
    for k, (outcome, pred_json) in enumerate(zip(one_by_one, load_case["pred_jsons"])):
        if k in BROKEN:
            assert outcome["status"] == "error", outcome
            continue
        assert outcome["status"] == "ok", outcome
        assert outcome["result"] == server.result_dict(fastpq.evaluate(gt_json, pred_json))
    assert one_by_one[7]["error"]["type"] == "PngError" and one_by_one[7]["error"]["file"].startswith("pred/")
    assert one_by_one[13]["error"]["type"] == "UnsafeSubmissionError"
    assert len({o["result"]["All"]["pq"] for o in one_by_one if o["status"] == "ok"}) == N_SUBMISSIONS - len(BROKEN)

    with concurrent.futures.ThreadPoolExecutor(max_workers=N_SUBMISSIONS) as pool:
        threaded = [without_time(o) for o in pool.map(score, archives)]
    assert threaded == one_by_one

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=3, mp_context=context) as pool:
        in_processes = [without_time(o) for o in pool.map(score, archives)]
    assert in_processes == one_by_one
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "evil.png").exists()


# Run in a child interpreter: its resident set is not disturbed by pytest's own allocations, and a
# crash fails this test alone.
RSS_SCRIPT = textwrap.dedent("""
    import gc, json, os, sys
    import fastpq
    from fastpq import server

    gt_json, pred_json, bad_pred_json, good_zip, bad_zip, tmp_dir = sys.argv[1:7]
    good_archive, bad_archive = open(good_zip, "rb").read(), open(bad_zip, "rb").read()
    page = os.sysconf("SC_PAGE_SIZE")

    def rss():
        gc.collect()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    def one(i):
        result = fastpq.evaluate(gt_json, pred_json, per_image=(i % 2 == 0))
        assert result.groups["All"].n > 0
        if i % 10 == 3:
            try:
                fastpq.evaluate(gt_json, bad_pred_json)
                raise AssertionError("the broken prediction was scored")
            except fastpq.PngError:
                pass
        if i % 10 == 7:
            archive = good_archive if i % 20 == 7 else bad_archive
            outcome = server.score_submission(archive, gt_json, tmp_dir=tmp_dir)
            assert outcome["status"] == ("ok" if archive is good_archive else "error"), outcome

    for i in range(100):
        one(i)
    before = rss()
    for i in range(1000):
        one(i)
    after = rss()
    print(json.dumps({"before": before, "after": after}))
""")

#: Allowed growth of the resident set over 1000 evaluations after the warm-up. Measured on the
#: development machine: +0.2 MiB (20.6 -> 20.8 MiB). Keeping every result alive instead (a leak
#: of the Python objects of one evaluation, per-image rows every other time) grows it by 13.6 MiB,
#: and leaking one image's decoded rows (12 KiB for 48x64) per evaluation would add 12 MiB; the
#: bound sits between the allocator's noise and those.
RSS_GROWTH_BOUND = 8 << 20


def test_repeated_evaluations_keep_memory_flat(load_case, tmp_path):
    gt_json = load_case["gt_json"]
    pred_json = load_case["pred_jsons"][0]
    bad_pred = tmp_path / "bad"
    (bad_pred / "pred").mkdir(parents=True)
    for png in sorted(pred_json.with_suffix("").iterdir()):
        (bad_pred / "pred" / png.name).write_bytes(png.read_bytes()[:60])  # truncated PNGs: engine errors
    (bad_pred / "pred.json").write_bytes(pred_json.read_bytes())
    good_zip, bad_zip = tmp_path / "good.zip", tmp_path / "bad.zip"
    good_zip.write_bytes(load_case["archives"][0])
    bad_zip.write_bytes(load_case["archives"][7])
    unpack = tmp_path / "unpack"
    unpack.mkdir()
    proc = subprocess.run([sys.executable, "-c", RSS_SCRIPT, gt_json, str(pred_json), str(bad_pred / "pred.json"),
                           str(good_zip), str(bad_zip), str(unpack)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rss = json.loads(proc.stdout.strip().splitlines()[-1])
    growth = rss["after"] - rss["before"]
    print(f"RSS {rss['before'] / 2**20:.2f} MiB after the warm-up, {rss['after'] / 2**20:.2f} MiB after 1000 more")
    assert growth < RSS_GROWTH_BOUND, f"RSS grew by {growth / 2**20:.2f} MiB over 1000 evaluations ({rss})"
    assert list(unpack.iterdir()) == []
