"""fastpq.detectron2.PanopticEvaluator: detectron2-style outputs give fastpq.pq_compute's numbers, in percent."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import fastpq
from fastpq import _core
from fastpq.detectron2 import PanopticEvaluator, detectron2_results, to_dataset_segments

KEYS = ["PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"]
LABEL_DIVISOR = 1000


class Dataset:
    """The generated dataset's GT and, in GT order, each image's prediction map (void as -1) and segments."""

    def __init__(self, paths) -> None:
        self.paths = paths
        self.gt = json.loads(Path(paths.gt_json).read_text())
        pred = json.loads(Path(paths.pred_json).read_text())
        pred_of = {a["image_id"]: a for a in pred["annotations"]}
        self.categories = self.gt["categories"]
        self.images: List[Tuple[Any, str, np.ndarray, List[Dict[str, Any]]]] = []
        for ann in self.gt["annotations"]:
            p = pred_of[ann["image_id"]]
            ids = _core.read_png_ids(str(Path(paths.pred_folder) / p["file_name"])).astype(np.int32)
            ids[ids == 0] = -1  # detectron2's void
            self.images.append((ann["image_id"], ann["file_name"].replace(".png", ".jpg"), ids, p["segments_info"]))
        # detectron2's non-separated COCO panoptic metadata: one contiguous space for all categories.
        self.contiguous = {c["id"]: i for i, c in enumerate(self.categories)}
        self.isthing = {c["id"]: c["isthing"] == 1 for c in self.categories}

    def expected(self, gt_json=None) -> Dict[str, float]:
        """fastpq.pq_compute on the files, in detectron2's percent format."""
        result = fastpq.evaluate(gt_json or self.paths.gt_json, self.paths.pred_json, self.paths.gt_folder,
                                 self.paths.pred_folder)
        return dict(detectron2_results(result)["panoptic_seg"])

    def metadata(self, separated: bool = False) -> SimpleNamespace:
        """What detectron2's MetadataCatalog holds for the dataset (registered non-separated, or separated
        as Panoptic FPN's: things 0..79, stuff 1..53 with 0 for 'things')."""
        if separated:
            things = [c["id"] for c in self.categories if c["isthing"] == 1]
            stuff = [c["id"] for c in self.categories if c["isthing"] != 1]
            thing_map = {cid: i for i, cid in enumerate(things)}
            stuff_map = {cid: i + 1 for i, cid in enumerate(stuff)}
        else:
            thing_map = {cid: i for cid, i in self.contiguous.items() if self.isthing[cid]}
            stuff_map = dict(self.contiguous)  # detectron2 lists every category here
        return SimpleNamespace(panoptic_json=str(self.paths.gt_json), panoptic_root=str(self.paths.gt_folder),
                               thing_dataset_id_to_contiguous_id=thing_map, stuff_dataset_id_to_contiguous_id=stuff_map,
                               label_divisor=LABEL_DIVISOR)

    def outputs(self, mode: str, metadata: SimpleNamespace = None) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
        """(input, output) pairs as a detectron2 model gives them.

        mode "contiguous": segments_info with contiguous category ids and isthing (Panoptic FPN, Mask2Former);
        "dataset": dataset category ids, no isthing; "label_divisor": segments_info None, the map holds
        category * label_divisor + instance; "huge_ids": dataset ids, segment ids beyond 2^24 in an int64 map.
        """
        pairs = []
        for image_id, file_name, ids, segments in self.images:
            inp = {"image_id": image_id, "file_name": f"/data/coco/val2017/{file_name}", "height": ids.shape[0],
                   "width": ids.shape[1]}
            if mode == "contiguous":
                things = metadata.thing_dataset_id_to_contiguous_id
                stuff = metadata.stuff_dataset_id_to_contiguous_id
                info = [{"id": s["id"], "isthing": self.isthing[s["category_id"]],
                         "category_id": (things if self.isthing[s["category_id"]] else stuff)[s["category_id"]]}
                        for s in segments]
                out = (ids, info)
            elif mode == "dataset":
                out = (ids, [{"id": s["id"], "category_id": s["category_id"]} for s in segments])
            elif mode == "huge_ids":
                big = ids.astype(np.int64)
                big[big > 0] += 1 << 40
                out = (big, [{"id": s["id"] + (1 << 40), "category_id": s["category_id"]} for s in segments])
            elif mode == "label_divisor":
                labels = np.full(ids.shape, -1, np.int32)
                instances: Dict[int, int] = {}
                for s in segments:
                    c = self.contiguous[s["category_id"]]
                    instances[c] = instances.get(c, 0) + 1
                    labels[ids == s["id"]] = c * LABEL_DIVISOR + instances[c]
                out = (labels, None)
            else:
                raise ValueError(mode)
            pairs.append((inp, {"panoptic_seg": out}))
        return pairs


