"""Adapters to other tools: panopticapi's import path, detectron2, torchmetrics' functional numbers,
Dask, evaluation servers. Each is imported on its own; none is imported by ``import fastpq``."""
