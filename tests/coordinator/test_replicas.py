"""Two coordinators sharing one Redis, with a real node registered with both: one is SIGKILLed under
load, and the other keeps routing to the node, which keeps heartbeating it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import redis

from tests.support import (
    FAST,
    NODE_CONFIG,
    NODE_TOKEN,
    TEXT,
    CoordinatorProcess,
    Load,
    eventually,
    start_coordinator,
    start_node,
)
from universal_decoder_node.coordinator.records import NodeRecord


def seen_at(redis_url: str, prefix: str, node_id: str) -> float | None:
    """When a coordinator last took the node's heartbeat, as recorded in Redis."""
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.hget(prefix + "nodes", node_id)
    finally:
        client.close()
    return None if raw is None else NodeRecord.model_validate_json(raw).seen_at


def test_the_surviving_coordinator_keeps_routing_to_a_node_registered_with_both(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    shared = {"coordinator": {"redis_prefix": redis_prefix}}
    coordinators: list[CoordinatorProcess] = []
    node = None
    try:
        for _ in range(2):
            coordinators.append(start_coordinator(tmp_path, shared, env={"REDIS_URL": redis_url}))
        doomed, survivor = coordinators
        node = start_node(
            tmp_path,
            {**NODE_CONFIG, "registration": {"node_id": "both"}},
            env={"UDN_NODE_TOKEN": NODE_TOKEN},
            args=["--coordinator", f"{doomed.url},{survivor.url}/"],
        )
        eventually(
            lambda: all("both" in c.node_ids() for c in coordinators),
            30,
            lambda: f"the node to register with both:\n{node.log()}",
        )

        with Load(survivor.url, clients=2) as load:
            eventually(lambda: len(load.codes) >= 5, 60, "a request to be answered before the kill")
            doomed.process.kill()  # SIGKILL: no clean shutdown
            doomed.process.wait(10)
            killed_at = time.time()
            # Without a heartbeat the node would expire node_expiry seconds after the kill: wait
            # until Redis holds a heartbeat taken after that point (only the survivor can take it).
            expired_by = killed_at + FAST["node_expiry"] + FAST["heartbeat_interval"]
            eventually(
                lambda: (seen_at(redis_url, redis_prefix, "both") or 0) > expired_by,
                60,
                lambda: f"a heartbeat taken after the kill:\n{node.log()}\n{survivor.log()}",
            )
            load.more(5)
        assert load.failures == [], load.failures[:5]
        assert set(load.codes) == {200}
        assert f"heartbeat to {doomed.url}/nodes/both failed" in node.log()
        assert "both" in survivor.node_ids()
        after = httpx.post(survivor.url + "/translate", json=TEXT, timeout=30)
        assert after.status_code == 200 and after.json()["translatedText"], after.text

        # A clean stop still deregisters from the survivor, the dead coordinator notwithstanding.
        node.stop()
        eventually(
            lambda: "both" not in survivor.node_ids(),
            30,
            lambda: f"the node to deregister:\n{survivor.log()}",
        )
    finally:
        if node is not None:
            node.stop()
        for coordinator in coordinators:
            coordinator.stop()
