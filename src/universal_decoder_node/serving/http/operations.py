"""Operations in the API process: the memory monitor and the /admin/memory and /admin/profiling endpoints.

The models live in the inference workers, so cleanup and profiler figures are fetched from
them over the node's control channel (``ipc.control``; the worker side is
``worker.operations``) and combined with the API process's own. The memory monitor runs in
the first API server process (one per node); with ``serving.api_servers > 1`` the others
read its recent alerts from a file in the channel's private directory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import Response

from ...config import Settings
from ...errors import NotFound, UnsupportedFormat
from ...protocol.admin import admin_guard
from ...utils import tracing
from ...utils.atomic_write import write_atomic
from ...utils.memory_manager import MemoryAlert, MemoryManager
from ...utils.profiler import EXPORT_FORMATS, FunctionProfiler, function_profiler
from .. import metrics
from ..ipc.control import ControlChannel
from ..ipc.messages import (
    Cleanup,
    ControlRequest,
    Describe,
    ProfilerEnable,
    ProfilerReset,
    ProfilerSnapshot,
    Report,
)

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.json"
STATUS_ALERTS = 5
_MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "txt": "text/plain"}
_USAGE_SAMPLES = frozenset({"udn_requests_queued", "udn_batch_size_count", "udn_batch_size_sum"})


class NodeOperations:
    """The API process's view of the node's memory and profiling, across all its processes."""

    def __init__(self, settings: Settings, channel: ControlChannel) -> None:
        self.settings = settings
        self.channel = channel
        self.alerts_path = channel.directory / ALERTS_FILE
        self.monitoring_here = False

    @property
    def memory(self) -> MemoryManager:
        return MemoryManager.get_instance()

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, server_index: int) -> None:
        """Configure this API server process; the first one (index 0) runs the memory monitor."""
        function_profiler.apply_settings(self.settings.profiling)
        self.memory.configure(self.settings.memory)
        self.memory.set_usage_provider(self.usage)
        if server_index == 0:
            self.memory.add_alert_callback(self._on_alert)
            self.memory.set_cleanup_action(self._auto_cleanup)
            self.monitoring_here = self.memory.start_monitoring()

    def stop(self) -> None:
        if self.monitoring_here:
            self.memory.stop_monitoring()
            self.monitoring_here = False

    def lifespan(
        self, inner: Callable[[Any], AbstractAsyncContextManager[Any]]
    ) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
        """Wrap the app's lifespan so each API server process starts (and stops) operations.

        It runs after LitServe forks the API servers, so the monitor thread and the tracer
        provider belong to the process that serves.
        """

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[Any]:
            async with inner(app) as state:
                index = int(getattr(app, "response_queue_id", 0) or 0)
                tracing.setup_tracing(role="api" if index == 0 else f"api-{index}")
                self.start(index)
                self.memory.freeze_startup_objects()
                log.info("API server %d serving%s", index, " (and the memory monitor)" * self.monitoring_here)
                try:
                    yield state
                finally:
                    self.stop()
                    log.info("API server %d stopped", index)
                    # LitServe's API server is a forked process, which ends without running
                    # atexit hooks: export the spans still queued now.
                    await asyncio.to_thread(tracing.force_flush, 3000)

        return lifespan

    # -- memory --------------------------------------------------------------------------
    def _on_alert(self, alert: MemoryAlert) -> None:
        metrics.MEMORY_ALERTS.labels(alert.kind).inc()
        write_atomic(self.alerts_path, json.dumps(self.memory.recent_alerts()))

    def _auto_cleanup(self, trigger: str) -> dict[str, Any]:
        return self.cleanup(trigger=trigger)

    def cleanup(self, idle_seconds: float | None = None, trigger: str = "manual") -> dict[str, Any]:
        """Clean up in every inference worker (where the models are) and in this process."""
        replies = self._ask(Cleanup(idle_seconds, trigger), 120.0)
        local = self.memory.cleanup(idle_seconds=idle_seconds, trigger=trigger)
        workers = [{"worker": name, **reply} for name, reply in replies]
        freed = int(local["freed_bytes"])
        unloaded: dict[str, list[str]] = {}
        for name, reply in replies:
            if not reply.get("ok"):
                log.warning("cleanup in %s failed: %s", name, reply.get("error"))
                continue
            metrics.MEMORY_CLEANUPS.labels(trigger).inc()
            freed += int(reply.get("freed_bytes", 0))
            engine = reply.get("released", {}).get("engine", {})
            unloaded[name] = list(engine.get("unloaded_pairs", []))
        metrics.MEMORY_CLEANUP_FREED.inc(freed)
        return {
            "trigger": trigger,
            "freed_bytes": freed,
            "freed_mb": round(freed / 2**20, 2),
            "unloaded_pairs": unloaded,
            "workers": workers,
            "api_process": local,
        }

    def usage(self) -> dict[str, Any]:
        """Serving figures for the memory manager's recommendations."""
        values = metrics.current_values(_USAGE_SAMPLES)
        loaded = sorted({p for _, w in self._describe() for p in w.get("loaded_pairs", [])})
        serving = self.settings.serving
        return {
            "queue_depth": values.get("udn_requests_queued", 0.0),
            "batches_total": values.get("udn_batch_size_count", 0.0),
            "batch_items_total": values.get("udn_batch_size_sum", 0.0),
            "max_batch_size": serving.max_batch_size,
            "batch_timeout_s": serving.batch_timeout,
            "workers": serving.workers,
            "loaded_pairs": loaded,
        }

    def recent_alerts(self) -> list[dict[str, Any]]:
        if self.monitoring_here:
            return self.memory.recent_alerts()
        try:
            alerts = json.loads(self.alerts_path.read_text())
        except (OSError, ValueError):
            return []
        return alerts if isinstance(alerts, list) else []

    def memory_report(self) -> dict[str, Any]:
        """Stats, per-worker figures, alerts and recommendations, for GET /admin/memory."""
        replies = self._ask(Report(), 10.0)
        return {
            "stats": self.memory.get_memory_stats(),
            "workers": [{"worker": name, **reply} for name, reply in replies],
            "alerts": self.recent_alerts(),
            "recommendations": self.memory.get_recommendations(),
            "monitor": {**self.memory.status(), "monitoring": self.monitoring_here or self.memory.monitoring},
            "settings": self.settings.memory.model_dump(),
        }

    def status_extras(self) -> dict[str, Any]:
        """Additions to /status: recent alerts and the inference settings each worker applied."""
        workers = self._describe()
        return {
            "alerts": self.recent_alerts()[:STATUS_ALERTS],
            "inference_settings": {name: w.get("inference_settings", {}) for name, w in workers},
            "loaded_pairs": {name: w.get("loaded_pairs", []) for name, w in workers},
            "profiling_enabled": function_profiler.enabled,
            "tracing_enabled": tracing.is_active(),
        }

    # -- profiling -----------------------------------------------------------------------
    def profiler(self) -> tuple[FunctionProfiler, list[dict[str, Any]]]:
        """One profiler holding this process's and every worker's figures, and who answered."""
        replies = self._ask(ProfilerSnapshot(), 10.0)
        local = function_profiler.snapshot()
        snapshots = [local]
        processes: list[dict[str, Any]] = [
            {"process": "api", "pid": local["pid"], "enabled": local["enabled"]}
        ]
        for name, reply in replies:
            if reply.pop("ok", False):
                snapshots.append(reply)
                processes.append({"process": name, "pid": reply.get("pid"), "enabled": reply["enabled"]})
            else:
                processes.append({"process": name, "error": reply.get("error")})
        profiling = self.settings.profiling
        merged = FunctionProfiler.from_snapshots(
            snapshots,
            bottleneck_threshold_ms=function_profiler.bottleneck_threshold_ms,
            output_dir=profiling.profile_output_dir,
            export_format=profiling.export_format,
        )
        return merged, processes

    def set_profiling(self, enabled: bool) -> dict[str, Any]:
        function_profiler.configure(enabled=enabled)
        replies = self._ask(ProfilerEnable(enabled), 10.0)
        return {"enabled": enabled, "processes": ["api", *(name for name, r in replies if r.get("ok"))]}

    def reset_profiling(self) -> dict[str, Any]:
        function_profiler.reset()
        replies = self._ask(ProfilerReset(), 10.0)
        return {"reset": ["api", *(name for name, r in replies if r.get("ok"))]}

    # -- the control channel -------------------------------------------------------------
    def _ask(self, request: ControlRequest, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        """Every worker's reply as JSON (``ok`` plus the result, or ``error``), by worker name."""
        return sorted(
            (name, reply.as_json()) for name, reply in self.channel.broadcast(request, timeout).items()
        )

    def _describe(self) -> list[tuple[str, dict[str, Any]]]:
        """The workers that answered ``describe`` (pid, inference settings, loaded pairs)."""
        return [(name, r) for name, r in self._ask(Describe(), 5.0) if r.get("ok")]


def add_operations_routes(app: FastAPI, ops: NodeOperations, settings: Settings) -> None:
    """The /admin/memory and /admin/profiling endpoints, all behind the admin token."""
    router = APIRouter(
        prefix="/admin", dependencies=[Depends(admin_guard(settings.admin.token))], include_in_schema=False
    )

    @router.get("/memory")
    async def memory() -> dict[str, Any]:
        """Memory figures of every process, recent alerts and recommendations."""
        return await asyncio.to_thread(ops.memory_report)

    @router.post("/memory/cleanup")
    async def memory_cleanup(
        idle_seconds: float | None = Query(
            None,
            ge=0,
            description="Unload pairs idle at least this long (default: unload_idle_after_seconds).",
        ),
    ) -> dict[str, Any]:
        """Free memory in every inference worker and report what was freed."""
        return await asyncio.to_thread(ops.cleanup, idle_seconds, "manual")

    @router.get("/profiling/stats")
    async def profiling_stats() -> dict[str, Any]:
        merged, processes = await asyncio.to_thread(ops.profiler)
        return {"enabled": function_profiler.enabled, "processes": processes, "stats": merged.get_stats()}

    @router.get("/profiling/bottlenecks")
    async def profiling_bottlenecks(
        threshold_ms: float | None = Query(None, ge=0, description="Default: bottleneck_threshold_ms."),
    ) -> dict[str, Any]:
        merged, processes = await asyncio.to_thread(ops.profiler)
        threshold = merged.bottleneck_threshold_ms if threshold_ms is None else threshold_ms
        return {
            "threshold_ms": threshold,
            "processes": processes,
            "bottlenecks": merged.identify_bottlenecks(threshold),
        }

    @router.get("/profiling/history")
    async def profiling_history(name: str = Query(..., min_length=1)) -> dict[str, Any]:
        merged, _ = await asyncio.to_thread(ops.profiler)
        if name not in merged.names():
            known = ", ".join(merged.names()) or "none yet"
            raise NotFound(f"nothing profiled under {name!r}; profiled names: {known}")
        return {"name": name, "history": merged.get_history(name)}

    @router.get("/profiling/export")
    async def profiling_export(fmt: str | None = Query(None, alias="format")) -> Response:
        """The stats as a file download (json, csv or txt), also written to profile_output_dir."""
        chosen = (fmt or settings.profiling.export_format).lower()
        if chosen not in EXPORT_FORMATS:
            raise UnsupportedFormat(
                f"format {fmt!r} is not supported; use one of: {', '.join(EXPORT_FORMATS)}"
            )
        merged, _ = await asyncio.to_thread(ops.profiler)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = Path(settings.profiling.profile_output_dir) / f"profile-{stamp}.{chosen}"
        written = await asyncio.to_thread(merged.export_stats, path, chosen)
        return Response(
            written.read_bytes(),
            media_type=_MEDIA_TYPES[chosen],
            headers={"Content-Disposition": f'attachment; filename="{written.name}"'},
        )

    @router.post("/profiling/reset")
    async def profiling_reset() -> dict[str, Any]:
        return await asyncio.to_thread(ops.reset_profiling)

    @router.post("/profiling/enable")
    async def profiling_enable() -> dict[str, Any]:
        return await asyncio.to_thread(ops.set_profiling, True)

    @router.post("/profiling/disable")
    async def profiling_disable() -> dict[str, Any]:
        return await asyncio.to_thread(ops.set_profiling, False)

    app.include_router(router)
