"""The memory manager's documented API: figures, alerts, auto cleanup, cleanup, recommendations."""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support import eventually
from universal_decoder_node.config import MemorySettings, load_settings
from universal_decoder_node.engine import BergamotBackend, PairRegistry
from universal_decoder_node.models import pair_sources
from universal_decoder_node.serving.worker.operations import engine_cleanup_hook
from universal_decoder_node.utils import system_resources
from universal_decoder_node.utils.memory_manager import MemoryAlert, MemoryManager

GB = 1024**3


def stats(system: float, gpu: float | None = None) -> dict[str, Any]:
    """A memory reading as get_memory_stats reports it, at the given percentages of 16 GB."""
    return {
        "system_memory_percent": system,
        "system_memory_used_gb": 16 * system / 100,
        "system_memory_total_gb": 16.0,
        "gpu_memory_percent": gpu or 0.0,
        "gpu_memory_used_gb": 8 * (gpu or 0.0) / 100,
        "gpu_memory_total_gb": 8.0 if gpu is not None else 0.0,
        "gpu_available": gpu is not None,
        "process_memory_bytes": 100 * 2**20,
    }


def manager(**overrides: Any) -> MemoryManager:
    return MemoryManager(MemorySettings(**overrides))


def test_get_instance_is_one_object_from_every_thread() -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        seen = list(pool.map(lambda _: MemoryManager.get_instance(), range(64)))
    assert all(m is seen[0] for m in seen)
    assert MemoryManager.get_instance() is seen[0]


def test_memory_stats_report_the_documented_keys() -> None:
    s = MemoryManager.get_instance().get_memory_stats()
    for key in (
        "system_memory_percent",
        "system_memory_used_gb",
        "system_memory_total_gb",
        "gpu_memory_percent",
        "gpu_memory_used_gb",
        "gpu_memory_total_gb",
        "process_memory_gb",
        "gpu_available",
    ):
        assert key in s
    assert 0 < s["system_memory_used_gb"] <= s["system_memory_total_gb"]
    assert s["system_memory_percent"] == pytest.approx(
        100 * s["system_memory_used_gb"] / s["system_memory_total_gb"], abs=0.1
    )
    assert s["process_memory_bytes"] > 10 * 2**20


def test_without_a_gpu_library_gpu_figures_are_zero_with_a_reason() -> None:
    if "pynvml" in sys.modules or "torch" in sys.modules:
        pytest.fail("this test expects no GPU library in the test process")
    s = MemoryManager().get_memory_stats()
    assert s["gpu_available"] is False
    assert s["gpu_memory_total_gb"] == 0.0
    assert "nvidia-ml-py" in s["gpu_unavailable_reason"]
    assert "torch" not in sys.modules  # asking must not import a framework


