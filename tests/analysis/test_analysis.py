"""fastpq.analysis: per-image scores against panopticapi on one-image datasets, bootstrap intervals
against a slow oracle built on panopticapi's own PQStat, and hand-computed cases."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import pytest

import fastpq
import panopticapi.evaluation as pe
from conftest import CAR, GRASS, PERSON, PanopticImage, _quietly
from fastpq import analysis, synthetic
from fastpq.errors import FastPQError, ImageSetMismatchError

TOL = 1e-12
GROUPS = (("All", None), ("Things", True), ("Stuff", False))
METRICS = ("pq", "sq", "rq")
# Small images, few categories, no GT segment without pixels and no unlisted GT id: a ground truth
# that is also a valid prediction.
SMALL = synthetic.DatasetSpec("small", 96, 128, 12, 6, empty_gt_segment_prob=0.0, unlisted_gt_id_prob=0.0)


@pytest.fixture(scope="module")
def small40(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("small40"), SMALL, 40, seed=5)


@pytest.fixture(scope="module")
def small400(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("small400"), SMALL, 400, seed=5)


# ---------------------------------------------------------------------------
# panopticapi, used image by image and resample by resample


def panopticapi_groups(pq_stat: Any, categories: Dict[Any, Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    """panopticapi's pq_average for each group; NaN (n = 0) where it divides by zero."""
    out = {}
    for name, isthing in GROUPS:
        try:
            scores, _ = pq_stat.pq_average(categories, isthing=isthing)
        except ZeroDivisionError:
            scores = {"pq": math.nan, "sq": math.nan, "rq": math.nan, "n": 0}
        out[name] = scores
    return out


def one_image_reference(gt: Dict[str, Any], pred: Dict[str, Any], index: int, gt_folder: Path,
                        pred_folder: Path) -> Any:
    """panopticapi's PQStat of a dataset made of image `index` alone."""
    gt_ann = gt["annotations"][index]
    (pred_ann,) = [a for a in pred["annotations"] if a["image_id"] == gt_ann["image_id"]]
    categories = {c["id"]: c for c in gt["categories"]}
    pq_stat, _ = _quietly(pe.pq_compute_single_core, 0, [(gt_ann, pred_ann)], str(gt_folder), str(pred_folder),
                          categories)
    return pq_stat


def pq_stat_of_rows(rows: Sequence[Dict[str, Any]], multiplicity: Dict[Any, int]) -> Any:
    """A panopticapi PQStat holding the per-image rows, each image counted `multiplicity` times."""
    stat = pe.PQStat()
    for row in rows:
        m = multiplicity.get(row["image_id"], 0)
        for _ in range(m):
            s = stat[row["category_id"]]
            s.tp += row["tp"]
            s.fp += row["fp"]
            s.fn += row["fn"]
            s.iou += row["iou"]
    return stat


def linear_percentile(values: Sequence[float], q: float) -> float:
    """The 'linear' percentile, from its definition."""
    x = sorted(values)
    h = (len(x) - 1) * q / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(x) - 1)
    return x[lo] + (h - lo) * (x[hi] - x[lo])


def documented_resamples(n_images: int, n_resamples: int, seed: int) -> List[np.ndarray]:
    """The resampling the module documents: rng.integers(0, n, size=n) per resample, one PCG64 stream."""
    rng = np.random.Generator(np.random.PCG64(seed))
    return [rng.integers(0, n_images, size=n_images) for _ in range(n_resamples)]


def close(a: float, b: float, tol: float = TOL) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


# ---------------------------------------------------------------------------
# Per-image scores


def test_per_image_rows_equal_panopticapi_on_one_image_datasets(coco_like):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, per_image=True)
    rows = analysis.per_image_scores(result)
    gt = json.loads(Path(coco_like.gt_json).read_text())
    pred = json.loads(Path(coco_like.pred_json).read_text())
    categories = {c["id"]: c for c in gt["categories"]}
    assert [r["image_id"] for r in rows] == [a["image_id"] for a in gt["annotations"]]
    for i, row in enumerate(rows):
        stat = one_image_reference(gt, pred, i, coco_like.gt_folder, coco_like.pred_folder)
        reference = panopticapi_groups(stat, categories)
        for name, _ in GROUPS:
            suffix = "" if name == "All" else "_" + name.lower()
            assert row["n" + suffix] == reference[name]["n"], (row["image_id"], name)
            for m in METRICS:
                assert close(row[m + suffix], reference[name][m]), (row["image_id"], name, m)
        assert row["tp"] == sum(s.tp for s in stat.pq_per_cat.values())
        assert row["fp"] == sum(s.fp for s in stat.pq_per_cat.values())
        assert row["fn"] == sum(s.fn for s in stat.pq_per_cat.values())
        assert abs(row["iou"] - sum(s.iou for s in stat.pq_per_cat.values())) <= 1e-9


