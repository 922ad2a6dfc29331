"""Pure ASGI middleware counting the coordinator's requests by endpoint and status code, and timing them."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics

# Paths that become label values as they are; /nodes/<id> and /admin/... are folded, anything else
# is "other", so a scanner cannot blow up the series count.
ENDPOINTS = frozenset(
    {"/", "/translate", "/decode", "/languages", "/health", "/ready", "/status", "/metrics"}
)
PREFIXES = ("/nodes/", "/admin/")


def endpoint_label(path: str) -> str:
    if path in ENDPOINTS:
        return path
    for prefix in PREFIXES:
        if path.startswith(prefix):
            return prefix.rstrip("/")
    return "other"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = endpoint_label(scope.get("path", ""))
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            metrics.REQUESTS.labels(endpoint, str(status)).inc()
            metrics.REQUEST_LATENCY.labels(endpoint).observe(time.perf_counter() - started)
