"""The JSON reader pauses Python's cyclic collector while it builds objects, and must hand the
collector back exactly as it found it, whatever happens inside."""

import gc
import json

import pytest

from fastpq.errors import AnnotationError
from fastpq.io.json_files import gc_paused, read_json


@pytest.fixture
def restore_gc():
    was_enabled = gc.isenabled()
    yield
    (gc.enable if was_enabled else gc.disable)()


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_paused_restores_the_state_it_found(restore_gc, enabled):
    (gc.enable if enabled else gc.disable)()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is enabled


def test_gc_paused_restores_the_collector_when_the_body_raises(restore_gc):
    gc.enable()
    with pytest.raises(ZeroDivisionError):
        with gc_paused():
            1 / 0
    assert gc.isenabled()


def test_reading_json_leaves_the_collector_enabled_and_the_values_intact(restore_gc, tmp_path):
    gc.enable()
    value = {"annotations": [{"image_id": i, "segments_info": [{"id": i, "area": 0.5 * i}]} for i in range(1000)]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(value))
    assert read_json(str(path), "test") == value
    assert gc.isenabled()


def test_a_json_error_leaves_the_collector_enabled(restore_gc, tmp_path):
    gc.enable()
    path = tmp_path / "bad.json"
    path.write_text('{"annotations": [1, 2,')
    with pytest.raises(AnnotationError, match="is not valid JSON"):
        read_json(str(path), "test")
    assert gc.isenabled()
