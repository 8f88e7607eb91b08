"""fastpq.dask.pq_compute: on a Dask cluster (or Dask's local scheduler), fastpq.pq_compute's results and errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastpq
import fastpq.dask as fastpq_dask
from conftest import assert_results_close, run_reference_single_process

distributed = pytest.importorskip("distributed", reason="needs dask[distributed]")


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each; closed (cluster included) after the module's tests."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        # Not the default client: the tests of the local scheduler must not find it.
        with distributed.Client(cluster, set_as_default=False) as c:
            yield c


def assert_same_as_fastpq(paths, result, tol: float = 1e-12) -> None:
    """The dask result (a PanopticResult) against fastpq.evaluate: identical counts, IoU sums within tol."""
    expected = fastpq.evaluate(paths.gt_json, paths.pred_json)
    assert [(c.category_id, c.tp, c.fp, c.fn) for c in result.classes] == \
        [(c.category_id, c.tp, c.fp, c.fn) for c in expected.classes]
    for ours, theirs in zip(result.classes, expected.classes):
        assert abs(ours.iou - theirs.iou) <= tol
    assert_results_close(result.to_dict(), expected.to_dict(), tol)


def without_timing(printed: str) -> str:
    return "\n".join(line for line in printed.splitlines() if not line.startswith("Time elapsed"))


def n_images(paths) -> int:
    return len(json.loads(Path(paths.gt_json).read_text())["annotations"])


@pytest.mark.parametrize("partitions", [1, 3, 7, 100])
def test_cluster_equals_pq_compute(coco_like, client, capsys, partitions):
    assert partitions != 100 or partitions > n_images(coco_like)
    expected = fastpq.pq_compute(coco_like.gt_json, coco_like.pred_json)
    expected_printout = capsys.readouterr().out
    results = fastpq_dask.pq_compute(coco_like.gt_json, coco_like.pred_json, client=client, partitions=partitions)
    assert without_timing(capsys.readouterr().out) == without_timing(expected_printout)
    assert_results_close(results, expected)
    assert {name: results[name]["n"] for name in ("All", "Things", "Stuff")} == \
        {name: expected[name]["n"] for name in ("All", "Things", "Stuff")}
    assert_same_as_fastpq(coco_like, fastpq_dask.evaluate(coco_like.gt_json, coco_like.pred_json, client=client,
                                                          partitions=partitions))


def test_one_partition_is_bit_identical_and_equals_panopticapi(coco_like, client):
    """One chunk adds the IoUs in one pass, in GT order: the same floats as fastpq and panopticapi."""
    result = fastpq_dask.evaluate(coco_like.gt_json, coco_like.pred_json, client=client, partitions=1)
    assert result.to_dict() == fastpq.evaluate(coco_like.gt_json, coco_like.pred_json).to_dict()
    assert_results_close(result.to_dict(), run_reference_single_process(coco_like.gt_json, coco_like.pred_json), 0)


def test_default_partitions_and_default_client(coco_like, client, capsys):
    assert fastpq_dask._default_client() is None
    with client.as_current():
        assert fastpq_dask._default_client() is client
        assert_same_as_fastpq(coco_like, fastpq_dask.evaluate(coco_like.gt_json, coco_like.pred_json))
    assert_same_as_fastpq(coco_like, fastpq_dask.evaluate(coco_like.gt_json, coco_like.pred_json, client=client))


@pytest.mark.parametrize("partitions", [None, 1, 5, 100])
def test_local_threaded_scheduler(coco_like, capsys, partitions):
    assert fastpq_dask._default_client() is None
    expected = fastpq.pq_compute(coco_like.gt_json, coco_like.pred_json)
    assert_results_close(fastpq_dask.pq_compute(coco_like.gt_json, coco_like.pred_json, partitions=partitions),
                         expected)
    assert_same_as_fastpq(coco_like, fastpq_dask.evaluate(coco_like.gt_json, coco_like.pred_json,
                                                          partitions=partitions, workers=2))


def test_split_points_and_add_states():
    assert fastpq_dask.split_points(12, 1) == [0, 12]
    assert fastpq_dask.split_points(12, 5) == [0, 2, 4, 7, 9, 12]
    assert fastpq_dask.split_points(3, 10) == [0, 1, 2, 3]
    states = [([1, 0], [0, 2], [3, 0], [0.5, 0.0]), ([0, 1], [1, 0], [0, 0], [0.25, 0.75])]
    assert fastpq_dask.add_states(states) == ([1, 1], [1, 2], [3, 0], [0.75, 0.75])
    assert states[0] == ([1, 0], [0, 2], [3, 0], [0.5, 0.0])  # the inputs are left alone


@pytest.mark.parametrize("partitions", [0, -1, 2.0, True])
def test_partitions_must_be_a_positive_integer(coco_like, partitions):
    with pytest.raises(ValueError, match="partitions"):
        fastpq_dask.evaluate(coco_like.gt_json, coco_like.pred_json, partitions=partitions)


# ---------------------------------------------------------------------------
# Errors: the same exceptions as fastpq.pq_compute, raised on the client


@pytest.fixture
def broken_copy(coco_like, tmp_path):
    """A copy of the generated dataset, free to break: (paths of the copy, its GT and prediction JSON)."""
    root = tmp_path / "copy"
    shutil.copytree(Path(coco_like.gt_json).parent, root)
    gt_json, pred_json = root / "gt.json", root / "pred.json"
    return gt_json, pred_json, json.loads(gt_json.read_text()), json.loads(pred_json.read_text())


def fastpq_error(gt_json, pred_json, capsys):
    with pytest.raises(fastpq.FastPQError) as info:
        fastpq.pq_compute(gt_json, pred_json)
    capsys.readouterr()
    return info.value


def assert_same_error(error, expected):
    assert type(error) is type(expected)
    assert str(error) == str(expected)
    assert (error.image_id, error.file, error.segment_id) == (expected.image_id, expected.file, expected.segment_id)


@pytest.mark.parametrize("on_cluster", [True, False], ids=["cluster", "local"])
def test_deleted_prediction_png(broken_copy, client, capsys, on_cluster):
    gt_json, pred_json, _, pred = broken_copy
    victim = pred["annotations"][7]
    os.remove(pred_json.with_suffix("") / victim["file_name"])
    expected = fastpq_error(gt_json, pred_json, capsys)
    with pytest.raises(FileNotFoundError) as info:  # panopticapi's class
        fastpq_dask.pq_compute(gt_json, pred_json, client=client if on_cluster else None, partitions=3)
    assert isinstance(info.value, fastpq.PngNotFoundError)
    assert_same_error(info.value, expected)
    assert info.value.image_id == victim["image_id"]


def test_segment_mismatch_has_panopticapis_message(broken_copy, client, capsys):
    """A prediction segment listed in the JSON but absent from its PNG: panopticapi's KeyError text."""
    gt_json, pred_json, _, pred = broken_copy
    pred["annotations"][5]["segments_info"].append({"id": 12345, "category_id": pred["annotations"][5][
        "segments_info"][0]["category_id"]})
    pred_json.write_text(json.dumps(pred))
    with pytest.raises(KeyError) as reference:
        run_reference_single_process(gt_json, pred_json)
    with pytest.raises(KeyError) as info:
        fastpq_dask.pq_compute(gt_json, pred_json, client=client, partitions=4)
    capsys.readouterr()
    assert isinstance(info.value, fastpq.SegmentMismatchError)
    assert str(info.value) == str(reference.value)
    assert_same_error(info.value, fastpq_error(gt_json, pred_json, capsys))


