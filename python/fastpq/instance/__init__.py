"""Cityscapes instance-level semantic labeling: AP and AP50 exactly as cityscapesscripts computes them."""

from .evaluation import ClassAP, InstanceResult, cityscapes_ap, evaluate
from .distances import cityscapes_distances, distances_from_disparity
from .metric import InstanceAP

__all__ = ["ClassAP", "InstanceAP", "InstanceResult", "cityscapes_ap", "cityscapes_distances",
           "distances_from_disparity", "evaluate"]
