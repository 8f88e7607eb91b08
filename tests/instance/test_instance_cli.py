"""`fastpq instance-ap` prints the table and writes the reference's dict."""

from __future__ import annotations

import json
from pathlib import Path

from fastpq.cli import main
from fastpq.synthetic.cityscapes_instances import generate

import fastpq.instance as I


def test_cli_json_equals_api(tmp_path: Path, capsys) -> None:
    gt, res = generate(str(tmp_path), seed=7, images=2, height=32, width=64)
    out = tmp_path / "out.json"
    assert main(["instance-ap", str(gt), str(res), "--json", str(out)]) == 0
    assert "average" in capsys.readouterr().out
    api = I.evaluate(str(gt), str(res)).to_dict()
    assert json.dumps(json.loads(out.read_text()), sort_keys=True) == json.dumps(api, sort_keys=True)


def test_cli_missing_folder_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["instance-ap", str(tmp_path / "nope"), str(tmp_path)]) == 1
    assert "fastpq: error:" in capsys.readouterr().err
