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

import ctypes
import ctypes.util
import gc
import itertools
import logging
import os
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from ..config import MemorySettings

log = logging.getLogger(__name__)

_GB = 1024**3
_CGROUP_ROOT = Path("/sys/fs/cgroup")

RECENT_ALERTS = 20
"""How many alerts ``recent_alerts()`` keeps."""
HISTORY_SAMPLES = 120
"""How many monitor samples are kept for recommendations (two hours at the default interval)."""
RECOMMENDATION_WINDOW = 10
"""How many of the latest samples a recommendation looks at."""
NEAR_THRESHOLD_POINTS = 5.0
"""Memory within this many percentage points of its alert threshold counts as near it."""

AlertCallback = Callable[["MemoryAlert"], None]
CleanupHook = Callable[[float], Mapping[str, Any]]
"""Called by ``cleanup`` with ``idle_seconds``; returns what it released (JSON-serialisable)."""
CleanupAction = Callable[[str], Mapping[str, Any]]
"""Replaces the local ``cleanup`` for automatic cleanups; called with the trigger (``"auto"``)."""
UsageProvider = Callable[[], Mapping[str, Any]]
"""Serving figures for recommendations; see ``MemoryManager.set_usage_provider`` for the keys."""


def cgroup_memory_limit() -> tuple[int, int] | None:
    """(limit, usage) in bytes when this process runs under a cgroup memory limit, else None."""
    try:
        raw = (_CGROUP_ROOT / "memory.max").read_text().strip()  # cgroup v2
        if raw != "max":
            usage = int((_CGROUP_ROOT / "memory.current").read_text())
            return int(raw), usage
    except (OSError, ValueError):
        pass
    try:
        limit = int((_CGROUP_ROOT / "memory" / "memory.limit_in_bytes").read_text())  # cgroup v1
        usage = int((_CGROUP_ROOT / "memory" / "memory.usage_in_bytes").read_text())
        if limit < psutil.virtual_memory().total:
            return limit, usage
    except (OSError, ValueError):
        pass
    return None


def usable_cores() -> int:
    """CPU cores this process may use: its affinity mask, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = (_CGROUP_ROOT / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def gpu_memory() -> dict[str, Any]:
    """GPU memory from NVML, else from an already imported torch, else zeros with the reason."""
    try:
        import pynvml  # nvidia-ml-py

        pynvml.nvmlInit()
        try:
            used = total = 0
            for i in range(pynvml.nvmlDeviceGetCount()):
                info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(i))
                used += int(info.used)
                total += int(info.total)
        finally:
            pynvml.nvmlShutdown()
        if total:
            return {"gpu_available": True, "gpu_used": used, "gpu_total": total, "gpu_source": "nvml"}
        reason = "NVML found no GPU"
    except ImportError:
        reason = "nvidia-ml-py is not installed"
    except Exception as exc:  # NVMLError when no driver is present
        reason = f"NVML unavailable: {exc}"
    # Only a framework the process already uses: importing torch just to ask costs seconds and
    # hundreds of megabytes, which is what this module is meant to save.
    torch = sys.modules.get("torch")
    if torch is None:
        reason += "; no GPU framework loaded"
    elif torch.cuda.is_available():
        used = total = 0
        for i in range(torch.cuda.device_count()):
            free, tot = torch.cuda.mem_get_info(i)
            used += tot - free
            total += tot
        return {"gpu_available": True, "gpu_used": used, "gpu_total": total, "gpu_source": "torch"}
    else:
        reason += "; torch sees no CUDA device"
    return {"gpu_available": False, "gpu_used": 0, "gpu_total": 0, "gpu_unavailable_reason": reason}


def release_gpu_cache() -> bool | None:
    """Empty the GPU framework's allocator cache; None when no GPU framework is in use."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    torch.cuda.empty_cache()
    return True


