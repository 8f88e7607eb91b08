"""fastpq.dask without a shared file system: a LocalCluster of two worker processes whose working
directory holds no data, every family read from an S3 endpoint (moto's server on loopback), equal
to the single-process result; a missing object gives the single-process error."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import fastpq
import fastpq.dask as fastpq_dask
import fastpq.instance as instance
import fastpq.semantic as semantic
from fastpq import synthetic
from fastpq.amodal import amodal_ar
from fastpq.synthetic import cityscapes_instances
from fastpq.synthetic import semantic as synthetic_semantic
from fastpq.synthetic_amodal import generate_amodal_dataset
from s3_server import start

distributed = pytest.importorskip("distributed", reason="needs dask[distributed]")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Single-process results from local files, then the data only in S3 (the local copy deleted),
    and a cluster started in an empty directory."""
    root = tmp_path_factory.mktemp("dask_remote")
    synthetic.generate_dataset(root / "panoptic", synthetic.COCO_LIKE, 8, seed=11)
    synthetic_semantic.write_cityscapes_like(root / "cityscapes", 5, seed=12)
    cityscapes_instances.generate(str(root / "instance"), seed=13, images=4)
    generate_amodal_dataset(root / "amodal", n_images=5, max_proposals=60, seed=14)
    expected = {
        "panoptic": fastpq.evaluate(root / "panoptic/gt.json", root / "panoptic/pred.json", by_size=True,
                                    boundary=True),
        "semantic": semantic.evaluate(str(root / "cityscapes/gtFine/val"), str(root / "cityscapes/results"),
                                      preset="cityscapes"),
        "instance": instance.evaluate(str(root / "instance/gtFine/val"), str(root / "instance/results")),
        "amodal": amodal_ar(root / "amodal/amodal_gt.json", root / "amodal/amodal_proposals.json"),
    }
    s3 = start()
    s3.client.create_bucket(Bucket="data")
    s3.upload("data", root, "set")
    names = sorted(p.name for p in (root / "panoptic/pred").iterdir())
    s3.upload("data", root / "panoptic", "missing")
    s3.client.delete_object(Bucket="data", Key=f"missing/pred/{names[5]}")
    with pytest.raises(fastpq.FastPQError) as local_error:
        fastpq.evaluate("s3://data/missing/gt.json", "s3://data/missing/pred.json",
                        storage_options=s3.storage_options)
    shutil.rmtree(root)
    empty = tmp_path_factory.mktemp("empty_cwd")
    here = os.getcwd()
    os.chdir(empty)
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40, local_directory=str(empty))
    finally:
        os.chdir(here)
    client = distributed.Client(cluster, set_as_default=False)
    yield expected, s3, client, local_error.value
    client.close()
    cluster.close()
    s3.server.stop()


def test_workers_see_no_data(setup):
    _, _, client, _ = setup
    listings = client.run(lambda: os.listdir(os.getcwd()))
    assert len(listings) == 2
    assert all(not any(name in ("panoptic", "gt.json", "cityscapes") for name in found) for found in listings.values())


@pytest.mark.parametrize("partitions", [1, 3])
def test_panoptic_from_s3(setup, partitions):
    expected, s3, client, _ = setup
    r = fastpq_dask.evaluate("s3://data/set/panoptic/gt.json", "s3://data/set/panoptic/pred.json", client=client,
                             partitions=partitions, storage_options=s3.storage_options, by_size=True, boundary=True)
    e = expected["panoptic"]
    assert [(c.category_id, c.tp, c.fp, c.fn) for c in r.classes] == [(c.category_id, c.tp, c.fp, c.fn)
                                                                     for c in e.classes]
    for ours, theirs in zip(r.classes, e.classes):
        assert abs(ours.iou - theirs.iou) <= 1e-12  # IoU sums added in chunk order: equal within rounding
    assert abs(r.pq - e.pq) <= 1e-12 and abs(r.boundary.pq - e.boundary.pq) <= 1e-12
    for size in e.by_size:
        assert [(c.tp, c.fp, c.fn) for c in r.by_size[size].classes] == \
            [(c.tp, c.fp, c.fn) for c in e.by_size[size].classes]


def test_semantic_from_s3(setup):
    expected, s3, client, _ = setup
    r = fastpq_dask.semantic("s3://data/set/cityscapes/gtFine/val", "s3://data/set/cityscapes/results",
                             preset="cityscapes", client=client, partitions=3, storage_options=s3.storage_options)
    e = expected["semantic"]
    assert r.miou == e.miou and r.miiou == e.miiou and (r.state.confusion == e.state.confusion).all()
    assert len(r.image_names) == 5


def test_instance_from_s3(setup):
    expected, s3, client, _ = setup
    r = fastpq_dask.instance_ap("s3://data/set/instance/gtFine/val", "s3://data/set/instance/results",
                                client=client, partitions=2, storage_options=s3.storage_options)
    assert json.dumps(r.to_dict(), sort_keys=True) == json.dumps(expected["instance"].to_dict(), sort_keys=True)


def test_amodal_from_s3(setup):
    expected, s3, client, _ = setup
    r = fastpq_dask.amodal_ar("s3://data/set/amodal/amodal_gt.json", "s3://data/set/amodal/amodal_proposals.json",
                              client=client, partitions=3, storage_options=s3.storage_options)
    assert r.to_dict() == expected["amodal"].to_dict() and r.regions == expected["amodal"].regions


def test_missing_object_same_error_as_single_process(setup):
    _, s3, client, local_error = setup
    with pytest.raises(fastpq.FastPQError) as e:
        fastpq_dask.evaluate("s3://data/missing/gt.json", "s3://data/missing/pred.json", client=client,
                             partitions=4, storage_options=s3.storage_options)
    assert type(e.value) is type(local_error) is fastpq.RemoteNotFoundError
    assert str(e.value) == str(local_error) and e.value.image_id == local_error.image_id
    assert e.value.file == local_error.file and "s3://data/missing/pred/" in e.value.file
