"""Pure ASGI middleware counting requests by endpoint and status code, and timing them."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, endpoints: frozenset[str]) -> None:
        self.app = app
        # Only known paths become label values, so a scanner cannot blow up the series count.
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        endpoint = path if path in self.endpoints else "other"
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
