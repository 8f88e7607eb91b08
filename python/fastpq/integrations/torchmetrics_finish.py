"""The final step of fastpq.functional in torchmetrics' dtypes and reduction order, and the torch
helpers it needs only when it is handed torch tensors."""

from __future__ import annotations

import sys
from typing import Any, Tuple

import numpy as np

Stats = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------
# Final step, in torchmetrics' dtypes


def _finish(stats: Stats, return_sq_and_rq: bool, return_per_class: bool, torch_device: Any) -> Any:
    if torch_device is not None:
        return _finish_torch(stats, return_sq_and_rq, return_per_class, torch_device)
    iou_sum, tp, fp, fn = stats
    real = _default_float()  # float32 unless torch's default dtype is float64
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.where(tp > 0, iou_sum / tp, 0.0)
        denominator = (tp.astype(real) + real(0.5) * fp.astype(real)) + real(0.5) * fn.astype(real)
        rq = np.where(denominator > 0, tp.astype(real) / denominator, real(0.0)).astype(real)
    pq = sq * rq.astype(np.float64)
    if return_per_class:
        if return_sq_and_rq:
            return np.stack((pq, sq, rq.astype(np.float64)), axis=-1)
        return pq.reshape(1, -1)
    present = denominator > 0
    pq_avg = _torch_mean(pq[present])
    if return_sq_and_rq:
        return np.array([pq_avg, _torch_mean(sq[present]), float(_torch_mean(rq[present]))], dtype=np.float64)
    return np.asarray(pq_avg, dtype=np.float64)


def _finish_torch(stats: Stats, return_sq_and_rq: bool, return_per_class: bool, device: Any) -> Any:
    """torchmetrics' ``_panoptic_quality_compute`` and output selection, verbatim, in torch."""
    torch = sys.modules["torch"]
    iou_sum = torch.from_numpy(np.ascontiguousarray(stats[0], dtype=np.float64))
    true_positives, false_positives, false_negatives = (
        torch.from_numpy(np.ascontiguousarray(s, dtype=np.int32)) for s in stats[1:])
    sq = torch.where(true_positives > 0.0, iou_sum / true_positives, 0.0)
    denominator = true_positives + 0.5 * false_positives + 0.5 * false_negatives
    rq = torch.where(denominator > 0.0, true_positives / denominator, 0.0)
    pq = sq * rq
    if return_per_class:
        out = torch.stack((pq, sq, rq), dim=-1) if return_sq_and_rq else pq.view(1, -1)
    else:
        pq_avg = torch.mean(pq[denominator > 0])
        out = pq_avg
        if return_sq_and_rq:
            out = torch.stack((pq_avg, torch.mean(sq[denominator > 0]), torch.mean(rq[denominator > 0])), dim=0)
    return out.to(device)


def _torch_mean(values: np.ndarray) -> Any:
    """``torch.mean`` of a 1-D float32 / float64 CPU tensor, bit for bit: torch's sum, then / n."""
    dtype = values.dtype.type
    if not len(values):
        # torch divides its sum 0 by the count 0 at run time: the machine's default NaN, whose
        # sign bit is set on x86 (-NaN); numpy's np.nan is +NaN, which differs in its bytes.
        with np.errstate(invalid="ignore"):
            return dtype(dtype(0) / dtype(0))
    return dtype(_torch_sum(values) / dtype(len(values)))


def _torch_sum(x: np.ndarray) -> Any:
    """torch's CPU sum of a contiguous 1-D float tensor (aten/native/cpu/SumKernel.cpp, cascade_sum):
    over 32-byte vectors when there are enough elements (4 interleaved vector accumulators, then
    the scalar tail, then the lanes), else over scalars with 4 interleaved accumulators."""
    dtype = x.dtype.type
    width = 32 // x.dtype.itemsize
    n = len(x)
    if n >= width:
        whole = n // width
        lanes = _row_sum(x[:whole * width].reshape(whole, width), np.zeros(width, dtype=x.dtype))
        total = dtype(0)
        for k in range(whole * width, n):
            total = dtype(total + x[k])
        for k in range(width):
            total = dtype(total + lanes[k])
        return total
    return _row_sum(x, dtype(0))


def _row_sum(rows: np.ndarray, zero: Any) -> Any:
    """torch's ``row_sum``: ``multi_row_sum`` with 4 interleaved accumulators, then the tail."""
    def fresh() -> Any:
        return zero.copy() if isinstance(zero, np.ndarray) else zero

    n = len(rows)
    ilp, levels = 4, 4
    size = n // ilp
    level_power = max(4, (0 if size <= 1 else (size - 1).bit_length()) // levels)
    level_step = 1 << level_power
    level_mask = level_step - 1
    acc = [[fresh() for _ in range(ilp)] for _ in range(levels)]
    i = 0
    while i + level_step <= size:
        for _ in range(level_step):
            for k in range(ilp):
                acc[0][k] = acc[0][k] + rows[i * ilp + k]
            i += 1
        for j in range(1, levels):
            for k in range(ilp):
                acc[j][k] = acc[j][k] + acc[j - 1][k]
                acc[j - 1][k] = fresh()
            if i & (level_mask << (j * level_power)):
                break
    while i < size:
        for k in range(ilp):
            acc[0][k] = acc[0][k] + rows[i * ilp + k]
        i += 1
    for j in range(1, levels):
        for k in range(ilp):
            acc[0][k] = acc[0][k] + acc[j][k]
    partial = acc[0]
    for t in range(size * ilp, n):
        partial[0] = partial[0] + rows[t]
    for k in range(1, ilp):
        partial[0] = partial[0] + partial[k]
    return partial[0]


# ---------------------------------------------------------------------------
# torch, only when given


def _default_float() -> Any:
    """numpy's type for torch's default float dtype: float64 if torch is imported and its default
    dtype is float64, else float32 (torch's default; float16 / bfloat16 defaults are not followed)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_default_dtype() == torch.float64:
        return np.float64
    return np.float32


def _is_torch_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _torch_device(*values: Any) -> Any:
    """The device of the first torch tensor among ``values``, or None when there is none."""
    for value in values:
        if _is_torch_tensor(value):
            return value.device
    return None


def _to_numpy(value: Any) -> Any:
    if _is_torch_tensor(value):
        return value.detach().cpu().numpy()
    return value
