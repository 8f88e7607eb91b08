"""Panoptic quality (PQ, SQ, RQ) equal to panopticapi: the file path, results, breakdowns,
per-segment decisions and the in-memory evaluator."""

from .evaluation import evaluate, pq_compute
from .results import ClassResult, GroupResult, PanopticResult

__all__ = ["ClassResult", "GroupResult", "PanopticResult", "evaluate", "pq_compute"]
