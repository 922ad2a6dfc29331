"""Faults, with real processes: a node killed or stopped under load, Redis lost under load, a cold
start with Redis down, a damaged state file, and the state file alone."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import httpx
import redis

from tests.support import (
    TEXT,
    Cluster,
    CoordinatorProcess,
    Load,
    RedisServer,
    eventually,
    free_port,
    start_coordinator,
    start_registered_node,
)
from universal_decoder_node.coordinator.records import KeyRecord, NodeRecord
from universal_decoder_node.coordinator.snapshot import Snapshot, read_snapshot, write_snapshot


def metric(coordinator: CoordinatorProcess, name: str) -> float:
    for line in httpx.get(coordinator.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_killing_a_node_under_load_costs_clients_nothing(cluster: Cluster) -> None:
    coordinator = cluster.coordinator
    node = start_registered_node(cluster.tmp_path, coordinator, "node-c")
    retries = metric(coordinator, "udn_coordinator_retries_total")
    with Load(coordinator.url, clients=4) as load:
        eventually(
            lambda: any(n["id"] == "node-c" and n["requests"] > 0 for n in coordinator.status()["nodes"]), 60
        )
        os.killpg(node.process.pid, signal.SIGKILL)  # the node and its workers, with no goodbye
        load.more(40)
    node.process.wait(10)
    assert load.failures == [], load.failures[:5]
    assert set(load.codes) == {200}
    assert metric(coordinator, "udn_coordinator_retries_total") > retries  # the failures were retried
    eventually(
        lambda: "node node-c expired" in coordinator.log() and "node-c" not in coordinator.node_ids(),
        30,
        "the killed node to expire",
    )


def test_a_node_that_stops_cleanly_deregisters_at_once(cluster: Cluster) -> None:
    node = start_registered_node(cluster.tmp_path, cluster.coordinator, "node-d")
    assert node.stop() == 0
    assert "node-d" not in cluster.coordinator.node_ids()
    # The graceful path ends the node's API server and inference worker too: nothing is orphaned.
    eventually(lambda: not _group_alive(node.process.pid), 20, "the node's processes to end")
    log = cluster.coordinator.log()
    assert "node node-d deregistered" in log and "node node-d expired" not in log


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_losing_redis_under_load(tmp_path: Path, own_redis: RedisServer) -> None:
    coordinator = start_coordinator(
        tmp_path, {"coordinator": {"mirror_interval": 5}}, env={"REDIS_URL": own_redis.url}
    )
    node = None
    try:
        node = start_registered_node(tmp_path, coordinator, "node-e")
        with Load(coordinator.url, clients=2) as load:
            load.more(5)
            own_redis.stop()
            eventually(
                lambda: not coordinator.status()["state"]["redis_available"],
                15,
                "the coordinator to notice Redis is lost",
            )
            key = coordinator.create_key(name="made while Redis was away")["key"]
            # Read after the key exists: a mirror written in between could predate the key.
            version = coordinator.status()["state"]["mirror_version"]
            load.more(10)  # routing goes on
            eventually(
                lambda: coordinator.status()["state"]["mirror_version"] > version,
                15,
                "the state file to be written while Redis is away",
            )
            snapshot = read_snapshot(coordinator.state_file)
            assert snapshot is not None and "node-e" in snapshot.nodes
            digest = hashlib.sha256(key.encode()).hexdigest()
            assert digest in snapshot.keys
            own_redis.start()  # empty: it keeps nothing on disk
            eventually(
                lambda: coordinator.status()["state"]["redis_available"],
                15,
                "the coordinator to notice Redis is back",
            )
            load.more(5)
        assert set(load.codes) == {200}, load.failures[:5]
        client = redis.Redis.from_url(own_redis.url, decode_responses=True)
        try:
            # Reconciled: what the coordinator learnt while Redis was away is in Redis now.
            assert "node-e" in client.hkeys("udn:coordinator:nodes")
            assert digest in client.hkeys("udn:coordinator:keys")
        finally:
            client.close()
    finally:
        if node is not None:
            node.stop()
        coordinator.stop()


def _snapshot_with(cluster: Cluster, path: Path, key: str) -> None:
    long_ago = time.time() - 3600  # older than any expiry: served anyway while Redis is down
    node = NodeRecord(
        id="node-a",
        url=cluster.nodes["node-a"].url,
        pairs_loaded=["en-pt", "pt-en"],
        pairs_available=["en-pt", "pt-en"],
        registered_at=long_ago,
        seen_at=long_ago,
    )
    record = KeyRecord(
        id="k_00000000abcd",
        name="from the snapshot",
        digest=hashlib.sha256(key.encode()).hexdigest(),
        created_at=long_ago,
        updated_at=long_ago,
    )
    write_snapshot(
        path, Snapshot(version=41, written_at=long_ago, nodes={"node-a": node}, keys={record.digest: record})
    )


def test_starts_hot_from_the_snapshot_when_redis_is_down(cluster: Cluster, tmp_path: Path) -> None:
    state = tmp_path / "hot.json"
    key = "udn_" + "h" * 43
    _snapshot_with(cluster, state, key)
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    coordinator = start_coordinator(
        tmp_path,
        {"coordinator": {"state_file": str(state), "require_api_key": True}},
        env={"REDIS_URL": dead_redis},
    )
    try:
        first = httpx.post(coordinator.url + "/translate", json={**TEXT, "api_key": key}, timeout=30)
        assert first.status_code == 200, first.text  # the very first request, with no heartbeat heard
        status = coordinator.status()["state"]
        assert status["mode"] == "redis" and not status["redis_available"]
        assert status["mirror_version"] >= 42
        assert "unreachable; serving from the state file" in coordinator.log()
    finally:
        coordinator.stop()


def test_a_damaged_snapshot_is_refused_and_nothing_is_served_from_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    state = tmp_path / "damaged.json"
    key = "udn_" + "d" * 43
    _snapshot_with(cluster, state, key)
    state.write_text(state.read_text().replace("from the snapshot", "from somewhere else"))
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    coordinator = start_coordinator(
        tmp_path, {"coordinator": {"state_file": str(state)}}, env={"REDIS_URL": dead_redis}
    )
    try:
        status = coordinator.status()
        assert "fails its checksum" in status["state"]["snapshot_error"]
        assert status["nodes"] == []
        refused = httpx.post(coordinator.url + "/translate", json=TEXT, timeout=30)
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
        assert httpx.post(coordinator.url + "/translate", json={**TEXT, "api_key": key}).status_code == 403
        assert "fails its checksum" in coordinator.log() and "nothing in it is used" in coordinator.log()
        kept = list(tmp_path.glob("damaged.json.corrupt-*"))
        assert len(kept) == 1 and "from somewhere else" in kept[0].read_text()
    finally:
        coordinator.stop()


def test_the_state_file_alone_keeps_keys_across_restarts(tmp_path: Path) -> None:
    config = {"coordinator": {"require_api_key": True}}
    first = start_coordinator(tmp_path, config)
    try:
        assert first.status()["state"]["mode"] == "file"
        key = first.create_key(name="kept")["key"]
    finally:
        first.stop()
    second = start_coordinator(
        tmp_path, {"coordinator": {"require_api_key": True, "state_file": str(first.state_file)}}
    )
    try:
        url = second.url + "/translate"
        # A valid key gets as far as routing (no node here: 503); an unknown one and none are refused.
        assert httpx.post(url, json={**TEXT, "api_key": key}, timeout=30).status_code == 503
        assert httpx.post(url, json={**TEXT, "api_key": "udn_unknown"}, timeout=30).status_code == 403
        missing = httpx.post(url, json=TEXT, timeout=30)
        assert missing.status_code == 401 and "API key is required" in missing.json()["error"]
    finally:
        second.stop()
