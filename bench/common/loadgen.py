"""A light closed-loop HTTP/1.1 load generator: N keep-alive connections, one request in flight each.

It sends pre-encoded request bytes over asyncio streams (on uvloop) and reads only the status line,
``Content-Length`` and the body, so a request costs the generator tens of microseconds of
CPU: on a small machine the generator shares the cores with the server it measures, and a
heavy client (httpx, aiohttp) would take a visible share of them. Used by the benchmarks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .stats import percentile

T = TypeVar("T")


@dataclass
class LoadResult:
    """What one load run saw: completed requests, their latencies (seconds) and failures."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of latency in seconds (``stats.percentile``'s nearest rank)."""
        return percentile(self.latencies, q)


def http_post(
    host: str,
    port: int,
    path: str,
    body: bytes,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The bytes of one keep-alive ``POST`` request, with ``headers`` after the standard ones."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(status, body) of one response; raises ``ValueError`` without ``Content-Length``."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    else:
        raise ValueError("response without Content-Length")
    body = await reader.readexactly(length)
    return status, body


class Connection:
    """One keep-alive connection that sends a pre-encoded request and reads its answer.

    A connection the server closed while it sat idle (its keep-alive timeout) is reopened and
    the request sent again, once; any other failure raises (``OSError``,
    ``asyncio.IncompleteReadError``, ``ValueError``) and the next ``send`` opens a fresh connection.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """(status, body) of the answer to ``request``."""
        reused = self._writer is not None
        if not reused:
            await self.open()
        try:
            return await self._exchange(request)
        except asyncio.IncompleteReadError as exc:
            self.close()
            if not reused or exc.partial:
                raise
        await self.open()
        return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(request)
            return await read_response(self._reader)
        except (OSError, ValueError):
            self.close()
            raise

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None


async def run_load(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
) -> LoadResult:
    """Keep ``concurrency`` requests in flight for ``warmup + seconds``; measure the last ``seconds``.

    Client ``i`` cycles through ``requests`` starting at offset ``i``. Throughput counts the
    answers that arrive inside the measured window (a closed loop's steady state); a non-200
    answer or a broken connection counts as an error (and the connection is reopened).
    """
    # time.monotonic, not loop.time(): uvloop's clock ticks in whole milliseconds.
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    result = LoadResult(seconds=seconds)

    async def client(index: int) -> None:
        connection = Connection(host, port)
        await connection.open()
        i = index
        try:
            while True:
                sent = time.monotonic()
                if sent >= stop_at:
                    return
                payload = requests[i % len(requests)]
                i += 1
                try:
                    status, _ = await connection.send(payload)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    await connection.open()  # a server that refuses it ends the run
                    continue
                done = time.monotonic()
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status != 200:
                    result.errors += 1
                elif measure_from <= done <= stop_at:
                    result.latencies.append(done - sent)
        finally:
            connection.close()

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return result


def run_on_uvloop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` from synchronous code on a fresh uvloop event loop (lighter than asyncio's)."""
    import uvloop  # installed with uvicorn[standard]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def run_load_sync(
    host: str, port: int, requests: Sequence[bytes], concurrency: int, seconds: float, warmup: float = 1.0
) -> LoadResult:
    """``run_load`` from synchronous code, on a fresh uvloop event loop."""
    return run_on_uvloop(run_load(host, port, requests, concurrency, seconds, warmup))
