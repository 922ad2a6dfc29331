"""The control channel between a node's API process(es) and its LitServe inference workers.

Models live in the inference workers, which LitServe *spawns* (the LitAPI is pickled into
them), while the HTTP endpoints run in uvicorn processes it *forks*; there may be several
of each, and their request queue carries only translation work, taken by whichever worker
is free. Admin actions such as "clean up" or "send me your profiler stats" must reach
*every* worker and answer the process that asked, so they need a channel of their own.

Why Unix sockets in a run directory: ``build_server`` creates one private directory per
node (``mkdtemp``, mode 0700) before the workers are spawned; its path travels to them
inside the pickled LitAPI. Each worker listens on its own socket there
(``worker-<id>-<pid>.sock``, served by a daemon thread, so answers do not wait for a batch
to finish) and publishes a small JSON description (``worker-<id>.json``, written
atomically) saying where its socket is and what it loaded. An API process lists the
descriptions, connects to every socket, sends one JSON line and reads one JSON line back.
That gives broadcast to all workers, replies routed to the asker without shared queues, no
polling, no stale requests replayed after a restart (a restarted worker simply publishes a
new socket), and a dead worker shows up as a refused connection. It is also independent of
how many API servers and workers there are.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import socket
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..utils.files import atomic_write

log = logging.getLogger(__name__)

Handler = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""Runs one action in the worker: takes the request's ``args``, returns a JSON-serialisable result."""

_MAX_LINE = 16 * 2**20
# sockaddr_un holds 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107


def make_run_dir() -> Path:
    """A private (0700) directory for one node's control channel, removed when this process exits."""
    path = Path(tempfile.mkdtemp(prefix="udn-run-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


class ChannelError(Exception):
    """A worker could not be asked or did not answer."""


@dataclass(frozen=True)
class WorkerReply:
    """One worker's answer to a broadcast: ``result`` when ``ok``, else ``error``."""

    worker: str
    pid: int
    ok: bool
    result: dict[str, Any]
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"worker": self.worker, "pid": self.pid, "ok": self.ok}
        if self.ok:
            out.update(self.result)
        else:
            out["error"] = self.error
        return out


class WorkerEndpoint:
    """The worker's side: answers actions on a Unix socket and publishes its description."""

    def __init__(self, run_dir: Path, worker_id: str, handlers: Mapping[str, Handler]) -> None:
        self.run_dir = Path(run_dir)
        self.worker_id = worker_id
        self.name = f"worker-{worker_id}"
        self.pid = os.getpid()
        self.socket_path = self.run_dir / f"{self.name}-{self.pid}.sock"
        self.info_path = self.run_dir / f"{self.name}.json"
        if len(os.fsencode(self.socket_path)) > _MAX_SOCKET_PATH:
            raise ChannelError(
                f"socket path {self.socket_path} is too long; set TMPDIR to a shorter directory"
            )
        self.handlers = dict(handlers)
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._started = time.time()

    def start(self) -> None:
        endpoint = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(_MAX_LINE)
                reply = endpoint.dispatch(line)
                self.wfile.write(json.dumps(reply, default=str).encode() + b"\n")

        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        server = socketserver.ThreadingUnixStreamServer(str(self.socket_path), _Handler)
        server.daemon_threads = True
        os.chmod(self.socket_path, 0o600)
        self._server = server
        threading.Thread(target=server.serve_forever, name="udn-worker-channel", daemon=True).start()

    def dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            action = request["action"]
            handler = self.handlers[action]
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": f"unknown or malformed request {line[:200]!r}"}
        try:
            return {"ok": True, "result": dict(handler(request.get("args") or {}))}
        except Exception as exc:
            log.exception("worker action %s failed", action)
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    def publish(self, info: Mapping[str, Any]) -> None:
        """Write this worker's description for the API processes (atomically)."""
        body = {
            **info,
            "worker": self.name,
            "pid": self.pid,
            "socket": str(self.socket_path),
            "started_at": self._started,
            "updated_at": time.time(),
        }
        atomic_write(self.info_path, json.dumps(body, default=str), mode=0o600)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()


class WorkerChannel:
    """The API process's side: find the workers and ask them all."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def workers(self) -> list[dict[str, Any]]:
        """Descriptions of the workers whose process is alive, by worker name."""
        found = []
        for path in sorted(self.run_dir.glob("worker-*.json")):
            try:
                info = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being replaced or removed right now
            if _alive(int(info.get("pid", 0))):
                found.append(info)
        return found

    def ask(
        self, info: Mapping[str, Any], action: str, args: Mapping[str, Any], timeout: float
    ) -> WorkerReply:
        name, pid = str(info.get("worker", "?")), int(info.get("pid", 0))
        try:
            reply = _request(str(info["socket"]), {"action": action, "args": dict(args)}, timeout)
        except (OSError, ValueError, KeyError) as exc:
            return WorkerReply(name, pid, False, {}, f"worker did not answer: {exc}")
        if not reply.get("ok"):
            return WorkerReply(name, pid, False, {}, str(reply.get("error", "unknown error")))
        return WorkerReply(name, pid, True, dict(reply.get("result") or {}))

    def broadcast(
        self, action: str, args: Mapping[str, Any] | None = None, timeout: float = 30.0
    ) -> list[WorkerReply]:
        """Ask every live worker at once; one reply per worker, failures included (never raises)."""
        workers = self.workers()
        if not workers:
            return []
        with ThreadPoolExecutor(max_workers=len(workers), thread_name_prefix="udn-channel") as pool:
            futures = [pool.submit(self.ask, w, action, args or {}, timeout) for w in workers]
            return [f.result() for f in futures]


def _request(path: str, request: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(request).encode() + b"\n")
        with sock.makefile("rb") as stream:
            line = stream.readline(_MAX_LINE)
    if not line:
        raise ValueError("the worker closed the connection without answering")
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise ValueError("the worker's answer is not a JSON object")
    return reply


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
