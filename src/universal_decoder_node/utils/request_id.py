"""The request id: one value per HTTP request, so its lines can be followed across processes.

A client (or a proxy, or the coordinator) may send ``X-Request-ID``; a value of safe
characters and bounded length is kept, anything else is replaced by a generated one. The id
is echoed in the response, set in a context variable for the request's logs (``current``),
and forwarded by the coordinator to the node it picks.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import tracing

HEADER = "X-Request-ID"
MAX_LENGTH = 128
# Letters, digits and a few separators: nothing that could break a log line or a header.
_SAFE = re.compile(rf"[A-Za-z0-9._:@+=-]{{1,{MAX_LENGTH}}}")

_current: ContextVar[str | None] = ContextVar("udn_request_id", default=None)


def current() -> str | None:
    """The id of the request being handled in this context, or None outside a request."""
    return _current.get()


def generate() -> str:
    return uuid.uuid4().hex


def accept(value: str | None) -> str:
    """``value`` when it is a usable request id, else a newly generated one."""
    if value is not None and _SAFE.fullmatch(value):
        return value
    return generate()


class RequestIdMiddleware:
    """Gives every HTTP request an id (``accept``), in ``current()`` and in its answer's ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept(Headers(scope=scope).get(HEADER))
        token = _current.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
                tracing.annotate_server_span(scope, {"udn.request_id": request_id})
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)


__all__ = ["HEADER", "RequestIdMiddleware", "accept", "current", "generate"]
