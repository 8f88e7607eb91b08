"""fastpq.server: untrusted zip submissions give a score equal to panopticapi's, or a clear refusal.

Every hostile archive is scored inside a sandbox folder (the working directory and the unpacking
folder both lie in it); the sandbox is listed before and after, so a test fails if anything was
written outside the temporary folder or if the temporary folder survived.
"""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from PIL import Image

import fastpq
from fastpq import server, synthetic
from fastpq.errors import (AnnotationError, AnnotationTypeError, ArchiveFormatError, ArchiveLimitError, ImageSizeMismatchError, PngError,
                           PngNotFoundError, StrictModeError, SubmissionError, SubmissionLayoutError,
                           UnsafeSubmissionError)
from fastpq.server import SubmissionLimits, score_submission, unpack_submission

from conftest import assert_results_close, run_reference

SMALL = synthetic.DatasetSpec("small", 48, 64, 10, 5)

Entry = Tuple[Any, bytes]  # (name or ZipInfo, data)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> synthetic.DatasetPaths:
    return synthetic.generate_dataset(tmp_path_factory.mktemp("server_ds"), SMALL, 5, seed=11)


def prediction_entries(paths: synthetic.DatasetPaths, json_name: str = "pred.json", folder: str = "pred",
                       prefix: str = "") -> List[Entry]:
    entries: List[Entry] = [(prefix + json_name, paths.pred_json.read_bytes())]
    for png in sorted(paths.pred_folder.iterdir()):
        entries.append((f"{prefix}{folder}/{png.name}", png.read_bytes()))
    return entries


