"""Reading every process's metrics while a process is still creating its metrics file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from universal_decoder_node.serving import metrics


def _write_counter(path: Path, value: float) -> None:
    d = MmapedDict(str(path))
    d.write_value(mmap_key("udn_test", "udn_test_total", [], [], "Test."), value, 0.0)
    d.close()


def test_a_metrics_file_still_being_created_is_read_once_it_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    _write_counter(tmp_path / "counter_1.db", 2.0)
    # Another process has created its file but not yet written the header (prometheus_client
    # creates, then initialises): reading it now fails to unpack; 50 ms later it is whole.
    starting = tmp_path / "counter_2.db"
    starting.touch()
    timer = threading.Timer(0.05, _write_counter, args=(starting, 3.0))
    timer.start()
    try:
        body, _ = metrics.render()  # what GET /metrics serves
    finally:
        timer.join()
    assert b"udn_test_total 5.0" in body  # both processes' values, merged
    # The node's heartbeat to a coordinator reads the same files.
    starting.unlink()
    starting.touch()
    timer = threading.Timer(0.05, _write_counter, args=(starting, 3.0))
    timer.start()
    try:
        families = {f.name: f for f in metrics.collect_all()}
    finally:
        timer.join()
    (sample,) = families["udn_test"].samples
    assert sample.value == 5.0
