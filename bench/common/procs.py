"""Process helpers shared by the benchmarks: free ports, starting servers, CPU time, pausing, Redis."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis
import yaml

UDN = [sys.executable, "-m", "universal_decoder_node.cli"]

# Left out of a server's environment unless a benchmark sets them: the caller's own settings
# would otherwise change what is measured.
_INHERITED_NOT = (
    "PROMETHEUS_MULTIPROC_DIR",
    "UDN_CONFIG",
    "REDIS_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SDK_DISABLED",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` (an ``httpx.HTTPError`` counts as not yet) until true; else exit with ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if condition():
                return
        time.sleep(0.1)
    raise SystemExit(f"bench: {what} within {timeout:g} s")


def start_server(
    name: str,
    workdir: Path,
    command: list[str],
    env: dict[str, str],
    url: str,
    ready_path: str = "/ready",
    ready_timeout: float = 180,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session (output to ``workdir/name.log``); wait until ready."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for key in _INHERITED_NOT:
        full_env.pop(key, None)
    full_env.update(env)
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=workdir, start_new_session=True
        )
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited: {log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + ready_path, timeout=2).status_code == 200:
                return proc
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit(f"{name} was not ready within {ready_timeout:g} s: {log_path.read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a node shuts its whole tree down on it), then kill the process group if it lingers."""
    if proc.poll() is None:
        resume(proc.pid)
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Server:
    """A ``udn`` process a benchmark started: where it listens, and the process to pause or stop."""

    url: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        stop_server(self.process)


def _start_udn(
    verb: str,
    name: str,
    workdir: Path,
    config: dict[str, Any],
    env: dict[str, str] | None,
    args: list[str],
    command: list[str],
    ready_path: str,
    ready_timeout: float,
) -> Server:
    section = "serving" if verb == "serve" else "coordinator"
    port = free_port()
    config = {**config, section: {**config.get(section, {}), "port": port}}
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{port}"
    full = [*command, verb, "--config", str(path), *args]
    return Server(url, port, start_server(name, workdir, full, env or {}, url, ready_path, ready_timeout))


def start_node(
    name: str,
    workdir: Path,
    config: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    command: list[str] = UDN,
    ready_timeout: float = 180,
) -> Server:
    """``udn serve`` on a free port with ``config`` (YAML sections), ready when ``/ready`` answers 200.

    ``command`` replaces ``python -m universal_decoder_node.cli`` (the verb and ``--config`` follow).
    """
    return _start_udn("serve", name, workdir, config or {}, env, args or [], command, "/ready", ready_timeout)


def start_coordinator(
    name: str, workdir: Path, config: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> Server:
    """``udn coordinator`` on a free port with ``config``, ready when ``/health`` answers 200."""
    return _start_udn("coordinator", name, workdir, config or {}, env, [], UDN, "/health", 180)


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants (workers, API servers)."""
    total = 0.0
    for proc in _tree(pid):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def pause(pid: int) -> None:
    """Stop a server's whole process tree, so an idle server takes no CPU from the one measured."""
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error):
            proc.suspend()


def resume(pid: int) -> None:
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error):
            proc.resume()


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def shared_redis() -> str | None:
    """``REDIS_URL``, else 127.0.0.1:6379, when it answers; None when neither does.

    A benchmark using it keeps to keys under a prefix of its own and deletes them afterwards.
    """
    for url in (os.environ.get("REDIS_URL"), "redis://127.0.0.1:6379/0"):
        if url and _redis_answers(url):
            return url
    return None


@contextlib.contextmanager
def redis_for_bench(workdir: Path) -> Iterator[str]:
    """A ``redis-server`` of its own on a free port (nothing shared is touched), else ``shared_redis``."""
    binary = shutil.which("redis-server")
    if binary is None:
        url = shared_redis()
        if url is None:
            raise SystemExit("bench: no Redis (no redis-server on PATH, REDIS_URL and 6379 do not answer)")
        yield url
        return
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _redis_answers(url), 10, "redis-server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