def _malloc_trim() -> bool:
    """Hand freed heap pages back to the OS (glibc only); without it RSS stays high after a cleanup."""
    path = ctypes.util.find_library("c")
    if not path or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(path)
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


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
        self._process = psutil.Process(os.getpid())
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
        rss = self._process.memory_info().rss
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
            rss_before = self._process.memory_info().rss
            with self._lock:
                hooks = dict(self._hooks)
            released: dict[str, Any] = {}
            for name, hook in hooks.items():
                try:
                    released[name] = dict(hook(idle))
                except Exception as exc:
                    log.exception("cleanup hook %s failed", name)
                    released[name] = {"error": f"{type(exc).__name__}: {exc}"}
            collected = gc.collect()
            gpu_released = release_gpu_cache()
            trimmed = _malloc_trim()
            rss_after = self._process.memory_info().rss
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
        settings = self.settings
        out: list[dict[str, Any]] = []
        latest = window[-1]
        span = float(latest["time"]) - float(window[0]["time"])
        memory = self._near_threshold(window, "system_memory_percent", settings.memory_threshold_percent)
        if memory is not None:
            pairs = latest.get("loaded_pairs")
            batch = latest.get("max_batch_size")
            out.append(
                {
                    "id": "memory_near_threshold",
                    "severity": "warning",
                    "message": (
                        f"System memory has been at a median of {memory:.1f}% over the last "
                        f"{len(window)} sample(s) ({span:.0f}s), against an alert threshold of "
                        f"{settings.memory_threshold_percent:g}%. Lower serving.max_batch_size"
                        + (f" (now {batch})" if batch is not None else "")
                        + ", unload idle language pairs (POST /admin/memory/cleanup"
                        + (f"; {len(pairs)} loaded" if pairs is not None else "")
                        + "), or give the node more memory."
                    ),
                    "figures": {
                        "median_percent": round(memory, 2),
                        "threshold_percent": settings.memory_threshold_percent,
                        "samples": len(window),
                        "window_seconds": round(span, 1),
                        "max_batch_size": batch,
                        "loaded_pairs": pairs,
                    },
                }
            )
        gpu_window = [s for s in window if s.get("gpu_available")]
        gpu = self._near_threshold(gpu_window, "gpu_memory_percent", settings.gpu_memory_threshold_percent)
        if gpu is not None:
            out.append(
                {
                    "id": "gpu_memory_near_threshold",
                    "severity": "warning",
                    "message": (
                        f"GPU memory has been at a median of {gpu:.1f}% over the last {len(gpu_window)} "
                        f"sample(s), against a threshold of {settings.gpu_memory_threshold_percent:g}%. "
                        "Lower serving.max_batch_size or unload idle language pairs."
                    ),
                    "figures": {
                        "median_percent": round(gpu, 2),
                        "threshold_percent": settings.gpu_memory_threshold_percent,
                        "samples": len(gpu_window),
                    },
                }
            )
        out.extend(_batch_advice(window))
        queue = _queue_advice(window)
        if queue is not None:
            out.append(queue)
        return out

    @staticmethod
    def _near_threshold(window: list[dict[str, Any]], key: str, threshold: float) -> float | None:
        """The median of ``key`` when every sample in the window is near or above ``threshold``."""
        values = [float(s[key]) for s in window if key in s]
        if not values or min(values) < threshold - NEAR_THRESHOLD_POINTS:
            return None
        return float(statistics.median(values))

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


# Recommendations only speak once there is enough traffic to judge.
_MIN_BATCHES = 50
_MIN_QUEUE_SAMPLES = 3


def _batch_advice(window: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first, last = window[0], window[-1]
    if "batches_total" not in last or not last.get("max_batch_size"):
        return []
    if len(window) > 1 and "batches_total" in first:
        batches = float(last["batches_total"]) - float(first["batches_total"])
        items = float(last["batch_items_total"]) - float(first["batch_items_total"])
    else:
        batches, items = float(last["batches_total"]), float(last["batch_items_total"])
    if batches < _MIN_BATCHES:
        return []
    mean = items / batches
    size = int(last["max_batch_size"])
    timeout = float(last.get("batch_timeout_s", 0.0))
    figures = {
        "batches": int(batches),
        "mean_batch_size": round(mean, 2),
        "max_batch_size": size,
        "batch_timeout_s": timeout,
    }
    if mean <= 0.25 * size and timeout > 0.001:
        return [
            {
                "id": "batches_rarely_filled",
                "severity": "info",
                "message": (
                    f"Batches averaged {mean:.1f} request(s) of the {size} allowed over {int(batches)} "
                    f"batches, yet each waits up to serving.batch_timeout={timeout:g}s for more. Lower "
                    "serving.batch_timeout (for example to 0.001) to cut latency."
                ),
                "figures": figures,
            }
        ]
    if mean >= 0.9 * size:
        return [
            {
                "id": "batches_always_full",
                "severity": "info",
                "message": (
                    f"Batches averaged {mean:.1f} request(s) of the {size} allowed over {int(batches)} "
                    "batches: requests are waiting for room. Raise serving.max_batch_size if memory "
                    "allows, or add workers."
                ),
                "figures": figures,
            }
        ]
    return []


def _queue_advice(window: list[dict[str, Any]]) -> dict[str, Any] | None:
    depths = [float(s["queue_depth"]) for s in window if "queue_depth" in s]
    if len(depths) < _MIN_QUEUE_SAMPLES:
        return None
    tail = depths[-_MIN_QUEUE_SAMPLES:]
    growing = all(b > a for a, b in itertools.pairwise(tail))
    size = int(window[-1].get("max_batch_size") or 1)
    if not growing or tail[-1] < size:
        return None
    workers = window[-1].get("workers")
    return {
        "id": "queue_growing",
        "severity": "warning",
        "message": (
            f"The request queue grew at every one of the last {len(tail)} samples "
            f"({' -> '.join(f'{d:.0f}' for d in tail)} waiting): the node cannot keep up. Add inference "
            "workers (serving.workers"
            + (f", now {workers}" if workers is not None else "")
            + ") if cores are free, or more nodes."
        ),
        "figures": {"queue_depth": tail, "max_batch_size": size, "workers": workers},
    }


__all__ = [
    "MemoryAlert",
    "MemoryManager",
    "cgroup_memory_limit",
    "gpu_memory",
    "release_gpu_cache",
    "usable_cores",
]