def make_zip(entries: Sequence[Entry], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests write
        with zipfile.ZipFile(buffer, "w", compression) as z:
            for name, data in entries:
                z.writestr(name, data)
    return buffer.getvalue()


def snapshot(folder: Path) -> Dict[str, int]:
    """Every file and folder below `folder` with its size (folders as -1)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), folder)] = -1
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, folder)] = os.lstat(p).st_size
    return out


class Sandbox:
    """A working directory and an unpacking folder, nested so that '../' escapes stay observable."""

    def __init__(self, root: Path, dataset: synthetic.DatasetPaths) -> None:
        self.root = root
        self.dataset = dataset
        self.unpack = root / "a" / "b" / "unpack"
        self.unpack.mkdir(parents=True)
        (root / "cwd").mkdir()

    def score(self, archive: Any, limits: SubmissionLimits = SubmissionLimits(), **options: Any) -> Dict[str, Any]:
        if isinstance(archive, bytes):
            path = self.root / "submission.zip"
            path.write_bytes(archive)
            archive = path
        before = snapshot(self.root)
        gt_before = snapshot(self.dataset.gt_folder)
        outcome = score_submission(archive, self.dataset.gt_json, limits=limits, tmp_dir=self.unpack, **options)
        assert snapshot(self.root) == before, "something was written outside the temporary folder, or it was kept"
        assert snapshot(self.dataset.gt_folder) == gt_before
        assert list(self.unpack.iterdir()) == []
        text = json.dumps(outcome, allow_nan=False)  # JSON-ready, no NaN
        assert json.loads(text) == outcome
        for server_path in (str(self.unpack), str(self.dataset.gt_folder)):
            assert server_path not in text, f"the outcome shows a server path: {text}"
        return outcome

    def refused(self, archive: Any, error_type: type, message: str, file: Any = "?",
                limits: SubmissionLimits = SubmissionLimits()) -> Dict[str, Any]:
        outcome = self.score(archive, limits)
        assert outcome["status"] == "error", outcome
        error = outcome["error"]
        assert error["type"] == error_type.__name__, error
        assert issubclass(error_type, fastpq.FastPQError)
        assert message in error["message"], error["message"]
        if file != "?":
            assert error["file"] == file, error
        return error


@pytest.fixture
def sandbox(tmp_path, dataset, monkeypatch) -> Sandbox:
    box = Sandbox(tmp_path / "sandbox", dataset)
    monkeypatch.chdir(box.root / "cwd")
    return box


def panopticapi_form(result: Dict[str, Any]) -> Dict[str, Any]:
    """The server's result dict as pq_compute's: integer category keys, scores only."""
    out = {name: result[name] for name in ("All", "Things", "Stuff")}
    out["per_class"] = {int(k): {key: v[key] for key in ("pq", "sq", "rq")} for k, v in result["per_class"].items()}
    return out


def first_png(paths: synthetic.DatasetPaths) -> Tuple[Any, str]:
    """(image_id, file_name) of the first prediction annotation in GT order."""
    gt = json.loads(paths.gt_json.read_text())
    ann = gt["annotations"][0]
    return ann["image_id"], ann["file_name"]


# ---------------------------------------------------------------------------
# Good submissions


def test_good_submission_equals_evaluate_and_panopticapi(sandbox, dataset):
    outcome = sandbox.score(make_zip(prediction_entries(dataset)))
    assert outcome["status"] == "ok", outcome
    assert outcome["submission"] == {"json": "pred.json", "png_folder": "pred"}
    assert outcome["elapsed_s"] >= 0
    expected = fastpq.evaluate(dataset.gt_json, dataset.pred_json)
    assert outcome["result"] == server.result_dict(expected)
    for c in expected.classes:
        row = outcome["result"]["per_class"][str(c.category_id)]
        assert (row["tp"], row["fp"], row["fn"]) == (c.tp, c.fp, c.fn)
    assert_results_close(panopticapi_form(outcome["result"]), expected.to_dict(), tol=0)
    reference = run_reference(dataset.gt_json, dataset.pred_json)
    assert_results_close(panopticapi_form(outcome["result"]), reference, tol=1e-12)


def test_real_coco_sample_submission(tmp_path, coco_sample):
    """The COCO val2017 sample submitted as its own prediction, scored as panopticapi scores it."""
    entries = [("panoptic_examples.json", (coco_sample / "panoptic_examples.json").read_bytes())]
    entries += [(f"panoptic_examples/{p.name}", p.read_bytes())
                for p in sorted((coco_sample / "panoptic_examples").iterdir())]
    outcome = score_submission(make_zip(entries), coco_sample / "panoptic_examples.json", tmp_dir=tmp_path)
    assert outcome["status"] == "ok", outcome
    reference = run_reference(coco_sample / "panoptic_examples.json", coco_sample / "panoptic_examples.json")
    assert_results_close(panopticapi_form(outcome["result"]), reference, tol=1e-12)


@pytest.mark.parametrize("layout", ["nested", "any-names", "named-folder-wins", "macos-junk", "stored"])
def test_accepted_layouts(sandbox, dataset, layout):
    compression = zipfile.ZIP_DEFLATED
    if layout == "nested":  # everything inside one top-level directory, with directory entries
        entries = [("team-x/", b""), ("team-x/pred/", b"")] + prediction_entries(dataset, prefix="team-x/")
        expected_names = {"json": "team-x/pred.json", "png_folder": "team-x/pred"}
    elif layout == "any-names":  # one JSON and one folder, named freely
        entries = prediction_entries(dataset, json_name="results.json", folder="pngs")
        expected_names = {"json": "results.json", "png_folder": "pngs"}
    elif layout == "named-folder-wins":  # several folders: the one named like the JSON
        entries = [("notes/readme.txt", b"hello")] + prediction_entries(dataset)
        expected_names = {"json": "pred.json", "png_folder": "pred"}
    elif layout == "macos-junk":
        entries = prediction_entries(dataset) + [("__MACOSX/._pred.json", b"\0\5\26\7"), ("pred/.DS_Store", b"x")]
        expected_names = {"json": "pred.json", "png_folder": "pred"}
    else:
        entries, compression = prediction_entries(dataset), zipfile.ZIP_STORED
        expected_names = {"json": "pred.json", "png_folder": "pred"}
    outcome = sandbox.score(make_zip(entries, compression))
    assert outcome["status"] == "ok", outcome
    assert outcome["submission"] == expected_names
    assert outcome["result"] == server.result_dict(fastpq.evaluate(dataset.gt_json, dataset.pred_json))


def test_archive_as_bytes_or_file_object(tmp_path, dataset):
    archive = make_zip(prediction_entries(dataset))
    expected = server.result_dict(fastpq.evaluate(dataset.gt_json, dataset.pred_json))
    from_bytes = score_submission(archive, dataset.gt_json, tmp_dir=tmp_path)
    from_file = score_submission(io.BytesIO(archive), dataset.gt_json, tmp_dir=tmp_path)
    assert from_bytes["result"] == from_file["result"] == expected
    assert list(tmp_path.iterdir()) == []


def test_files_are_unpacked_during_scoring_and_removed_after(sandbox, dataset, monkeypatch):
    seen = {}
    real_evaluate = server.evaluate

    def spy(gt_json, pred_json, gt_folder, pred_folder, **options):
        seen["pred_json"], seen["pred_folder"], seen["options"] = pred_json, pred_folder, options
        seen["pngs"] = sorted(os.listdir(pred_folder))
        assert Path(pred_json).is_file() and Path(pred_json).is_relative_to(sandbox.unpack)
        return real_evaluate(gt_json, pred_json, gt_folder, pred_folder, **options)

    monkeypatch.setattr(server, "evaluate", spy)
    outcome = sandbox.score(make_zip(prediction_entries(dataset)), workers=1, per_image=True)
    assert outcome["status"] == "ok"
    assert seen["pngs"] == sorted(p.name for p in dataset.pred_folder.iterdir())
    assert not Path(seen["pred_json"]).exists() and not Path(seen["pred_folder"]).exists()
    # Options reach evaluate untouched; the limits' max_pixels is passed too, and strict mode is on.
    assert seen["options"] == {"strict": True, "max_pixels": fastpq.DEFAULT_MAX_PIXELS, "workers": 1,
                               "per_image": True}
    sandbox.score(make_zip(prediction_entries(dataset)), strict=False)
    assert seen["options"] == {"strict": False, "max_pixels": fastpq.DEFAULT_MAX_PIXELS}


def test_unknown_options_reach_evaluate(sandbox, dataset):
    """Options are passed through untouched: one evaluate does not know is its TypeError, not an error dict."""
    with pytest.raises(TypeError, match="no_such_option"):
        score_submission(make_zip(prediction_entries(dataset)), dataset.gt_json, tmp_dir=sandbox.unpack,
                         no_such_option=True)
    assert list(sandbox.unpack.iterdir()) == []


def test_scoring_options_from_limits(sandbox, dataset):
    limits = SubmissionLimits(scoring={"workers": 1, "per_image": True})
    assert sandbox.score(make_zip(prediction_entries(dataset)), limits)["status"] == "ok"
    with pytest.raises(TypeError, match="no_such_limit"):
        score_submission(make_zip(prediction_entries(dataset)), dataset.gt_json, tmp_dir=sandbox.unpack,
                         limits=SubmissionLimits(scoring={"no_such_limit": 1}))


def test_genuine_bugs_propagate_and_the_folder_is_removed(sandbox, dataset, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(server, "evaluate", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        score_submission(make_zip(prediction_entries(dataset)), dataset.gt_json, tmp_dir=sandbox.unpack)
    assert list(sandbox.unpack.iterdir()) == []


def test_missing_ground_truth_is_the_organisers_error(tmp_path, dataset):
    with pytest.raises(FileNotFoundError):
        score_submission(make_zip(prediction_entries(dataset)), tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError):
        score_submission(make_zip(prediction_entries(dataset)), dataset.gt_json, tmp_path / "no-folder")
    with pytest.raises(FileNotFoundError):
        score_submission(tmp_path / "no-such.zip", dataset.gt_json)


# ---------------------------------------------------------------------------
# Hostile and broken archives


@pytest.mark.parametrize("name, reason", [
    ("../x.png", "has a '..' component (a path outside the submission)"),
    ("pred/../../x.png", "has a '..' component"),
    ("../../../x.png", "has a '..' component"),
    ("/ABSOLUTE/x.png", "has an absolute path"),
    ("C:/x.png", "starts with a drive letter"),
    ("pred\\..\\..\\x.png", "contains a backslash"),
    ("pred//x.png", "has an empty or '.' path component"),
    ("./pred/x.png", "has an empty or '.' path component"),
    ("pred/" + "n" * 300 + ".png", "has a name that is too long"),
])
def test_unsafe_member_paths(sandbox, dataset, name, reason):
    name = name.replace("/ABSOLUTE", str(sandbox.root))
    archive = make_zip(prediction_entries(dataset) + [(name, b"payload")])
    sandbox.refused(archive, UnsafeSubmissionError, f"member {name!r} {reason}", file=name)


def test_symlink_member(sandbox, dataset):
    link = zipfile.ZipInfo("pred/link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(prediction_entries(dataset) + [(link, str(dataset.gt_folder).encode())])
    sandbox.refused(archive, UnsafeSubmissionError, "member 'pred/link.png' is a symbolic link", file="pred/link.png")


def test_special_file_member(sandbox, dataset):
    fifo = zipfile.ZipInfo("pred/fifo.png")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    sandbox.refused(make_zip(prediction_entries(dataset) + [(fifo, b"")]), UnsafeSubmissionError,
                    "is a special file", file="pred/fifo.png")


def test_duplicate_member(sandbox, dataset):
    entries = prediction_entries(dataset)
    archive = make_zip(entries + [entries[1]])
    sandbox.refused(archive, UnsafeSubmissionError, f"member {entries[1][0]!r} appears twice", file=entries[1][0])


def test_file_and_folder_of_one_name(sandbox, dataset):
    archive = make_zip(prediction_entries(dataset) + [("pred/sub", b"x"), ("pred/sub/y.png", b"y")])
    sandbox.refused(archive, UnsafeSubmissionError, "is inside 'pred/sub', which is a file")


def test_encrypted_member(sandbox, dataset):
    archive = make_zip(prediction_entries(dataset) + [("pred/secret.png", b"x" * 100)])
    archive = patch_member(archive, "pred/secret.png", "<H", 6, 8, lambda flags: flags | 0x1)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert z.getinfo("pred/secret.png").flag_bits & 0x1
    sandbox.refused(archive, UnsafeSubmissionError, "member 'pred/secret.png' is encrypted", file="pred/secret.png")


@pytest.mark.parametrize("bit,error,message", [(0x40, UnsafeSubmissionError, "is encrypted"),
                                                (0x20, ArchiveFormatError, "holds compressed patched data")],
                         ids=["strong-encryption", "patched-data"])
def test_zip_flags_zipfile_cannot_read(sandbox, dataset, bit, error, message):
    """zipfile.open raises NotImplementedError for these flag bits: refused before, by name."""
    archive = make_zip(prediction_entries(dataset) + [("pred/odd.png", b"x" * 100)])
    archive = patch_member(archive, "pred/odd.png", "<H", 6, 8, lambda flags: flags | bit)
    sandbox.refused(archive, error, f"member 'pred/odd.png' {message}", file="pred/odd.png")


def test_a_file_name_that_is_a_lone_surrogate(sandbox, dataset):
    data = json.loads(dataset.pred_json.read_bytes())
    data["annotations"][0]["file_name"] = "\ud800.png"
    entries = prediction_entries(dataset)
    entries[0] = ("pred.json", json.dumps(data).encode())  # json.dumps escapes it as \ud800
    outcome = sandbox.score(make_zip(entries))
    assert outcome["status"] == "error" and outcome["error"]["type"] == "AnnotationError"
    assert "not valid Unicode" in outcome["error"]["message"]


def test_an_unpacked_folder_with_a_name_that_is_not_utf8(sandbox, dataset, tmp_path):
    folder = tmp_path / "res"
    for name, data in prediction_entries(dataset):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    os.rename(os.fsencode(folder / "pred"), os.fsencode(folder) + b"/pred\xff")
    error = sandbox.refused(str(folder), UnsafeSubmissionError, "has a name that is not UTF-8")
    assert error["file"] == "pred\\xff"


def test_unbounded_compression_methods_refused(sandbox, dataset):
    member = zipfile.ZipInfo("pred/x.png")
    member.compress_type = zipfile.ZIP_BZIP2
    sandbox.refused(make_zip(prediction_entries(dataset) + [(member, b"x" * 100)]), ArchiveFormatError,
                    "uses compression method 12; only stored and deflate are accepted", file="pred/x.png")


def test_zip_bomb_ratio(sandbox, dataset):
    zeros = b"\0" * (8 << 20)  # deflates about 1000:1
    archive = make_zip(prediction_entries(dataset) + [("pred/bomb.png", zeros)])
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        info = z.getinfo("pred/bomb.png")
    assert info.file_size / info.compress_size > 500  # the test archive is a bomb for max_ratio 200
    sandbox.refused(archive, ArchiveLimitError, "declares a compression ratio of", file="pred/bomb.png")
    # Under a generous ratio the member size bound still holds.
    sandbox.refused(archive, ArchiveLimitError, f"declares {8 << 20} bytes, more than max_member_bytes = {4 << 20}",
                    file="pred/bomb.png", limits=SubmissionLimits(max_ratio=1e6, max_member_bytes=4 << 20))
    # And with both relaxed, the member is unpacked (nothing refuses a legitimate large file).
    outcome = sandbox.score(archive, SubmissionLimits(max_ratio=1e6))
    assert outcome["status"] == "ok"


def test_total_size_limit(sandbox, dataset):
    archive = make_zip(prediction_entries(dataset))
    total = sum(len(data) for _, data in prediction_entries(dataset))
    sandbox.refused(archive, ArchiveLimitError, f"more than max_total_bytes = {total - 1}",
                    limits=SubmissionLimits(max_total_bytes=total - 1))
    assert sandbox.score(archive, SubmissionLimits(max_total_bytes=total))["status"] == "ok"


def patch_member(archive: bytes, member: str, fmt: str, local_at: int, central_at: int,
                 change: Callable[[int], int]) -> bytes:
    """Rewrites one field of `member` (struct format `fmt`) in its local header (at byte `local_at`)
    and its central directory entry (at byte `central_at`)."""
    raw = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        info = z.getinfo(member)
        at = z.start_dir
    assert raw[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"
    where = [info.header_offset + local_at]
    while raw[at:at + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<3H", raw, at + 28)
        if raw[at + 46:at + 46 + name_len].decode() == member:
            where.append(at + central_at)
        at += 46 + name_len + extra_len + comment_len
    assert len(where) == 2
    for offset in where:
        struct.pack_into(fmt, raw, offset, change(struct.unpack_from(fmt, raw, offset)[0]))
    return bytes(raw)


def patch_declared_size(archive: bytes, member: str, size: int) -> bytes:
    """Rewrites the uncompressed size of `member` in its local header and central directory entry."""
    return patch_member(archive, member, "<L", 22, 24, lambda _: size)


def test_header_that_understates_the_size(sandbox, dataset, tmp_path):
    """4 MiB of zeros whose headers declare 1000 bytes: within every declared limit, refused while
    unpacking, and never more than the declared 1000 bytes written."""
    archive = make_zip(prediction_entries(dataset) + [("pred/liar.png", b"\0" * (4 << 20))])
    archive = patch_declared_size(archive, "pred/liar.png", 1000)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert z.getinfo("pred/liar.png").file_size == 1000
    sandbox.refused(archive, ArchiveFormatError, "member 'pred/liar.png' does not match its header",
                    file="pred/liar.png")
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveFormatError):
        unpack_submission(archive, dest)
    liar = dest / "pred" / "liar.png"
    assert not liar.exists() or liar.stat().st_size <= 1000
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) <= 1000 + sum(
        len(data) for _, data in prediction_entries(dataset))


def test_header_that_overstates_the_size(sandbox, dataset):
    archive = make_zip(prediction_entries(dataset) + [("pred/short.png", b"a" * 2000)])
    archive = patch_declared_size(archive, "pred/short.png", 5000)
    sandbox.refused(archive, ArchiveFormatError,
                    "member 'pred/short.png' inflates to 2000 bytes but its header declares 5000",
                    file="pred/short.png")


def test_too_many_members(sandbox, dataset):
    entries = prediction_entries(dataset) + [(f"pred/extra{i}.txt", b"") for i in range(10)]
    archive = make_zip(entries)
    n = len(entries)
    sandbox.refused(archive, ArchiveLimitError, f"declares {n} members, more than max_members = {n - 1}",
                    limits=SubmissionLimits(max_members=n - 1))
    assert sandbox.score(archive, SubmissionLimits(max_members=n))["status"] == "ok"


def test_member_count_that_lies(sandbox, dataset, forbid_zipfile):
    """An end record declaring fewer members than the directory holds: the pre-check counts the
    directory's entries (zipfile parses by the directory's byte size, not by the count)."""
    entries = prediction_entries(dataset) + [(f"pred/extra{i}.txt", b"") for i in range(10)]
    archive = set_end_record(make_zip(entries), entries=1)
    forbid_zipfile()
    sandbox.refused(archive, ArchiveLimitError, "central directory holds more than max_members = 8 members "
                    "(it declares 1)", limits=SubmissionLimits(max_members=8))


def test_zip64_member_count(sandbox):
    """More than 65,535 members: the count is read from the zip64 end record."""
    archive = make_zip([(f"d/{i}", b"") for i in range(65536)], zipfile.ZIP_STORED)
    assert b"PK\x06\x06" in archive[-200:]
    sandbox.refused(archive, ArchiveLimitError, "declares 65536 members, more than max_members = 10000")
    sandbox.refused(archive, SubmissionLayoutError, "has no prediction JSON at d/",
                    limits=SubmissionLimits(max_members=65536))


def end_record_at(archive: bytes) -> int:
    at = archive.rfind(b"PK\x05\x06")
    assert at == len(archive) - 22, "expected an archive without comment"
    return at


def set_end_record(archive: bytes, entries: Optional[int] = None, directory_bytes: Optional[int] = None) -> bytes:
    """`archive` with its (normal) end record's member counts and/or directory size rewritten."""
    raw = bytearray(archive)
    at = end_record_at(archive)
    if entries is not None:
        struct.pack_into("<2H", raw, at + 8, entries, entries)
    if directory_bytes is not None:
        struct.pack_into("<L", raw, at + 12, directory_bytes)
    return bytes(raw)


