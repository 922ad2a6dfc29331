"""``udn coordinator`` processes started by tests, and real nodes registered with them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.auth import ADMIN, ADMIN_TOKEN, NODE_TOKEN
from tests.support.cli import UDN
from tests.support.net import free_port
from tests.support.node import NodeProcess, start_node
from tests.support.polling import eventually
from universal_decoder_node.coordinator.limits import WINDOW

# Settings a test never inherits from the environment it runs in.
_CONTROLLED_ENV = (
    "REDIS_URL",
    "COORDINATOR_STATE_FILE",
    "COORDINATOR_MIRROR_INTERVAL",
    "UDN_STATE_SECRET",
    "UDN_NODE_TOKEN",
    "UDN_ADMIN_TOKEN",
    "UDN_CONFIG",
    "PROMETHEUS_MULTIPROC_DIR",
)
# Quick heartbeats and expiry, so tests about them take seconds; a generous Redis timeout, since
# a machine shared by several test suites can starve any process for a while.
FAST = {"heartbeat_interval": 1.0, "node_expiry": 8.0, "breaker_reset": 2.0, "redis_timeout": 5.0}
NODE_CONFIG = {"models": {"warmup": False}, "serving": {"threads": 1}}


@dataclass
class CoordinatorProcess:
    """A ``udn coordinator`` process started by a test."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    state_file: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> dict[str, Any]:
        response = httpx.get(self.url + "/status", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    def node_ids(self) -> set[str]:
        return {n["id"] for n in self.status()["nodes"]}

    def create_key(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(self.url + "/admin/keys", json=body, headers=ADMIN, timeout=10)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def coordinator_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without the coordinator's settings, with the test tokens and ``env`` added."""
    full = {k: v for k, v in os.environ.items() if k not in _CONTROLLED_ENV}
    full.update(
        {"UDN_NODE_TOKEN": NODE_TOKEN, "UDN_ADMIN_TOKEN": ADMIN_TOKEN, "PYTHONUNBUFFERED": "1"}, **(env or {})
    )
    return full


def start_coordinator(
    tmp_path: Path,
    config: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    wait: bool = True,
    timeout: float = 120,
) -> CoordinatorProcess:
    """Start ``udn coordinator`` on a free port (fast heartbeats) and wait until /health answers."""
    port = free_port()
    state_file = tmp_path / f"state-{port}.json"
    section = {"host": "127.0.0.1", "port": port, "state_file": str(state_file), **FAST}
    section.update((config or {}).get("coordinator", {}))
    conf = {**(config or {}), "coordinator": section}
    config_path = tmp_path / f"coordinator-{port}.yaml"
    config_path.write_text(yaml.safe_dump(conf))
    log_path = tmp_path / f"coordinator-{port}.log"
    full_env = coordinator_env(env)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*UDN, "coordinator", "--config", str(config_path)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=tmp_path,
        )
    coordinator = CoordinatorProcess(
        f"http://127.0.0.1:{port}", process, log_path, Path(str(section["state_file"])), full_env
    )
    if wait:
        try:
            eventually(
                lambda: _healthy(coordinator),
                timeout,
                lambda: f"the coordinator to start:\n{coordinator.log()}",
            )
        except AssertionError:
            coordinator.stop()
            raise
    return coordinator


def _healthy(coordinator: CoordinatorProcess) -> bool:
    if coordinator.process.poll() is not None:
        raise AssertionError(
            f"coordinator exited with {coordinator.process.returncode}:\n{coordinator.log()}"
        )
    try:
        return httpx.get(coordinator.url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_registered_node(
    tmp_path: Path,
    coordinator: CoordinatorProcess,
    node_id: str,
    timeout: float = 180,
    args: list[str] | None = None,
    tls_ca: str | None = None,
    env: dict[str, str] | None = None,
) -> NodeProcess:
    """A real node with the bundled models, registered with ``coordinator`` as ``node_id``.

    ``args`` go to ``udn serve`` as well; ``tls_ca`` and ``env`` as in ``start_node``.
    """
    node = start_node(
        tmp_path,
        {**NODE_CONFIG, "registration": {"node_id": node_id}},
        env={"UDN_NODE_TOKEN": NODE_TOKEN, **(env or {})},
        args=["--coordinator", coordinator.url, *(args or [])],
        ready_timeout=timeout,
        tls_ca=tls_ca,
    )
    try:
        eventually(
            lambda: node_id in coordinator.node_ids(),
            30,
            lambda: f"node {node_id} to register:\n{node.log()}\n{coordinator.log()}",
        )
    except BaseException:
        node.stop()  # a failed start must not leave a node running into the next tests
        raise
    return node


@dataclass
class Cluster:
    """One coordinator on the shared Redis, with two real nodes registered through it."""

    redis_url: str
    prefix: str
    coordinator: CoordinatorProcess
    nodes: dict[str, NodeProcess]
    tmp_path: Path

    def replica(self, **coordinator_config: Any) -> CoordinatorProcess:
        """Another coordinator sharing this cluster's Redis state."""
        return start_coordinator(
            self.tmp_path,
            {"coordinator": {"redis_prefix": self.prefix, **coordinator_config}},
            env={"REDIS_URL": self.redis_url},
        )


def away_from_a_window_edge(margin: float = 5.0) -> None:
    """Counts are per minute: start a burst where it cannot straddle two windows."""
    into = time.time() % WINDOW
    if into > WINDOW - margin:
        # The condition is the wall clock itself, so sleeping until the next window is waiting on it.
        time.sleep(WINDOW - into + 0.05)
