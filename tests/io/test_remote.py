"""Inputs behind fsspec URLs: one small synthetic dataset per family scored from local files, from a
real S3 endpoint (moto's server on loopback, read with s3fs), from zip:// archives and from
memory:// gives identical numbers; missing, refused and truncated objects give errors naming the URL."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import fastpq
import fastpq.instance as instance
import fastpq.semantic as semantic
from fastpq import synthetic
from fastpq.amodal import amodal_ar
from fastpq.io import remote
from fastpq.synthetic import cityscapes_instances
from fastpq.synthetic import semantic as synthetic_semantic
from fastpq.synthetic_amodal import generate_amodal_dataset
from s3_server import start

fsspec = pytest.importorskip("fsspec", reason="URL inputs need fsspec: pip install 'fastpq[cloud]'")


def _zip(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(folder).as_posix())
    return archive


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Every family's dataset under one local root, zipped, uploaded to S3 and copied to memory://."""
    root = tmp_path_factory.mktemp("remote")
    synthetic.generate_dataset(root / "panoptic", synthetic.COCO_LIKE, 6, seed=3)
    synthetic_semantic.write_cityscapes_like(root / "cityscapes", 4, seed=4)
    synthetic_semantic.write_ade20k_like(root / "ade", 4, seed=5)
    cityscapes_instances.generate(str(root / "instance"), seed=6, images=3)
    generate_amodal_dataset(root / "amodal", n_images=4, max_proposals=60, seed=7)
    s3 = start()
    s3.client.create_bucket(Bucket="data")
    s3.upload("data", root, "set")
    for name in ("panoptic", "cityscapes", "ade", "instance", "amodal"):
        _zip(root / name, root / f"{name}.zip")
    memory = fsspec.filesystem("memory")
    memory.put(str(root), "/fastpq-tests/set", recursive=True)
    yield root, s3
    memory.rm("/fastpq-tests", recursive=True)
    s3.server.stop()


def _bases(data, family):
    """(local root, storage options, URL root) of a family's dataset, for each place it is kept."""
    root, s3 = data
    return [(str(root / family), None),
            (f"s3://data/set/{family}", s3.storage_options),
            (f"zip://::{root / family}.zip", None),
            (f"memory://fastpq-tests/set/{family}", None)]


def _at(base: str, rel: str) -> str:
    return remote.join(base, rel) if remote.is_url(base) else str(Path(base) / rel)


def test_url_recognition():
    assert remote.is_url("s3://b/k") and remote.is_url("zip://a.json::x.zip") and remote.is_url("memory://x")
    assert remote.is_url("https://host/a.json") and remote.is_url("gs://b/a")
    assert not remote.is_url("/data/gt.json") and not remote.is_url("gt.json") and not remote.is_url("C:\\x")
    assert not remote.is_url("file:///data/gt.json") and remote.local_path("file:///data/gt.json") == "/data/gt.json"
    assert remote.join("zip://gt::s3://b/a.zip", "x.png") == "zip://gt/x.png::s3://b/a.zip"
    assert remote.normalize("s3://b/res/masks/../x.png") == "s3://b/res/x.png"


def test_import_fastpq_does_not_import_fsspec():
    code = "import fastpq, sys; assert 'fsspec' not in sys.modules and 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_panoptic_identical_everywhere(data):
    results = []
    for base, options in _bases(data, "panoptic"):
        r = fastpq.evaluate(_at(base, "gt.json"), _at(base, "pred.json"), storage_options=options, by_size=True,
                            boundary=True, covering=True, per_image=True)
        results.append(r)
    first = results[0]
    for r in results[1:]:
        assert [(c.category_id, c.tp, c.fp, c.fn, c.iou) for c in r.classes] == \
            [(c.category_id, c.tp, c.fp, c.fn, c.iou) for c in first.classes]
        assert r.to_dict() == first.to_dict()
        assert r.boundary.to_dict() == first.boundary.to_dict()
        assert {k: v.to_dict() for k, v in r.by_size.items()} == {k: v.to_dict() for k, v in first.by_size.items()}
        assert r.per_image == first.per_image
    assert first.classes and sum(c.tp for c in first.classes) > 0


