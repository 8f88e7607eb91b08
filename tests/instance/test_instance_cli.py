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


def test_cli_distance_rows_from_disparity_and_camera(tmp_path: Path, capsys) -> None:
    import numpy as np
    from PIL import Image
    gt, res = generate(str(tmp_path), seed=8, images=2, height=32, width=64)
    for kind in ("disparity", "camera"):
        (tmp_path / kind / "val" / "synth").mkdir(parents=True)
    for g in Path(gt).rglob("*_instanceIds.png"):
        key = "_".join(g.name.split("_")[:3])
        disp = np.arange(32 * 64, dtype=np.uint16).reshape(32, 64) * 7 % 4000
        Image.fromarray(disp).save(tmp_path / "disparity" / "val" / "synth" / f"{key}_disparity.png")
        (tmp_path / "camera" / "val" / "synth" / f"{key}_camera.json").write_text(
            json.dumps({"extrinsic": {"baseline": 0.21}, "intrinsic": {"fx": 2262.5}}))
    out = tmp_path / "out.json"
    assert main(["instance-ap", str(gt), str(res), "--disparity", str(tmp_path / "disparity"),
                 "--camera", str(tmp_path / "camera"), "--json", str(out)]) == 0
    assert "AP_50m" in capsys.readouterr().out
    distances = I.cityscapes_distances(str(gt), str(tmp_path / "disparity"), str(tmp_path / "camera"))
    api = I.evaluate(str(gt), str(res), distances=distances).to_dict()
    assert json.dumps(json.loads(out.read_text()), sort_keys=True) == json.dumps(api, sort_keys=True)
    assert main(["instance-ap", str(gt), str(res), "--disparity", str(tmp_path / "disparity")]) == 1