def with_zip64_end(archive: bytes, entries: int, directory_bytes: Optional[int] = None) -> bytes:
    """`archive` with a zip64 end record and locator inserted before its end record (whose fields stay
    as they are: no placeholders), declaring `entries` and `directory_bytes` (by default the true size)."""
    at = end_record_at(archive)
    true_bytes, offset = struct.unpack_from("<2L", archive, at + 12)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries,
                         true_bytes if directory_bytes is None else directory_bytes, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    return archive[:at] + record + locator + archive[at:]


def many_members(n: int) -> bytes:
    return make_zip([(f"d/{i}", b"") for i in range(n)], zipfile.ZIP_STORED)


def peak_bytes(call: Callable[[], Any]) -> int:
    """The peak of Python allocations while `call` runs (its exception swallowed)."""
    tracemalloc.start()
    try:
        call()
    except Exception:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.fixture
def forbid_zipfile(monkeypatch) -> Callable[[], None]:
    """Call it once the test's archives are built: from then on zipfile.ZipFile fails the test, so a
    refusal must come from the pre-check, before any directory is parsed into ZipInfo objects."""
    def forbid() -> None:
        def built(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("zipfile.ZipFile was built for an archive the pre-check should refuse")
        monkeypatch.setattr(zipfile, "ZipFile", built)
    return forbid


def test_zip64_record_without_placeholders_is_read(sandbox, tmp_path, forbid_zipfile):
    """The reviewer's reproducer, scaled down: the end record says 1 member and 100 bytes, the zip64
    record (which zipfile uses whenever its locator is there) says 3000. Refused by the pre-check,
    which allocates far less than zipfile parsing the directory would."""
    archive = set_end_record(with_zip64_end(many_members(3000), 3000), entries=1, directory_bytes=100)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert len(z.infolist()) == 3000  # what zipfile would build
    parsed = peak_bytes(lambda: zipfile.ZipFile(io.BytesIO(archive)))
    limits = SubmissionLimits(max_members=100)
    forbid_zipfile()
    sandbox.refused(archive, ArchiveLimitError, "declares 3000 members, more than max_members = 100", limits=limits)
    checked = peak_bytes(lambda: unpack_submission(archive, tmp_path / "out", limits))
    assert checked < 64 << 10 < parsed, (checked, parsed)


@pytest.mark.parametrize("entries, directory_bytes, message", [
    (1 << 40, None, "declares 1099511627776 members, more than max_members = 10000"),
    (1, 1 << 40, "central directory has 1099511627776 bytes, more than 10000 members (max_members) can need"),
])
def test_zip64_record_that_lies(sandbox, dataset, forbid_zipfile, entries, directory_bytes, message):
    """A small normal end record, a zip64 record declaring a huge count or directory size."""
    archive = with_zip64_end(make_zip(prediction_entries(dataset)), entries, directory_bytes)
    forbid_zipfile()
    sandbox.refused(archive, ArchiveLimitError, message)


def test_counts_that_lie_in_both_records(sandbox, tmp_path, forbid_zipfile):
    """Both end records declare 1 member over a 3000-entry directory: the entries are counted (reading
    no more than the directory's bytes), and the count stops at max_members + 1."""
    archive = with_zip64_end(set_end_record(many_members(3000), entries=1), 1)
    directory_bytes = struct.unpack_from("<L", archive, len(archive) - 10)[0]
    parsed = peak_bytes(lambda: zipfile.ZipFile(io.BytesIO(archive)))
    limits = SubmissionLimits(max_members=100)
    forbid_zipfile()
    sandbox.refused(archive, ArchiveLimitError, "holds more than max_members = 100 members (it declares 1)",
                    limits=limits)
    checked = peak_bytes(lambda: unpack_submission(archive, tmp_path / "out", limits))
    assert checked < directory_bytes + (64 << 10) < parsed, (checked, directory_bytes, parsed)


def test_end_record_in_the_comment(sandbox, dataset, forbid_zipfile):
    """zipfile takes the last end-record signature in the last 64 KiB, even inside the comment: a
    comment holding a zip64 record, locator and end record declaring 10^6 members is what it reads."""
    fake = (struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 10**6, 10**6, 100, 0)
            + struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 1)
            + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 100, 0, 0))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in prediction_entries(dataset):
            z.writestr(name, data)
        z.comment = b"x" * 1000 + fake
    archive = buffer.getvalue()
    assert zipfile._EndRecData(io.BytesIO(archive))[4] == 10**6
    forbid_zipfile()
    sandbox.refused(archive, ArchiveLimitError, "declares 1000000 members, more than max_members = 10000")


