"""Making ``import panopticapi.evaluation`` resolve to fastpq, as hotcoco and faster-coco-eval do
for pycocotools with ``init_as_pycocotools()``."""

from __future__ import annotations

import sys
import types

OFFSET = 256 * 256 * 256
VOID = 0


def rgb2id(color):  # type: ignore[no-untyped-def]
    """panopticapi.utils.rgb2id: an HxWx3 array to an id map, or one colour triple to an int."""
    import numpy as np  # only array users pay for importing numpy

    if isinstance(color, np.ndarray) and color.ndim == 3:
        channels = color.astype(np.int32) if color.dtype == np.uint8 else color
        return channels[..., 0] + 256 * channels[..., 1] + 65536 * channels[..., 2]
    return int(color[0] + 256 * color[1] + 65536 * color[2])


def id2rgb(id_map):  # type: ignore[no-untyped-def]
    """panopticapi.utils.id2rgb: an integer id map to an HxWx3 uint8 array, or one id to [R, G, B]."""
    import numpy as np

    if isinstance(id_map, np.ndarray):
        return np.stack([(id_map // 256**k) % 256 for k in range(3)], axis=-1).astype(np.uint8)
    return [id_map // 256**k % 256 for k in range(3)]


def init_as_panopticapi() -> None:
    """Registers fastpq as the modules ``panopticapi``, ``panopticapi.evaluation`` and ``panopticapi.utils``.

    After this call, ``from panopticapi.evaluation import pq_compute`` (as detectron2 and mmdet do)
    gets :func:`fastpq.pq_compute`.
    """
    from ..panoptic.evaluation import pq_compute

    package = types.ModuleType("panopticapi")
    package.__path__ = []  # a package, so submodule imports resolve through sys.modules
    evaluation = types.ModuleType("panopticapi.evaluation")
    evaluation.pq_compute = pq_compute  # type: ignore[attr-defined]
    evaluation.OFFSET = OFFSET  # type: ignore[attr-defined]
    evaluation.VOID = VOID  # type: ignore[attr-defined]
    utils = types.ModuleType("panopticapi.utils")
    utils.rgb2id = rgb2id  # type: ignore[attr-defined]
    utils.id2rgb = id2rgb  # type: ignore[attr-defined]
    package.evaluation = evaluation  # type: ignore[attr-defined]
    package.utils = utils  # type: ignore[attr-defined]
    sys.modules["panopticapi"] = package
    sys.modules["panopticapi.evaluation"] = evaluation
    sys.modules["panopticapi.utils"] = utils
