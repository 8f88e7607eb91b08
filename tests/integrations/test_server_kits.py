"""`fastpq server-kit`, run as the platforms run what it writes.

EvalAI: the generated evaluation_script package is imported from its folder by path (importlib,
as EvalAI's worker loads a challenge's script) and evaluate() is called with real files; the
remote-evaluation module likewise. CodaLab / Codabench: the `metadata` command is run in a
subprocess, $program / $input / $output substituted, over a real input/ref (the kit's
reference_data.zip unpacked), input/res (the upload unpacked) and output/ tree, and scores.txt /
scores.json parsed. Every number is checked against the family's own evaluate on the same files."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import pytest

import fastpq
import fastpq.instance
import fastpq.semantic
from fastpq import synthetic
from fastpq.amodal import amodal_ar
from fastpq.cli import main as cli_main
from fastpq.errors import FastPQError, PngNotFoundError, SubmissionLayoutError
from fastpq.integrations.server_tasks import LEADERBOARDS
from fastpq.synthetic import semantic as synthetic_semantic
from fastpq.synthetic.amodal import generate_amodal_dataset
from fastpq.synthetic.cityscapes_instances import generate as generate_instances

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="the kits score in isolated POSIX processes")


def make_zip(path: Path, entries: Sequence[Tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return path


def folder_entries(folder: Path, prefix: str = "") -> List[Tuple[str, bytes]]:
    return [(prefix + p.relative_to(folder).as_posix(), p.read_bytes()) for p in sorted(folder.rglob("*"))
            if p.is_file()]


def import_by_path(name: str, path: Path, package: bool = False) -> Any:
    """A module loaded from its file, as EvalAI loads a challenge's evaluation_script."""
    spec = importlib.util.spec_from_file_location(
        name, path / "__init__.py" if package else path,
        submodule_search_locations=[str(path)] if package else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def kit(args: Sequence[str]) -> None:
    assert cli_main(["server-kit", *map(str, args)]) == 0


@pytest.fixture(scope="module")
def panoptic(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("kit_pq"), synthetic.DatasetSpec("k", 40, 56, 8, 4),
                                      3, seed=11)


# ---------------------------------------------------------------------------
# EvalAI


def test_evalai_package_scores_as_fastpq_evaluate(panoptic, tmp_path):
    out = tmp_path / "evaluation_script"
    kit(["evalai", "--task", "panoptic", "--gt-json", panoptic.gt_json, "--gt-folder", panoptic.gt_folder, "-o", out])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["challenge_config.fastpq.yaml", "evaluation_script",
                                                          "evaluation_script.zip", "reference_data.zip"]
    upload = make_zip(tmp_path / "upload.zip", [("pred.json", panoptic.pred_json.read_bytes())] +
                      folder_entries(panoptic.pred_folder, "pred/"))
    package = import_by_path("evaluation_script", out, package=True)
    output = package.evaluate(str(panoptic.gt_json), str(upload), "dev",
                              submission_metadata={"id": 1, "participant_team_name": "t"})
    expected = fastpq.evaluate(panoptic.gt_json, panoptic.pred_json)
    groups = {"": "All", "_th": "Things", "_st": "Stuff"}
    board = {f"{m.upper()}{s}": 100 * getattr(expected.groups[g], m) for s, g in groups.items() for m in ("pq", "sq", "rq")}
    assert output == {"result": [{"dev_split": board}], "submission_result": {"dev_split": board}}
    assert list(output["result"][0]["dev_split"]) == LEADERBOARDS["panoptic"].labels

    remote = import_by_path("fastpq_remote_evaluation", out / "remote_evaluation.py")
    remote_output = remote.evaluate(str(upload), "final")  # no annotation file: the recorded ground truth
    assert remote_output["result"] == [{"test_split": board}]

    broken = make_zip(tmp_path / "broken.zip", [("pred.json", panoptic.pred_json.read_bytes())] +
                      folder_entries(panoptic.pred_folder, "pred/")[1:])
    with pytest.raises(PngNotFoundError, match=r"submission refused \(PngNotFoundError\): .*pred/") as caught:
        package.evaluate(str(panoptic.gt_json), str(broken), "dev")
    assert str(tmp_path) not in str(caught.value)
    with pytest.raises(SubmissionLayoutError, match="no prediction JSON"):
        package.evaluate(str(panoptic.gt_json), str(make_zip(tmp_path / "e.zip", [("x.txt", b"")])), "dev")

    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((tmp_path / "challenge_config.fastpq.yaml").read_text())
    assert config["leaderboard"][0]["schema"] == {"labels": LEADERBOARDS["panoptic"].labels, "default_order_by": "PQ"}
    assert config["evaluation_script"] == "evaluation_script.zip"
    assert [s["codename"] for s in config["dataset_splits"]] == ["dev_split", "test_split"]
    with zipfile.ZipFile(tmp_path / "evaluation_script.zip") as z:
        assert sorted(z.namelist()) == ["__init__.py", "fastpq_kit.json", "main.py", "remote_evaluation.py"]


def test_evalai_instance_kit_with_reference_zip_as_annotation_file(tmp_path):
    gt, results = generate_instances(str(tmp_path / "data"), seed=6, images=3)
    out = tmp_path / "kit" / "evaluation_script"
    kit(["evalai", "--task", "instance", "--gt", gt, "-o", out, "--embed-gt", "--phase", "val=val_split"])
    package = import_by_path("evaluation_script_instance", out, package=True)
    upload = make_zip(tmp_path / "upload.zip", folder_entries(results, "my_results/"))
    expected = fastpq.instance.evaluate(gt, results)
    board = {"AP": 100 * expected.ap, "AP50": 100 * expected.ap50}
    by_reference = package.evaluate(str(tmp_path / "kit" / "reference_data.zip"), str(upload), "val")
    assert by_reference["result"] == [{"val_split": board}]
    embedded = package.evaluate(None, str(upload), "val")  # the copy inside the package
    assert embedded == by_reference


# ---------------------------------------------------------------------------
# CodaLab and Codabench


def run_metadata_command(program: Path, reference_zip: Path, upload: Sequence[Tuple[str, bytes]], root: Path
                         ) -> subprocess.CompletedProcess:
    """What the platform's worker does: unpack the reference data and the upload, substitute the
    command's $program / $input / $output and run it."""
    (root / "input" / "ref").mkdir(parents=True)
    (root / "input" / "res").mkdir()
    (root / "output").mkdir()
    with zipfile.ZipFile(reference_zip) as z:
        z.extractall(root / "input" / "ref")
    with zipfile.ZipFile(io.BytesIO(make_zip(root / "upload.zip", upload).read_bytes())) as z:
        z.extractall(root / "input" / "res")
    line = next(l for l in (program / "metadata").read_text().splitlines() if l.startswith("command:"))
    command = line.partition(":")[2].strip()
    for name, value in (("$program", program), ("$input", root / "input"), ("$output", root / "output")):
        command = command.replace(name, shlex.quote(str(value)))
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(command, shell=True, capture_output=True, text=True, env=env, timeout=300)


def test_codalab_semantic_cityscapes_scoring_program(tmp_path):
    data = tmp_path / "data"
    synthetic_semantic.write_cityscapes_like(data, 3, seed=8)
    gt, results = data / "gtFine" / "val", data / "results"
    program = tmp_path / "kit" / "scoring_program"
    kit(["codalab", "--task", "semantic", "--preset", "cityscapes", "--gt", gt, "-o", program])
    assert (program / "metadata").read_text().startswith("command: python $program/score.py $input $output\n")
    done = run_metadata_command(program, tmp_path / "kit" / "reference_data.zip", folder_entries(results, "team/"),
                                tmp_path / "run")
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "run" / "output" / "scores.txt").read_text().splitlines()
    scores = {k: float(v) for k, v in (line.split(": ") for line in lines)}
    expected = fastpq.semantic.evaluate(gt, results, preset="cityscapes")
    assert scores == {"IoU_class": 100 * expected.miou, "iIoU_class": 100 * expected.miiou,
                      "IoU_category": 100 * expected.reference["averageScoreCategories"],
                      "iIoU_category": 100 * expected.reference["averageScoreInstCategories"]}
    page = (tmp_path / "run" / "output" / "detailed_results.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "road" in page


def test_codabench_amodal_scoring_program_and_a_refused_upload(tmp_path):
    gt, proposals = generate_amodal_dataset(tmp_path / "data", n_images=4, height=48, width=64, max_proposals=40,
                                            seed=3)
    program = tmp_path / "kit" / "scoring_program"
    kit(["codabench", "--task", "amodal", "--gt-json", gt, "-o", program, "--wall-seconds", "120"])
    assert (program / "metadata.yaml").read_text() == (program / "metadata").read_text()
    reference = tmp_path / "kit" / "reference_data.zip"
    done = run_metadata_command(program, reference, [("proposals.json", proposals.read_bytes())], tmp_path / "ok")
    assert done.returncode == 0, done.stderr
    scores = json.loads((tmp_path / "ok" / "output" / "scores.json").read_text())
    expected = amodal_ar(gt, proposals, strict=True)
    assert scores == {**{f"AR_{k}": 100 * expected.ar["all"]["all"][k] for k in (1, 10, 100, 1000)},
                      **{f"AR_{o}": None if expected.ar["all"][o][1000] == -1 else 100 * expected.ar["all"][o][1000]
                         for o in ("none", "partial", "heavy")}}
    assert "AR_100" in (tmp_path / "ok" / "output" / "detailed_results.html").read_text()
    yaml = pytest.importorskip("yaml")
    fragment = yaml.safe_load((tmp_path / "kit" / "competition.fastpq.yaml").read_text())
    assert [c["key"] for c in fragment["leaderboards"][0]["columns"]] == LEADERBOARDS["amodal"].labels

    refused = run_metadata_command(program, reference, [("a.json", b"[]"), ("b.json", b"[]")], tmp_path / "bad")
    assert refused.returncode == 1
    assert "submission refused (SubmissionLayoutError): the submission must hold exactly one proposals JSON" in \
        refused.stderr
    assert not (tmp_path / "bad" / "output" / "scores.json").exists()


def test_kit_refuses_a_missing_ground_truth_and_a_full_folder(tmp_path, panoptic):
    assert cli_main(["server-kit", "codalab", "--task", "semantic", "--gt", str(tmp_path / "nope"), "-o",
                     str(tmp_path / "p")]) == 1
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert cli_main(["server-kit", "evalai", "--task", "panoptic", "--gt-json", str(panoptic.gt_json), "-o",
                     str(tmp_path / "full")]) == 1
    with pytest.raises(SystemExit):
        cli_main(["server-kit", "evalai", "--task", "pq", "-o", str(tmp_path / "q")])


def test_kit_caps_reach_the_scorer_in_process_too(tmp_path):
    gt, results = generate_instances(str(tmp_path / "data"), seed=2, images=2)
    program = tmp_path / "kit" / "scoring_program"
    kit(["codalab", "--task", "instance", "--gt", gt, "-o", program, "--max-members", "3", "--in-process"])
    assert json.loads((program / "fastpq_kit.json").read_text())["isolated"] is False
    done = run_metadata_command(program, tmp_path / "kit" / "reference_data.zip", folder_entries(results),
                                tmp_path / "run")
    assert done.returncode == 1 and "ArchiveLimitError" in done.stderr and "max_members = 3" in done.stderr, done.stderr
