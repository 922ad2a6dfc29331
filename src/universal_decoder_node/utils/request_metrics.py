"""Pure ASGI middleware counting HTTP requests by endpoint and status code, and timing them.

Shared by the node and the coordinator, each passing its own metrics and its own way of
turning a path into a bounded label value (unknown paths must fold into one value, so a
scanner cannot blow up the series count).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetricsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        requests: Counter,
        latency: Histogram,
        label: Callable[[str], str],
    ) -> None:
        self.app = app
        self.requests = requests  # labels: endpoint, code
        self.latency = latency  # labels: endpoint
        self.label = label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = self.label(scope.get("path", ""))
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
            self.requests.labels(endpoint, str(status)).inc()
            self.latency.labels(endpoint).observe(time.perf_counter() - started)