def test_per_image_rows_sum_back_to_the_dataset_totals(coco_like):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, per_image=True)
    rows = analysis.per_image_scores(result)
    for key in ("tp", "fp", "fn"):
        assert sum(r[key] for r in rows) == sum(getattr(c, key) for c in result.classes)
    assert abs(sum(r["iou"] for r in rows) - sum(c.iou for c in result.classes)) <= 1e-9
    stats = analysis.ImageStats.from_result(result)
    totals = stats.counts.sum(axis=0)
    for k, c in enumerate(result.classes):
        assert (totals[k, 0], totals[k, 1], totals[k, 2]) == (c.tp, c.fp, c.fn)
        assert abs(totals[k, 3] - c.iou) <= 1e-12
    point = analysis.full_scores(stats)
    for name, _ in GROUPS:
        for m in METRICS:
            assert abs(point[name][m] - getattr(result.groups[name], m)) <= TOL


def hand_case_images() -> "tuple[list, list]":
    """Image 1: person 4x4 (GT), predicted on 3 of its 4 rows (IoU 12/16). Image 2: a car (GT)
    predicted as grass: one FN, one FP. Image 3: nothing but void on both sides. Images 1 and 2 carry
    the anchor rows (a TP of IoU 1 for each anchor category)."""
    person = np.full((4, 4), 1)
    person_pred = person.copy()
    person_pred[3] = 0
    gt = [PanopticImage(1, person, [{"id": 1, "category_id": PERSON}]),
          PanopticImage(2, np.full((4, 4), 2), [{"id": 2, "category_id": CAR}]),
          PanopticImage(3, np.zeros((4, 4)), [], anchors=False)]
    pred = [PanopticImage(1, person_pred, [{"id": 1, "category_id": PERSON}]),
            PanopticImage(2, np.full((4, 4), 5), [{"id": 5, "category_id": GRASS}]),
            PanopticImage(3, np.zeros((4, 4)), [], anchors=False)]
    return gt, pred


