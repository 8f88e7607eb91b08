"""Submissions of every task (semantic, instance AP, amodal AR, and the COCO panoptic challenge
naming) through fastpq.server: each good archive scores exactly what the family's own evaluate
gives on the same files, with the leaderboard values of the one table; bad archives give the usual
error outcome; an unpacked folder is read with the archive checks; and IsolatedScorer(task=...)
equals in-process scoring."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import pytest
from PIL import Image

import fastpq
import fastpq.instance
import fastpq.semantic
from fastpq import server, synthetic
from fastpq.amodal import amodal_ar
from fastpq.integrations import server_tasks
from fastpq.server import SubmissionLimits, score_submission
from fastpq.synthetic import semantic as synthetic_semantic
from fastpq.synthetic.amodal import generate_amodal_dataset
from fastpq.synthetic.cityscapes_instances import generate as generate_instances
from fastpq.synthetic.rle import encode_mask

OK_KEYS = {"status", "task", "result", "leaderboard", "submission", "elapsed_s"}


def make_zip(entries: Sequence[Tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buffer.getvalue()


def folder_entries(folder: Path, prefix: str = "") -> List[Tuple[str, bytes]]:
    return [(prefix + p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*"))
            if p.is_file()]


def percent(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else 100.0 * x


def without_timing(outcome: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in outcome.items() if k not in ("elapsed_s", "isolation")}


# ---------------------------------------------------------------------------
# Data


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cs_semantic")
    synthetic_semantic.write_cityscapes_like(root, 3, seed=5)
    return root


@pytest.fixture(scope="module")
def ade(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ade")
    synthetic_semantic.write_ade20k_like(root, 3, seed=2)
    return root


@pytest.fixture(scope="module")
def instances(tmp_path_factory) -> Tuple[Path, Path]:
    return generate_instances(str(tmp_path_factory.mktemp("cs_instances")), seed=4, images=3)


@pytest.fixture(scope="module")
def amodal(tmp_path_factory) -> Tuple[Path, Path]:
    return generate_amodal_dataset(tmp_path_factory.mktemp("amodal"), n_images=4, height=48, width=64,
                                   max_proposals=40, seed=1)


def coco_results(gt: Path, results: Path) -> List[Dict[str, Any]]:
    """The generated Cityscapes results as a COCO-style results list (RLE masks)."""
    entries = []
    for txt in sorted(results.glob("*.txt")):
        stem = "_".join(txt.name.split("_")[:3])
        for line in txt.read_text().split("\n"):
            if line.strip():
                rel, label, score = line.split()
                mask = np.asarray(Image.open(results / rel).convert("L")) != 0
                entries.append({"image_id": stem, "category_id": int(label), "segmentation": encode_mask(mask),
                                "score": float(score)})
    return entries


# ---------------------------------------------------------------------------
# Semantic


@pytest.mark.parametrize("prefix", ["", "results/"])
def test_cityscapes_semantic_submission_equals_evaluate(cityscapes, tmp_path, prefix):
    gt, results = cityscapes / "gtFine" / "val", cityscapes / "results"
    archive = make_zip(folder_entries(results, prefix) + [(prefix + "README.txt", b"team x")])
    outcome = score_submission(archive, gt_folder=gt, task="semantic", preset="cityscapes", tmp_dir=tmp_path)
    assert set(outcome) == OK_KEYS and outcome["status"] == "ok", outcome
    expected = fastpq.semantic.evaluate(gt, results, preset="cityscapes")
    assert outcome["result"] == server_tasks.semantic_result_dict(expected)
    assert outcome["leaderboard"] == {
        "IoU_class": percent(expected.miou), "iIoU_class": percent(expected.miiou),
        "IoU_category": percent(expected.reference["averageScoreCategories"]),
        "iIoU_category": percent(expected.reference["averageScoreInstCategories"])}
    assert outcome["submission"] == {"png_folder": prefix.rstrip("/") or "."}
    assert list(tmp_path.iterdir()) == []


def test_ade20k_submission_strips_its_top_folder(ade, tmp_path):
    gt, pred = ade / "annotations" / "validation", ade / "pred"
    outcome = score_submission(make_zip(folder_entries(pred, "my-preds/")), gt_folder=gt, task="semantic",
                               preset="ade20k", tmp_dir=tmp_path)
    assert outcome["status"] == "ok", outcome
    expected = fastpq.semantic.evaluate(gt, pred, preset="ade20k")
    assert outcome["leaderboard"] == {"score": percent(expected.score), "mIoU": percent(expected.miou),
                                      "pixel_accuracy": percent(expected.pixel_accuracy)}
    assert list(outcome["leaderboard"]) == server_tasks.LEADERBOARDS["semantic/ade20k"].labels


def test_semantic_missing_and_extra_predictions(cityscapes, tmp_path):
    gt, results = cityscapes / "gtFine" / "val", cityscapes / "results"
    entries = folder_entries(results)
    missing = score_submission(make_zip(entries[1:]), gt_folder=gt, task="semantic", preset="cityscapes")
    assert missing["status"] == "error" and missing["error"]["type"] == "MissingPredictionError", missing
    assert str(tmp_path) not in json.dumps(missing) and "<ground truth>/" in missing["error"]["message"]
    extra = score_submission(make_zip(entries + [("zurich_999999_999999_pred.png", entries[0][1])]), gt_folder=gt,
                             task="semantic", preset="cityscapes")
    assert extra["error"]["type"] == "ImageSetMismatchError" and extra["error"]["file"] == \
        "zurich_999999_999999_pred.png", extra
    empty = score_submission(make_zip([("notes.txt", b"x")]), gt_folder=gt, task="semantic", preset="cityscapes")
    assert empty["error"]["type"] == "SubmissionLayoutError", empty


# ---------------------------------------------------------------------------
# Instance AP


def test_instance_results_folder_equals_evaluate(instances, tmp_path):
    gt, results = instances
    outcome = score_submission(make_zip(folder_entries(results)), gt_folder=gt, task="instance", tmp_dir=tmp_path)
    assert set(outcome) == OK_KEYS and outcome["status"] == "ok", outcome
    expected = fastpq.instance.evaluate(gt, results)
    assert outcome["leaderboard"] == {"AP": percent(expected.ap), "AP50": percent(expected.ap50)}
    fraction = lambda x: None if np.isnan(x) else x  # noqa: E731
    assert outcome["result"] == {"AP": expected.ap, "AP50": expected.ap50, "classes": {
        name: {"AP": fraction(c.ap), "AP50": fraction(c.ap50)} for name, c in expected.classes.items()}}
    assert outcome["submission"] == {"results_folder": "."}


def test_instance_coco_json_equals_evaluate(instances, tmp_path):
    gt, results = instances
    entries = coco_results(gt, results)
    outcome = score_submission(make_zip([("team/instances.json", json.dumps(entries).encode())]), gt_folder=gt,
                               task="instance", tmp_dir=tmp_path)
    assert outcome["status"] == "ok", outcome
    expected = fastpq.instance.evaluate(gt, entries)
    assert outcome["leaderboard"] == {"AP": percent(expected.ap), "AP50": percent(expected.ap50)}
    assert outcome["leaderboard"] == score_submission(make_zip(folder_entries(results)), gt_folder=gt,
                                                      task="instance")["leaderboard"]  # the same masks
    assert outcome["submission"] == {"json": "team/instances.json"}


@pytest.mark.parametrize("damage, needle", [
    (lambda e: e.pop("score"), "has no score"),
    (lambda e: e.update(category_id="car"), "category_id"),
    (lambda e: e.update(segmentation={"size": [4, 4], "counts": 7}), "segmentation"),
    (lambda e: e["segmentation"].update(counts="\x7f\x7f"), "a prediction mask cannot be read"),
])
def test_bad_instance_json_entries_are_named(instances, damage, needle):
    gt, results = instances
    entries = coco_results(gt, results)
    damage(entries[0])
    outcome = score_submission(make_zip([("r.json", json.dumps(entries).encode())]), gt_folder=gt, task="instance")
    assert outcome["status"] == "error" and outcome["error"]["type"] == "InstancePredictionError", outcome
    assert needle in outcome["error"]["message"]


# ---------------------------------------------------------------------------
# Amodal AR


def test_amodal_submission_equals_amodal_ar(amodal, tmp_path):
    gt, proposals = amodal
    outcome = score_submission(make_zip([("proposals.json", proposals.read_bytes())]), gt_json=gt, task="amodal",
                               tmp_dir=tmp_path)
    assert set(outcome) == OK_KEYS and outcome["status"] == "ok", outcome
    expected = amodal_ar(gt, proposals, strict=True)
    assert outcome["leaderboard"] == {
        **{f"AR_{k}": percent(expected.ar["all"]["all"][k]) for k in (1, 10, 100, 1000)},
        **{f"AR_{occ}": None if expected.ar["all"][occ][1000] == -1 else percent(expected.ar["all"][occ][1000])
           for occ in ("none", "partial", "heavy")}}
    assert outcome["result"]["regions"] == expected.regions


def test_amodal_layout_errors(amodal):
    gt, proposals = amodal
    two = score_submission(make_zip([("a.json", b"[]"), ("b.json", b"[]")]), gt_json=gt, task="amodal")
    assert two["error"]["type"] == "SubmissionLayoutError" and "a.json, b.json" in two["error"]["message"], two
    wrong = score_submission(make_zip([("p.json", b"{\"x\": 1}")]), gt_json=gt, task="amodal")
    assert wrong["status"] == "error" and wrong["error"]["type"] == "AnnotationTypeError", wrong
    assert wrong["error"]["message"] == "proposals file 'p.json' does not hold a list"


# ---------------------------------------------------------------------------
# Every task: the archive checks, the COCO challenge naming, unpacked folders, isolation


@pytest.mark.parametrize("task", server_tasks.TASKS)
def test_unsafe_archives_are_refused_for_every_task(cityscapes, instances, amodal, dataset_panoptic, task):
    gt = {"panoptic": {"gt_json": dataset_panoptic.gt_json},
          "semantic": {"gt_folder": cityscapes / "gtFine" / "val", "preset": "cityscapes"},
          "instance": {"gt_folder": instances[0]}, "amodal": {"gt_json": amodal[0]}}[task]
    outcome = score_submission(make_zip([("../escape.png", b"x"), ("p.json", b"[]")]), task=task, **gt)
    assert outcome == {"status": "error", "task": task, "elapsed_s": outcome["elapsed_s"], "error": {
        "type": "UnsafeSubmissionError", "message": "member '../escape.png' has a '..' component (a path outside the "
        "submission)", "image_id": None, "file": "../escape.png", "segment_id": None}}


@pytest.fixture(scope="module")
def dataset_panoptic(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("tasks_pq"), synthetic.DatasetSpec("s", 40, 56, 8, 4),
                                      3, seed=9)


def test_coco_challenge_naming_is_accepted_as_it_is(dataset_panoptic, tmp_path):
    """COCO's upload: panoptic_<split>_<alg>_results.json beside panoptic_<split>_<alg>_results/."""
    stem = "panoptic_test-dev2017_fastalg_results"
    entries = [(f"{stem}.json", dataset_panoptic.pred_json.read_bytes())]
    entries += folder_entries(dataset_panoptic.pred_folder, f"{stem}/") + [("extras/notes.md", b"method")]
    outcome = score_submission(make_zip(entries), dataset_panoptic.gt_json, tmp_dir=tmp_path)
    assert outcome["status"] == "ok", outcome
    assert outcome["submission"] == {"json": f"{stem}.json", "png_folder": stem}
    expected = fastpq.evaluate(dataset_panoptic.gt_json, dataset_panoptic.pred_json)
    assert outcome["result"] == server.result_dict(expected)
    assert outcome["leaderboard"]["PQ"] == 100 * expected.pq and outcome["leaderboard"]["RQ_st"] == \
        100 * expected.groups["Stuff"].rq