def test_prepended_stub(sandbox, dataset):
    """A stub before the archive (a self-extractor's): zipfile finds the directory from the end record
    and so does the pre-check; the submission scores, and a large directory is still refused."""
    stub = b"#!/bin/sh\nexit 0\n" * 100
    assert sandbox.score(stub + make_zip(prediction_entries(dataset)))["status"] == "ok"
    sandbox.refused(stub + set_end_record(many_members(300), entries=1), ArchiveLimitError,
                    "holds more than max_members = 100 members", limits=SubmissionLimits(max_members=100))


def _end_record_cases() -> Dict[str, bytes]:
    plain = make_zip([("a.json", b"{}"), ("a/1.png", b"x" * 100)])
    at = len(plain) - 22

    def commented(comment: bytes, declared: Optional[int] = None) -> bytes:
        raw = bytearray(plain + comment)
        struct.pack_into("<H", raw, at + 20, len(comment) if declared is None else declared)
        return bytes(raw)

    locator_only = plain[:at] + struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 1) + plain[at:]
    return {
        "plain": plain,
        "comment": commented(b"hello"),
        "comment with an end-record signature": commented(b"PK\x05\x06" + b"\1" * 30),
        "short end record in the comment": commented(b"PK\x05\x06" + b"\1" * 10),
        "comment length that lies": commented(b"hello", declared=3),
        "zero comment length, trailing bytes": commented(b"\0" * 40, declared=0),
        "junk right at the search window's edge": plain + b"\0" * 65536,
        "junk beyond the search window": plain + b"\0" * 65537,
        "prepended stub": b"MZ" * 5000 + plain,
        "zip64 without placeholders": with_zip64_end(plain, 2),
        "zip64 locator without its record": locator_only,
        "tiny": plain[at:],
        "truncated end record": plain[:-3],
    }


