"""Each submission scored in a process of its own, under hard caps, for evaluation servers.

:class:`IsolatedScorer` runs :func:`fastpq.server.score_submission` (any task: panoptic,
semantic, instance, amodal) in a child process of its own: forked from multiprocessing's fork
server (a single-threaded process started once, with the scorer already imported; never a fork of
the threaded server), in a new session / process group. Before it opens the submission the
child caps itself with ``resource.setrlimit``: address space (``memory_bytes``), CPU seconds, the
largest file it may write and open files; the parent kills the whole process group when the wall
time runs out. Whatever happens to the child (a cap hit, a signal or a crash) the outcome is the
usual ``{"status": "error", "error": {...}}`` dict, with ``type`` ``ResourceLimitError`` and
``limit`` naming the cap; the server process is never at risk. Every submission gets a temporary
folder that the parent removes in every case, a killed child included. At most ``max_concurrent``
children run at once; further calls wait their turn. Children are processes of the caller:
a daemonic multiprocessing worker cannot start them (score in process there).

Linux and other POSIX systems: where a limit cannot be set (``resource`` missing, or the system
refuses it) the outcome's ``isolation`` entry lists it under ``"unenforced"``.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Sequence

from .server import Archive, PathLike, SubmissionLimits
from .server_tasks import check_options, ground_truth

#: Environment variable that lets a child obey a test's ``_misbehave`` request (tests only).
TEST_HOOKS_ENV = "FASTPQ_ISOLATION_TEST_HOOKS"
_MISBEHAVIOURS = ("allocate", "spin", "signal", "sleep", "write")
_CHILD_MODULE = "fastpq.integrations.isolated"
#: What the tasks other than panoptic import when they score: loaded once in the fork server, not
#: in every child (the semantic family alone takes about 40 ms to import).
_FAMILY_MODULES = ("fastpq.semantic.evaluation", "fastpq.instance.evaluation", "fastpq.amodal.ar")


class IsolatedScorer:
    """Scores submission archives against one ground truth, each in a capped child process."""

    def __init__(self, task: str = "panoptic", *, gt_json: Optional[PathLike] = None,
                 gt_folder: Optional[PathLike] = None, limits: SubmissionLimits = SubmissionLimits(),
                 max_concurrent: int = 1, tmp_dir: Optional[PathLike] = None, **evaluate_options: Any) -> None:
        """``task``, ``gt_json``, ``gt_folder`` and ``evaluate_options`` as score_submission takes
        them (the ground truth is checked here, once)."""
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.task = task
        self.gt_json, self.gt_folder = ground_truth(task, gt_json, gt_folder)
        check_options(task, evaluate_options)
        self.limits = limits
        self.max_concurrent = max_concurrent
        self.tmp_dir = None if tmp_dir is None else os.path.abspath(os.fspath(tmp_dir))
        self.evaluate_options = dict(evaluate_options)
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def close(self) -> None:
        """Nothing to release: kept for servers that close what they open (and for ``with``)."""

    def __enter__(self) -> "IsolatedScorer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def score(self, archive: Archive, *, _misbehave: Optional[str] = None) -> Dict[str, Any]:
        """One submission's outcome (the shape of score_submission's), never raising for a bad one."""
        with self._slots:
            return self._score(archive, _misbehave)

    def score_many(self, archives: Sequence[Archive]) -> List[Dict[str, Any]]:
        """Outcomes in the order of ``archives``, ``max_concurrent`` children at a time."""
        with ThreadPoolExecutor(self.max_concurrent) as pool:
            return list(pool.map(self.score, archives))

    def _score(self, archive: Archive, misbehave: Optional[str]) -> Dict[str, Any]:
        start = time.perf_counter()
        work = tempfile.mkdtemp(prefix="fastpq-isolated-", dir=self.tmp_dir)
        try:
            if isinstance(archive, (bytes, bytearray)) or hasattr(archive, "read"):
                path = os.path.join(work, "submission.zip")
                with open(path, "wb") as f:
                    if isinstance(archive, (bytes, bytearray)):
                        f.write(archive)
                    else:
                        shutil.copyfileobj(archive, f)  # type: ignore[arg-type]
                archive_path = path
            else:
                archive_path = os.path.abspath(os.fspath(archive))
            hooks = os.environ.get(TEST_HOOKS_ENV) == "1"
            job = {"task": self.task, "archive": archive_path, "gt_json": self.gt_json, "gt_folder": self.gt_folder,
                   "tmp_dir": work, "limits": _limits_dict(self.limits), "options": self.evaluate_options,
                   "misbehave": misbehave if hooks and misbehave in _MISBEHAVIOURS else None}
            return self._run_child(job, start)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _run_child(self, job: Dict[str, Any], start: float) -> Dict[str, Any]:
        limits = self.limits
        context = _context()
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_run_job, args=(job, send), daemon=True)
        _WITHOUT_MAIN.on = True
        try:
            child.start()
        finally:
            _WITHOUT_MAIN.on = False
        send.close()
        outcome: Any = None
        try:
            if receive.poll(limits.wall_seconds):
                try:
                    outcome = receive.recv()
                except (EOFError, OSError):  # it died before answering
                    outcome = None
            else:
                _kill_group(child)
                child.join()
                return _limit_outcome(self.task, "wall_seconds", f"the submission took longer than the wall time "
                                                                 f"limit of {limits.wall_seconds:g} s", start)
            child.join(30)
        finally:
            _kill_group(child)  # anything it left running in its group
            receive.close()
        if isinstance(outcome, dict) and outcome.get("status") in ("ok", "error"):
            outcome["elapsed_s"] = time.perf_counter() - start
            return outcome
        code = child.exitcode
        if code == -signal.SIGXCPU:
            return _limit_outcome(self.task, "cpu_seconds", f"the submission used more than the CPU time limit of "
                                                 f"{limits.cpu_seconds:g} s", start)
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return _limit_outcome(self.task, "signal", f"the scoring process was killed by {name}", start)
        detail = outcome if isinstance(outcome, str) else f"exit status {code}"
        return _limit_outcome(self.task, "signal", f"the scoring process failed ({detail})", start)


_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()


def _context() -> Any:
    """multiprocessing's fork server, preloaded with the scorer: each child is forked from that
    single-threaded, already-imported process (not from the threaded server) in a few ms."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            import multiprocessing
            from multiprocessing import spawn

            if "forkserver" in multiprocessing.get_all_start_methods():
                _CONTEXT = multiprocessing.get_context("forkserver")
                _CONTEXT.set_forkserver_preload(["numpy", "fastpq._core", _CHILD_MODULE, *_FAMILY_MODULES])
            else:
                _CONTEXT = multiprocessing.get_context("spawn")
            if not getattr(spawn.get_preparation_data, "_fastpq_wrapper", False):
                spawn.get_preparation_data = _preparation_without_main(spawn.get_preparation_data)
        return _CONTEXT


