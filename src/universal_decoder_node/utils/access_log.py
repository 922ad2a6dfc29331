"""One log line per HTTP request, as one pure ASGI middleware (the node's and the coordinator's).

The line names the method, the path (never the query string, which may hold an API key), the
status, the duration in milliseconds, the request id (``request_id``), the language pair and
the characters translated (when a handler notes them, ``note``) and the client's address.
That address is ``scope["client"]``: uvicorn replaces it with the ``X-Forwarded-For`` client
only for a connection from ``https.trusted_proxies``, the list the HTTPS middleware trusts
for ``X-Forwarded-Proto``, so both read a proxy's headers under the same rule.

Quiet paths (probes, scrapes, heartbeats) are logged at debug level only. An exception that
escapes the application is logged here, once, with the request's id, after the 500 has gone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import request_id
from .https_middleware import wrap_whole_app

log = logging.getLogger("universal_decoder_node.access")

QUIET_PATHS = ("/health", "/ready", "/metrics")
# The status logged for a request whose client left before any answer began (nginx's).
CLIENT_CLOSED = 499
_SCOPE_KEY = "udn.access"


@dataclass(slots=True)
class AccessNote:
    """What a handler adds to its request's access line."""

    pair: str | None = None
    characters: int | None = None


def note(scope: Scope, *, pair: str, characters: int) -> None:
    """Record the language pair and the characters of the request ``scope`` belongs to."""
    record = scope.get(_SCOPE_KEY)
    if isinstance(record, AccessNote):
        record.pair = pair
        record.characters = characters


class AccessLogMiddleware:
    """Logs each HTTP request once it is answered; ``quiet(method, path)`` ones at debug level.

    With ``lines=False`` it logs only the errors that escape the application.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        quiet_paths: Iterable[str] = QUIET_PATHS,
        quiet: Callable[[str, str], bool] | None = None,
        lines: bool = True,
    ) -> None:
        self.app = app
        self.quiet_paths = frozenset(quiet_paths)
        self.quiet = quiet
        self.lines = lines  # False: errors only (``logging.access_log: false``)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record = AccessNote()
        scope[_SCOPE_KEY] = record
        status: int | None = None

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        except Exception:
            method, path = scope.get("method", ""), scope.get("path", "")
            log.exception("unhandled error answering %s %s", method, path, extra=self._fields(scope, record))
            if status is None:
                raise
            # The 500 has been sent (Starlette's ServerErrorMiddleware): the server need not log it again.
        finally:
            self._log(scope, record, status, time.perf_counter() - started)

    def _log(self, scope: Scope, record: AccessNote, status: int | None, elapsed: float) -> None:
        if not self.lines:
            return
        method, path = scope.get("method", ""), scope.get("path", "")
        level = logging.DEBUG if self._is_quiet(method, path) else logging.INFO
        if not log.isEnabledFor(level):
            return
        fields = self._fields(scope, record)
        fields.update(status=status or CLIENT_CLOSED, duration_ms=round(elapsed * 1000, 1))
        extra = "".join(f" {k}={fields[k]}" for k in ("pair", "characters") if fields[k] is not None)
        log.log(
            level,
            "%s %s %d %.1fms%s client=%s",
            method,
            path,
            fields["status"],
            fields["duration_ms"],
            extra,
            fields["client"],
            extra=fields,
        )

    def _is_quiet(self, method: str, path: str) -> bool:
        return path in self.quiet_paths or (self.quiet is not None and self.quiet(method, path))

    @staticmethod
    def _fields(scope: Scope, record: AccessNote) -> dict[str, Any]:
        client = scope.get("client")
        return {
            "method": scope.get("method", ""),
            "path": scope.get("path", ""),
            "pair": record.pair,
            "characters": record.characters,
            "client": client[0] if client else None,
            "request_id": request_id.current(),
        }


def add_request_logging(
    app: Any, *, access_log: bool = True, quiet: Callable[[str, str], bool] | None = None
) -> None:
    """Give every request to ``app`` an id and an access line, around everything else in it.

    Outside the HTTPS middleware, so its redirects and refusals are logged and carry the id
    too; call it after ``add_https_middleware``.
    """
    wrap_whole_app(app, AccessLogMiddleware, {"quiet": quiet, "lines": access_log})
    wrap_whole_app(app, request_id.RequestIdMiddleware, {})


__all__ = ["QUIET_PATHS", "AccessLogMiddleware", "AccessNote", "add_request_logging", "note"]
