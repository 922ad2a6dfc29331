"""Process helpers shared by the benchmarks: free ports, starting servers, CPU time, pausing."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    name: str, workdir: Path, command: list[str], env: dict[str, str], url: str, ready_path: str = "/ready"
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session (output to ``workdir/name.log``); wait until ready."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for key in ("PROMETHEUS_MULTIPROC_DIR", "UDN_CONFIG", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"):
        full_env.pop(key, None)
    full_env.update(env)
    log_path = workdir / f"{name}.log"
    proc = subprocess.Popen(
        command,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=workdir,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited: {log_path.read_text()}")
        try:
            if httpx.get(url + ready_path, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit(f"{name} was not ready within 180 s: {log_path.read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a node shuts its whole tree down on it), then kill the process group if it lingers."""
    if proc.poll() is None:
        resume(proc.pid)
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


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
