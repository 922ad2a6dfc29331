"""Fixtures for the coordinator: a real Redis, real coordinator processes, real nodes registered with them.

Redis: ``REDIS_URL`` if set and answering, else 127.0.0.1:6379 if it answers PING, else a
``redis-server`` started here on a free port. With none of these the Redis tests fail when the
``CI`` environment variable is set and are skipped (saying why) elsewhere. Each test gets its own
key prefix, so tests sharing one Redis never see each other's keys.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from tests.conftest import UDN, NodeProcess, free_port, start_node

NODE_TOKEN = "test-node-token"
ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
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


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def no_redis(reason: str) -> None:
    """Fail in CI (Redis tests must run there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; the Redis tests must run in CI")
    pytest.skip(reason)


@dataclass
class RedisServer:
    """A ``redis-server`` this test run started (and may stop and restart), keeping nothing on disk."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not on PATH"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [binary, *args, "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if redis_answers(self.url):
                return
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.process.returncode}")
            time.sleep(0.05)
        raise AssertionError(f"redis-server on port {self.port} did not answer within {timeout}s")

    def kill(self) -> None:
        """End the server at once (SIGKILL): its clients' connections die with it, unannounced."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def start_redis_server(directory: Path) -> RedisServer:
    if not shutil.which("redis-server"):
        no_redis("redis-server is not on PATH")
    server = RedisServer(free_port(), directory)
    server.start()
    return server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server for the session (see the module docstring for where it comes from)."""
    for url in (os.environ.get("REDIS_URL"), "redis://127.0.0.1:6379/0"):
        if url and redis_answers(url):
            yield url
            return
    if not shutil.which("redis-server"):
        no_redis("no Redis: REDIS_URL and 127.0.0.1:6379 do not answer, and redis-server is not on PATH")
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


def new_prefix() -> str:
    return f"udn-test:{uuid.uuid4().hex[:12]}:"


def drop_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=prefix + "*", count=500):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = new_prefix()
    yield prefix
    drop_prefix(redis_url, prefix)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop and restart."""
    server = start_redis_server(tmp_path)
    yield server
    server.stop()


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
        f"http://127.0.0.1:{port}", process, log_path, Path(section["state_file"]), full_env
    )
    if wait:
        try:
            wait_for(
                lambda: _healthy(coordinator), timeout, lambda: f"coordinator not up:\n{coordinator.log()}"
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


def wait_for(
    condition: Any, timeout: float, message: Any = "condition not met", interval: float = 0.1
) -> None:
    """Poll ``condition()`` until it is true; fail with ``message`` (or ``message()``) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(message() if callable(message) else message)


def start_registered_node(
    tmp_path: Path,
    coordinator: CoordinatorProcess,
    node_id: str,
    timeout: float = 180,
    args: list[str] | None = None,
    tls_ca: str | None = None,
) -> NodeProcess:
    """A real node with the bundled models, registered with ``coordinator`` as ``node_id``.

    ``args`` go to ``udn serve`` as well; ``tls_ca`` as in ``tests.conftest.start_node``.
    """
    node = start_node(
        tmp_path,
        {**NODE_CONFIG, "registration": {"node_id": node_id}},
        env={"UDN_NODE_TOKEN": NODE_TOKEN},
        args=["--coordinator", coordinator.url, *(args or [])],
        ready_timeout=timeout,
        tls_ca=tls_ca,
    )
    try:
        wait_for(
            lambda: node_id in coordinator.node_ids(),
            30,
            lambda: f"node {node_id} did not register:\n{node.log()}\n{coordinator.log()}",
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


@pytest.fixture(scope="session")
def cluster(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp_path = tmp_path_factory.mktemp("cluster")
    prefix = new_prefix()
    coordinator = start_coordinator(
        tmp_path, {"coordinator": {"redis_prefix": prefix}}, env={"REDIS_URL": redis_url}
    )
    nodes: dict[str, NodeProcess] = {}
    try:
        for node_id in ("node-a", "node-b"):
            nodes[node_id] = start_registered_node(tmp_path, coordinator, node_id)
        wait_for(lambda: httpx.get(coordinator.url + "/ready", timeout=2).status_code == 200, 10)
        yield Cluster(redis_url, prefix, coordinator, nodes, tmp_path)
    finally:
        for node in nodes.values():
            node.stop()
        coordinator.stop()
        drop_prefix(redis_url, prefix)
