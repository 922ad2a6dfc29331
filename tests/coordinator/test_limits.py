"""Per-key limits: exact under concurrency across replicas (Redis), also after Redis restarts; per
process without Redis."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support import (
    CoordinatorProcess,
    RedisServer,
    away_from_a_window_edge,
    eventually,
    start_coordinator,
)
from tests.support.records import key
from universal_decoder_node.config import CoordinatorSettings
from universal_decoder_node.coordinator.limits import WINDOW, RateLimiter
from universal_decoder_node.coordinator.records import KeyRecord
from universal_decoder_node.coordinator.state import StateStore


def limited(rpm: int | None = None, cpm: int | None = None) -> KeyRecord:
    return key().model_copy(update={"requests_per_minute": rpm, "characters_per_minute": cpm})


def replicas(tmp_path: Path, redis_url: str, prefix: str) -> tuple[StateStore, StateStore]:
    return tuple(  # type: ignore[return-value]
        # A generous timeout: on a starved machine a slow answer must not count as Redis lost.
        StateStore(
            CoordinatorSettings(redis_url=redis_url, redis_prefix=prefix, redis_timeout=5, state_file=path)
        )
        for path in (tmp_path / "a.json", tmp_path / "b.json")
    )


def test_request_limit_is_exact_across_two_replicas(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    async def scenario() -> list[bool]:
        stores = replicas(tmp_path, redis_url, redis_prefix)
        for store in stores:
            await store.start()
        limiters = [RateLimiter(store, store.config) for store in stores]
        record = limited(rpm=10)
        away_from_a_window_edge()
        decisions = await asyncio.gather(*(limiters[i % 2].admit(record, 5) for i in range(40)))
        for store in stores:
            await store.close()
        assert all(d.retry_after >= 1 and d.limit == "requests" for d in decisions if not d.allowed)
        return [d.allowed for d in decisions]

    assert sum(asyncio.run(scenario())) == 10


def test_character_limit_counts_characters(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    async def scenario() -> list[bool]:
        stores = replicas(tmp_path, redis_url, redis_prefix)
        for store in stores:
            await store.start()
        limiters = [RateLimiter(store, store.config) for store in stores]
        away_from_a_window_edge()
        decisions = await asyncio.gather(*(limiters[i % 2].admit(limited(cpm=100), 30) for i in range(10)))
        for store in stores:
            await store.close()
        return [d.allowed for d in decisions]

    assert sum(asyncio.run(scenario())) == 3


def test_unlimited_keys_pass(tmp_path: Path) -> None:
    store = StateStore(CoordinatorSettings(state_file=tmp_path / "s.json"))
    limiter = RateLimiter(store, store.config)
    assert all(asyncio.run(limiter.admit(limited(rpm=0, cpm=0), 10**6)).allowed for _ in range(3))


def test_the_configured_default_applies_when_a_key_has_none(tmp_path: Path) -> None:
    config = CoordinatorSettings(state_file=tmp_path / "s.json", requests_per_minute=2)
    limiter = RateLimiter(StateStore(config), config)
    assert limiter.limits_for(limited()) == (2, 0)
    assert limiter.limits_for(limited(rpm=5)) == (5, 0)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_local_counting_uses_a_sliding_window(tmp_path: Path) -> None:
    config = CoordinatorSettings(state_file=tmp_path / "s.json")
    clock = Clock(1000 * WINDOW + 59)  # one second before a window ends
    limiter = RateLimiter(StateStore(config), config, clock=clock)
    record = limited(rpm=10)

    def admitted(n: int) -> int:
        return sum(asyncio.run(limiter.admit(record, 1)).allowed for _ in range(n))

    assert admitted(12) == 10
    clock.now = 1001 * WINDOW + 1  # the previous window still weighs 59/60: no burst at the edge
    assert admitted(5) == 0
    clock.now = 1001 * WINDOW + 30  # half of it still counts: 5 of 10
    assert admitted(10) == 5
    clock.now = 1003 * WINDOW
    assert admitted(12) == 10


def test_falls_back_to_counting_locally_when_redis_goes_away(tmp_path: Path, own_redis: RedisServer) -> None:
    async def scenario() -> tuple[int, bool]:
        store = StateStore(CoordinatorSettings(redis_url=own_redis.url, state_file=tmp_path / "s.json"))
        await store.start()
        limiter = RateLimiter(store, store.config)
        own_redis.stop()
        away_from_a_window_edge()
        allowed = [(await limiter.admit(limited(rpm=3), 1)).allowed for _ in range(5)]
        await store.close()
        return sum(allowed), store.redis_available

    assert asyncio.run(scenario()) == (3, False)


def burst(coordinators: list[CoordinatorProcess], key: str, count: int) -> list[int]:
    """``count`` requests at once, alternating between ``coordinators``; their status codes."""

    def send(i: int) -> int:
        url = coordinators[i % len(coordinators)].url + "/translate"
        body = {"q": "Hello.", "source": "en", "target": "pt", "api_key": key}
        return httpx.post(url, json=body, timeout=60).status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


def redis_state(coordinator: CoordinatorProcess) -> dict[str, object]:
    return dict(coordinator.status()["state"])


def test_limits_stay_exact_after_redis_restarts(tmp_path: Path, own_redis: RedisServer) -> None:
    """Two coordinators, a key limited to 20 a minute; Redis is killed and started again on the same
    port, and once both coordinators use it again 50 parallel requests admit exactly 20, with one
    loss and one return of Redis each, however many of their pooled connections died with it."""
    limit, sent = 20, 50
    config = {"coordinator": {"require_api_key": True}}
    coordinators = [start_coordinator(tmp_path, config, env={"REDIS_URL": own_redis.url}) for _ in range(2)]
    try:
        warm = coordinators[0].create_key(name="fills the connection pools")["key"]
        key = coordinators[0].create_key(name="limited", requests_per_minute=limit)["key"]
        # No node runs here: an admitted request gets as far as routing (503), a refused one is a 429.
        assert set(burst(coordinators, warm, 40)) == {503}
        own_redis.kill()
        for coordinator in coordinators:
            eventually(
                lambda c=coordinator: not redis_state(c)["redis_available"], 15, "Redis loss to be noticed"
            )
        own_redis.start()  # empty, on the same port: every pooled connection is dead
        for coordinator in coordinators:
            eventually(
                lambda c=coordinator: redis_state(c)["redis_available"], 15, "Redis return to be noticed"
            )
        away_from_a_window_edge(margin=15)
        codes = burst(coordinators, key, sent)
        assert codes.count(503) == limit and codes.count(429) == sent - limit, codes
        # Redis stayed up after its return: nothing flapped.
        for coordinator in coordinators:
            assert_noticed_once(coordinator, as_loss=True)
    finally:
        for coordinator in coordinators:
            coordinator.stop()


def assert_noticed_once(coordinator: CoordinatorProcess, as_loss: bool = False) -> None:
    """Redis, restarted empty, is now in use, and the coordinator noticed the restart once: as one
    loss and return, or (when it never failed a call) as one restore of the state Redis lost."""
    state = redis_state(coordinator)
    log = coordinator.log()
    assert state["redis_available"], state
    losses, restores = log.count("lost Redis"), log.count("lost the coordinator's state")
    assert losses == state["redis_losses"] and losses + restores == 1, log
    assert losses == 1 or not as_loss, log
    assert log.count("is in use") == 2, log  # at start, then once after the restart


def test_a_quick_redis_restart_is_noticed_once_and_loses_no_key(
    tmp_path: Path, own_redis: RedisServer
) -> None:
    """Redis killed and started again at once (empty) between bursts through two coordinators: each
    notices the restart once, restores the keys Redis lost, and replaces every pooled connection
    that died with the old Redis without another loss."""
    coordinators = [start_coordinator(tmp_path, env={"REDIS_URL": own_redis.url}) for _ in range(2)]
    try:
        key = coordinators[0].create_key(name="unlimited")["key"]
        assert set(burst(coordinators, key, 40)) == {503}  # several pooled connections each
        own_redis.kill()
        own_redis.start()
        for _ in range(5):
            assert set(burst(coordinators, key, 40)) == {503}
        for coordinator in coordinators:
            eventually(
                lambda c=coordinator: redis_state(c)["redis_available"], 15, "Redis return to be noticed"
            )
        assert set(burst(coordinators, key, 40)) == {503}
        for coordinator in coordinators:
            assert_noticed_once(coordinator)
    finally:
        for coordinator in coordinators:
            coordinator.stop()