#: Set by the thread starting a child: that start hands the child no main module to re-import.
_WITHOUT_MAIN = threading.local()


def _preparation_without_main(original: Any) -> Any:
    """multiprocessing's preparation data, less the server's main module while one of our children
    starts: the child runs ``_run_job`` of this module and needs nothing from ``__main__``, which
    multiprocessing would otherwise import again in every child (the server's own script: 200 ms
    for a main that imports a few libraries, and its module-level code run once more)."""

    def get_preparation_data(name: str) -> Dict[str, Any]:
        data = original(name)
        if getattr(_WITHOUT_MAIN, "on", False):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    get_preparation_data._fastpq_wrapper = True  # type: ignore[attr-defined]
    return get_preparation_data


def _limits_dict(limits: SubmissionLimits) -> Dict[str, Any]:
    return {"memory_bytes": limits.memory_bytes, "cpu_seconds": limits.cpu_seconds,
            "open_files": limits.open_files, "file_bytes": limits.file_bytes,
            "archive": {k: getattr(limits, k) for k in ("max_archive_bytes", "max_members", "max_member_bytes",
                                                        "max_total_bytes", "max_ratio", "max_pixels")},
            "scoring": dict(limits.scoring)}


def _kill_group(child: Any) -> None:
    if child.pid is None:
        return
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # no such group (yet): the process alone
        if child.exitcode is None:
            child.kill()


