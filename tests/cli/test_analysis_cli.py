"""The analysis options and commands of the command line: ``fastpq pq --per-image/--bootstrap``,
``fastpq compare`` and ``fastpq consistency``, in-process and once as a real process."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from typing import Any, Tuple

import pytest

import fastpq
from fastpq import analysis, cli, synthetic

SMALL = synthetic.DatasetSpec("small", 96, 128, 12, 6, empty_gt_segment_prob=0.0, unlisted_gt_id_prob=0.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("cli_analysis"), SMALL, 15, seed=3)


def run_cli(capsys, *args: Any) -> Tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main([os.fspath(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_pq_writes_per_image_rows_and_bootstrap_intervals(capsys, data, tmp_path):
    status, out, err = run_cli(capsys, "pq", "--gt-json", data.gt_json, "--pred-json", data.pred_json,
                               "--per-image", tmp_path / "rows.csv", "--bootstrap", "200", "--seed", "5",
                               "--ci", "0.9", "--json", tmp_path / "out.json")
    assert status == 0, err
    result = fastpq.evaluate(data.gt_json, data.pred_json, per_image=True)
    expected = analysis.bootstrap(result, 200, seed=5, ci=0.9)
    assert "90% bootstrap percentile intervals, 200 resamples of 15 images, seed 5" in out
    assert out.startswith(result.table())
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["bootstrap"] == json.loads(json.dumps(expected.to_dict()))
    assert written["All"]["pq"] == result.pq
    with open(tmp_path / "rows.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    reference = analysis.per_image_scores(result)
    assert [r["image_id"] for r in rows] == [str(r["image_id"]) for r in reference]
    assert [float(r["pq"]) for r in rows] == [r["pq"] for r in reference]
    assert sum(int(r["tp"]) for r in rows) == sum(c.tp for c in result.classes)

    status, _, err = run_cli(capsys, "pq", "--gt-json", data.gt_json, "--pred-json", data.pred_json,
                             "--per-image", tmp_path / "rows.json", "--quiet")
    assert status == 0 and err == ""
    assert [r["image_id"] for r in json.loads((tmp_path / "rows.json").read_text())] == [
        r["image_id"] for r in reference]


def test_pq_without_the_new_options_prints_what_it_did(capsys, data):
    status, out, _ = run_cli(capsys, "pq", "--gt-json", data.gt_json, "--pred-json", data.pred_json)
    assert status == 0 and "bootstrap" not in out


def test_compare_and_consistency_in_process(capsys, data, tmp_path):
    status, out, err = run_cli(capsys, "compare", data.gt_json, data.pred_json, data.gt_json, "--b-folder",
                               data.gt_folder, "--bootstrap", "100", "--seed", "1", "--json", tmp_path / "c.json")
    assert status == 0, err
    assert "P(B > A)" in out
    expected = analysis.compare_predictions(data.gt_json, data.pred_json, data.gt_json, None, None, data.gt_folder,
                                            n_resamples=100, seed=1)
    assert json.loads((tmp_path / "c.json").read_text()) == json.loads(json.dumps(expected.to_dict()))

    status, out, err = run_cli(capsys, "consistency", data.gt_json, data.gt_json, "--bootstrap", "50",
                               "--json", tmp_path / "h.json")
    assert status == 0, err
    assert "symmetric" in out
    written = json.loads((tmp_path / "h.json").read_text())
    assert written["prediction_crowd"] == "void"
    assert written["symmetric"]["All"]["pq"] == pytest.approx(1.0, abs=1e-12)
    assert written["bootstrap"]["symmetric"]["All"]["pq"]["lower"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("extra", [["--ci", "1.5"], ["--bootstrap", "-1"]])
def test_bad_bootstrap_options_end_with_one_line(capsys, data, extra):
    status, out, err = run_cli(capsys, "compare", data.gt_json, data.pred_json, data.pred_json, *extra)
    assert status == 1 and out == ""
    assert err.startswith("fastpq: error: ") and err.count("\n") == 1


def test_per_image_output_needs_a_known_suffix(capsys, data, tmp_path):
    status, _, err = run_cli(capsys, "pq", "--gt-json", data.gt_json, "--pred-json", data.pred_json,
                             "--per-image", tmp_path / "rows.txt", "--quiet")
    assert status == 1 and ".csv or .json" in err


def test_compare_as_a_real_process(data, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastpq", "compare", os.fspath(data.gt_json),
                           os.fspath(data.pred_json), os.fspath(data.gt_json), "--b-folder", os.fspath(data.gt_folder),
                           "--bootstrap", "100", "--json", os.fspath(tmp_path / "c.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "paired bootstrap intervals of B - A, 100 resamples of 15 images, seed 0" in proc.stdout
    assert json.loads((tmp_path / "c.json").read_text())["All"]["pq"]["p_b_better"] == 1.0
