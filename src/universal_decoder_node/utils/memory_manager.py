"""Memory management for a decoder node: figures, alerts, cleanup and advice.

``MemoryManager.get_instance()`` is the process-wide manager. It measures system memory
(against the cgroup limit inside a container), this process's resident memory and GPU
memory; a background monitor samples at an interval, raises alerts above the thresholds and,
with ``auto_cleanup``, cleans up above ``cleanup_threshold_percent``.

``cleanup()`` acts in the calling process: garbage collection, the cleanup hooks that the
code holding models registered (``add_cleanup_hook``: in a node, the inference worker
unloads least recently used idle pairs there), the GPU framework's cache, and returning
freed heap to the operating system. A node's API process asks its inference workers to
clean up over the node's control channel instead (see ``set_cleanup_action``).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from ..config import MemorySettings
from .memory_advice import NEAR_THRESHOLD_POINTS, RECOMMENDATION_WINDOW, recommend
from .system_resources import (
    cgroup_memory_limit,
    gpu_memory,
    release_gpu_cache,
    trim_heap,
    usable_cores,
)

log = logging.getLogger(__name__)

_GB = 1024**3

RECENT_ALERTS = 20
"""How many alerts ``recent_alerts()`` keeps."""
HISTORY_SAMPLES = 120
"""How many monitor samples are kept for recommendations (two hours at the default interval)."""

AlertCallback = Callable[["MemoryAlert"], None]
CleanupHook = Callable[[float], Mapping[str, Any]]
"""Called by ``cleanup`` with ``idle_seconds``; returns what it released (JSON-serialisable)."""
CleanupAction = Callable[[str], Mapping[str, Any]]
"""Replaces the local ``cleanup`` for automatic cleanups; called with the trigger (``"auto"``)."""
UsageProvider = Callable[[], Mapping[str, Any]]
"""Serving figures for recommendations; see ``MemoryManager.set_usage_provider`` for the keys."""


@dataclass(frozen=True)
class MemoryAlert:
    """Memory crossed its threshold. ``kind`` is ``"system_memory"`` or ``"gpu_memory"``."""

    kind: str
    percent: float
    threshold_percent: float
    used_gb: float
    total_gb: float
    timestamp: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MemoryManager:
    """Process-wide singleton; obtain it with ``MemoryManager.get_instance()``."""

    _instance: MemoryManager | None = None
    _instance_lock = threading.Lock()

    def __init__(self, settings: MemorySettings | None = None) -> None:
        self.settings = settings or MemorySettings()
        self._process = psutil.Process()
        self._gpu_cache: dict[str, Any] | None = None
        self._lock = threading.RLock()
        self._cleanup_lock = threading.Lock()
        self._callbacks: list[AlertCallback] = []
        self._hooks: dict[str, CleanupHook] = {}
        self._usage_provider: UsageProvider | None = None
        self._cleanup_action: CleanupAction | None = None
        self._alerts: deque[MemoryAlert] = deque(maxlen=RECENT_ALERTS)
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY_SAMPLES)
        self._above: dict[str, bool] = {"system_memory": False, "gpu_memory": False}
        self._cleanup_armed = True
        self._last_cleanup_at: float | None = None  # monotonic
        self._last_cleanup: dict[str, Any] | None = None
        self._cleanups = 0
        self._monitor: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def get_instance(cls) -> MemoryManager:
        """The one MemoryManager of this process, created on first use (thread-safe)."""
        if cls._instance is None:
            with cls._instance_lock:
                if cls._instance is None:
                    cls._instance = cls()
        return cls._instance

    def configure(self, settings: MemorySettings) -> None:
        """Use new thresholds and intervals; a running monitor picks them up at its next sample."""
        with self._lock:
            self.settings = settings

    # -- figures -------------------------------------------------------------------------
    def get_memory_stats(self) -> dict[str, Any]:
        """Memory figures in GB and percent; under a cgroup limit, measured against the limit."""
        vm = psutil.virtual_memory()
        total, used = vm.total, vm.total - vm.available
        limited = cgroup_memory_limit()
        if limited is not None:
            total, used = limited
        if self._gpu_cache is None:
            self._gpu_cache = gpu_memory()
        gpu = self._gpu_cache if not self._gpu_cache["gpu_available"] else gpu_memory()
        rss = self._rss()
        stats: dict[str, Any] = {
            "system_memory_percent": round(100.0 * used / total, 2) if total else 0.0,
            "system_memory_used_gb": round(used / _GB, 3),
            "system_memory_total_gb": round(total / _GB, 3),
            "gpu_memory_percent": round(100.0 * gpu["gpu_used"] / gpu["gpu_total"], 2)
            if gpu["gpu_total"]
            else 0.0,
            "gpu_memory_used_gb": round(gpu["gpu_used"] / _GB, 3),
            "gpu_memory_total_gb": round(gpu["gpu_total"] / _GB, 3),
            "gpu_available": gpu["gpu_available"],
            "process_memory_gb": round(rss / _GB, 3),
            "process_memory_bytes": rss,
            "cgroup_limited": limited is not None,
        }
        if not gpu["gpu_available"]:
            stats["gpu_unavailable_reason"] = gpu["gpu_unavailable_reason"]
        return stats

    def _rss(self) -> int:
        # A manager created before a fork would otherwise go on reporting its parent.
        if self._process.pid != os.getpid():
            self._process = psutil.Process()
        return int(self._process.memory_info().rss)

    # -- alerts --------------------------------------------------------------------------
    def add_alert_callback(self, callback: AlertCallback) -> None:
        """Call ``callback(alert)`` for every alert, from the monitor's thread; errors are logged."""
        with self._lock:
            if callback not in self._callbacks:
                self._callbacks.append(callback)

    def remove_alert_callback(self, callback: AlertCallback) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def recent_alerts(self) -> list[dict[str, Any]]:
        """The latest alerts (at most ``RECENT_ALERTS``), newest first."""
        with self._lock:
            return [a.to_dict() for a in reversed(self._alerts)]

    # -- monitoring ----------------------------------------------------------------------
    def start_monitoring(self) -> bool:
        """Sample in a background thread every ``monitoring_interval_seconds``; False if disabled."""
        with self._lock:
            if not self.settings.enable_monitoring:
                return False
            if self._monitor is not None and self._monitor.is_alive():
                return True
            self._stop.clear()
            self._monitor = threading.Thread(target=self._run_monitor, name="udn-memory-monitor", daemon=True)
            self._monitor.start()
            return True

    def stop_monitoring(self, timeout: float = 5.0) -> None:
        self._stop.set()
        monitor = self._monitor
        if monitor is not None and monitor is not threading.current_thread():
            monitor.join(timeout)
        self._monitor = None

    @property
    def monitoring(self) -> bool:
        return self._monitor is not None and self._monitor.is_alive()

    def _run_monitor(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # the monitor must outlive a bad sample
                log.exception("memory monitor sample failed")
            self._stop.wait(self.settings.monitoring_interval_seconds)

    def check(self, stats: Mapping[str, Any] | None = None) -> list[MemoryAlert]:
        """Take one monitor sample: record it, raise alerts, clean up if needed.

        ``stats`` defaults to ``get_memory_stats()``. An alert is raised when memory crosses
        above its threshold and re-armed once it falls ``NEAR_THRESHOLD_POINTS`` below it,
        so a level hovering at the threshold does not repeat the alert every sample.
        Returns the alerts raised by this sample.
        """
        stats = dict(stats if stats is not None else self.get_memory_stats())
        settings = self.settings
        sample: dict[str, Any] = {
            "time": time.time(),
            "system_memory_percent": float(stats.get("system_memory_percent", 0.0)),
            "gpu_memory_percent": float(stats.get("gpu_memory_percent", 0.0)),
            "gpu_available": bool(stats.get("gpu_available", False)),
            "process_memory_bytes": int(stats.get("process_memory_bytes", 0)),
        }
        sample.update(self._usage())
        with self._lock:
            self._history.append(sample)
        raised: list[MemoryAlert] = []
        checks = [("system_memory", settings.memory_threshold_percent, "system")]
        if sample["gpu_available"]:
            checks.append(("gpu_memory", settings.gpu_memory_threshold_percent, "gpu"))
        for kind, threshold, prefix in checks:
            percent = float(stats[f"{prefix}_memory_percent"])
            if percent >= threshold and not self._above[kind]:
                self._above[kind] = True
                raised.append(
                    self._alert(
                        kind,
                        percent,
                        threshold,
                        float(stats.get(f"{prefix}_memory_used_gb", 0.0)),
                        float(stats.get(f"{prefix}_memory_total_gb", 0.0)),
                    )
                )
            elif percent < threshold - NEAR_THRESHOLD_POINTS:
                self._above[kind] = False
        self._maybe_auto_cleanup(sample)
        return raised

    def _alert(self, kind: str, percent: float, threshold: float, used: float, total: float) -> MemoryAlert:
        what = "System memory" if kind == "system_memory" else "GPU memory"
        alert = MemoryAlert(
            kind=kind,
            percent=round(percent, 2),
            threshold_percent=threshold,
            used_gb=round(used, 3),
            total_gb=round(total, 3),
            timestamp=time.time(),
            message=(
                f"{what} at {percent:.1f}% ({used:.2f} of {total:.2f} GB), above the {threshold:g}% threshold"
            ),
        )
        log.warning("memory alert: %s", alert.message)
        with self._lock:
            self._alerts.append(alert)
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(alert)
            except Exception:
                log.exception("memory alert callback %r failed", callback)
        return alert

    def _maybe_auto_cleanup(self, sample: Mapping[str, Any]) -> None:
        settings = self.settings
        pressure = float(sample["system_memory_percent"])
        if sample["gpu_available"]:
            pressure = max(pressure, float(sample["gpu_memory_percent"]))
        threshold = settings.cleanup_threshold_percent
        if pressure < threshold - settings.cleanup_hysteresis_percent:
            self._cleanup_armed = True  # re-armed only once memory has clearly come down
        if not settings.auto_cleanup or pressure < threshold or not self._cleanup_armed:
            return
        now = time.monotonic()
        if (
            self._last_cleanup_at is not None
            and now - self._last_cleanup_at < settings.cleanup_min_interval_seconds
        ):
            return
        self._cleanup_armed = False
        log.warning("memory at %.1f%%, above cleanup_threshold_percent=%g: cleaning up", pressure, threshold)
        action = self._cleanup_action
        try:
            if action is not None:
                self._last_cleanup_at = time.monotonic()
                action("auto")
            else:
                self.cleanup(trigger="auto")
        except Exception:
            log.exception("automatic memory cleanup failed")

    # -- cleanup -------------------------------------------------------------------------
    def add_cleanup_hook(self, name: str, hook: CleanupHook) -> None:
        """Run ``hook(idle_seconds)`` during ``cleanup``; it returns what it released."""
        with self._lock:
            self._hooks[name] = hook

    def remove_cleanup_hook(self, name: str) -> None:
        with self._lock:
            self._hooks.pop(name, None)

    def set_cleanup_action(self, action: CleanupAction | None) -> None:
        """Let automatic cleanups call ``action`` instead of the local ``cleanup`` (None restores it).

        A node's API process uses it to have its inference workers clean up, because the
        models live there.
        """
        with self._lock:
            self._cleanup_action = action

    def cleanup(self, idle_seconds: float | None = None, trigger: str = "manual") -> dict[str, Any]:
        """Free memory in this process and return what was freed.

        Runs the cleanup hooks (which unload what has been idle ``idle_seconds``, default
        ``unload_idle_after_seconds``; never anything in use or pinned), then garbage
        collection, the GPU framework's cache release and glibc's ``malloc_trim``.
        Concurrent calls run one after the other.
        """
        idle = self.settings.unload_idle_after_seconds if idle_seconds is None else float(idle_seconds)
        if idle < 0:
            raise ValueError(f"idle_seconds must be >= 0, not {idle_seconds!r}")
        with self._cleanup_lock:
            started = time.perf_counter()
            rss_before = self._rss()
            with self._lock:
                hooks = dict(self._hooks)
            released: dict[str, Any] = {}
            for name, hook in hooks.items():
                try:
                    released[name] = dict(hook(idle))
                except Exception as exc:
                    log.exception("cleanup hook %s failed", name)
                    released[name] = {"error": f"{type(exc).__name__}: {exc}"}
            # Objects frozen at start (``freeze_startup_objects``) are invisible to a plain
            # collection; a model unloaded above may be among them.
            frozen = gc.get_freeze_count() > 0
            if frozen:
                gc.unfreeze()
            collected = gc.collect()
            if frozen:
                gc.freeze()
            gpu_released = release_gpu_cache()
            trimmed = trim_heap()
            rss_after = self._rss()
            result: dict[str, Any] = {
                "pid": os.getpid(),
                "trigger": trigger,
                "idle_seconds": idle,
                "gc_collected_objects": collected,
                "released": released,
                "gpu_cache_released": gpu_released,
                "heap_trimmed": trimmed,
                "rss_before_bytes": rss_before,
                "rss_after_bytes": rss_after,
                "freed_bytes": max(0, rss_before - rss_after),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "timestamp": time.time(),
            }
            with self._lock:
                self._last_cleanup = result
                self._last_cleanup_at = time.monotonic()
                self._cleanups += 1
        log.info(
            "memory cleanup (%s): freed %.1f MB, %d objects collected",
            trigger,
            result["freed_bytes"] / 2**20,
            collected,
        )
        return result

    def freeze_startup_objects(self) -> int:
        """Collect garbage, then leave every surviving object out of later collections (``gc.freeze``).

        A serving process calls it once it has started: what it built by then (modules, the
        app, loaded models) lives as long as the process, and without this every full
        collection walks all of it again while requests wait (the README's Memory manager
        section has the figures). ``cleanup`` unfreezes, collects and freezes
        again, so what becomes garbage later is still freed; what is alive at that moment,
        requests in flight included, is frozen with the rest, so a reference cycle among those
        is freed only at the next cleanup (small, and cleanups are rare). Returns how many
        objects are frozen.
        """
        gc.collect()
        gc.freeze()
        frozen = gc.get_freeze_count()
        log.debug("froze %d startup objects", frozen)
        return frozen

    def last_cleanup(self) -> dict[str, Any] | None:
        with self._lock:
            return dict(self._last_cleanup) if self._last_cleanup else None

    # -- recommendations -----------------------------------------------------------------
    def set_usage_provider(self, provider: UsageProvider | None) -> None:
        """Serving figures sampled with memory, used by ``get_recommendations``.

        The provider returns any of: ``queue_depth`` (requests waiting now), ``batches_total``
        and ``batch_items_total`` (counters since start), ``max_batch_size``,
        ``batch_timeout_s``, ``workers`` and ``loaded_pairs``.
        """
        with self._lock:
            self._usage_provider = provider

    def _usage(self) -> dict[str, Any]:
        provider = self._usage_provider
        if provider is None:
            return {}
        try:
            return dict(provider())
        except Exception:
            log.exception("usage provider failed")
            return {}

    def history(self) -> list[dict[str, Any]]:
        """The monitor's samples, oldest first."""
        with self._lock:
            return list(self._history)

    def get_recommendations(self) -> list[dict[str, Any]]:
        """Advice a person can act on, each with the figures behind it.

        Looks at the latest ``RECOMMENDATION_WINDOW`` monitor samples (or one fresh sample when
        the monitor has none yet). Each entry has ``id``, ``severity`` (``warning`` or
        ``info``), ``message`` and ``figures``.
        """
        with self._lock:
            window = list(self._history)[-RECOMMENDATION_WINDOW:]
        if not window:
            stats = self.get_memory_stats()
            window = [
                {
                    "time": time.time(),
                    "system_memory_percent": stats["system_memory_percent"],
                    "gpu_memory_percent": stats["gpu_memory_percent"],
                    "gpu_available": stats["gpu_available"],
                    **self._usage(),
                }
            ]
        return recommend(window, self.settings)

    def status(self) -> dict[str, Any]:
        """What the monitor is doing: settings, alert state, cleanups so far."""
        with self._lock:
            return {
                "monitoring": self.monitoring,
                "interval_seconds": self.settings.monitoring_interval_seconds,
                "memory_threshold_percent": self.settings.memory_threshold_percent,
                "gpu_memory_threshold_percent": self.settings.gpu_memory_threshold_percent,
                "auto_cleanup": self.settings.auto_cleanup,
                "cleanup_threshold_percent": self.settings.cleanup_threshold_percent,
                "above_threshold": dict(self._above),
                "cleanups": self._cleanups,
                "samples": len(self._history),
            }


__all__ = [
    "MemoryAlert",
    "MemoryManager",
    "cgroup_memory_limit",
    "gpu_memory",
    "release_gpu_cache",
    "trim_heap",
    "usable_cores",
]