def test_an_unpacked_folder_is_read_in_place_with_the_checks(cityscapes, tmp_path):
    gt, results = cityscapes / "gtFine" / "val", cityscapes / "results"
    res = tmp_path / "res"
    for name, data in folder_entries(results, "team/"):
        (res / name).parent.mkdir(parents=True, exist_ok=True)
        (res / name).write_bytes(data)
    from_folder = score_submission(res, gt_folder=gt, task="semantic", preset="cityscapes")
    from_zip = score_submission(make_zip(folder_entries(results, "team/")), gt_folder=gt, task="semantic",
                                preset="cityscapes")
    assert without_timing(from_folder) == without_timing(from_zip) and from_folder["status"] == "ok"
    os.symlink(gt, res / "team" / "peek")
    linked = score_submission(res, gt_folder=gt, task="semantic", preset="cityscapes")
    assert linked["error"]["type"] == "UnsafeSubmissionError" and linked["error"]["file"] == "team/peek", linked
    os.unlink(res / "team" / "peek")
    limited = score_submission(res, gt_folder=gt, task="semantic", preset="cityscapes",
                               limits=SubmissionLimits(max_members=2))
    assert limited["error"]["type"] == "ArchiveLimitError", limited


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="isolation needs POSIX process groups")
def test_isolated_scoring_of_every_new_task_equals_in_process(cityscapes, instances, amodal, tmp_path):
    cases = [
        ({"task": "semantic", "gt_folder": cityscapes / "gtFine" / "val", "preset": "cityscapes"},
         make_zip(folder_entries(cityscapes / "results")), make_zip(folder_entries(cityscapes / "results")[1:])),
        ({"task": "instance", "gt_folder": instances[0]}, make_zip(folder_entries(instances[1])),
         make_zip([("r.json", b"[{\"image_id\": 3}]")])),
        ({"task": "amodal", "gt_json": amodal[0]}, make_zip([("p.json", amodal[1].read_bytes())]),
         make_zip([("p.json", b"[{\"image_id\": 100, \"score\": 1}]")])),
    ]
    for config, good, bad in cases:
        scorer = server.IsolatedScorer(limits=SubmissionLimits(wall_seconds=120), tmp_dir=tmp_path, **config)
        task = config.pop("task")
        for archive in (good, bad):
            isolated = scorer.score(archive)
            in_process = score_submission(archive, task=task, **config)
            assert without_timing(isolated) == without_timing(in_process), (task, isolated)
            assert isolated["isolation"] == {"unenforced": []}
        assert in_process["status"] == "error" and isolated["error"]["type"] == in_process["error"]["type"]
        assert list(tmp_path.iterdir()) == []