def test_per_image_scores_of_a_hand_computed_case(make_case, tmp_path):
    case = make_case(*hand_case_images())
    result = fastpq.evaluate(case.gt_json, case.pred_json, per_image=True)
    rows = analysis.per_image_scores(result)
    assert [r["image_id"] for r in rows] == [1, 2, 3]
    first, second, empty = rows
    # Image 1: person 0.75, anchor thing 1, anchor stuff 1.
    assert first["pq"] == pytest.approx(2.75 / 3, abs=TOL) and first["rq"] == 1.0
    assert first["pq_things"] == pytest.approx(0.875, abs=TOL) and first["pq_stuff"] == 1.0
    assert (first["tp"], first["fp"], first["fn"], first["n"]) == (3, 0, 0, 3)
    # Image 2: car FN (0), grass FP (0), anchors 1 and 1.
    for key in ("pq", "sq", "rq", "pq_things", "sq_things", "rq_things", "pq_stuff", "rq_stuff"):
        assert second[key] == pytest.approx(0.5, abs=TOL), key
    assert (second["tp"], second["fp"], second["fn"], second["n"]) == (2, 1, 1, 4)
    # Image 3 has no segment at all: NaN throughout, and it is still listed.
    assert all(math.isnan(empty[k]) for k in ("pq", "sq", "rq", "pq_things", "pq_stuff"))
    assert (empty["tp"], empty["fp"], empty["fn"], empty["n"]) == (0, 0, 0, 0)
    # The dataset: person 0.75, car 0, grass 0, anchors 1 and 1.
    assert result.pq == pytest.approx(2.75 / 5, abs=TOL)

    analysis.write_rows(rows, tmp_path / "rows.csv")
    with open(tmp_path / "rows.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert [w["image_id"] for w in written] == ["1", "2", "3"]
    assert written[2]["pq"] == "" and written[2]["tp"] == "0"
    assert float(written[0]["pq"]) == first["pq"]
    analysis.write_rows(rows, tmp_path / "rows.json")
    loaded = json.loads((tmp_path / "rows.json").read_text())
    assert loaded[2]["pq"] is None and loaded[0]["pq"] == first["pq"] and loaded[1]["file_name"] == "2.png"
    with pytest.raises(FastPQError, match=r"\.csv or \.json"):
        analysis.write_rows(rows, tmp_path / "rows.txt")


def test_per_image_needs_per_image_rows(coco_like):
    with pytest.raises(FastPQError, match="per_image=True"):
        analysis.per_image_scores(fastpq.evaluate(coco_like.gt_json, coco_like.pred_json))


# ---------------------------------------------------------------------------
# Bootstrap


def test_bootstrap_point_estimate_equals_the_result_and_is_reproducible(small40):
    result = fastpq.evaluate(small40.gt_json, small40.pred_json, per_image=True)
    first = analysis.bootstrap(result, 300, seed=7)
    for name, _ in GROUPS:
        for m in METRICS:
            iv = first.intervals[name][m]
            assert abs(iv.estimate - getattr(result.groups[name], m)) <= TOL
            assert iv.lower <= iv.estimate <= iv.upper, (name, m, iv)
            assert iv.n_nan == 0 and iv.std > 0
    assert analysis.bootstrap(result, 300, seed=7).to_dict() == first.to_dict()
    other = analysis.bootstrap(result, 300, seed=8)
    assert other.intervals["All"]["pq"].lower != first.intervals["All"]["pq"].lower
    assert other.intervals["All"]["pq"].estimate == first.intervals["All"]["pq"].estimate
    # Chunking the resamples differently draws the same resamples.
    stats = analysis.ImageStats.from_result(result)
    a = analysis.resampled_scores([stats], 300, 7, chunk=7)[0]
    b = analysis.resampled_scores([stats], 300, 7, chunk=300)[0]
    for name, _ in GROUPS:
        for m in METRICS:
            np.testing.assert_allclose(a[name][m], b[name][m], rtol=0, atol=TOL)


def test_bootstrap_intervals_shrink_as_images_grow(small40, small400):
    widths = {}
    for n, paths in ((40, small40), (400, small400)):
        result = fastpq.evaluate(paths.gt_json, paths.pred_json, per_image=True)
        b = analysis.bootstrap(result, 1000, seed=0)
        for name, _ in GROUPS:
            for m in METRICS:
                iv = b.intervals[name][m]
                assert iv.lower <= iv.estimate <= iv.upper, (n, name, m)
                widths[n, name, m] = iv.upper - iv.lower
    for name, _ in GROUPS:
        for m in METRICS:
            # Ten times the images: about sqrt(10) ~ 3.2 times narrower; ask for at least 2.
            assert widths[400, name, m] * 2 < widths[40, name, m], (name, m, widths[40, name, m], widths[400, name, m])


def test_bootstrap_equals_a_slow_oracle_on_panopticapi_pq_stat(coco_like):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, per_image=True)
    categories = {c.category_id: {"isthing": 1 if c.isthing else 0} for c in result.classes}
    image_ids = [i for i, _ in result.images]
    n_resamples, seed, ci = 60, 11, 0.9
    samples: Dict[str, Dict[str, List[float]]] = {name: {m: [] for m in METRICS} for name, _ in GROUPS}
    for indices in documented_resamples(len(image_ids), n_resamples, seed):
        multiplicity: Dict[Any, int] = {}
        for i in indices:
            multiplicity[image_ids[i]] = multiplicity.get(image_ids[i], 0) + 1
        scores = panopticapi_groups(pq_stat_of_rows(result.per_image, multiplicity), categories)
        for name, _ in GROUPS:
            for m in METRICS:
                samples[name][m].append(scores[name][m])
    fast = analysis.bootstrap(result, n_resamples, seed=seed, ci=ci)
    for name, _ in GROUPS:
        for m in METRICS:
            values = [v for v in samples[name][m] if not math.isnan(v)]
            iv = fast.intervals[name][m]
            assert iv.n_nan == n_resamples - len(values)
            assert close(iv.lower, linear_percentile(values, 5.0)), (name, m)
            assert close(iv.upper, linear_percentile(values, 95.0)), (name, m)
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
            assert close(iv.std, std, 1e-10), (name, m)


def test_a_group_absent_from_a_resample_is_nan_and_counted(make_case):
    # Stuff exists only in image 1 (no anchors): resamples without image 1 have no Stuff score.
    grass = PanopticImage(1, np.full((4, 4), 3), [{"id": 3, "category_id": GRASS}], anchors=False)
    car = PanopticImage(2, np.full((4, 4), 2), [{"id": 2, "category_id": CAR}], anchors=False)
    case = make_case([grass, car], [grass, car])
    result = fastpq.evaluate(case.gt_json, case.pred_json, per_image=True)
    b = analysis.bootstrap(result, 200, seed=3)
    without_first = sum(1 for idx in documented_resamples(2, 200, 3) if 0 not in idx)
    assert 0 < without_first < 200
    assert b.intervals["Stuff"]["pq"].n_nan == without_first
    assert b.intervals["Things"]["pq"].n_nan == sum(1 for idx in documented_resamples(2, 200, 3) if 1 not in idx)
    assert b.intervals["All"]["pq"].n_nan == 0
    assert b.intervals["Stuff"]["pq"].lower == b.intervals["Stuff"]["pq"].upper == 1.0


