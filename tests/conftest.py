"""Shared fixtures: real node processes on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
UDN = [sys.executable, "-m", "universal_decoder_node.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RawConnection:
    """One client connection to 127.0.0.1:``port`` that sends exactly the bytes a test writes.

    Unlike httpx, it never opens a second connection behind the test's back, so a test can
    check that a server keeps a connection serving after an error.
    """

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = self.sock.makefile("rb")

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """The next response: status, headers (names lower-cased) and body (by Content-Length)."""
        status_line = self.reader.readline()
        assert status_line, "the connection closed without an answer"
        headers = {}
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.lower()] = value.strip()
        body = self.reader.read(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body


def http_request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """An HTTP/1.1 request for ``RawConnection.send``: Host 127.0.0.1 and Content-Length added."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class NodeProcess:
    """A ``udn serve`` process started by a test."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    verify: ssl.SSLContext | bool = True  # for httpx: trusts the CA of a node serving TLS

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def group_pids(self) -> list[int]:
        """Live processes of this node: ``udn serve`` runs in its own session, so its group."""
        pids = []
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) == self.process.pid and proc.status() != psutil.STATUS_ZOMBIE:
                    pids.append(proc.pid)
            except (ProcessLookupError, psutil.Error):
                continue
        return pids

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM the node (it shuts its workers down), then SIGKILL whatever is left of it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.group_pids():  # never leak workers into the next test, whatever the node did
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode


def start_node(
    tmp_path: Path,
    config: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    ready_timeout: float = 180,
    wait_ready: bool = True,
    tls_ca: str | None = None,
    port: int | None = None,
) -> NodeProcess:
    """Start ``udn serve`` with ``config`` and wait until /ready answers 200.

    ``port``: a free one by default.
    ``tls_ca``: the node serves HTTPS (pass ``--ssl-*`` in ``args``); trust this CA file.
    """
    port = port or free_port()
    conf = {"serving": {"port": port, "host": "127.0.0.1"}}
    for section, values in (config or {}).items():
        conf.setdefault(section, {}).update(values)
    conf["serving"]["port"] = port
    config_path = tmp_path / f"node-{port}.yaml"
    config_path.write_text(yaml.safe_dump(conf))
    log_path = tmp_path / f"node-{port}.log"
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    full_env.pop("UDN_CONFIG", None)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*UDN, "serve", "--config", str(config_path), *(args or [])],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=tmp_path,
            start_new_session=True,
        )
    scheme = "https" if tls_ca else "http"
    verify = ssl.create_default_context(cafile=tls_ca) if tls_ca else True
    node = NodeProcess(f"{scheme}://127.0.0.1:{port}", process, log_path, full_env, verify)
    if wait_ready:
        wait_until_ready(node, ready_timeout)
    return node


def wait_until_ready(node: NodeProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise AssertionError(f"node exited with {node.process.returncode}:\n{node.log()}")
        try:
            if httpx.get(node.url + "/ready", timeout=2, verify=node.verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    node.stop()
    raise AssertionError(f"node not ready after {timeout}s:\n{node.log()}")


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One node with the bundled models, shared by the tests that only talk to it."""
    proc = start_node(tmp_path_factory.mktemp("node"), {"serving": {"max_batch_size": 32}})
    yield proc
    proc.stop()
