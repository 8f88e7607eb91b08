"""fastpq.server.IsolatedScorer: each submission in a capped child process. Submissions built to
misbehave (through the test-only hook, enabled by an environment variable the real path never
sets) overrun each cap; every one gives an error outcome naming the limit, leaves no temporary
file, and the next submission scores as in-process score_submission does."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any, Dict

import pytest

from fastpq import server, synthetic
from fastpq.integrations.isolated import TEST_HOOKS_ENV
from fastpq.server import SubmissionLimits, score_submission

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="isolation needs POSIX process groups")

SMALL = synthetic.DatasetSpec("small", 48, 64, 10, 5)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("isolated_ds"), SMALL, 4, seed=3)


def submission(paths: synthetic.DatasetPaths, drop_png: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("pred.json", paths.pred_json.read_bytes())
        for i, png in enumerate(sorted(paths.pred_folder.iterdir())):
            if not (drop_png and i == 0):
                z.writestr(f"pred/{png.name}", png.read_bytes())
    return buffer.getvalue()


def without_timing(outcome: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in outcome.items() if k not in ("elapsed_s", "isolation")}


@pytest.fixture
def scratch(tmp_path) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


def test_a_good_and_a_bad_submission_equal_in_process_scoring(dataset, scratch):
    scorer = server.IsolatedScorer(gt_json=dataset.gt_json, limits=SubmissionLimits(wall_seconds=120),
                                   tmp_dir=scratch)
    for archive in (submission(dataset), submission(dataset, drop_png=True)):
        isolated = scorer.score(archive)
        assert isolated["isolation"] == {"unenforced": []}
        assert without_timing(isolated) == without_timing(score_submission(archive, dataset.gt_json))
        assert list(scratch.iterdir()) == []
    assert isolated["status"] == "error" and isolated["error"]["type"] == "PngNotFoundError"


@pytest.mark.parametrize("misbehaviour, limits, limit", [
    ("allocate", SubmissionLimits(memory_bytes=2 << 30, wall_seconds=120), "memory_bytes"),
    ("spin", SubmissionLimits(cpu_seconds=1, wall_seconds=120), "cpu_seconds"),
    ("sleep", SubmissionLimits(wall_seconds=3), "wall_seconds"),
    ("signal", SubmissionLimits(wall_seconds=120), "signal"),
    ("write", SubmissionLimits(file_bytes=8 << 20, wall_seconds=120), "file_bytes"),
])
def test_a_misbehaving_submission_is_an_error_naming_its_limit(dataset, scratch, monkeypatch, misbehaviour,
                                                               limits, limit):
    monkeypatch.setenv(TEST_HOOKS_ENV, "1")
    scorer = server.IsolatedScorer(gt_json=dataset.gt_json, limits=limits, tmp_dir=scratch)
    outcome = scorer.score(submission(dataset), _misbehave=misbehaviour)
    assert outcome["status"] == "error", outcome
    assert outcome["error"]["type"] == "ResourceLimitError" and outcome["error"]["limit"] == limit, outcome
    assert list(scratch.iterdir()) == [], "a temporary file was left behind"
    following = scorer.score(submission(dataset))  # the server goes on as before
    assert without_timing(following) == without_timing(score_submission(submission(dataset), dataset.gt_json))


def test_the_hook_does_nothing_without_its_environment_variable(dataset, scratch, monkeypatch):
    monkeypatch.delenv(TEST_HOOKS_ENV, raising=False)
    scorer = server.IsolatedScorer(gt_json=dataset.gt_json, limits=SubmissionLimits(wall_seconds=60),
                                   tmp_dir=scratch)
    assert scorer.score(submission(dataset), _misbehave="signal")["status"] == "ok"


def test_sixteen_submissions_through_a_pool_of_four_equal_one_by_one(dataset, scratch):
    archives = [submission(dataset, drop_png=(i % 5 == 0)) for i in range(16)]
    scorer = server.IsolatedScorer(gt_json=dataset.gt_json, limits=SubmissionLimits(wall_seconds=300),
                                   max_concurrent=4, tmp_dir=scratch)
    pooled = scorer.score_many(archives)
    assert [without_timing(o) for o in pooled] == [without_timing(score_submission(a, dataset.gt_json))
                                                   for a in archives]
    assert list(scratch.iterdir()) == []


def test_unknown_task_and_pool_size_are_refused(dataset):
    with pytest.raises(ValueError, match="task"):
        server.IsolatedScorer("no-such-task", gt_json=dataset.gt_json)
    with pytest.raises(TypeError, match="gt_folder"):  # semantic reads a ground-truth folder
        server.IsolatedScorer("semantic", gt_json=dataset.gt_json)
    with pytest.raises(ValueError, match="max_concurrent"):
        server.IsolatedScorer(gt_json=dataset.gt_json, max_concurrent=0)


def test_children_do_not_import_the_servers_main_module_again(dataset, tmp_path):
    """multiprocessing imports the parent's main script again in each child; a server's script (an
    EvalAI worker, say) may be slow to import or do things when imported. Children need nothing
    from it: its module-level code runs once, in the server, however many submissions are scored."""
    import subprocess
    import sys

    log = tmp_path / "imports.log"
    script = tmp_path / "server_script.py"
    script.write_text(
        "import sys\n"
        f"open({str(log)!r}, 'a').write(__name__ + '\\n')\n"
        "from fastpq import server\n"
        "if __name__ == '__main__':\n"
        f"    scorer = server.IsolatedScorer(gt_json={str(dataset.gt_json)!r})\n"
        f"    archive = open({str(tmp_path / 'upload.zip')!r}, 'rb').read()\n"
        "    print([scorer.score(archive)['status'] for _ in range(3)])\n")
    (tmp_path / "upload.zip").write_bytes(submission(dataset))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['ok', 'ok', 'ok']"
    assert log.read_text().split() == ["__main__"]
