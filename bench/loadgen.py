"""A light closed-loop HTTP/1.1 load generator: N keep-alive connections, one request in flight each.

It sends pre-encoded request bytes over asyncio streams (on uvloop) and reads only the status line,
``Content-Length`` and the body, so a request costs the generator tens of microseconds of
CPU: on a small machine the generator shares the cores with the server it measures, and a
heavy client (httpx, aiohttp) would take a visible share of them. Used by the benchmarks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


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
        """The ``q`` quantile (0..1) of latency in seconds, nearest rank."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def http_post(host: str, port: int, path: str, body: bytes, content_type: str = "application/json") -> bytes:
    """The bytes of one keep-alive ``POST`` request."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
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
        reader, writer = await asyncio.open_connection(host, port)
        i = index
        try:
            while True:
                sent = time.monotonic()
                if sent >= stop_at:
                    return
                payload = requests[i % len(requests)]
                i += 1
                try:
                    writer.write(payload)
                    status, _ = await read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                done = time.monotonic()
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status != 200:
                    result.errors += 1
                elif measure_from <= done <= stop_at:
                    result.latencies.append(done - sent)
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return result


def run_load_sync(
    host: str, port: int, requests: Sequence[bytes], concurrency: int, seconds: float, warmup: float = 1.0
) -> LoadResult:
    """``run_load`` from synchronous code, on a fresh uvloop event loop (lighter than asyncio's own)."""
    import uvloop  # installed with uvicorn[standard]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run_load(host, port, requests, concurrency, seconds, warmup))