@pytest.mark.parametrize("case", sorted(_end_record_cases()))
def test_directory_located_as_zipfile_locates_it(case):
    """The pre-check's central directory is the one CPython's zipfile uses (its private _EndRecData,
    read here only to compare): same end record, same zip64 decision, same start and size."""
    from fastpq.io import zipdir as _zipdir
    archive = _end_record_cases()[case]
    endrec = zipfile._EndRecData(io.BytesIO(archive))
    if endrec is None:
        with pytest.raises(ArchiveFormatError, match="no end-of-central-directory record"):
            _zipdir.locate(io.BytesIO(archive), len(archive))
        return
    directory = _zipdir.locate(io.BytesIO(archive), len(archive))
    zip64 = endrec[0] == b"PK\x06\x06"
    assert (directory.size, directory.zip64) == (endrec[5], zip64)
    assert directory.start == endrec[9] - endrec[5] - (76 if zip64 else 0)
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            assert directory.start == z.start_dir
    except zipfile.BadZipFile:  # a directory that is not where the end records say (a case above)
        pass


def test_archive_size_limit(sandbox, dataset):
    archive = make_zip(prediction_entries(dataset))
    sandbox.refused(archive, ArchiveLimitError, "more than max_archive_bytes",
                    limits=SubmissionLimits(max_archive_bytes=len(archive) - 1))