def test_a_bare_json_is_a_submission_for_the_one_json_tasks(amodal, instances, tmp_path):
    gt, proposals = amodal
    zipped = score_submission(make_zip([("proposals.json", proposals.read_bytes())]), gt_json=gt, task="amodal")
    from_path = score_submission(proposals, gt_json=gt, task="amodal", tmp_dir=tmp_path)
    from_bytes = score_submission(proposals.read_bytes(), gt_json=gt, task="amodal")
    assert from_path["status"] == "ok" and from_path["leaderboard"] == zipped["leaderboard"] == \
        from_bytes["leaderboard"]
    assert from_path["submission"] == {"json": "amodal_proposals.json"}
    assert from_bytes["submission"] == {"json": "submission.json"}
    big = score_submission(proposals, gt_json=gt, task="amodal", limits=SubmissionLimits(max_member_bytes=100))
    assert big["error"]["type"] == "ArchiveLimitError", big
    entries = coco_results(*instances)
    bare = score_submission(json.dumps(entries).encode(), gt_folder=instances[0], task="instance")
    assert bare["leaderboard"] == score_submission(make_zip(folder_entries(instances[1])), gt_folder=instances[0],
                                                   task="instance")["leaderboard"]
    not_zip = score_submission(b"hello", gt_json=gt, task="amodal")  # neither a zip nor JSON
    assert not_zip["error"]["type"] == "ArchiveFormatError"
    assert list(tmp_path.iterdir()) == []