def test_a_cgroup_limit_is_the_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "memory.max").write_text(str(2 * GB) + "\n")
    (tmp_path / "memory.current").write_text(str(GB // 2) + "\n")
    monkeypatch.setattr(system_resources, "_CGROUP_ROOT", tmp_path)
    s = MemoryManager().get_memory_stats()
    assert s["cgroup_limited"] is True
    assert s["system_memory_total_gb"] == 2.0
    assert s["system_memory_used_gb"] == 0.5
    assert s["system_memory_percent"] == 25.0
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert system_resources.usable_cores() == 1


def test_alert_on_crossing_not_on_every_sample_and_rearm_below() -> None:
    m = manager(memory_threshold_percent=85, auto_cleanup=False)
    received: list[MemoryAlert] = []
    m.add_alert_callback(received.append)
    assert m.check(stats(50)) == []
    (alert,) = m.check(stats(90))
    assert alert.kind == "system_memory"
    assert alert.percent == 90
    assert alert.threshold_percent == 85
    assert "above the 85% threshold" in alert.message
    assert m.check(stats(92)) == []  # still above: no repeat
    assert m.check(stats(82)) == []  # within 5 points: not re-armed yet
    assert m.check(stats(86)) == []
    assert m.check(stats(70)) == []  # clearly below: re-armed
    assert len(m.check(stats(88))) == 1
    assert [a.percent for a in received] == [90, 88]
    assert [a["percent"] for a in m.recent_alerts()] == [88, 90]  # newest first


def test_gpu_alerts_use_their_own_threshold() -> None:
    m = manager(memory_threshold_percent=85, gpu_memory_threshold_percent=60, auto_cleanup=False)
    (alert,) = m.check(stats(40, gpu=70))
    assert alert.kind == "gpu_memory"
    assert alert.total_gb == 8.0


def test_a_failing_callback_does_not_stop_the_others() -> None:
    m = manager(memory_threshold_percent=50, auto_cleanup=False)
    got: list[str] = []

    def broken(alert: MemoryAlert) -> None:
        raise RuntimeError("callback bug")

    m.add_alert_callback(broken)
    m.add_alert_callback(lambda a: got.append(a.kind))
    assert len(m.check(stats(60))) == 1
    assert got == ["system_memory"]


def test_auto_cleanup_has_hysteresis_and_a_minimum_gap() -> None:
    m = manager(
        cleanup_threshold_percent=80,
        cleanup_hysteresis_percent=5,
        cleanup_min_interval_seconds=0,
        memory_threshold_percent=95,
    )
    runs: list[float] = []
    m.add_cleanup_hook("count", lambda idle: runs.append(idle) or {"ran": True})
    m.check(stats(79))
    assert runs == []
    m.check(stats(81))
    assert len(runs) == 1
    assert m.last_cleanup()["trigger"] == "auto"  # type: ignore[index]
    m.check(stats(85))
    m.check(stats(78))  # below the threshold but not by the hysteresis
    m.check(stats(82))
    assert len(runs) == 1  # no flapping
    m.check(stats(70))  # re-armed
    m.check(stats(81))
    assert len(runs) == 2

    gap = manager(
        cleanup_threshold_percent=80, cleanup_min_interval_seconds=3600, memory_threshold_percent=95
    )
    actions: list[str] = []
    gap.set_cleanup_action(lambda trigger: actions.append(trigger) or {})
    gap.check(stats(90))
    gap.check(stats(50))
    gap.check(stats(90))  # re-armed, but the last cleanup was moments ago
    assert actions == ["auto"]


def test_auto_cleanup_off_never_cleans() -> None:
    m = manager(auto_cleanup=False, cleanup_threshold_percent=10)
    runs: list[float] = []
    m.add_cleanup_hook("count", lambda idle: runs.append(idle) or {})
    m.check(stats(99))
    assert runs == []


def test_monitor_samples_in_a_background_thread() -> None:
    m = manager(monitoring_interval_seconds=0.05)
    assert m.start_monitoring() is True
    try:
        eventually(lambda: len(m.history()) >= 3, 10, "three samples of the monitor", interval=0.02)
        assert m.monitoring
        assert any(t.name == "udn-memory-monitor" for t in threading.enumerate())
    finally:
        m.stop_monitoring()
    assert not m.monitoring
    assert manager(enable_monitoring=False).start_monitoring() is False


@pytest.fixture(scope="module")
def registry() -> PairRegistry:
    """The real bundled models, with pt-en pinned."""
    settings = load_settings(None)
    return PairRegistry(pair_sources(settings), BergamotBackend(1), pinned=frozenset({"pt-en"}))


class _Cycle:
    """An object in a reference cycle: garbage that only a collection frees."""

    def __init__(self) -> None:
        self.me = self


def test_cleanup_unloads_idle_pairs_but_never_busy_or_pinned_ones(registry: PairRegistry) -> None:
    m = manager()
    m.add_cleanup_hook("engine", engine_cleanup_hook(registry))
    registry.load("en-pt")
    registry.load("pt-en")
    with registry.use("en-pt"):
        busy = m.cleanup(idle_seconds=0)
    assert busy["released"]["engine"]["unloaded_pairs"] == []
    assert registry.is_loaded("en-pt") and registry.is_loaded("pt-en")

    recent = m.cleanup(idle_seconds=300)  # en-pt was used a moment ago
    assert recent["released"]["engine"]["unloaded_pairs"] == []

    gc.disable()  # so that only the cleanup's own collection can free the garbage made here
    try:
        for _ in range(10):
            _Cycle()  # unreachable as soon as made, and only a collection frees a cycle
        freed = m.cleanup(idle_seconds=0)
    finally:
        gc.enable()
    engine = freed["released"]["engine"]
    assert engine["unloaded_pairs"] == ["en-pt"]
    assert engine["model_bytes_released"] > 10 * 2**20
    assert engine["loaded_pairs"] == ["pt-en"]  # pinned
    assert freed["gc_collected_objects"] >= 10
    assert freed["rss_before_bytes"] > 0 and freed["rss_after_bytes"] > 0
    assert freed["freed_bytes"] == max(0, freed["rss_before_bytes"] - freed["rss_after_bytes"])
    assert freed["gpu_cache_released"] is None  # no GPU framework here
    assert m.last_cleanup()["timestamp"] == freed["timestamp"]  # type: ignore[index]
    with registry.use("en-pt") as model:  # loaded again on demand
        assert model.translate("Hello.")


def test_cleanup_reports_a_failing_hook_and_goes_on() -> None:
    m = manager()

    def broken(idle: float) -> dict[str, Any]:
        raise OSError("disk gone")

    m.add_cleanup_hook("broken", broken)
    result = m.cleanup()
    assert result["released"]["broken"] == {"error": "OSError: disk gone"}
    with pytest.raises(ValueError, match="idle_seconds"):
        m.cleanup(idle_seconds=-1)


def usage(**figures: Any) -> Any:
    return lambda: figures


def test_cleanup_frees_garbage_among_frozen_startup_objects() -> None:
    # A pair loaded at start is frozen with the rest; if it is unloaded later and sits in a
    # reference cycle, a plain collection never frees it, cleanup must.
    manager = MemoryManager(MemorySettings())
    startup = _Cycle()
    alive = weakref.ref(startup)
    try:
        assert manager.freeze_startup_objects() > 0
        del startup
        gc.collect()
        assert alive() is not None  # frozen: invisible to collections
        result = manager.cleanup(trigger="test")
        assert alive() is None
        assert result["gc_collected_objects"] >= 1
        assert gc.get_freeze_count() > 0  # what survived is frozen again
    finally:
        gc.unfreeze()


def test_recommendations_carry_their_figures() -> None:
    m = manager(memory_threshold_percent=85, auto_cleanup=False)
    m.set_usage_provider(usage(max_batch_size=32, loaded_pairs=["en-pt", "pt-en"]))
    for level in (82, 84, 83):
        m.check(stats(level))
    (advice,) = m.get_recommendations()
    assert advice["id"] == "memory_near_threshold"
    assert advice["severity"] == "warning"
    assert "max_batch_size (now 32)" in advice["message"]
    assert "2 loaded" in advice["message"]
    assert advice["figures"]["median_percent"] == 83
    assert advice["figures"]["samples"] == 3


def test_healthy_memory_gives_no_advice() -> None:
    m = manager(memory_threshold_percent=85, auto_cleanup=False)
    for level in (40, 90, 41):  # one spike is not "sustained"
        m.check(stats(level))
    assert m.get_recommendations() == []


def test_batches_rarely_filled_suggests_a_shorter_timeout() -> None:
    m = manager(auto_cleanup=False)
    counters = {"batches_total": 100.0, "batch_items_total": 120.0}
    m.set_usage_provider(
        lambda: {**counters, "max_batch_size": 32, "batch_timeout_s": 0.01, "queue_depth": 0}
    )
    m.check(stats(30))
    counters.update(batches_total=400.0, batch_items_total=480.0)
    m.check(stats(30))
    (advice,) = m.get_recommendations()
    assert advice["id"] == "batches_rarely_filled"
    assert advice["figures"] == {
        "batches": 300,
        "mean_batch_size": 1.2,
        "max_batch_size": 32,
        "batch_timeout_s": 0.01,
    }


def test_a_growing_queue_suggests_more_workers() -> None:
    m = manager(auto_cleanup=False)
    depth = {"queue_depth": 0.0}
    m.set_usage_provider(lambda: {**depth, "max_batch_size": 8, "workers": 1})
    for d in (5.0, 12.0, 30.0):
        depth["queue_depth"] = d
        m.check(stats(30))
    (advice,) = m.get_recommendations()
    assert advice["id"] == "queue_growing"
    assert advice["figures"]["queue_depth"] == [5.0, 12.0, 30.0]
    assert "serving.workers, now 1" in advice["message"]


def test_without_samples_recommendations_use_a_fresh_reading() -> None:
    m = manager(memory_threshold_percent=1)  # any real machine is above 1%
    m.set_usage_provider(usage(max_batch_size=16))
    (advice,) = m.get_recommendations()
    assert advice["id"] == "memory_near_threshold"
    assert advice["figures"]["samples"] == 1
    assert advice["figures"]["max_batch_size"] == 16
    assert m.history() == []  # a fresh reading is not a monitor sample
    assert manager(memory_threshold_percent=100).get_recommendations() == []


def test_memory_settings_take_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDN_MEMORY__CLEANUP_THRESHOLD_PERCENT", "70")
    monkeypatch.setenv("UDN_MEMORY__AUTO_CLEANUP", "false")
    monkeypatch.setenv("UDN_PROFILING__BOTTLENECK_THRESHOLD_MS", "12.5")
    settings = load_settings(None)
    assert settings.memory.cleanup_threshold_percent == 70
    assert settings.memory.auto_cleanup is False
    assert settings.profiling.bottleneck_threshold_ms == 12.5


def test_a_manager_created_before_a_fork_reports_the_child() -> None:
    m = manager()
    m.get_memory_stats()  # the parent's own reading first
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, grow, measure again with the inherited manager
        before = m.get_memory_stats()["process_memory_bytes"]
        ballast = bytearray(64 * 2**20)
        ballast[::4096] = b"x" * len(ballast[::4096])
        after = m.get_memory_stats()["process_memory_bytes"]
        os.write(write, f"{before} {after}".encode())
        os._exit(0)
    os.close(write)
    before, after = (int(v) for v in os.read(read, 64).split())
    os.waitpid(pid, 0)
    # The child's own growth: a manager still measuring the parent would see none. (The child's
    # resident size is not compared with the parent's: mappings a library keeps out of forked
    # children, as CTranslate2's may, make the child's start below the parent's.)
    assert after > before + 32 * 2**20
