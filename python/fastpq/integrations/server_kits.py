"""``fastpq server-kit``: ready scoring programs for EvalAI and CodaLab / Codabench.

:func:`write_evalai_kit` writes an EvalAI ``evaluation_script`` package (``__init__.py``,
``main.py`` with ``evaluate(test_annotation_file, user_submission_file, phase_codename,
**kwargs)``, ``remote_evaluation.py`` with the remote-evaluation form ``evaluate(user_submission_file,
phase_codename, test_annotation_file=None, **kwargs)``, and ``fastpq_kit.json``); beside the folder,
its zip, a ``challenge_config`` fragment with the leaderboard schema, and ``reference_data.zip``.

:func:`write_codalab_kit` writes a scoring program (``metadata`` with ``command: python
$program/score.py $input $output``, ``score.py``, ``fastpq_kit.json``); beside it, its zip, a
leaderboard fragment for ``competition.yaml`` and ``reference_data.zip``, the reference data to
upload: the platform unpacks it into ``input/ref``, where ``score.py`` looks for the ground truth.

The scripts hold no scoring code: they call :mod:`fastpq.integrations.server_platforms`, so the
platform's worker needs fastpq installed (the EvalAI ``__init__.py`` installs the version the kit
was written with when it is missing). Leaderboard keys come from
:data:`fastpq.integrations.server_tasks.LEADERBOARDS`.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .server_platforms import KIT_FILE
from .server_tasks import check_options, ground_truth, leaderboard_of

PLATFORMS = ("evalai", "codalab", "codabench")

_EVALAI_INIT = '''"""EvalAI evaluation script of a fastpq {task} challenge, written by `fastpq server-kit evalai`.

EvalAI imports this package and calls evaluate(); fastpq does the scoring, so the worker needs it:
when it is missing, the version this kit was written with is installed first.
"""

try:
    import fastpq  # noqa: F401
except ImportError:
    import subprocess
    import sys

    subprocess.check_call([sys.executable, "-m", "pip", "install", "fastpq=={version}"])

from .main import evaluate  # noqa: E402,F401
'''

_EVALAI_MAIN = '''"""evaluate() as EvalAI's worker calls it, for a fastpq {task} challenge (settings: fastpq_kit.json).