def test_panoptic_mixed_local_gt_and_zip_prediction(data):
    root, _ = data
    local = fastpq.evaluate(root / "panoptic" / "gt.json", root / "panoptic" / "pred.json")
    mixed = fastpq.evaluate(str(root / "panoptic" / "gt.json"), f"zip://pred.json::{root}/panoptic.zip")
    assert mixed.to_dict() == local.to_dict()


@pytest.mark.parametrize("family, preset, gt_rel, pred_rel", [
    ("cityscapes", "cityscapes", "gtFine/val", "results"),
    ("ade", "ade20k", "annotations/validation", "pred"),
])
def test_semantic_identical_everywhere(data, family, preset, gt_rel, pred_rel):
    results = [semantic.evaluate(_at(b, gt_rel), _at(b, pred_rel), preset=preset, storage_options=o)
               for b, o in _bases(data, family)]
    for r in results[1:]:
        assert r.miou == results[0].miou and r.pixel_accuracy == results[0].pixel_accuracy
        assert (r.state.confusion == results[0].state.confusion).all()
        assert {n: c.iou for n, c in r.classes.items()} == {n: c.iou for n, c in results[0].classes.items()}
        if preset == "cityscapes":
            assert r.miiou == results[0].miiou
        assert len(r.image_names) == len(results[0].image_names) == 4


def test_instance_identical_everywhere(data):
    results = [instance.evaluate(_at(b, "gtFine/val"), _at(b, "results"), storage_options=o)
               for b, o in _bases(data, "instance")]
    for r in results[1:]:  # (NaN for classes without GT: compared as JSON text)
        assert json.dumps(r.to_dict(), sort_keys=True) == json.dumps(results[0].to_dict(), sort_keys=True)
    assert results[0].ap > 0


def test_amodal_identical_everywhere(data):
    results = [amodal_ar(_at(b, "amodal_gt.json"), _at(b, "amodal_proposals.json"), storage_options=o)
               for b, o in _bases(data, "amodal")]
    for r in results[1:]:
        assert r.to_dict() == results[0].to_dict() and r.regions == results[0].regions


# ---- errors ----

@pytest.fixture(scope="module")
def broken(data):
    """Copies of the panoptic set in S3 with one PNG missing, one truncated, a truncated JSON, and a
    bucket whose policy refuses every request."""
    root, s3 = data
    pan = root / "panoptic"
    names = sorted(p.name for p in (pan / "pred").iterdir())
    s3.upload("data", pan, "missing")
    s3.client.delete_object(Bucket="data", Key=f"missing/pred/{names[2]}")
    s3.upload("data", pan, "truncated")
    body = (pan / "pred" / names[1]).read_bytes()
    s3.client.put_object(Bucket="data", Key=f"truncated/pred/{names[1]}", Body=body[: len(body) // 2])
    text = (pan / "pred.json").read_bytes()
    s3.client.put_object(Bucket="data", Key="truncated/pred_cut.json", Body=text[: len(text) // 2])
    s3.client.create_bucket(Bucket="locked")
    s3.upload("data", pan, "locked")  # the same keys, in a bucket that refuses access below
    s3.upload("locked", pan, "set")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                                                      "Resource": ["arn:aws:s3:::locked", "arn:aws:s3:::locked/*"]}]}
    s3.client.put_bucket_policy(Bucket="locked", Policy=json.dumps(policy))
    gt = json.loads((pan / "gt.json").read_text())
    ids = {a["file_name"]: a["image_id"] for a in gt["annotations"]}
    return s3, names, ids


def test_missing_png_names_url_and_image(broken):
    s3, names, ids = broken
    with pytest.raises(fastpq.RemoteNotFoundError) as e:
        fastpq.evaluate("s3://data/missing/gt.json", "s3://data/missing/pred.json",
                        storage_options=s3.storage_options)
    url = f"s3://data/missing/pred/{names[2]}"
    assert url in str(e.value) and e.value.file == url and e.value.image_id == ids[names[2]]
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, fastpq.FastPQError)