@pytest.fixture(scope="module")
def dataset(coco_like) -> Dataset:
    data = Dataset(coco_like)
    assert all((ids == -1).any() for _, _, ids, _ in data.images)  # every map has void pixels
    return data


def run(evaluator: PanopticEvaluator, pairs, batch: int = 1) -> Dict[str, float]:
    evaluator.reset()
    for start in range(0, len(pairs), batch):
        part = pairs[start:start + batch]
        evaluator.process([p[0] for p in part], [p[1] for p in part])
    results = evaluator.evaluate()
    assert list(results) == ["panoptic_seg"] and list(results["panoptic_seg"]) == KEYS
    return results["panoptic_seg"]


def assert_close(actual: Dict[str, float], expected: Dict[str, float], tol: float = 1e-12) -> None:
    assert list(actual) == list(expected) == KEYS
    for key in KEYS:
        assert abs(actual[key] - expected[key]) <= tol, f"{key}: {actual[key]!r} vs {expected[key]!r}"


def test_expected_is_pq_compute_in_percent(dataset, capsys):
    reference = fastpq.pq_compute(dataset.paths.gt_json, dataset.paths.pred_json)
    capsys.readouterr()
    expected = dataset.expected()
    for suffix, group in (("", "All"), ("_th", "Things"), ("_st", "Stuff")):
        for key in ("pq", "sq", "rq"):
            assert expected[key.upper() + suffix] == 100 * reference[group][key]


@pytest.mark.parametrize("separated", [False, True], ids=["coco-panoptic", "separated"])
@pytest.mark.parametrize("batch", [1, 4])
def test_contiguous_ids_through_metadata(dataset, separated, batch):
    metadata = dataset.metadata(separated)
    evaluator = PanopticEvaluator.from_metadata(metadata)
    assert_close(run(evaluator, dataset.outputs("contiguous", metadata), batch), dataset.expected(), 0)


def test_one_contiguous_mapping(dataset):
    metadata = dataset.metadata()
    evaluator = PanopticEvaluator(dataset.paths.gt_json, dataset.paths.gt_folder,
                                  contiguous_to_dataset_id={v: k for k, v in dataset.contiguous.items()})
    assert_close(run(evaluator, dataset.outputs("contiguous", metadata)), dataset.expected(), 0)


def test_label_divisor_outputs_without_segments_info(dataset):
    evaluator = PanopticEvaluator.from_metadata(dataset.metadata())
    assert_close(run(evaluator, dataset.outputs("label_divisor"), batch=3), dataset.expected(), 0)


def test_dataset_category_ids_and_default_gt_folder(dataset):
    evaluator = PanopticEvaluator(dataset.paths.gt_json)  # the folder: the JSON path without .json
    assert_close(run(evaluator, dataset.outputs("dataset")), dataset.expected(), 0)


