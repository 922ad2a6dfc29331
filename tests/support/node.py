"""``udn serve`` processes started by tests: on a free loopback port, each in its own session."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from tests.support.cli import UDN
from tests.support.net import free_port
from tests.support.polling import eventually


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
    # A developer's own Argos packages (ARGOS_PACKAGES_DIR, or Argos's folder under
    # XDG_DATA_HOME) would be served too: the node sees only what the test gives it.
    isolated = {"XDG_DATA_HOME": str(tmp_path / "xdg-data")}
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **isolated, **(env or {})}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    full_env.pop("UDN_CONFIG", None)
    if "ARGOS_PACKAGES_DIR" not in (env or {}):
        full_env.pop("ARGOS_PACKAGES_DIR", None)
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
    """Wait until the node's /ready answers 200; fail (and stop the node) if it exits or times out."""

    def ready() -> bool:
        if node.process.poll() is not None:
            raise AssertionError(f"node exited with {node.process.returncode}:\n{node.log()}")
        try:
            return httpx.get(node.url + "/ready", timeout=2, verify=node.verify).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually(ready, timeout, lambda: f"the node to be ready:\n{node.log()}", interval=0.2)
    except AssertionError:
        node.stop()
        raise
