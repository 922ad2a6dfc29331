"""The operator's view: liveness, readiness, status, traffic history, Prometheus metrics and the
dashboard at ``/dashboard`` (the translation page, ``web``, is at ``/``)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from . import metrics
from .service import Coordinator

_DASHBOARD = files(__package__).joinpath("dashboard.html")


def add_operator_routes(app: FastAPI, coordinator: Coordinator) -> None:
    dashboard = _DASHBOARD.read_text(encoding="utf-8")

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the coordinator answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: 200 when at least one node can take a request."""
        ok, why = coordinator.ready()
        return JSONResponse({"ready": ok, "reason": why}, status_code=200 if ok else 503)

    @app.get("/status")
    async def status() -> dict[str, Any]:
        """Nodes, their load, pairs, health and circuits, and the state store; the dashboard polls it."""
        return coordinator.status()

    @app.get("/metrics")
    async def get_metrics() -> Response:
        coordinator.update_gauges()
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/history")
    async def history() -> dict[str, Any]:
        """The last 15 minutes of traffic through this coordinator, overall and per node."""
        return coordinator.history.series()

    @app.get("/dashboard", response_class=HTMLResponse)
    async def dashboard_page() -> HTMLResponse:
        """The dashboard: a static page that polls /status and /history."""
        return HTMLResponse(dashboard, headers={"Cache-Control": "no-cache"})