def test_segment_ids_beyond_24_bits_are_renumbered(dataset):
    evaluator = PanopticEvaluator(dataset.paths.gt_json, dataset.paths.gt_folder)
    assert_close(run(evaluator, dataset.outputs("huge_ids"), batch=2), dataset.expected(), 0)


def test_any_order_within_rounding(dataset):
    pairs = dataset.outputs("dataset")
    random.Random(3).shuffle(pairs)
    evaluator = PanopticEvaluator(dataset.paths.gt_json, dataset.paths.gt_folder)
    assert_close(run(evaluator, pairs, batch=5), dataset.expected())
    assert evaluator.images == len(pairs)


def test_torch_tensors(dataset):
    torch = pytest.importorskip("torch")
    metadata = dataset.metadata()
    pairs = [(inp, {"panoptic_seg": (torch.from_numpy(out["panoptic_seg"][0]),
                                     [{**s, "id": torch.tensor(s["id"]), "category_id": torch.tensor(s["category_id"])}
                                      for s in out["panoptic_seg"][1]])})
             for inp, out in dataset.outputs("contiguous", metadata)]
    evaluator = PanopticEvaluator.from_metadata(metadata)
    assert_close(run(evaluator, pairs, batch=2), dataset.expected(), 0)


def test_only_processed_images_count_unless_all_are_required(dataset, tmp_path):
    pairs = dataset.outputs("dataset")
    first = pairs[:5]
    subset = dict(dataset.gt, annotations=dataset.gt["annotations"][:5])
    subset_json = tmp_path / "subset.json"
    subset_json.write_text(json.dumps(subset))
    evaluator = PanopticEvaluator(dataset.paths.gt_json, dataset.paths.gt_folder)
    assert_close(run(evaluator, first), dataset.expected(subset_json), 0)

    strict = PanopticEvaluator(dataset.paths.gt_json, dataset.paths.gt_folder, require_all_images=True)
    for inp, out in first:
        strict.process([inp], [out])
    with pytest.raises(fastpq.MissingPredictionError) as info:
        strict.evaluate()
    assert str(info.value) == f"no prediction for the image with id: {dataset.gt['annotations'][5]['image_id']}"


def test_reset_and_no_images(dataset, caplog):
    evaluator = PanopticEvaluator(dataset.paths.gt_json, dataset.paths.gt_folder)
    run(evaluator, dataset.outputs("dataset"))
    evaluator.reset()
    assert evaluator.images == 0
    results = evaluator.evaluate()["panoptic_seg"]
    assert all(math.isnan(results[key]) for key in KEYS)
    assert "no image was processed" in caplog.text


# ---------------------------------------------------------------------------
# Errors


def test_segment_in_map_but_not_in_segments_info_is_panopticapis_key_error(dataset):
    (inp, out), = dataset.outputs("dataset")[:1]
    ids, segments = out["panoptic_seg"]
    evaluator = PanopticEvaluator(dataset.paths.gt_json, dataset.paths.gt_folder)
    with pytest.raises(KeyError) as info:
        evaluator.process([inp], [{"panoptic_seg": (ids, segments[1:])}])
    assert isinstance(info.value, fastpq.SegmentMismatchError)
    assert str(info.value) == str(KeyError(f"In the image with ID {inp['image_id']} segment with ID "
                                           f"{segments[0]['id']} is presented in PNG and not presented in JSON."))


def test_unknown_image_contiguous_id_and_missing_gt_png(dataset, tmp_path):
    (inp, out), = dataset.outputs("dataset")[:1]
    evaluator = PanopticEvaluator(dataset.paths.gt_json, dataset.paths.gt_folder)
    with pytest.raises(KeyError, match="no annotation in the ground-truth JSON"):
        evaluator.process([{"image_id": "nope"}], [out])

    metadata = dataset.metadata()
    evaluator = PanopticEvaluator.from_metadata(metadata)
    ids, segments = out["panoptic_seg"]
    with pytest.raises(KeyError, match="contiguous thing category id 999"):
        evaluator.process([inp], [{"panoptic_seg": (ids, [dict(segments[0], category_id=999, isthing=True)])}])

    evaluator = PanopticEvaluator(dataset.paths.gt_json, tmp_path)  # an empty GT folder
    with pytest.raises(fastpq.PngNotFoundError) as info:
        evaluator.process([inp], [out])
    assert info.value.image_id == inp["image_id"]
    assert info.value.file == os.path.join(str(tmp_path), dataset.gt["annotations"][0]["file_name"])

    with pytest.raises(fastpq.AnnotationError, match="label_divisor"):
        to_dataset_segments(ids, None)


