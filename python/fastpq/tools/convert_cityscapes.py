"""Cityscapes ``*_gtFine_instanceIds.png`` to COCO panoptic: the JSON and PNGs of cityscapesscripts'
``createPanopticImgs.py``."""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..io.panoptic_files import ensure_folder, ids_to_rgb, read_label_png, run_parallel, write_png
from ..errors import ConversionError
from .convert_common import _stats

def cityscapes_to_panoptic(cityscapes_path: str, output_folder: Optional[str] = None, *, use_train_id: bool = False,
                           set_names: Sequence[str] = ("val", "train", "test"), workers: int = 0) -> List[str]:
    """Cityscapes ``gtFine/<set>/<city>/*_gtFine_instanceIds.png`` to COCO panoptic, per set.

    The same files as cityscapesscripts' ``createPanopticImgs.py`` (``convert2panoptic``):
    ``<output>/cityscapes_panoptic_<set>[_trainId].json`` and a PNG folder of that name; ids below
    1000 are crowd regions of their class, ``id // 1000`` is the class of the others; classes
    ignored in evaluation are dropped. The label table is cityscapesscripts' (``pip install
    cityscapesscripts``). Returns the JSON paths written.
    """
    try:
        from cityscapesscripts.helpers.labels import id2label, labels
    except ImportError as e:
        raise ConversionError(f"the Cityscapes converter needs cityscapesscripts' label table ({e}): "
                              "pip install cityscapesscripts") from None
    output_folder = output_folder if output_folder is not None else cityscapes_path
    categories = [{"id": int(label.trainId) if use_train_id else int(label.id), "name": label.name,
                   "color": label.color, "supercategory": label.category, "isthing": 1 if label.hasInstances else 0}
                  for label in labels if not label.ignoreInEval]
    written = []
    for set_name in set_names:
        pattern = os.path.join(cityscapes_path, set_name, "*", "*_instanceIds.png")
        files = sorted(glob.glob(pattern))
        if not files:
            raise ConversionError(f"no files for the {set_name} set match {pattern}", file=pattern)
        base = "cityscapes_panoptic_{}{}".format(set_name, "_trainId" if use_train_id else "")
        png_folder = os.path.join(output_folder, base)
        ensure_folder(png_folder)

        def convert(path: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
            name = os.path.basename(path)
            image_id = name.replace("_gtFine_instanceIds.png", "")
            out_name = name.replace("_instanceIds.png", "_panoptic.png")
            original = read_label_png(path, image_id, "instanceIds")
            uniq = np.unique(original)
            kept, info = [], []
            for segment_id in uniq.tolist():
                semantic = segment_id if segment_id < 1000 else segment_id // 1000
                label = id2label.get(semantic)
                if label is None:
                    raise ConversionError(f"image {image_id!r}: '{path}' has id {segment_id}, whose class {semantic} "
                                          "is not a Cityscapes label", image_id=image_id, file=path,
                                          segment_id=segment_id)
                if label.ignoreInEval:
                    continue
                if segment_id >= 2**24:
                    raise ConversionError(f"image {image_id!r}: id {segment_id} does not fit a panoptic PNG",
                                          image_id=image_id, file=path, segment_id=segment_id)
                kept.append(segment_id)
                info.append((segment_id, int(label.trainId) if use_train_id else int(label.id),
                             int(segment_id < 1000 and label.hasInstances)))
            ids = np.where(np.isin(original, kept), original, 0).astype(np.uint32)
            stats = _stats(ids)
            segments = [{"id": int(s), "category_id": c, "area": stats[s][0], "bbox": stats[s][1], "iscrowd": crowd}
                        for s, c, crowd in info]
            write_png(os.path.join(png_folder, out_name), ids_to_rgb(ids))
            image = {"id": image_id, "width": int(original.shape[1]), "height": int(original.shape[0]),
                     "file_name": name.replace("_instanceIds.png", "_leftImg8bit.png")}
            return image, {"image_id": image_id, "file_name": out_name, "segments_info": segments}

        results = run_parallel(convert, files, workers)
        out_file = os.path.join(output_folder, f"{base}.json")
        with open(out_file, "w") as f:
            json.dump({"images": [r[0] for r in results], "annotations": [r[1] for r in results],
                       "categories": categories}, f, sort_keys=True, indent=4)
        written.append(out_file)
    return written
