"""The state store against a real Redis: reading through, reconciling, falling back to the file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from tests.support import RedisServer
from tests.support.records import key, node
from universal_decoder_node.config import CoordinatorSettings
from universal_decoder_node.coordinator.records import KeyRecord, NodeRecord
from universal_decoder_node.coordinator.snapshot import Snapshot, read_snapshot, write_snapshot
from universal_decoder_node.coordinator.state import StateStore, StateWriteFailed


def settings(
    tmp_path: Path, redis_url: str | None, prefix: str = "x:", name: str = "state.json"
) -> CoordinatorSettings:
    return CoordinatorSettings(
        redis_url=redis_url, redis_prefix=prefix, redis_timeout=5, state_file=tmp_path / name
    )


def redis_hash(url: str, name: str) -> dict[str, str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return dict(client.hgetall(name))
    finally:
        client.close()


def test_writes_go_to_redis_and_other_stores_see_them(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async def scenario() -> None:
        a = StateStore(settings(tmp_path, redis_url, redis_prefix, "a.json"))
        b = StateStore(settings(tmp_path, redis_url, redis_prefix, "b.json"))
        await a.start()
        await b.start()
        assert a.redis_available and b.redis_available
        await a.put_node(node("n1"))
        await a.put_key(key())
        await b.refresh()
        assert set(b.nodes) == {"n1"}
        assert await b.get_key("a" * 64) == key()
        assert await b.remove_node("n1")
        await a.refresh()
        assert a.nodes == {}
        await a.close()
        await b.close()

    asyncio.run(scenario())


def test_reconcile_never_overwrites_newer_redis_state(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    newer_node = node("n1", seen_at=500.0)
    revoked = key(updated_at=5.0, revoked_at=5.0)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.hset(redis_prefix + "nodes", "n1", newer_node.model_dump_json())
    client.hset(redis_prefix + "keys", "a" * 64, revoked.model_dump_json())
    client.close()
    # An older snapshot: n1 last seen earlier, and the key not revoked (though edited later).
    state = tmp_path / "state.json"
    write_snapshot(
        state,
        Snapshot(
            version=3,
            written_at=100.0,
            nodes={"n1": node("n1", seen_at=100.0), "n2": node("n2", seen_at=90.0)},
            keys={"a" * 64: key(updated_at=50.0), "b" * 64: key(digest="b" * 64)},
        ),
    )

    async def scenario() -> StateStore:
        store = StateStore(settings(tmp_path, redis_url, redis_prefix))
        await store.start()
        await store.close()
        return store

    store = asyncio.run(scenario())
    nodes = redis_hash(redis_url, redis_prefix + "nodes")
    keys = redis_hash(redis_url, redis_prefix + "keys")
    assert NodeRecord.model_validate_json(nodes["n1"]).seen_at == 500.0  # Redis's newer copy stands
    assert NodeRecord.model_validate_json(nodes["n2"]).seen_at == 90.0  # missing there: pushed
    assert KeyRecord.model_validate_json(keys["a" * 64]).revoked  # revocation stands
    assert "b" * 64 in keys  # a key only the snapshot had is restored
    assert store.nodes["n1"].seen_at == 500.0 and store.keys["a" * 64].revoked
    assert store.mirror_version == 3


def test_start_with_redis_down_serves_the_snapshot_then_reconciles(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    write_snapshot(
        tmp_path / "state.json",
        Snapshot(version=1, written_at=1.0, nodes={"old": node("old", 10.0), "gone": node("gone", 10.0)}),
    )
    own_redis.stop()

    async def scenario() -> StateStore:
        store = StateStore(settings(tmp_path, own_redis.url))
        await store.start()
        assert not store.redis_available
        assert set(store.nodes) == {"old", "gone"}  # serving from the snapshot at once
        # While Redis is away: a heartbeat, a deregistration, a new key; all kept locally.
        await store.put_node(node("fresh", seen_at=1000.0))
        assert await store.remove_node("gone")
        await store.put_key(key())
        assert await store.get_key("a" * 64) == key()
        assert await store.mirror()
        own_redis.start()
        # Meanwhile another replica wrote a newer copy of "old" and re-registered "gone" after we dropped it.
        client = redis.Redis.from_url(own_redis.url, decode_responses=True)
        client.hset("x:nodes", "old", node("old", seen_at=2000.0).model_dump_json())
        client.hset("x:nodes", "gone", node("gone", seen_at=5.0).model_dump_json())  # older than our removal
        client.close()
        assert await store.reconnect()
        await store.close()
        return store

    store = asyncio.run(scenario())
    nodes = redis_hash(own_redis.url, "x:nodes")
    assert set(nodes) == {"old", "fresh"}
    assert NodeRecord.model_validate_json(nodes["old"]).seen_at == 2000.0
    assert "a" * 64 in redis_hash(own_redis.url, "x:keys")
    assert store.redis_available and set(store.nodes) == {"old", "fresh"}


def test_losing_redis_midway_keeps_the_store_working(tmp_path: Path, own_redis: RedisServer) -> None:
    async def scenario() -> None:
        store = StateStore(settings(tmp_path, own_redis.url))
        await store.start()
        await store.put_key(key())
        await store.put_node(node("n1"))
        own_redis.stop()
        assert await store.get_key("a" * 64) == key()  # from this process's copy
        assert not store.redis_available
        await store.put_node(node("n2"))
        assert set(store.nodes) == {"n1", "n2"}
        assert await store.mirror()
        assert store.mirror_error is None
        await store.close()

    asyncio.run(scenario())
    snapshot = read_snapshot(tmp_path / "state.json")
    assert snapshot is not None and set(snapshot.nodes) == {"n1", "n2"}


def test_file_only_mode_keeps_keys_across_a_restart(tmp_path: Path) -> None:
    async def scenario() -> tuple[StateStore, StateStore]:
        first = StateStore(settings(tmp_path, None))
        await first.start()
        assert first.mode == "file"
        await first.put_key(key())  # written to the file before it returns
        await first.put_node(node("n1", seen_at=1.0))
        await first.mirror()
        second = StateStore(settings(tmp_path, None))
        await second.start()
        return first, second

    first, second = asyncio.run(scenario())
    assert second.keys == first.keys
    assert second.nodes["n1"].seen_at > 1.0  # a known node gets a fresh expiry period after a restart
    assert second.mirror_version == first.mirror_version


def test_a_corrupt_snapshot_is_set_aside_and_nothing_in_it_is_used(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    write_snapshot(state, Snapshot(version=4, written_at=1.0, nodes={"n1": node()}, keys={"a" * 64: key()}))
    state.write_text(state.read_text().replace("en-pt", "en-de", 1))

    async def scenario() -> StateStore:
        store = StateStore(settings(tmp_path, None))
        await store.start()
        return store

    store = asyncio.run(scenario())
    assert store.nodes == {} and store.keys == {}
    assert store.snapshot_error is not None and "fails its checksum" in store.snapshot_error
    kept = list(tmp_path.glob("state.json.corrupt-*"))
    assert len(kept) == 1 and "en-de" in kept[0].read_text()


def test_prune_removes_expired_nodes_from_redis(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    async def scenario() -> list[str]:
        store = StateStore(settings(tmp_path, redis_url, redis_prefix))
        await store.start()
        await store.put_node(node("stale", seen_at=10.0))
        await store.put_node(node("live", seen_at=1000.0))
        gone = await store.prune_nodes(lambda n: n.seen_at >= 100.0, cutoff=100.0)
        await store.close()
        return gone

    assert asyncio.run(scenario()) == ["stale"]
    assert set(redis_hash(redis_url, redis_prefix + "nodes")) == {"live"}


def test_concurrent_mirror_writes_are_serialised(tmp_path: Path) -> None:
    async def scenario() -> list[bool]:
        store = StateStore(settings(tmp_path, None))
        await store.start()
        await store.put_node(node("n1"))
        return list(await asyncio.gather(*(store.mirror() for _ in range(6))))

    assert asyncio.run(scenario()) == [True] * 6
    snapshot = read_snapshot(tmp_path / "state.json")
    assert snapshot is not None and snapshot.version == 6 and set(snapshot.nodes) == {"n1"}


def test_a_key_change_the_file_cannot_take_is_refused_and_not_applied(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state file's directory should be")

    async def scenario() -> StateStore:
        store = StateStore(CoordinatorSettings(state_file=blocker / "state.json", state_secret="s" * 16))
        await store.start()
        with pytest.raises(StateWriteFailed, match="the key change was not made: cannot write state file"):
            await store.put_key(key())
        return store

    store = asyncio.run(scenario())
    assert store.keys == {} and store.mirror_error is not None
