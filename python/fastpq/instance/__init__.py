"""Cityscapes instance-level semantic labeling: AP and AP50 exactly as cityscapesscripts computes them."""

from .evaluation import ClassAP, InstanceResult, cityscapes_ap, evaluate

__all__ = ["ClassAP", "InstanceResult", "cityscapes_ap", "evaluate"]