def test_instance_time_budget_bounds_the_counting(instances, tmp_path, capsys):
    """Full-image masks cost their pixels each: a budget stops a submission of thousands of them."""
    gt, results = instances
    entries = coco_results(gt, results)
    archive = make_zip([("instances.json", json.dumps(entries * 50).encode())])
    outcome = score_submission(archive, gt_folder=gt, task="instance", time_budget=1e-6)
    assert outcome["status"] == "error" and outcome["error"]["type"] == "TimeBudgetExceededError", outcome
    assert "predictions counted" in outcome["error"]["message"]
    with pytest.raises(fastpq.TimeBudgetExceededError):
        fastpq.instance.evaluate(gt, entries, time_budget=1e-6)
    assert fastpq.instance.evaluate(gt, entries, time_budget=600).ap == fastpq.instance.evaluate(gt, entries).ap
    upload = tmp_path / "upload.zip"
    upload.write_bytes(archive)
    assert server.main([str(upload), "--task", "instance", "--gt-folder", str(gt), "--time-budget", "1e-6"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "TimeBudgetExceededError"
    assert server.main([str(upload), "--task", "amodal", "--gt-json", str(upload), "--time-budget", "5"]) == 2
    assert "has no time_budget" in capsys.readouterr().err


def test_command_line_scores_any_task(cityscapes, tmp_path, capsys):
    gt, results = cityscapes / "gtFine" / "val", cityscapes / "results"
    upload = tmp_path / "upload.zip"
    upload.write_bytes(make_zip(folder_entries(results)))
    assert server.main([str(upload), "--task", "semantic", "--preset", "cityscapes", "--gt-folder", str(gt)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["leaderboard"]["IoU_class"] == 100 * fastpq.semantic.evaluate(gt, results, preset="cityscapes").miou
    assert server.main([str(upload), "--task", "semantic", "--gt-json", str(upload)]) == 2  # no ground-truth folder
    assert "needs gt_folder" in capsys.readouterr().err


def test_options_no_submission_could_satisfy_are_the_organisers_error(cityscapes):
    gt = cityscapes / "gtFine" / "val"
    archive = make_zip(folder_entries(cityscapes / "results"))
    with pytest.raises(fastpq.errors.InvalidOptionError, match="num_classes"):
        score_submission(archive, gt_folder=gt, task="semantic")  # no preset and no num_classes
    with pytest.raises(fastpq.errors.InvalidOptionError, match="'average'"):  # not a cityscapes option
        score_submission(archive, gt_folder=gt, task="semantic", preset="cityscapes", average="micro")
    with pytest.raises(fastpq.errors.InvalidOptionError, match="the semantic task has no time_budget"):
        score_submission(archive, gt_folder=gt, task="semantic", preset="cityscapes", time_budget=5)
    assert score_submission(archive, gt_folder=gt, task="semantic", preset="cityscapes",
                            time_budget=None)["status"] == "ok"
    with pytest.raises(fastpq.errors.InvalidOptionError, match="unknown preset"):
        server.IsolatedScorer("semantic", gt_folder=gt, preset="cityscape")
    with pytest.raises(fastpq.errors.InvalidOptionError, match="unknown task"):
        score_submission(archive, gt_folder=gt, task="panoptics")


def test_a_top_folder_the_ground_truth_also_has_stays_in_the_paths(ade, tmp_path):
    """Plain presets match predictions by relative path: 'val/x.png' is not stripped to 'x.png'
    when the ground truth itself has a 'val/' folder."""
    gt = tmp_path / "gt"
    (gt / "val").mkdir(parents=True)
    for png in sorted((ade / "annotations" / "validation").iterdir()):
        (gt / "val" / png.name).write_bytes(png.read_bytes())
    outcome = score_submission(make_zip(folder_entries(ade / "pred", "val/")), gt_folder=gt, task="semantic",
                               preset="ade20k")
    assert outcome["status"] == "ok", outcome
    assert outcome["submission"] == {"png_folder": "."}
    expected = fastpq.semantic.evaluate(ade / "annotations" / "validation", ade / "pred", preset="ade20k")
    assert outcome["leaderboard"]["mIoU"] == 100 * expected.miou


def test_refusals_keep_their_type_and_limit():
    from fastpq.integrations.server_platforms import refusal

    e = refusal({"status": "error", "error": {"type": "ResourceLimitError", "message": "too slow", "limit":
                                              "wall_seconds", "image_id": None, "file": None, "segment_id": None}})
    assert isinstance(e, fastpq.errors.ResourceLimitError) and e.limit == "wall_seconds"
    assert str(e) == "submission refused (ResourceLimitError): too slow"
    e = refusal({"status": "error", "error": {"type": "NotAFastPQName", "message": "m", "image_id": 7,
                                              "file": "a.png", "segment_id": None}})
    assert type(e) is fastpq.errors.SubmissionError and e.image_id == 7
    assert str(e) == "submission refused (NotAFastPQName): m [file 'a.png', image 7]"
