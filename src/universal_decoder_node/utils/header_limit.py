"""uvicorn's httptools protocol with a limit on the size of a request's head (431 above it).

httptools (llhttp) has no such limit: it hands a header to uvicorn only once the header is
complete, gathering it in a bytes object that grows, so one huge header costs time and
memory in proportion to its size before any ASGI middleware could look at it. The limit
must therefore be kept where bytes are fed to the parser: here the head (request line and
headers) is fed at most ``max_header_bytes`` at a time, and a head still incomplete at the
limit is answered ``431`` and the connection closed. uvicorn's h11 protocol has a limit
(``h11_max_incomplete_event_size``) but answers 400, and is a pure-Python parser.

Give the class from ``header_limited_protocol`` to uvicorn as ``http=``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .https_middleware import security_headers

# A refused client that keeps sending is read (and its bytes dropped) for at most this long
# or this much, so that it can read the 431 before the connection closes: closing a socket
# with unread input makes the kernel reset the connection, which can discard the answer.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 1_048_576


class HeaderLimitedProtocol(HttpToolsProtocol):
    """An ``HttpToolsProtocol`` that refuses a request head larger than ``max_header_bytes``."""

    max_header_bytes = 65_536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between requests, or inside a request line and its headers
        self._head_bytes = 0  # bytes of the current head fed to the parser so far
        self._heads = 0  # heads parsed on this connection
        self._refused = False  # answered 431: what arrives now is dropped
        self._dropped = 0

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._drop(len(data))
            return
        limit = self.max_header_bytes
        # The part of a piece that ends one pipelined request and starts the next does not
        # count towards the next head, so such a head may pass the limit by at most the limit.
        while self._in_head and self._head_bytes + len(data) > limit:
            room = limit - self._head_bytes
            self._head_bytes = limit
            heads = self._heads
            super().data_received(data[:room])
            if self.transport.is_closing():  # the parser refused the request (a 400)
                return
            if self._heads == heads:  # the head did not end within the limit
                self._refuse(len(data) - room)
                return
            data = data[room:]  # the rest of a body, or of the next requests
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._heads += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def _refuse(self, unread: int) -> None:
        body = json.dumps(
            {"error": f"request headers are larger than the limit of {self.max_header_bytes} bytes"}
        ).encode()
        lines = [b"HTTP/1.1 431 Request Header Fields Too Large"]
        headers = [
            *security_headers(secure=self.scheme == "https"),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            ("connection", "close"),
        ]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self._refused = True
        self.loop.call_later(_LINGER_SECONDS, self._close)
        self._drop(unread)

    def _drop(self, size: int) -> None:
        self._dropped += size
        if self._dropped > _LINGER_BYTES:
            self._close()

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def header_limited_protocol(limit: int) -> type[asyncio.Protocol]:
    """A ``HeaderLimitedProtocol`` class for uvicorn's ``http=`` option; ``limit`` in bytes."""

    class Limited(HeaderLimitedProtocol):
        max_header_bytes = limit

    return Limited


__all__ = ["HeaderLimitedProtocol", "header_limited_protocol"]
