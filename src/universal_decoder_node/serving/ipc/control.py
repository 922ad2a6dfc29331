"""A control channel from the API server process to every inference worker process.

Models live in LitServe's inference workers (spawned processes), while admin requests
arrive in the API server process. Each worker listens on its own Unix socket in a private
directory (mode 0700) created before the processes start, and answers requests (the
dataclasses of ``ipc.messages``) with the handler registered for the request's type. Connections are
authenticated with a random key (``multiprocessing.connection``'s HMAC challenge), so only
this node's processes can talk to its workers.

Usage: ``build_server`` creates one ``ControlChannel`` and hands it to the LitAPI (pickled
into each worker) and to the admin routes. A worker calls ``serve(name, handlers)`` in
``setup``; the API process calls ``broadcast(request)`` and gets one reply per worker.
Handlers run on their own thread per connection, so a slow one (a model load) does not hold
up the others or the worker's batches. Any operation can be added by registering a handler.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from .messages import ControlReply, ControlRequest

log = logging.getLogger(__name__)

# Answers one kind of control request with its report (a JSON document); raises to fail it.
Handler = Callable[[Any], dict[str, Any]]
_SUFFIX = ".sock"


@dataclass(frozen=True)
class ControlChannel:
    """Where a node's workers listen, and the key that admits a caller; picklable."""

    directory: Path
    authkey: bytes = field(repr=False)

    @classmethod
    def create(cls) -> ControlChannel:
        """A fresh private directory and key; remove it with ``close()`` when the node stops."""
        directory = Path(tempfile.mkdtemp(prefix="udn-control-"))
        return cls(directory, secrets.token_bytes(32))

    def serve(self, name: str, handlers: Mapping[type, Handler]) -> ControlServer:
        """Start answering requests on this process's socket (a daemon thread)."""
        path = self.directory / f"{name}{_SUFFIX}"
        # A worker LitServe restarted under the same name finds its predecessor's socket.
        path.unlink(missing_ok=True)
        server = ControlServer(path, self.authkey, dict(handlers))
        server.start()
        return server

    def workers(self) -> list[str]:
        return sorted(p.name[: -len(_SUFFIX)] for p in self.directory.glob(f"*{_SUFFIX}"))

    def broadcast(self, request: ControlRequest, timeout: float) -> dict[str, ControlReply]:
        """Send ``request`` to every worker at once; returns each worker's reply by worker name.

        A worker that cannot be reached or does not answer within ``timeout`` seconds gets a
        failed reply saying so.
        """
        names = self.workers()
        if not names:
            return {}
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            futures = {name: pool.submit(self._ask, name, request, timeout) for name in names}
            return {name: future.result() for name, future in futures.items()}

    def _ask(self, name: str, request: ControlRequest, timeout: float) -> ControlReply:
        path = self.directory / f"{name}{_SUFFIX}"
        try:
            conn = Client(str(path), family="AF_UNIX", authkey=self.authkey)
        except (ConnectionRefusedError, FileNotFoundError):
            # The worker died (LitServe may have replaced it): its socket is litter.
            path.unlink(missing_ok=True)
            return ControlReply(False, error=f"{name} is not running")
        except OSError as exc:
            return ControlReply(False, error=f"cannot reach {name}: {exc}")
        with conn:
            try:
                conn.send(request)
                if not conn.poll(timeout):
                    return ControlReply(False, error=f"{name} did not answer within {timeout:g}s")
                reply = conn.recv()
            except (EOFError, OSError) as exc:
                return ControlReply(False, error=f"{name} dropped the connection: {exc}")
        return (
            reply if isinstance(reply, ControlReply) else ControlReply(False, error=f"{name} sent {reply!r}")
        )

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class ControlServer:
    """One worker's listener; answers each connection on its own thread."""

    def __init__(self, path: Path, authkey: bytes, handlers: dict[type, Handler]) -> None:
        self.path = path
        self._handlers = handlers
        self._listener = Listener(str(path), family="AF_UNIX", authkey=authkey)
        self._thread = threading.Thread(target=self._accept, name="worker-control", daemon=True)
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except OSError:  # closed, or a caller that failed the key challenge
                if self._closed:
                    return
                continue
            threading.Thread(target=self._answer, args=(conn,), name="worker-control-op", daemon=True).start()

    def _answer(self, conn: Connection) -> None:
        with conn:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return
            reply = self._dispatch(request)
            with contextlib.suppress(OSError):  # the caller gave up waiting
                conn.send(reply)

    def _dispatch(self, request: Any) -> ControlReply:
        handler = self._handlers.get(type(request))
        if handler is None:
            known = ", ".join(sorted(t.__name__ for t in self._handlers))
            return ControlReply(False, error=f"unknown control request {request!r}; known: {known}")
        try:
            return ControlReply(True, handler(request))
        except Exception as exc:  # a failing handler answers with its reason; the worker carries on
            log.exception("control request %s failed", type(request).__name__)
            return ControlReply(False, error=str(exc))

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        if self.path.exists():
            os.unlink(self.path)