@pytest.mark.parametrize("n_resamples, ci", [(0, 0.95), (-3, 0.95), (10, 1.0), (10, 0.0), (2.5, 0.9)])
def test_bootstrap_refuses_bad_arguments(coco_like, n_resamples, ci):
    result = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, per_image=True)
    with pytest.raises(FastPQError):
        analysis.bootstrap(result, n_resamples, ci=ci)


# ---------------------------------------------------------------------------
# Paired comparison


def test_comparing_a_prediction_with_itself_gives_zero(small40):
    result = fastpq.evaluate(small40.gt_json, small40.pred_json, per_image=True)
    c = analysis.compare(result, result, n_resamples=200, seed=1)
    for name, _ in GROUPS:
        for m in METRICS:
            d = c.delta[name][m]
            assert (d.estimate, d.lower, d.upper, d.std) == (0.0, 0.0, 0.0, 0.0)
            assert (c.p_b_better[name][m], c.p_tie[name][m], c.p_a_better[name][m]) == (0.0, 1.0, 0.0)


def test_the_ground_truth_beats_a_weak_prediction_in_every_resample(small40):
    weak = fastpq.evaluate(small40.gt_json, small40.pred_json, per_image=True)
    perfect = fastpq.evaluate(small40.gt_json, small40.gt_json, small40.gt_folder, small40.gt_folder,
                              per_image=True)
    c = analysis.compare_predictions(small40.gt_json, small40.pred_json, small40.gt_json, None, None,
                                     small40.gt_folder, n_resamples=500, seed=2)
    assert c.delta["All"]["pq"].estimate == pytest.approx(perfect.pq - weak.pq, abs=TOL)
    assert c.a["All"]["pq"] == pytest.approx(weak.pq, abs=TOL) and c.b["All"]["pq"] == pytest.approx(perfect.pq,
                                                                                                    abs=TOL)
    for name, _ in GROUPS:
        assert c.p_b_better[name]["pq"] == 1.0 and c.delta[name]["pq"].lower > 0
    # Swapped, A is the better one.
    swapped = analysis.compare(perfect, weak, n_resamples=500, seed=2)
    assert swapped.p_a_better["All"]["pq"] == 1.0
    assert swapped.delta["All"]["pq"].upper == pytest.approx(-c.delta["All"]["pq"].lower, abs=TOL)


def test_paired_comparison_of_a_hand_computed_case(make_case):
    gt, pred = hand_case_images()
    gt, pred = gt[:2], pred[:2]
    weak_case = make_case(gt, pred)
    perfect_case = make_case(gt, gt)
    a = fastpq.evaluate(weak_case.gt_json, weak_case.pred_json, per_image=True)
    b = fastpq.evaluate(perfect_case.gt_json, perfect_case.pred_json, per_image=True)
    # PQ of A (All) for multiplicities (m1, m2) of the two images; B scores 1 in every resample:
    # (2, 0): person .75 + anchors 1, 1 -> 2.75 / 3; (1, 1): 2.75 / 5; (0, 2): car 0, grass 0, anchors -> 2 / 4.
    pq_a = {(2, 0): 2.75 / 3, (1, 1): 2.75 / 5, (0, 2): 0.5}
    deltas = []
    for idx in documented_resamples(2, 400, 9):
        m1 = int(np.count_nonzero(idx == 0))
        deltas.append(1.0 - pq_a[m1, 2 - m1])
    c = analysis.compare(a, b, n_resamples=400, seed=9, ci=0.8)
    d = c.delta["All"]["pq"]
    assert d.estimate == pytest.approx(1 - 2.75 / 5, abs=TOL)
    assert d.lower == pytest.approx(linear_percentile(deltas, 10), abs=TOL)
    assert d.upper == pytest.approx(linear_percentile(deltas, 90), abs=TOL)
    assert c.p_b_better["All"]["pq"] == 1.0


def test_comparison_refuses_different_image_sets(small40, coco_like):
    result = fastpq.evaluate(small40.gt_json, small40.pred_json, per_image=True)
    stats = analysis.ImageStats.from_result(result)
    fewer = analysis.ImageStats(stats.image_ids[:-1], stats.file_names[:-1], stats.category_ids, stats.isthing,
                                stats.counts[:-1])
    with pytest.raises(ImageSetMismatchError, match="same images"):
        analysis.compare(stats, fewer, n_resamples=10)
    # The same images in another order are aligned, not refused.
    order = list(range(len(stats)))[::-1]
    reversed_stats = analysis.ImageStats([stats.image_ids[i] for i in order], [stats.file_names[i] for i in order],
                                         stats.category_ids, stats.isthing, stats.counts[order])
    c = analysis.compare(stats, reversed_stats, n_resamples=50)
    assert c.p_tie["All"]["pq"] == 1.0
    other = fastpq.evaluate(coco_like.gt_json, coco_like.pred_json, per_image=True)
    with pytest.raises(FastPQError, match="category"):
        analysis.compare(result, other, n_resamples=10)