Each upload is checked and unpacked safely and scored by fastpq (in a capped child process unless
the kit says otherwise); the phase's split gets the leaderboard keys {labels}.
A submission that cannot be scored raises a fastpq error whose message says what to fix.
"""

import os

from fastpq.integrations.server_platforms import evalai_evaluate, load_kit

KIT = load_kit(os.path.dirname(os.path.abspath(__file__)))


def evaluate(test_annotation_file, user_submission_file, phase_codename, **kwargs):
    """{{"result": [{{split: {{key: value}}}}], "submission_result": {{split: {{...}}}}}} of one submission."""
    return evalai_evaluate(KIT, test_annotation_file, user_submission_file, phase_codename, **kwargs)
'''

_EVALAI_REMOTE = '''"""The remote-evaluation form of evaluate() (EvalAI's remote worker), for a fastpq {task} challenge.

Without test_annotation_file, the ground truth recorded in fastpq_kit.json is used.
"""

import os

from fastpq.integrations.server_platforms import evalai_evaluate, load_kit

KIT = load_kit(os.path.dirname(os.path.abspath(__file__)))


def evaluate(user_submission_file, phase_codename, test_annotation_file=None, **kwargs):
    """The same result as main.evaluate, arguments in the remote worker's order."""
    return evalai_evaluate(KIT, test_annotation_file, user_submission_file, phase_codename, **kwargs)
'''

_SCORE_PY = '''"""{title} scoring program of a fastpq {task} challenge, written by `fastpq server-kit {platform}`.

Run as `python $program/score.py $input $output`: scores $input/res (the unpacked submission) against
the ground truth in $input/ref and writes $output/{scores} and $output/detailed_results.html.
Settings: fastpq_kit.json beside this file. Exit status 1: the submission was refused (reason on stderr).
"""

import os
import sys

from fastpq.integrations.server_platforms import codalab_main, load_kit

if __name__ == "__main__":
    sys.exit(codalab_main(load_kit(os.path.dirname(os.path.abspath(__file__))), sys.argv[1:]))
'''

METADATA = "command: python $program/score.py $input $output\ndescription: fastpq {task} scoring program\n"


def _kit(platform: str, task: str, options: Mapping[str, Any], isolated: bool,
         limits: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    from .. import __version__

    return {"fastpq_kit": 1, "fastpq_version": __version__, "platform": platform, "task": task,
            "options": dict(options), "isolated": isolated, "limits": dict(limits or {})}


def _reference(task: str, gt_json: Optional[str], gt_folder: Optional[str]) -> Dict[str, Optional[str]]:
    """Names of the ground truth inside reference_data.zip / input/ref."""
    return {"gt_json": None if gt_json is None else os.path.basename(gt_json),
            "gt_folder": None if gt_folder is None else os.path.basename(gt_folder.rstrip(os.sep))}


def write_reference_zip(path: str, gt_json: Optional[str], gt_folder: Optional[str],
                        names: Mapping[str, Optional[str]]) -> None:
    """The ground truth under ``names``, zipped (PNGs stored, the rest deflated)."""
    with zipfile.ZipFile(path, "w") as z:
        if gt_json is not None:
            z.write(gt_json, names["gt_json"], zipfile.ZIP_DEFLATED)
        if gt_folder is not None:
            for here, dirs, files in os.walk(gt_folder):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(here, name)
                    rel = os.path.relpath(full, gt_folder).replace(os.sep, "/")
                    method = zipfile.ZIP_STORED if name.lower().endswith(".png") else zipfile.ZIP_DEFLATED
                    z.write(full, f"{names['gt_folder']}/{rel}", method)


def zip_folder(folder: str, path: str) -> None:
    """``folder``'s files at the top level of the zip ``path`` (how the platforms expect programs)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for here, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                full = os.path.join(here, name)
                z.write(full, os.path.relpath(full, folder).replace(os.sep, "/"))


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _prepare(out: str) -> Tuple[str, str]:
    out = os.path.abspath(out)
    if os.path.exists(out) and os.listdir(out):
        raise FileExistsError(f"{out} exists and is not empty; give a new folder")
    os.makedirs(out, exist_ok=True)
    return out, os.path.dirname(out)


def write_evalai_kit(out: str, task: str, *, gt_json: Optional[str] = None, gt_folder: Optional[str] = None,
                     options: Optional[Mapping[str, Any]] = None, phases: Optional[Mapping[str, str]] = None,
                     default_split: str = "test_split", embed_gt: bool = False, isolated: bool = True,
                     limits: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Writes the EvalAI package into ``out`` (a new folder) and its companions beside it; returns
    the paths written. ``phases`` maps phase codenames to dataset-split codenames (others score into
    ``default_split``)."""
    options = dict(options or {})
    gt_json, gt_folder = ground_truth(task, gt_json, gt_folder)
    check_options(task, options)
    board = leaderboard_of(task, options.get("preset"))
    out, parent = _prepare(out)
    names = _reference(task, gt_json, gt_folder)
    kit = _kit("evalai", task, options, isolated, limits)
    kit.update(phases=dict(phases or {"dev": "dev_split", "test": default_split}), default_split=default_split,
               reference=names)
    if embed_gt:
        embedded = {}
        if gt_json is not None:
            os.makedirs(os.path.join(out, "ground_truth"), exist_ok=True)
            shutil.copyfile(gt_json, os.path.join(out, "ground_truth", names["gt_json"]))  # type: ignore[arg-type]
            embedded["gt_json"] = f"ground_truth/{names['gt_json']}"
        if gt_folder is not None:
            shutil.copytree(gt_folder, os.path.join(out, "ground_truth", names["gt_folder"]))  # type: ignore[arg-type]
            embedded["gt_folder"] = f"ground_truth/{names['gt_folder']}"
        kit["ground_truth"] = embedded
    else:
        kit["ground_truth"] = {"gt_json": gt_json, "gt_folder": gt_folder}
    from .. import __version__

    fmt = {"task": task, "version": __version__, "labels": ", ".join(board.labels)}
    _write(os.path.join(out, KIT_FILE), json.dumps(kit, indent=1) + "\n")
    _write(os.path.join(out, "__init__.py"), _EVALAI_INIT.format(**fmt))
    _write(os.path.join(out, "main.py"), _EVALAI_MAIN.format(**fmt))
    _write(os.path.join(out, "remote_evaluation.py"), _EVALAI_REMOTE.format(**fmt))
    written = [os.path.join(out, n) for n in (KIT_FILE, "__init__.py", "main.py", "remote_evaluation.py")]
    package_zip = os.path.join(parent, os.path.basename(out) + ".zip")
    zip_folder(out, package_zip)
    config = os.path.join(parent, "challenge_config.fastpq.yaml")
    _write(config, evalai_config_fragment(task, options.get("preset"), kit["phases"], default_split,
                                          os.path.basename(package_zip)))
    reference = os.path.join(parent, "reference_data.zip")
    write_reference_zip(reference, gt_json, gt_folder, names)
    return written + [package_zip, config, reference]


def evalai_config_fragment(task: str, preset: Optional[str], phases: Mapping[str, str], default_split: str,
                           script_zip: str) -> str:
    """The challenge_config.yaml parts the kit decides: the script, the leaderboard schema, the splits."""
    board = leaderboard_of(task, preset)
    splits = list(dict.fromkeys(list(phases.values()) + [default_split]))
    lines = [f"# fastpq {task} challenge: merge into challenge_config.yaml (written by fastpq server-kit evalai).",
             "# Leaderboard values are percentages; the evaluation script scores phase codenames to splits as: " +
             ", ".join(f"{p} -> {s}" for p, s in phases.items()) + f" (any other phase -> {default_split}).",
             f"evaluation_script: {script_zip}", "leaderboard:", "  - id: 1", "    schema:",
             "      {", f"        \"labels\": {json.dumps(board.labels)},",
             f"        \"default_order_by\": {json.dumps(board.order_by)}", "      }", "dataset_splits:"]
    for i, split in enumerate(splits, 1):
        lines += [f"  - id: {i}", f"    name: {json.dumps(split.replace('_', ' ').title())}",
                  f"    codename: {json.dumps(split)}"]
    return "\n".join(lines) + "\n"


def write_codalab_kit(out: str, platform: str, task: str, *, gt_json: Optional[str] = None,
                      gt_folder: Optional[str] = None, options: Optional[Mapping[str, Any]] = None,
                      isolated: bool = True, detailed_results: bool = True,
                      limits: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Writes a CodaLab (``platform="codalab"``: scores.txt) or Codabench (scores.json) scoring
    program into ``out`` (a new folder) and its companions beside it; returns the paths written."""
    if platform not in ("codalab", "codabench"):
        raise ValueError(f"platform must be codalab or codabench, not {platform!r}")
    options = dict(options or {})
    gt_json, gt_folder = ground_truth(task, gt_json, gt_folder)
    check_options(task, options)
    out, parent = _prepare(out)
    names = _reference(task, gt_json, gt_folder)
    kit = _kit(platform, task, options, isolated, limits)
    kit.update(reference=names, detailed_results=detailed_results)
    scores = "scores.json" if platform == "codabench" else "scores.txt"
    _write(os.path.join(out, KIT_FILE), json.dumps(kit, indent=1) + "\n")
    _write(os.path.join(out, "metadata"), METADATA.format(task=task))
    written = [os.path.join(out, KIT_FILE), os.path.join(out, "metadata")]
    if platform == "codabench":
        _write(os.path.join(out, "metadata.yaml"), METADATA.format(task=task))
        written.append(os.path.join(out, "metadata.yaml"))
    _write(os.path.join(out, "score.py"), _SCORE_PY.format(title={"codalab": "CodaLab", "codabench": "Codabench"}[platform],
                                                           task=task, platform=platform, scores=scores))
    written.append(os.path.join(out, "score.py"))
    program_zip = os.path.join(parent, os.path.basename(out) + ".zip")
    zip_folder(out, program_zip)
    fragment = os.path.join(parent, "competition.fastpq.yaml")
    _write(fragment, codalab_leaderboard_fragment(platform, task, options.get("preset")))
    reference = os.path.join(parent, "reference_data.zip")
    write_reference_zip(reference, gt_json, gt_folder, names)
    return written + [program_zip, fragment, reference]


def codalab_leaderboard_fragment(platform: str, task: str, preset: Optional[str]) -> str:
    """The leaderboard part of competition.yaml: one column per leaderboard key, ranked by the first."""
    board = leaderboard_of(task, preset)
    head = f"# fastpq {task} leaderboard: merge into competition.yaml (written by fastpq server-kit {platform})."
    if platform == "codabench":
        lines = [head, "leaderboards:", "  - title: Results", "    key: main",
                 f"    primary_index: {board.labels.index(board.order_by)}", "    columns:"]
        for i, key in enumerate(board.labels):
            lines += [f"      - title: {key}", f"        key: {key}", f"        index: {i}", "        sorting: desc"]
        return "\n".join(lines) + "\n"
    lines = [head, "leaderboard:", "  leaderboards:", "    RESULTS: &RESULTS", "      label: Results",
             "      rank: 1", "  columns:"]
    ranked = [board.order_by] + [key for key in board.labels if key != board.order_by]
    for i, key in enumerate(ranked, 1):
        lines += [f"    {key}:", "      leaderboard: *RESULTS", f"      label: {key}", f"      rank: {i}",
                  "      numeric_format: 2"]
    return "\n".join(lines) + "\n"
