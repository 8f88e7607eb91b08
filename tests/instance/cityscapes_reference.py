"""Runs cityscapesscripts 2.3.0's evalInstanceLevelSemanticLabeling on real files.

Patches, each only because the reference crashes without it on today's numpy (2.4):
- ``np.in1d`` was removed in numpy 2.4: restored as ``np.isin(a, b).ravel()`` for the call;
- ``writeDict2JSON("matches.json")`` fails on numpy integers: its JSON default also accepts them.
Its cache ``gtInstances.json`` is pointed into a temporary folder and it runs with a temporary
working directory (for matches.json); its own ``JSONOutput`` export is switched off.

With ``distances`` ({image key: {instance id: (medDist, distConf)}}) it runs the distance rows:
``distanceAvailable`` on and a ``gtInstances.json`` from its own instances2dict whose instances
carry those values (instances not in ``distances`` keep its defaults -1 and 0.0), which is the
only way the reference takes distances (its public code never computes them).
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from typing import Any, Dict, List, Optional, Tuple

import numpy as np


def _write_gt_instances(gts: List[str], distances: Dict[str, Dict[int, Tuple[float, float]]], path: str) -> None:
    from cityscapesscripts.evaluation.instances2dict import instances2dict

    found = instances2dict(gts)
    for gt_path, per_label in found.items():
        key = "_".join(os.path.basename(gt_path).split("_")[:3])
        for instances in per_label.values():
            for inst in instances:
                inst["medDist"], inst["distConf"] = distances.get(key, {}).get(inst["instID"], (-1.0, 0.0))
    with open(path, "w") as f:
        json.dump(found, f)


def run_reference(gt_dir: str, results_dir: str,
                  distances: Optional[Dict[str, Dict[int, Tuple[float, float]]]] = None) -> Dict[str, Any]:
    """The reference's result dict for every *_gtFine_instanceIds.png under gt_dir."""
    from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as ref

    def write_json(d: Any, name: str) -> None:
        with open(name, "w") as f:
            json.dump(d, f, default=lambda o: o.item() if isinstance(o, np.generic) else o.__dict__)

    had_in1d = hasattr(np, "in1d")
    old_cwd = os.getcwd()
    saved = {k: getattr(ref.args, k) for k in ("gtInstancesFile", "predictionPath", "predictionWalk",
                                                "JSONOutput", "quiet", "distanceAvailable")}
    old_write = ref.writeDict2JSON
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if not had_in1d:
                np.in1d = lambda a, b: np.isin(a, b).ravel()
            ref.writeDict2JSON = write_json
            os.chdir(tmp)
            ref.args.gtInstancesFile = os.path.join(tmp, "gtInstances.json")
            ref.args.predictionPath = os.path.abspath(results_dir)
            ref.args.predictionWalk = None
            ref.args.JSONOutput = False
            ref.args.quiet = True
            gts = sorted(glob.glob(os.path.join(gt_dir, "**", "*_gtFine_instanceIds.png"), recursive=True))
            if distances is not None:
                _write_gt_instances([os.path.abspath(g) for g in gts], distances, ref.args.gtInstancesFile)
                ref.args.distanceAvailable = True
            preds = [ref.getPrediction(g, ref.args) for g in gts]
            return ref.evaluateImgLists(preds, gts, ref.args)
        finally:
            os.chdir(old_cwd)
            ref.writeDict2JSON = old_write
            for k, v in saved.items():
                setattr(ref.args, k, v)
            if not had_in1d:
                del np.in1d
