"""Cityscapes instance-level semantic labeling: AP and AP50 exactly as cityscapesscripts computes them."""

from .evaluation import ClassAP, InstanceResult, cityscapes_ap, evaluate
from .metric import InstanceAP

__all__ = ["ClassAP", "InstanceAP", "InstanceResult", "cityscapes_ap", "evaluate"]