def _limit_outcome(task: str, limit: str, message: str, start: float) -> Dict[str, Any]:
    return {"status": "error", "task": task,
            "error": {"type": "ResourceLimitError", "message": message, "limit": limit, "image_id": None,
                      "file": None, "segment_id": None},
            "elapsed_s": time.perf_counter() - start}


# ---------------------------------------------------------------------------
# The child


def _set_limits(limits: Dict[str, Any]) -> List[str]:
    """Caps this process; returns the limits that could not be set."""
    unenforced = []
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    except ImportError:
        return [k for k in ("memory_bytes", "cpu_seconds", "open_files", "file_bytes") if limits.get(k) is not None]
    wanted = [("memory_bytes", "RLIMIT_AS", lambda v: int(v)), ("cpu_seconds", "RLIMIT_CPU", lambda v: max(1, int(v + 0.999))),
              ("open_files", "RLIMIT_NOFILE", lambda v: int(v)), ("file_bytes", "RLIMIT_FSIZE", lambda v: int(v))]
    for key, name, convert in wanted:
        value = limits.get(key)
        if value is None:
            continue
        try:
            which = getattr(resource, name)
            soft = convert(value)
            _, hard = resource.getrlimit(which)
            # CPU: SIGXCPU at the soft limit, SIGKILL a second later if it is caught.
            cap = soft + 1 if key == "cpu_seconds" else soft
            if hard != resource.RLIM_INFINITY:
                soft, cap = min(soft, hard), min(cap, hard)
            resource.setrlimit(which, (soft, cap))
        except (AttributeError, ValueError, OSError):
            unenforced.append(key)
    return unenforced


def _misbehave(what: str) -> None:
    """What the isolation tests make a child do (only with TEST_HOOKS_ENV=1 in its environment)."""
    if what == "allocate":
        hog = []
        while True:
            hog.append(bytearray(256 << 20))
    if what == "spin":
        while True:
            pass
    if what == "signal":
        os.kill(os.getpid(), signal.SIGSEGV)
    if what == "sleep":
        time.sleep(3600)
    if what == "write":
        with open("big.bin", "wb") as f:
            while True:
                f.write(b"\0" * (1 << 20))


def _run_job(job: Dict[str, Any], send: Any) -> None:
    """The child: its own process group, its caps, then score_submission; the outcome goes back on
    `send` (a Python exception other than these is sent as text)."""
    from ..errors import ResourceLimitError
    from .server import SubmissionLimits as Limits
    from .server import error_dict, score_submission

    os.setsid()  # the parent kills the whole group
    os.chdir(job["tmp_dir"])
    limits = job["limits"]
    archive_limits = Limits(scoring=limits["scoring"], **limits["archive"])
    unenforced = _set_limits(limits)
    try:
        if job.get("misbehave"):
            _misbehave(job["misbehave"])
        outcome = score_submission(job["archive"], job["gt_json"], job["gt_folder"], task=job["task"],
                                   limits=archive_limits, tmp_dir=job["tmp_dir"], **job["options"])
    except MemoryError:
        e = ResourceLimitError(f"the submission needed more memory than the limit of {limits['memory_bytes']} bytes",
                               limit="memory_bytes")
        outcome = {"status": "error", "task": job["task"], "error": {**error_dict(e), "limit": "memory_bytes"}}
    except OSError as error:
        if error.errno != errno.EFBIG:  # Python ignores SIGXFSZ: an overlong write fails with EFBIG
            send.send(f"{type(error).__name__}: {error}"[:300])
            return
        e = ResourceLimitError(f"the submission wrote a file larger than the limit of {limits['file_bytes']} bytes",
                               limit="file_bytes")
        outcome = {"status": "error", "task": job["task"], "error": {**error_dict(e), "limit": "file_bytes"}}
    except Exception as error:  # a bug: reported, never the server's problem
        send.send(f"{type(error).__name__}: {error}"[:300])
        return
    outcome["isolation"] = {"unenforced": unenforced}
    send.send(outcome)