def test_to_dataset_segments_conversions():
    ids = np.array([[-1, 5, 5], [7, 7, -1]], np.int64)
    id_map, segments = to_dataset_segments(ids, [{"id": 5, "category_id": 0, "isthing": True},
                                                 {"id": 7, "category_id": 0, "isthing": False}],
                                           {0: 11}, {0: 21})
    assert id_map.dtype == np.uint32 and id_map.tolist() == [[0, 5, 5], [7, 7, 0]]
    assert segments == [{"id": 5, "category_id": 11}, {"id": 7, "category_id": 21}]

    labels = np.array([[-1, 2001, 2001], [3000, 3000, -1]], np.int32)
    id_map, segments = to_dataset_segments(labels, None, {2: 12}, {2: 12, 3: 13}, label_divisor=1000)
    assert id_map.tolist() == [[0, 2002, 2002], [3001, 3001, 0]]
    assert segments == [{"id": 2002, "category_id": 12}, {"id": 3001, "category_id": 13}]

    huge = np.array([[0, 1 << 30], [-5, 1 << 30]], np.int64)
    id_map, segments = to_dataset_segments(huge, [{"id": 1 << 30, "category_id": 1}, {"id": -5, "category_id": 2},
                                                  {"id": 1 << 31, "category_id": 3}])
    assert id_map.tolist() == [[0, 2], [1, 2]]
    assert [s["id"] for s in segments] == [2, 1, 3]


# ---------------------------------------------------------------------------
# torch.distributed: the ranks' sums are gathered on rank 0


def test_torch_distributed_gather(dataset, tmp_path):
    pytest.importorskip("torch.distributed")
    script = textwrap.dedent("""
        import json, sys
        import numpy as np
        import torch.distributed as dist
        from fastpq import _core
        from fastpq.detectron2 import PanopticEvaluator

        rank, init, out_file, gt_json, gt_folder, pred_json, pred_folder = sys.argv[1:]
        rank = int(rank)
        dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=2)
        gt = json.load(open(gt_json))
        pred = {a["image_id"]: a for a in json.load(open(pred_json))["annotations"]}
        evaluator = PanopticEvaluator(gt_json, gt_folder)
        for ann in gt["annotations"][rank::2]:
            p = pred[ann["image_id"]]
            ids = _core.read_png_ids(f"{pred_folder}/{p['file_name']}").astype(np.int32)
            ids[ids == 0] = -1
            segments = [{"id": s["id"], "category_id": s["category_id"]} for s in p["segments_info"]]
            evaluator.process([{"image_id": ann["image_id"]}], [{"panoptic_seg": (ids, segments)}])
        results = evaluator.evaluate()
        if rank == 0:
            json.dump({"results": results, "images": evaluator.images}, open(out_file, "w"))
        else:
            assert results is None
        dist.destroy_process_group()
    """)
    paths = dataset.paths
    args = [str(tmp_path / "init"), str(tmp_path / "out.json"), str(paths.gt_json), str(paths.gt_folder),
            str(paths.pred_json), str(paths.pred_folder)]
    procs = [subprocess.Popen([sys.executable, "-c", script, str(rank), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    for proc in procs:
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["images"] == (len(dataset.images) + 1) // 2
    assert_close(written["results"]["panoptic_seg"], dataset.expected())
