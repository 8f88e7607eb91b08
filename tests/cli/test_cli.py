"""The ``fastpq`` command line (fastpq.cli): output against panopticapi, flags, errors, demo, progress bar."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import fastpq
from fastpq import cli, synthetic
from conftest import run_reference_with_output  # panopticapi.evaluation.pq_compute, stdout captured

N_IMAGES = 5
TOL = 1e-12
GROUPS = ("All", "Things", "Stuff")


# ---------------------------------------------------------------------------
# Helpers


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("cli_data"), synthetic.COCO_LIKE, N_IMAGES, seed=7)


@pytest.fixture(scope="module")
def reference(dataset) -> Tuple[Dict[str, Any], str]:
    """panopticapi's pq_compute on the dataset: (results dict, printed text)."""
    return run_reference_with_output(dataset.gt_json, dataset.pred_json)


@pytest.fixture
def data_copy(dataset, tmp_path) -> synthetic.DatasetPaths:
    """A private copy of the dataset, free to damage."""
    root = tmp_path / "copy"
    shutil.copytree(dataset.gt_json.parent, root)
    return synthetic.DatasetPaths(root / "gt.json", root / "gt", root / "pred.json", root / "pred")


def run_cli(capsys, *args: Any) -> Tuple[int, str, str]:
    """fastpq.cli.main in-process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = cli.main([os.fspath(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def pq_args(paths: synthetic.DatasetPaths, *extra: Any) -> List[Any]:
    return ["pq", "--gt-json", paths.gt_json, "--pred-json", paths.pred_json, *extra]


def table_rows(text: str) -> List[str]:
    """The summary table panopticapi prints: header, rule, All, Things, Stuff."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(" " * 10 + "|") and "PQ" in line]
    assert len(starts) == 1, f"expected one table header in:\n{text}"
    rows = lines[starts[0]:starts[0] + 5]
    assert [r.split("|")[0].strip() for r in rows[2:]] == list(GROUPS), rows
    return rows


def read_json(path: Path) -> Dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def assert_json_matches_reference(data: Dict[str, Any], expected: Dict[str, Any]) -> None:
    for name in GROUPS:
        assert data[name]["n"] == expected[name]["n"], name
        for key in ("pq", "sq", "rq"):
            assert abs(data[name][key] - expected[name][key]) <= TOL, (name, key, data[name][key],
                                                                        expected[name][key])


def assert_one_error_line(status: int, out: str, err: str, *needles: str) -> str:
    assert status == 1, f"exit status {status}, stderr:\n{err}"
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith("fastpq: error:"), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    assert out == "", f"nothing should be printed on stdout on error, got:\n{out}"
    return line


def run_cli_error(capsys, *args: Any) -> Tuple[int, str, str]:
    """Like run_cli, but an exception escaping main() fails the test with a clear message."""
    capsys.readouterr()
    escaped: Optional[BaseException] = None
    try:
        status = cli.main([os.fspath(a) for a in args])
    except SystemExit:
        raise
    except BaseException as e:  # the user would see a traceback
        escaped = e
    out, err = capsys.readouterr()
    if escaped is not None:
        pytest.fail(f"fastpq.cli.main raised {type(escaped).__name__}: {escaped} instead of exiting 1 with one "
                    f"'fastpq: error:' line", pytrace=False)
    return status, out, err


