"""Routes that need no inference worker: health, readiness, status, languages and metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import litserve as ls
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from litserve.utils import WorkerSetupStatus

from ... import __version__
from ...config import Settings
from ...models import language_names, pair_sources, pivot_sources
from ...protocol.languages import language_list
from ...utils.memory_manager import MemoryManager
from .. import metrics


def format_uptime(seconds: float) -> str:
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    prefix = f"{days}d " if days else ""
    return f"{prefix}{hours}h {minutes}m {secs}s"


def add_node_routes(
    app: FastAPI,
    server: ls.LitServer,
    settings: Settings,
    status_extras: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Health, readiness, status, languages and metrics: routes that need no inference worker.

    ``status_extras`` adds keys to /status (it runs in a thread, so it may read files).
    """
    started = time.time()
    sources = pair_sources(settings)
    pivots = pivot_sources(settings, sources)
    languages = language_list([*sources, *pivots], language_names(sources))

    def workers_ready() -> tuple[bool, dict[str, str]]:
        statuses = dict(getattr(server, "workers_setup_status", None) or {})
        ready = bool(statuses) and all(v == WorkerSetupStatus.READY for v in statuses.values())
        return ready, {str(k): str(v) for k, v in statuses.items()}

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the API server answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: 200 once every inference worker has loaded and warmed its models."""
        ok, statuses = workers_ready()
        return JSONResponse({"ready": ok, "workers": statuses}, status_code=200 if ok else 503)

    @app.get("/languages")
    async def get_languages() -> list[dict[str, Any]]:
        return languages

    @app.get("/status")
    async def status() -> dict[str, Any]:
        stats = await asyncio.to_thread(MemoryManager.get_instance().get_memory_stats)
        ok, statuses = workers_ready()
        memory = {
            key: stats[key]
            for key in (
                "system_memory_percent",
                "gpu_memory_percent",
                "system_memory_used_gb",
                "gpu_memory_used_gb",
                "system_memory_total_gb",
                "gpu_memory_total_gb",
            )
        }
        memory["process_memory_gb"] = stats["process_memory_gb"]
        body: dict[str, Any] = {
            "status": "healthy" if ok else "starting",
            "uptime": format_uptime(time.time() - started),
            "uptime_seconds": round(time.time() - started, 1),
            "version": __version__,
            "memory": memory,
            "gpu_available": stats["gpu_available"],
            "workers": statuses,
            "pairs": sorted([*sources, *pivots]),
            "pivot_pairs": {pair: pivot.describe() for pair, pivot in sorted(pivots.items())},
        }
        if not stats["gpu_available"]:
            body["gpu_unavailable_reason"] = stats.get("gpu_unavailable_reason", "no GPU found")
        if status_extras is not None:
            body.update(await asyncio.to_thread(status_extras))
        return body

    @app.get("/metrics")
    async def get_metrics() -> Response:
        stats = await asyncio.to_thread(MemoryManager.get_instance().get_memory_stats)
        metrics.SYSTEM_MEMORY_PERCENT.set(stats["system_memory_percent"])
        metrics.GPU_MEMORY_PERCENT.set(stats["gpu_memory_percent"])
        body, content_type = await asyncio.to_thread(metrics.render)
        return Response(body, media_type=content_type)