@pytest.mark.parametrize("content", [b"", b"hello, this is not a zip" * 10, b"\x89PNG\r\n\x1a\n" + b"\0" * 100])
def test_not_a_zip(sandbox, content):
    sandbox.refused(content, ArchiveFormatError, "is not a zip file, or is truncated", file=None)


def test_truncated_zip(sandbox, dataset):
    archive = make_zip(prediction_entries(dataset))
    sandbox.refused(archive[:len(archive) // 2], ArchiveFormatError, "no end-of-central-directory record")
    sandbox.refused(archive[:-5], ArchiveFormatError, "is not a zip file, or is truncated")


def test_corrupt_member_data(sandbox, dataset):
    entries = prediction_entries(dataset)
    archive = bytearray(make_zip(entries))
    with zipfile.ZipFile(io.BytesIO(bytes(archive))) as z:
        info = z.getinfo(entries[1][0])
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    archive[start:start + 40] = b"\xff" * 40
    sandbox.refused(bytes(archive), ArchiveFormatError, f"member {entries[1][0]!r}", file=entries[1][0])


def test_no_json(sandbox, dataset):
    sandbox.refused(make_zip(prediction_entries(dataset)[1:]), SubmissionLayoutError, "has no prediction JSON")


def test_two_jsons(sandbox, dataset):
    entries = prediction_entries(dataset) + [("other.json", b"{}")]
    sandbox.refused(make_zip(entries), SubmissionLayoutError, "has 2 JSON files at the top level (other.json, "
                                                              "pred.json)")


def test_no_png_folder(sandbox, dataset):
    sandbox.refused(make_zip(prediction_entries(dataset)[:1]), SubmissionLayoutError, "has no PNG folder")


def test_ambiguous_png_folders(sandbox, dataset):
    entries = prediction_entries(dataset, folder="a") + [(f"b/{name.split('/')[-1]}", data)
                                                        for name, data in prediction_entries(dataset)[1:]]
    sandbox.refused(make_zip(entries), SubmissionLayoutError, "2 folders at the top level (a, b)")


def test_json_not_parseable(sandbox, dataset):
    entries = prediction_entries(dataset)
    entries[0] = ("pred.json", b'{"annotations": [')
    # JsonSyntaxError: an AnnotationError that is also the json.JSONDecodeError panopticapi raises
    error = sandbox.refused(make_zip(entries), fastpq.JsonSyntaxError,
                            "prediction JSON file 'pred.json' is not valid JSON", file="pred.json")
    assert error["image_id"] is None


def test_json_nested_too_deeply(sandbox, dataset):
    entries = prediction_entries(dataset)
    entries[0] = ("pred.json", b"[" * 200_000 + b"]" * 200_000)
    sandbox.refused(make_zip(entries), AnnotationError, "nest deeper than 512 levels", file="pred.json")


def test_json_of_wrong_shape(sandbox, dataset):
    entries = prediction_entries(dataset)
    entries[0] = ("pred.json", b'{"annotations": 5}')
    sandbox.refused(make_zip(entries), AnnotationTypeError, "'annotations' in the prediction JSON is not a list")


def test_png_that_is_not_a_png(sandbox, dataset):
    image_id, png = first_png(dataset)
    entries = [(name, b"this is not a PNG" if name == f"pred/{png}" else data)
               for name, data in prediction_entries(dataset)]
    error = sandbox.refused(make_zip(entries), PngError, f"pred/{png}", file=f"pred/{png}")
    assert error["image_id"] == image_id


def test_png_missing_from_archive(sandbox, dataset):
    image_id, png = first_png(dataset)
    entries = [e for e in prediction_entries(dataset) if e[0] != f"pred/{png}"]
    error = sandbox.refused(make_zip(entries), PngNotFoundError, f"pred/{png}", file=f"pred/{png}")
    assert error["image_id"] == image_id


def test_png_of_another_size_names_ground_truth_without_server_paths(sandbox, dataset):
    image_id, png = first_png(dataset)
    small = io.BytesIO()
    Image.fromarray(synthetic.id_to_rgb(np.zeros((16, 16), np.uint32))).save(small, "PNG")
    entries = [(name, small.getvalue() if name == f"pred/{png}" else data)
               for name, data in prediction_entries(dataset)]
    error = sandbox.refused(make_zip(entries), ImageSizeMismatchError, f"In the image with ID {image_id}")
    assert error["image_id"] == image_id


def png_header_only(width: int, height: int) -> bytes:
    """A valid-looking 8-bit RGB PNG header declaring width x height, with one tiny IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">LLBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def test_png_dimension_bomb(sandbox, dataset):
    """A PNG declaring 60,000 x 60,000 pixels (10 GiB of RGB) in a few bytes: refused before any memory is taken."""
    image_id, png = first_png(dataset)
    entries = [(name, png_header_only(60_000, 60_000) if name == f"pred/{png}" else data)
               for name, data in prediction_entries(dataset)]
    error = sandbox.refused(make_zip(entries), PngError, f"PNG file 'pred/{png}': image of 60000x60000 pixels is "
                            "larger than max_pixels", file=f"pred/{png}")
    assert error["image_id"] == image_id


def test_max_pixels_limit_is_passed_to_the_scorer(sandbox, dataset):
    error = sandbox.refused(make_zip(prediction_entries(dataset)), PngError, "pixels is larger than max_pixels=100",
                            limits=SubmissionLimits(max_pixels=100))
    assert error["file"].startswith(("pred/", "<ground truth>/")), error


@pytest.mark.parametrize("how", ["absolute", "relative", "backslash"])
def test_prediction_file_name_leaving_the_folder(sandbox, dataset, how):
    """Pointing a prediction at the ground-truth PNG would score PQ 1: refused before anything is read."""
    image_id, png = first_png(dataset)
    target = {"absolute": str(dataset.gt_folder / png), "relative": f"../../../../../{png}",
              "backslash": f"..\\{png}"}[how]
    pred = json.loads(dataset.pred_json.read_text())
    for ann in pred["annotations"]:
        if ann["image_id"] == image_id:
            ann["file_name"] = target
    entries = prediction_entries(dataset)
    entries[0] = ("pred.json", json.dumps(pred).encode())
    error = sandbox.refused(make_zip(entries), StrictModeError, "is not a plain relative path inside its folder")
    assert error["image_id"] == image_id
    assert str(dataset.gt_folder) not in error["message"]


def test_errors_are_submission_errors():
    for cls in (ArchiveFormatError, ArchiveLimitError, UnsafeSubmissionError, SubmissionLayoutError):
        assert issubclass(cls, SubmissionError) and issubclass(cls, fastpq.FastPQError)


# ---------------------------------------------------------------------------
# Command line


def test_cli_scores_and_refuses(tmp_path, dataset, capsys):
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(make_zip(prediction_entries(dataset)))
    bad.write_bytes(make_zip(prediction_entries(dataset) + [("../x.png", b"")]))
    assert server.main(["--gt-json", str(dataset.gt_json), "--tmp-dir", str(tmp_path), str(good)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "ok"
    assert printed["result"] == server.result_dict(fastpq.evaluate(dataset.gt_json, dataset.pred_json))
    assert server.main(["--gt-json", str(dataset.gt_json), "--gt-folder", str(dataset.gt_folder), str(bad)]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["error"]["type"] == "UnsafeSubmissionError" and printed["error"]["file"] == "../x.png"
    assert server.main(["--gt-json", str(dataset.gt_json), "--max-members", "3", str(good)]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "ArchiveLimitError"
    assert not (tmp_path.parent / "x.png").exists()


def test_cli_usage_errors(tmp_path, dataset, capsys):
    good = tmp_path / "good.zip"
    good.write_bytes(make_zip(prediction_entries(dataset)))
    assert server.main([str(good)]) == 2  # no --gt-json
    assert server.main(["--gt-json", str(tmp_path / "missing.json"), str(good)]) == 2
    assert "ground-truth JSON not found" in capsys.readouterr().err
    assert server.main(["--gt-json", str(dataset.gt_json), str(tmp_path / "missing.zip")]) == 2
    assert server.main(["--gt-json", str(dataset.gt_json), "--max-members", "many", str(good)]) == 2
    assert list(p.name for p in tmp_path.iterdir()) == ["good.zip"]


def test_cli_as_module(tmp_path, dataset):
    import subprocess
    import sys

    good = tmp_path / "good.zip"
    good.write_bytes(make_zip(prediction_entries(dataset)))
    proc = subprocess.run([sys.executable, "-m", "fastpq.server", "--gt-json", str(dataset.gt_json), str(good)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "ok"
