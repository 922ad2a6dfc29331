"""What an inference worker does for operations: cleanup, profiler stats, and reporting.

Runs inside the LitServe worker process that holds the models. ``WorkerOperations.start``
registers the engine's cleanup hook with this process's MemoryManager; ``handlers()`` are
the operations it answers on the node's control channel (``ipc.control``), next
to the model operations of ``worker.models``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ...config import Settings
from ...engine import PairRegistry
from ...utils.memory_manager import MemoryManager, usable_cores
from ...utils.profiler import function_profiler
from ..ipc.control import Handler
from ..ipc.messages import (
    Cleanup,
    Describe,
    ProfilerEnable,
    ProfilerReset,
    ProfilerSnapshot,
    Report,
    UnloadIdle,
)
from .models import unload_idle_handler

ENGINE_HOOK = "engine"


def inference_threads(settings: Settings) -> dict[str, int]:
    """Translation threads for one worker: the configured number, capped so that all workers
    together use no more threads than the cores this process may run on (affinity, cgroup quota).
    """
    cores = usable_cores()
    workers = settings.serving.workers
    per_worker = max(1, cores // workers)
    return {
        "threads": min(settings.serving.threads, per_worker),
        "configured_threads": settings.serving.threads,
        "usable_cores": cores,
        "workers": workers,
    }


def engine_cleanup_hook(registry: PairRegistry) -> Any:
    """The MemoryManager cleanup hook for ``registry``: unload least recently used idle pairs.

    It runs the worker's ``unload_idle`` operation (``worker.models``), so a pair that
    is in use or pinned is never unloaded; a pair unloaded here is loaded again by the next
    request that needs it.
    """
    unload_idle = unload_idle_handler(registry)

    def release(idle_seconds: float) -> dict[str, Any]:
        before = registry.memory_bytes()
        unloaded = unload_idle(UnloadIdle(idle_seconds=idle_seconds))["unloaded"]
        released = {
            "unloaded_pairs": unloaded,
            "model_bytes_released": before - registry.memory_bytes(),
            "loaded_pairs": [p for p in registry.pairs() if registry.is_loaded(p)],
        }
        released["engine_caches"] = registry.release_caches()
        return released

    return release


class WorkerOperations:
    """The operations one inference worker answers on the control channel."""

    def __init__(
        self,
        settings: Settings,
        registry: PairRegistry,
        inference_settings: Mapping[str, Any],
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """``on_change`` runs after a cleanup changed what is loaded (to refresh metrics)."""
        self.settings = settings
        self.registry = registry
        self.inference_settings = dict(inference_settings)
        self.on_change = on_change
        self.memory = MemoryManager.get_instance()

    def handlers(self) -> dict[type, Handler]:
        return {
            Cleanup: self.cleanup,
            Report: self.report,
            Describe: self.describe,
            ProfilerSnapshot: self.profiler_snapshot,
            ProfilerReset: self.profiler_reset,
            ProfilerEnable: self.profiler_enable,
        }

    def start(self) -> None:
        self.memory.add_cleanup_hook(ENGINE_HOOK, engine_cleanup_hook(self.registry))

    def loaded_pairs(self) -> list[str]:
        return [p for p in self.registry.pairs() if self.registry.is_loaded(p)]

    def describe(self, request: Describe) -> dict[str, Any]:
        """Cheap facts for /status: pid, inference settings, loaded pairs, profiling on or off."""
        return {
            "pid": os.getpid(),
            "inference_settings": self.inference_settings,
            "loaded_pairs": self.loaded_pairs(),
            "profiling_enabled": function_profiler.enabled,
        }

    def cleanup(self, request: Cleanup) -> dict[str, Any]:
        result = self.memory.cleanup(idle_seconds=request.idle_seconds, trigger=request.trigger)
        if self.on_change is not None:
            self.on_change()
        return {"pid": os.getpid(), **result}

    def report(self, request: Report) -> dict[str, Any]:
        stats = self.memory.get_memory_stats()
        return {
            "pid": os.getpid(),
            "process_memory_gb": stats["process_memory_gb"],
            "process_memory_bytes": stats["process_memory_bytes"],
            "model_memory_bytes": self.registry.memory_bytes(),
            "pairs": self.registry.describe(),
            "inference_settings": self.inference_settings,
            "last_cleanup": self.memory.last_cleanup(),
        }

    def profiler_snapshot(self, request: ProfilerSnapshot) -> dict[str, Any]:
        return function_profiler.snapshot()

    def profiler_reset(self, request: ProfilerReset) -> dict[str, Any]:
        function_profiler.reset()
        return {"reset": True}

    def profiler_enable(self, request: ProfilerEnable) -> dict[str, Any]:
        function_profiler.configure(enabled=request.enabled)
        return {"enabled": function_profiler.enabled}

    def close(self) -> None:
        self.memory.remove_cleanup_hook(ENGINE_HOOK)
