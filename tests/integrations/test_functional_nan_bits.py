"""fastpq.functional's NaN averages carry torchmetrics' bytes (the sign bit included) for numpy
inputs and for states, not only "a NaN": the README promises bit-for-bit equality."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.detection import modified_panoptic_quality as tm_modified_panoptic_quality
from torchmetrics.functional.detection import panoptic_quality as tm_panoptic_quality

from fastpq import functional as fpq
from fastpq.integrations.torchmetrics_finish import _torch_mean


def _void_pairs() -> np.ndarray:
    """One image of two pixels, both of a category in neither `things` nor `stuffs` (void)."""
    return np.zeros((1, 2, 2), dtype=np.int64)


def _bytes(value) -> bytes:
    if isinstance(value, torch.Tensor):
        value = value.numpy()
    value = np.asarray(value)
    assert value.dtype == np.float64
    return value.tobytes()


KWARGS = dict(things={1}, stuffs={2}, allow_unknown_preds_category=True)


@pytest.mark.parametrize("modified, return_sq_and_rq", [(False, False), (False, True), (True, False)])
def test_nan_averages_have_torchmetrics_bytes(modified, return_sq_and_rq):
    extra = {"return_sq_and_rq": True} if return_sq_and_rq else {}
    tm = tm_modified_panoptic_quality if modified else tm_panoptic_quality
    fn = fpq.modified_panoptic_quality if modified else fpq.panoptic_quality
    void = _void_pairs()
    expected = tm(torch.from_numpy(void), torch.from_numpy(void), **KWARGS, **extra)
    assert torch.isnan(expected).all()
    from_numpy = fn(void, void, **KWARGS, **extra)
    assert isinstance(from_numpy, np.ndarray)
    assert _bytes(from_numpy) == _bytes(expected)
    from_torch = fn(torch.from_numpy(void), torch.from_numpy(void), **KWARGS, **extra)
    assert _bytes(from_torch) == _bytes(expected)


@pytest.mark.parametrize("return_sq_and_rq", [False, True])
def test_nan_from_states_has_torchmetrics_bytes(return_sq_and_rq):
    void = _void_pairs()
    expected = tm_panoptic_quality(torch.from_numpy(void), torch.from_numpy(void), **KWARGS,
                                   return_sq_and_rq=return_sq_and_rq)
    stats = fpq.panoptic_quality_stats(void, void, **KWARGS)
    got = fpq.panoptic_quality_compute(*stats, return_sq_and_rq=return_sq_and_rq)
    assert isinstance(got, np.ndarray)
    assert _bytes(got) == _bytes(expected)
    # Class sums with no segment at all, given directly as numpy states.
    zeros = [np.zeros(2, dtype=np.float64)] + [np.zeros(2, dtype=np.int64)] * 3
    got = fpq.panoptic_quality_compute(*zeros, return_sq_and_rq=return_sq_and_rq)
    assert _bytes(got) == _bytes(expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_mean_is_torchs_nan(dtype):
    expected = torch.from_numpy(np.zeros(0, dtype=dtype)).mean().numpy()
    got = _torch_mean(np.zeros(0, dtype=dtype))
    assert np.asarray(got, dtype=dtype).tobytes() == expected.tobytes()