class FakeStream:
    """A stderr stand-in whose isatty() answer is chosen by the test."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.parts: List[str] = []
        self.flushes = 0

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        self.flushes += 1

    @property
    def text(self) -> str:
        return "".join(self.parts)


# ---------------------------------------------------------------------------
# fastpq pq: output against panopticapi


def test_pq_prints_panopticapi_table(dataset, reference, capsys):
    status, out, err = run_cli(capsys, *pq_args(dataset))
    assert status == 0
    assert table_rows(out) == table_rows(reference[1])
    assert err == ""  # stderr is not a terminal under capsys: no progress bar


def test_panopticapi_flag_names(dataset, reference, tmp_path, capsys):
    # Move the PNG folders away from the JSON files, so the default folders would not be found and
    # --gt_folder / --pred_folder must be honoured.
    jsons = tmp_path / "jsons"
    jsons.mkdir()
    shutil.copy(dataset.gt_json, jsons / "gt.json")
    shutil.copy(dataset.pred_json, jsons / "pred.json")
    gt_folder = shutil.copytree(dataset.gt_folder, tmp_path / "pngs" / "ground_truth")
    pred_folder = shutil.copytree(dataset.pred_folder, tmp_path / "pngs" / "predictions")
    out_json = tmp_path / "out.json"
    status, out, err = run_cli(capsys, "pq", "--gt_json_file", jsons / "gt.json", "--pred_json_file",
                               jsons / "pred.json", "--gt_folder", gt_folder, "--pred_folder", pred_folder,
                               "--json", out_json)
    assert (status, err) == (0, "")
    assert table_rows(out) == table_rows(reference[1])
    assert_json_matches_reference(read_json(out_json), reference[0])

    # Without the folder flags the defaults (jsons/gt, jsons/pred) do not exist.
    status, out, err = run_cli_error(capsys, "pq", "--gt_json_file", jsons / "gt.json", "--pred_json_file",
                                     jsons / "pred.json")
    assert_one_error_line(status, out, err, str(jsons / "gt"))


def test_json_output_matches_panopticapi(dataset, reference, tmp_path, capsys):
    expected = reference[0]
    out_json = tmp_path / "results.json"
    status, out, err = run_cli(capsys, *pq_args(dataset, "--json", out_json))
    assert (status, err) == (0, "")
    assert table_rows(out) == table_rows(reference[1])
    data = read_json(out_json)
    assert set(data) == {"All", "Things", "Stuff", "per_class"}
    for name in GROUPS:
        assert set(data[name]) == {"pq", "sq", "rq", "n"}
    assert_json_matches_reference(data, expected)

    categories = read_json(dataset.gt_json)["categories"]
    per_class = data["per_class"]
    assert [c["category_id"] for c in per_class] == [c["id"] for c in categories]
    assert [c["category_id"] for c in per_class] == list(expected["per_class"])
    by_id = {c["id"]: c for c in categories}
    present = 0
    for entry in per_class:
        cid = entry["category_id"]
        for key in ("tp", "fp", "fn"):
            assert isinstance(entry[key], int) and not isinstance(entry[key], bool) and entry[key] >= 0, (cid, key)
        assert entry["name"] == by_id[cid]["name"]
        assert entry["isthing"] is (by_id[cid]["isthing"] == 1)
        for key in ("pq", "sq", "rq"):
            assert abs(entry[key] - expected["per_class"][cid][key]) <= TOL, (cid, key)
        tp, fp, fn = entry["tp"], entry["fp"], entry["fn"]
        if tp + fp + fn:
            present += 1
            assert abs(entry["rq"] - tp / (tp + 0.5 * fp + 0.5 * fn)) <= TOL, cid
            assert abs(entry["pq"] - entry["iou"] / (tp + 0.5 * fp + 0.5 * fn)) <= TOL, cid
        else:
            assert entry["iou"] == 0
    assert present == expected["All"]["n"]
    assert sum(1 for e in per_class if e["isthing"] and e["tp"] + e["fp"] + e["fn"]) == expected["Things"]["n"]
    assert sum(e["tp"] for e in per_class) > 0 and sum(e["fp"] + e["fn"] for e in per_class) > 0


def test_workers_1_same_json_as_default(dataset, tmp_path, capsys):
    default, one = tmp_path / "default.json", tmp_path / "one.json"
    status, out_default, _ = run_cli(capsys, *pq_args(dataset, "--json", default))
    assert status == 0
    status, out_one, _ = run_cli(capsys, *pq_args(dataset, "--json", one, "--workers", "1"))
    assert status == 0
    assert one.read_text() == default.read_text()
    assert out_one == out_default


def test_per_class_prints_one_line_per_present_category(dataset, reference, tmp_path, capsys):
    out_json = tmp_path / "results.json"
    status, out, err = run_cli(capsys, *pq_args(dataset, "--per-class", "--json", out_json))
    assert (status, err) == (0, "")
    assert table_rows(out) == table_rows(reference[1])
    per_class = read_json(out_json)["per_class"]
    present = [c for c in per_class if c["tp"] + c["fp"] + c["fn"] > 0]
    assert len(present) == reference[0]["All"]["n"]

    lines = out.splitlines()
    header = [i for i, line in enumerate(lines) if line.split()[:2] == ["id", "name"]]
    assert len(header) == 1, out
    rows = [line for line in lines[header[0] + 1:] if line.strip()]
    assert len(rows) == len(present)
    for row, c in zip(rows, present):
        fields = row.split()
        assert fields[0] == str(c["category_id"])
        assert fields[1] == c["name"]
        assert fields[2] == ("thing" if c["isthing"] else "stuff")
        assert [int(x) for x in fields[-3:]] == [c["tp"], c["fp"], c["fn"]]
        assert float(fields[3]) == pytest.approx(100 * c["pq"], abs=0.051)

    # Without --per-class: only the table.
    status, out, _ = run_cli(capsys, *pq_args(dataset))
    assert status == 0 and out.rstrip("\n").splitlines() == table_rows(out)


def test_quiet_prints_nothing(dataset, reference, tmp_path, capsys):
    out_json = tmp_path / "results.json"
    status, out, err = run_cli(capsys, *pq_args(dataset, "--quiet", "--per-class", "--json", out_json))
    assert (status, out, err) == (0, "", "")
    assert_json_matches_reference(read_json(out_json), reference[0])


# ---------------------------------------------------------------------------
# fastpq pq: bad input


def test_missing_gt_json(dataset, tmp_path, capsys):
    missing = tmp_path / "no_such_gt.json"
    status, out, err = run_cli_error(capsys, "pq", "--gt-json", missing, "--pred-json", dataset.pred_json,
                                     "--gt-folder", dataset.gt_folder, "--pred-folder", dataset.pred_folder)
    assert_one_error_line(status, out, err, str(missing))


def test_deleted_prediction_png(data_copy, capsys):
    annotation = read_json(data_copy.pred_json)["annotations"][2]
    png = data_copy.pred_folder / annotation["file_name"]
    png.unlink()
    status, out, err = run_cli_error(capsys, *pq_args(data_copy))
    assert_one_error_line(status, out, err, str(png), f"ID {annotation['image_id']}")


def test_prediction_json_segment_absent_from_png(data_copy, capsys):
    pred = read_json(data_copy.pred_json)
    annotation = pred["annotations"][1]
    absent = 1 << 24  # cannot be stored in a 24-bit RGB PNG
    assert absent not in {s["id"] for s in annotation["segments_info"]}
    annotation["segments_info"].append({"id": absent, "category_id": annotation["segments_info"][0]["category_id"]})
    data_copy.pred_json.write_text(json.dumps(pred))
    status, out, err = run_cli_error(capsys, *pq_args(data_copy))
    line = assert_one_error_line(status, out, err, f"ID {annotation['image_id']}", str(absent))
    assert "presented in JSON and not presented in PNG" in line


def test_gt_folder_does_not_exist(dataset, tmp_path, capsys):
    missing = tmp_path / "no_such_folder"
    status, out, err = run_cli_error(capsys, *pq_args(dataset, "--gt-folder", missing))
    assert_one_error_line(status, out, err, str(missing))


def test_image_without_prediction(data_copy, capsys):
    pred = read_json(data_copy.pred_json)
    dropped = pred["annotations"].pop(0)
    data_copy.pred_json.write_text(json.dumps(pred))
    status, out, err = run_cli_error(capsys, *pq_args(data_copy))
    assert_one_error_line(status, out, err, str(dropped["image_id"]))


def test_invalid_json_syntax_is_one_line(data_copy, capsys):
    data_copy.gt_json.write_text('{\n  "annotations": [\n')
    status, out, err = run_cli_error(capsys, *pq_args(data_copy))
    assert_one_error_line(status, out, err, str(data_copy.gt_json))


def test_unwritable_json_output(dataset, tmp_path, capsys):
    target = tmp_path / "no_such_dir" / "out.json"
    status, out, err = run_cli_error(capsys, *pq_args(dataset, "--quiet", "--json", target))
    assert_one_error_line(status, out, err, str(target))


# Malformed JSON values of the wrong (unhashable) type: cli.main promises "bad input ends with a
# one-line message and exit status 1", but these escape as a TypeError traceback (see the report).
@pytest.mark.parametrize("where", ["pred_image_id", "gt_image_id", "gt_category_id", "pred_category_id"])
def test_unhashable_json_values_are_one_line(data_copy, where, capsys):
    side, field = where.split("_", 1)
    path = data_copy.gt_json if side == "gt" else data_copy.pred_json
    content = read_json(path)
    annotation = content["annotations"][0]
    image_id = annotation["image_id"]
    if field == "image_id":
        annotation["image_id"] = [image_id]
    else:
        annotation["segments_info"][0]["category_id"] = [annotation["segments_info"][0]["category_id"]]
    path.write_text(json.dumps(content))
    status, out, err = run_cli_error(capsys, *pq_args(data_copy))
    assert_one_error_line(status, out, err)


@pytest.mark.parametrize("argv", [[], ["pq"], ["pq", "--gt-json", "gt.json"], ["pq", "--pred-json", "p.json"],
                                  ["pq", "--gt_json_file", "gt.json"], ["nonsense"]])
def test_missing_required_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "usage: fastpq" in err and "error:" in err


# ---------------------------------------------------------------------------
# fastpq demo, --help


def test_demo(tmp_path, capsys):
    root = tmp_path / "demo"
    status, out, err = run_cli(capsys, "demo", "--images", "3", "--dir", root)
    assert (status, err) == (0, "")
    for name in ("gt.json", "pred.json"):
        assert (root / name).is_file()
    for folder in ("gt", "pred"):
        assert len(list((root / folder).glob("*.png"))) == 3
    assert len(read_json(root / "gt.json")["annotations"]) == 3
    assert "generated 3 COCO-like images" in out and str(root) in out
    assert "scored 3 image pairs" in out
    _, printed = run_reference_with_output(root / "gt.json", root / "pred.json")
    assert table_rows(out) == table_rows(printed)


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    assert "usage: fastpq" in out and "pq" in out and "demo" in out

    with pytest.raises(SystemExit) as info:
        cli.main(["pq", "--help"])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    for flag in ("--gt-json", "--pred-json", "--gt-folder", "--pred-folder", "--gt_json_file", "--pred_json_file",
                 "--gt_folder", "--pred_folder", "--workers", "--max-pixels", "--json", "--per-class", "--quiet"):
        assert flag in out, flag

    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--help"])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    for flag in ("--images", "--dir", "--seed"):
        assert flag in out, flag


def test_top_level_help_lists_every_command_in_order_with_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out, _ = capsys.readouterr()
    listing = out.split("positional arguments:")[1].split("options:")[0]
    names = [line.split()[0] for line in listing.splitlines() if line.startswith("    ") and line[4] != " "]
    assert tuple(names) == cli.COMMAND_ORDER
    examples = out.split("typical uses:")[1]
    for name in cli.COMMAND_ORDER:
        if name != "consistency" and name != "amodal-stats":
            assert f"fastpq {name}" in examples, name


@pytest.mark.parametrize("command", cli.COMMAND_ORDER)
def test_every_command_has_help(command, capsys):
    status = 0
    try:
        status = cli.main([command, "--help"])
    except SystemExit as e:
        status = e.code
    assert status == 0
    out, _ = capsys.readouterr()
    assert f"usage: fastpq {command}" in out


def test_score_submission_command_scores_a_zip(dataset, tmp_path, capsys):
    import zipfile

    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(dataset.pred_json, "pred.json")
        for png in sorted(Path(dataset.pred_folder).iterdir()):
            zf.write(png, f"pred/{png.name}")
    status = cli.main(["score-submission", "--gt-json", os.fspath(dataset.gt_json), os.fspath(archive)])
    out, _ = capsys.readouterr()
    outcome = json.loads(out)
    assert status == 0 and outcome["status"] == "ok"
    assert outcome["result"]["All"]["pq"] == fastpq.evaluate(dataset.gt_json, dataset.pred_json).pq


# ---------------------------------------------------------------------------
# Real processes: python -m fastpq and the console script


def _commands() -> List[Tuple[str, Optional[List[str]]]]:
    return [("python -m fastpq", [sys.executable, "-m", "fastpq"]),
            ("fastpq script", [shutil.which("fastpq")] if shutil.which("fastpq") else None)]


@pytest.mark.parametrize("name,command", _commands(), ids=[c[0] for c in _commands()])
def test_subprocess(name, command, dataset, reference, tmp_path):
    if command is None:
        pytest.skip("the fastpq console script is not on PATH")
    out_json = tmp_path / "out.json"
    proc = subprocess.run(command + [str(a) for a in pq_args(dataset, "--json", out_json)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # a pipe is no terminal: no progress bar
    assert table_rows(proc.stdout) == table_rows(reference[1])
    assert_json_matches_reference(read_json(out_json), reference[0])

    missing = tmp_path / "missing.json"
    proc = subprocess.run(command + ["pq", "--gt-json", str(missing), "--pred-json", str(dataset.pred_json)],
                          capture_output=True, text=True, timeout=60)
    assert_one_error_line(proc.returncode, proc.stdout, proc.stderr, str(missing))

    proc = subprocess.run(command + ["pq"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "required" in proc.stderr


# ---------------------------------------------------------------------------
# Progress bar


def test_progress_bar_draws_on_a_tty():
    stream = FakeStream(tty=True)
    bar = cli.ProgressBar("scoring", stream=stream)
    assert bar.enabled
    for done in range(4):
        bar(done, 3)
    text = stream.text
    assert "scoring" in text and "3/3" in text and "0/3" in text
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1
    last = text.rstrip("\n").split("\r")[-1]
    assert "#" * 30 in last and "3/3" in last
    assert stream.flushes == 4


def test_progress_bar_silent_when_not_a_tty():
    stream = FakeStream(tty=False)
    bar = cli.ProgressBar("scoring", stream=stream)
    assert not bar.enabled
    bar(0, 3)
    bar(3, 3)
    assert stream.parts == [] and stream.flushes == 0


def test_progress_bar_zero_images():
    stream = FakeStream(tty=True)
    bar = cli.ProgressBar("scoring", stream=stream)
    bar(0, 0)
    assert "0/0" in stream.text and stream.text.endswith("\n")


def test_cli_draws_progress_on_a_tty_stderr(dataset, capsys, monkeypatch):
    stream = FakeStream(tty=True)
    monkeypatch.setattr(sys, "stderr", stream)
    status = cli.main([os.fspath(a) for a in pq_args(dataset)])
    out, _ = capsys.readouterr()
    assert status == 0
    assert f"{N_IMAGES}/{N_IMAGES}" in stream.text and stream.text.endswith("\n")
    table_rows(out)

    stream = FakeStream(tty=True)
    monkeypatch.setattr(sys, "stderr", stream)
    assert cli.main([os.fspath(a) for a in pq_args(dataset, "--quiet")]) == 0
    assert stream.parts == []
    assert capsys.readouterr().out == ""


def test_evaluate_progress_callback(dataset):
    plain = fastpq.evaluate(dataset.gt_json, dataset.pred_json)
    calls: List[Tuple[int, int]] = []
    result = fastpq.evaluate(dataset.gt_json, dataset.pred_json, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, N_IMAGES) and calls[-1] == (N_IMAGES, N_IMAGES)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert result.groups == plain.groups and result.classes == plain.classes


def _replicated(dataset, tmp_path, copies: int) -> Tuple[Path, Path]:
    """JSON files listing every image `copies` times (new image ids, same PNGs): many images, no new PNGs."""
    paths = []
    for src in (dataset.gt_json, dataset.pred_json):
        content = read_json(src)
        content["annotations"] = [dict(a, image_id=f"{a['image_id']}-{k}")
                                  for k in range(copies) for a in content["annotations"]]
        dst = tmp_path / src.name
        dst.write_text(json.dumps(content))
        paths.append(dst)
    return paths[0], paths[1]


def test_evaluate_progress_in_chunks_is_exact(dataset, tmp_path):
    gt_json, pred_json = _replicated(dataset, tmp_path, 30)
    n = 30 * N_IMAGES
    plain = fastpq.evaluate(gt_json, pred_json, dataset.gt_folder, dataset.pred_folder)
    for workers in (0, 1):
        calls: List[Tuple[int, int]] = []
        result = fastpq.evaluate(gt_json, pred_json, dataset.gt_folder, dataset.pred_folder, workers=workers,
                                 progress=lambda d, t: calls.append((d, t)))
        assert calls[0] == (0, n) and calls[-1] == (n, n)
        assert len(calls) > 2  # reported in several chunks
        assert all(t == n for _, t in calls)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
        # Chunks continue each other's sums: bit-for-bit the same numbers as one pass.
        assert result.groups == plain.groups and result.classes == plain.classes


def test_the_file_path_does_not_import_numpy():
    """`import fastpq` and scoring files stay light: numpy is only for the in-memory and analysis paths."""
    code = "import sys, fastpq, fastpq.cli; assert 'numpy' not in sys.modules, 'numpy was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
