"""Fixtures for the coordinator: a real Redis, real coordinator processes, real nodes registered with them.

Redis: ``REDIS_URL`` if set and answering, else 127.0.0.1:6379 if it answers PING, else a
``redis-server`` started here on a free port. With none of these the Redis tests fail when the
``CI`` environment variable is set and are skipped (saying why) elsewhere. Each test gets its own
key prefix, so tests sharing one Redis never see each other's keys. The helpers live in
``tests.support``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import (
    Cluster,
    NodeProcess,
    RedisServer,
    drop_prefix,
    eventually,
    new_prefix,
    no_redis,
    redis_answers,
    start_coordinator,
    start_redis_server,
    start_registered_node,
)


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
        eventually(
            lambda: httpx.get(coordinator.url + "/ready", timeout=2).status_code == 200,
            10,
            "the coordinator to be ready",
        )
        yield Cluster(redis_url, prefix, coordinator, nodes, tmp_path)
    finally:
        for node in nodes.values():
            node.stop()
        coordinator.stop()
        drop_prefix(redis_url, prefix)