def test_missing_json_and_bucket(broken):
    s3, _, _ = broken
    with pytest.raises(fastpq.RemoteNotFoundError, match="s3://data/missing/nothing.json"):
        fastpq.evaluate("s3://data/missing/nothing.json", "s3://data/missing/pred.json",
                        storage_options=s3.storage_options)
    with pytest.raises(fastpq.FastPQError, match="s3://no-such-bucket/gt.json"):
        fastpq.evaluate("s3://no-such-bucket/gt.json", "s3://no-such-bucket/pred.json",
                        storage_options=s3.storage_options)


def test_denied_access_names_url(broken):
    s3, _, _ = broken
    with pytest.raises(fastpq.RemoteAccessError) as e:
        fastpq.evaluate("s3://locked/set/gt.json", "s3://locked/set/pred.json", storage_options=s3.storage_options)
    assert "s3://locked/set/gt.json" in str(e.value) and "denied" in str(e.value)
    with pytest.raises(fastpq.RemoteAccessError, match="s3://locked/set/amodal.json"):
        amodal_ar("s3://locked/set/amodal.json", "s3://locked/set/p.json", storage_options=s3.storage_options)


def test_truncated_png_and_json_name_url(broken):
    s3, names, ids = broken
    with pytest.raises(fastpq.PngError) as e:
        fastpq.evaluate("s3://data/truncated/gt.json", "s3://data/truncated/pred.json",
                        storage_options=s3.storage_options)
    url = f"s3://data/truncated/pred/{names[1]}"
    assert url in str(e.value) and e.value.image_id == ids[names[1]]
    with pytest.raises(fastpq.AnnotationError, match="s3://data/truncated/pred_cut.json' is not valid JSON"):
        fastpq.evaluate("s3://data/truncated/gt.json", "s3://data/truncated/pred_cut.json",
                        "s3://data/truncated/gt", "s3://data/truncated/pred", storage_options=s3.storage_options)


def test_first_failing_image_in_order(broken):
    """A missing PNG after a truncated one: the truncated one (earlier) is the error, as with files."""
    s3, names, _ = broken
    s3.client.delete_object(Bucket="data", Key=f"truncated/pred/{names[3]}")
    with pytest.raises(fastpq.PngError, match=names[1]):
        fastpq.evaluate("s3://data/truncated/gt.json", "s3://data/truncated/pred.json",
                        storage_options=s3.storage_options)


def test_max_json_bytes_checked_before_reading(broken):
    s3, _, _ = broken
    with pytest.raises(fastpq.LimitExceededError, match="s3://data/missing/gt.json' has .* bytes, more than "
                                                        "max_json_bytes=100"):
        fastpq.evaluate("s3://data/missing/gt.json", "s3://data/missing/pred.json", max_json_bytes=100,
                        storage_options=s3.storage_options)


def test_missing_folder_url(broken):
    s3, _, _ = broken
    with pytest.raises(fastpq.MissingFolderError, match="s3://data/missing/nowhere"):
        fastpq.evaluate("s3://data/missing/gt.json", "s3://data/missing/pred.json", "s3://data/missing/gt",
                        "s3://data/missing/nowhere", storage_options=s3.storage_options)


def test_semantic_and_instance_missing_objects_name_url(data):
    root, s3 = data
    s3.upload("data", root / "ade", "ade-missing")
    s3.client.delete_object(Bucket="data", Key="ade-missing/annotations/validation/ADE_val_00000002.png")
    pairs = [("s3://data/ade-missing/annotations/validation/ADE_val_00000002.png",
              "s3://data/ade-missing/pred/ADE_val_00000002.png")]
    with pytest.raises(fastpq.RemoteNotFoundError, match="s3://data/ade-missing/annotations/validation/ADE_val_0000"):
        semantic.evaluate(pairs, preset="ade20k", storage_options=s3.storage_options)
    s3.upload("data", root / "instance", "instance-cut")
    mask = sorted((root / "instance" / "results" / "masks").iterdir())[0]
    s3.client.put_object(Bucket="data", Key=f"instance-cut/results/masks/{mask.name}", Body=mask.read_bytes()[:30])
    with pytest.raises(fastpq.PngError, match=f"s3://data/instance-cut/results/masks/{mask.name}"):
        instance.evaluate("s3://data/instance-cut/gtFine/val", "s3://data/instance-cut/results",
                          storage_options=s3.storage_options)
