"""Pipes between the API servers and the inference workers, in place of LitServe's manager queues.

LitServe 0.2.19 routes every request and every answer through ``multiprocessing.Manager``
queues: each put and each get is a round trip to the manager process, the worker polls its
queue every millisecond even when idle, and the API server waits for each answer on a
thread of its own (``asyncio.to_thread``). Its ZeroMQ option (``fast_queue``) is not wired up
in this release (Lightning-AI/LitServe#751). Here each API server has two pipes:

- requests: the API server writes through an asyncio pipe transport (never blocks its event
  loop; a full pipe is buffered), the inference workers take items when they have room;
- answers: the workers' translation threads write whole frames under a lock shared by the
  workers, the API server reads them on its event loop (``add_reader``): no thread hop.

Frames are ``multiprocessing.connection``'s (a 4-byte big-endian length, then a pickle).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import pickle
import struct
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any

from litserve.transport.base import MessageTransport
from litserve.utils import LitAPIStatus, LoopResponseType

from .messages import Queued, WorkResult

# LitServe spawns its inference workers; locks must come from the same context.
_CONTEXT = mp.get_context("spawn")
_HEADER = struct.Struct("!i")
# Cancellation slots per API server: more than the items one server can have in flight.
_CANCEL_SLOTS = 1 << 16


class RequestPipes:
    """Work items from the API servers (one pipe each) to the inference workers (any of them).

    Beside each pipe, a small table in shared memory where the API server marks the items
    whose client went away (``cancel``); a worker asks it (``is_cancelled``) before each
    segment, whichever worker took the item, without a message or a lock.
    """

    def __init__(
        self,
        servers: int,
        pipes: list[tuple[Connection, Connection, Any]] | None = None,
        cancelled: list[Any] | None = None,
    ) -> None:
        # Per API server: (read end, write end, lock the workers take to read a whole frame).
        self._pipes = pipes or [(*_CONTEXT.Pipe(duplex=False), _CONTEXT.Lock()) for _ in range(servers)]
        # Per API server: slot ``uid % _CANCEL_SLOTS`` holds ``uid + 1`` once item ``uid`` is
        # cancelled (aligned 64-bit words: a reader sees the old or the new value, never half).
        self._cancelled = cancelled or [_CONTEXT.RawArray("q", _CANCEL_SLOTS) for _ in range(servers)]
        self._writers: dict[int, asyncio.WriteTransport] = {}
        self._opening: dict[int, asyncio.Future[asyncio.WriteTransport]] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (RequestPipes, (len(self._pipes), self._pipes, self._cancelled))

    def cancel(self, server: int, uid: int) -> None:
        """Mark item ``uid`` of API server ``server`` cancelled: workers drop what is left of it."""
        self._cancelled[server][uid % _CANCEL_SLOTS] = uid + 1

    def is_cancelled(self, server: int, uid: int) -> bool:
        """Whether item ``uid`` was cancelled (a slot reused by a later cancellation reads False)."""
        return bool(self._cancelled[server][uid % _CANCEL_SLOTS] == uid + 1)

    async def put(self, server: int, item: Queued) -> None:
        """Queue ``item`` from API server ``server``; returns at once (the write is buffered)."""
        writer = self._writers.get(server) or await self._open_writer(server)
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        writer.write(_HEADER.pack(len(data)) + data)

    async def _open_writer(self, server: int) -> asyncio.WriteTransport:
        opening = self._opening.get(server)
        if opening is None:
            loop = asyncio.get_running_loop()
            opening = self._opening[server] = loop.create_future()
            pipe = os.fdopen(os.dup(self._pipes[server][1].fileno()), "wb", buffering=0)
            writer, _ = await loop.connect_write_pipe(asyncio.Protocol, pipe)
            self._writers[server] = writer
            opening.set_result(writer)
        return await asyncio.shield(opening)

    def take(self, limit: int, timeout: float | None) -> list[Queued]:
        """Up to ``limit`` queued items, waiting up to ``timeout`` seconds (None: forever) for one."""
        readers = {reader: lock for reader, _, lock in self._pipes}
        items: list[Queued] = []
        for reader in wait(list(readers), timeout):
            assert isinstance(reader, Connection)
            with readers[reader]:  # another worker may be reading the same pipe
                while len(items) < limit and reader.poll(0):
                    items.append(pickle.loads(reader.recv_bytes()))
        return items


def answer_frame(uid: int, result: WorkResult, worker_id: int | str) -> tuple[Any, ...]:
    """A worker's answer to item ``uid`` in the shape LitServe's ``response_queue_to_buffer``
    reads in the API server: it puts ``[result, status]`` into ``response_buffer[uid]``."""
    return (uid, (result, LitAPIStatus.OK, LoopResponseType.REGULAR, worker_id))


class AnswerPipes(MessageTransport):
    """Answers from the inference workers to the API servers: one pipe per API server.

    LitServe hands it to every process of the node when it starts them; ``send`` runs in a
    worker (any thread), ``areceive`` in the API server's event loop.
    """

    def __init__(self, consumers: int, pipes: list[tuple[Connection, Connection, Any]] | None = None) -> None:
        # Per API server: (read end, write end, lock a worker holds while writing one frame).
        self._pipes = pipes or [(*_CONTEXT.Pipe(duplex=False), _CONTEXT.Lock()) for _ in range(consumers)]
        self._closed = False
        self._ready: deque[Any] = deque()
        self._wakeup: asyncio.Event | None = None
        self._buffer = bytearray()

    def __reduce__(self) -> tuple[Any, ...]:
        return (AnswerPipes, (len(self._pipes), self._pipes))

    def send(self, item: Any, consumer_id: int) -> None:
        _, writer, lock = self._pipes[consumer_id]
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        with lock:
            writer.send_bytes(data)

    async def areceive(
        self, consumer_id: int | None = None, timeout: float | None = None, block: bool = True
    ) -> Any:
        """The next answer for ``consumer_id`` (None after ``timeout`` seconds)."""
        if self._closed:
            raise asyncio.CancelledError("transport closed")
        if self._wakeup is None:
            self._start_reading(consumer_id or 0)
        assert self._wakeup is not None
        while not self._ready:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                return None
            if self._closed:
                raise asyncio.CancelledError("transport closed")
        return self._ready.popleft()

    def _start_reading(self, consumer_id: int) -> None:
        loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        fd = self._pipes[consumer_id][0].fileno()
        os.set_blocking(fd, False)  # only this API server reads this pipe
        loop.add_reader(fd, self._on_readable, fd)

    def _on_readable(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 1 << 20):
                self._buffer += chunk
                if len(chunk) < 1 << 20:
                    break
        except BlockingIOError:
            pass
        buffer, start, ready = self._buffer, 0, self._ready
        while len(buffer) - start >= 4:
            (size,) = _HEADER.unpack_from(buffer, start)
            if len(buffer) - start - 4 < size:
                break
            ready.append(pickle.loads(buffer[start + 4 : start + 4 + size]))
            start += 4 + size
        if start:
            del buffer[:start]
        if ready and self._wakeup is not None:
            self._wakeup.set()

    def close(self, send_sentinel: bool = True, **kwargs: Any) -> None:
        self._closed = True
        if self._wakeup is not None:
            self._wakeup.set()