def test_first_failing_image_in_gt_order_is_reported(broken_copy, client, capsys):
    gt_json, pred_json, gt, pred = broken_copy
    pred_file = {a["image_id"]: a["file_name"] for a in pred["annotations"]}
    broken = [gt["annotations"][i]["image_id"] for i in (2, 9)]  # in GT order
    for image_id in reversed(broken):
        os.remove(pred_json.with_suffix("") / pred_file[image_id])
    expected = fastpq_error(gt_json, pred_json, capsys)
    assert expected.image_id == broken[0]
    with pytest.raises(fastpq.PngNotFoundError) as info:
        fastpq_dask.pq_compute(gt_json, pred_json, client=client, partitions=12)
    assert_same_error(info.value, expected)


def test_json_errors_are_raised_before_any_task(broken_copy, client, capsys):
    gt_json, pred_json, _, pred = broken_copy
    missing = pred["annotations"].pop(4)
    pred_json.write_text(json.dumps(pred))
    expected = fastpq_error(gt_json, pred_json, capsys)
    assert isinstance(expected, fastpq.MissingPredictionError)
    with pytest.raises(fastpq.MissingPredictionError) as info:
        fastpq_dask.pq_compute(gt_json, pred_json, client=client)
    assert str(info.value) == str(expected) == f"no prediction for the image with id: {missing['image_id']}"
    with pytest.raises(fastpq.MissingFolderError):
        fastpq_dask.pq_compute(gt_json, pred_json, pred_folder=str(gt_json.parent / "nowhere"), client=client)


def test_errors_travel_with_their_class_and_fields():
    """Errors cross the cluster as _Failure records, which pickle whatever pickling support is installed
    (distributed's tblib cannot rebuild a PngNotFoundError object)."""
    import pickle

    for cls in (fastpq.PngNotFoundError, fastpq.PngError, fastpq.SegmentMismatchError, fastpq.AnnotationKeyError,
                fastpq.ImageSizeMismatchError, fastpq.MissingPredictionError, fastpq.EmptyCategoryGroupError):
        error = cls("In the image with ID 3 something", image_id=3, file="/a/b.png", segment_id=7)
        copy = pickle.loads(pickle.dumps(fastpq_dask._Failure.of(error))).error()
        assert_same_error(copy, error)


def test_importing_fastpq_does_not_import_dask():
    code = ("import sys, fastpq, fastpq.dask, fastpq.detectron2\n"
            "assert 'dask' not in sys.modules and 'distributed' not in sys.modules, sorted(sys.modules)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
