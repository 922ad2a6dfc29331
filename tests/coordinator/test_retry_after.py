"""Retry-After tells the truth: a refused request counts for nothing, and one sent after the
announced wait passes; on Redis (Redis's clock) and on the file state (this process's count)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.support import away_from_a_window_edge, start_coordinator
from tests.support.records import key
from universal_decoder_node.config import CoordinatorSettings
from universal_decoder_node.coordinator.limits import RateLimiter, wait_for, whole_seconds
from universal_decoder_node.coordinator.records import KeyRecord
from universal_decoder_node.coordinator.state import StateStore

SHORT = 3.0  # seconds: a window short enough to wait for in a test


def limited(rpm: int | None = None, cpm: int | None = None) -> KeyRecord:
    return key().model_copy(update={"requests_per_minute": rpm, "characters_per_minute": cpm})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fits(
    window: float, limit: int, need: int, previous: int, current: int, into: float, seconds: float
) -> bool:
    """Whether ``need`` fits under ``limit`` ``seconds`` from now (no admissions in between)."""
    at = into + seconds
    if at < window:
        return previous * (1 - at / window) + current + need <= limit
    return current * (1 - (at - window) / window) + need <= limit  # in the next window


def test_the_wait_is_the_first_moment_the_request_fits() -> None:
    """For many window states the announced wait is exact: just before it the request is still over
    the limit, at it the request fits."""
    rng = random.Random(7)
    window = 60.0
    for _ in range(5000):
        limit = rng.randint(1, 50)
        need = rng.randint(1, limit)
        previous, current = rng.randint(0, 2 * limit), rng.randint(0, limit)
        into = rng.uniform(0, window)
        wait = wait_for(window, limit, need, previous, current, into)

        state = (limit, need, previous, current, into)
        fits_after = partial(fits, window, *state)

        assert wait >= 0
        if wait == 0:
            assert fits_after(0)
            continue
        assert wait <= 2 * window
        assert not fits_after(max(0.0, wait - 1e-6)), (state, wait)
        assert fits_after(whole_seconds(wait)), (state, wait)


def test_file_state_early_retries_cost_nothing_and_the_announced_second_passes(tmp_path: Path) -> None:
    """A client that retries early, then at the announced time, on this process's count (a clock
    the test moves): every early retry is refused without moving the wait, the retry at the
    announced time passes, and over the run no more than the limit pass in any window."""
    config = CoordinatorSettings(state_file=tmp_path / "s.json")
    clock = Clock(1000 * 60.0 + 35)
    limiter = RateLimiter(StateStore(config), config, clock=clock)
    record = limited(rpm=4)
    admit = lambda: asyncio.run(limiter.admit(record, 10))  # noqa: E731
    assert all(admit().allowed for _ in range(4))
    admitted_at: list[float] = [clock.now] * 4
    for _ in range(12):
        refused = admit()
        assert not refused.allowed and refused.limit == "requests"
        due = clock.now + refused.retry_after
        for early in (0.25, 0.5, 0.9):  # early retries: refused, and the time to wait holds
            clock.now = due - refused.retry_after * (1 - early)
            again = admit()
            assert not again.allowed
            assert clock.now + again.retry_after <= due + 1e-9
        clock.now = due
        assert admit().allowed, "the request sent when Retry-After said was refused"
        admitted_at.append(clock.now)
    # Exact: never more than 4 admitted in a fixed minute window.
    per_window: dict[int, int] = {}
    for at in admitted_at:
        per_window[int(at // 60)] = per_window.get(int(at // 60), 0) + 1
    assert max(per_window.values()) <= 4


def test_characters_wait_for_the_room_the_request_needs(tmp_path: Path) -> None:
    config = CoordinatorSettings(state_file=tmp_path / "s.json")
    clock = Clock(2000 * 60.0 + 10)
    limiter = RateLimiter(StateStore(config), config, clock=clock)
    record = limited(cpm=100)
    assert asyncio.run(limiter.admit(record, 90)).allowed
    refused = asyncio.run(limiter.admit(record, 50))
    assert (refused.allowed, refused.limit) == (False, "characters")
    # 90 fall to 50 when 4/9 of the next window have passed: 50 s + 60 * (1 - 50/90) = 76.7 s.
    assert refused.retry_after == 77
    assert asyncio.run(limiter.admit(record, 10)).allowed  # a smaller request fits now
    clock.now += 77
    assert asyncio.run(limiter.admit(record, 50)).allowed is False  # the 10 took part of the room
    assert asyncio.run(limiter.usage(record)).characters == pytest.approx(100 * (1 - 27 / 60), abs=0.01)


def redis_limiters(tmp_path: Path, redis_url: str, prefix: str, count: int) -> list[RateLimiter]:
    stores = [
        StateStore(
            CoordinatorSettings(
                redis_url=redis_url, redis_prefix=prefix, redis_timeout=5, state_file=tmp_path / f"{i}.json"
            )
        )
        for i in range(count)
    ]
    return [RateLimiter(store, store.config, window=SHORT) for store in stores]


def wait_until(moment: float) -> None:
    """Redis's clock decides: the test waits for the wall clock itself to reach ``moment``."""
    time.sleep(max(0.0, moment - time.time()))


def test_redis_early_retries_cost_nothing_and_the_announced_second_passes(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """On Redis, with a 3 s window: bursts from two replicas at once admit exactly the limit, the
    early retries are refused and do not move the wait, and at the announced time a request passes."""

    async def scenario() -> None:
        limiters = redis_limiters(tmp_path, redis_url, redis_prefix, 2)
        for limiter in limiters:
            await limiter.store.start()
        try:
            record = limited(rpm=5)
            near_window_start(SHORT)
            for cycle in range(3):
                first = await asyncio.gather(*(limiters[i % 2].admit(record, 1) for i in range(30)))
                refused_at = time.time()
                # Exact under the burst: never more than the limit (earlier admissions weigh in).
                admitted = sum(d.allowed for d in first)
                assert admitted == 5 if cycle == 0 else admitted <= 1
                waits = [d.retry_after for d in first if not d.allowed]
                assert waits and all(1 <= w <= 2 * SHORT + 1 for w in waits)
                due = refused_at + min(waits)
                # The true wait lies in (Retry-After - 1, Retry-After]: retry well before it.
                if min(waits) >= 2:
                    wait_until(refused_at + (min(waits) - 1) / 2)
                    early = await asyncio.gather(*(limiters[i % 2].admit(record, 1) for i in range(10)))
                    assert not any(d.allowed for d in early), (cycle, waits, early)
                    assert all(time.time() + d.retry_after <= due + 1.5 for d in early)
                else:
                    assert cycle > 0  # the first refusal, at a window's start, waits for most of it
                wait_until(due)
                assert (await limiters[0].admit(record, 1)).allowed, "refused at the announced time"
        finally:
            for limiter in limiters:
                await limiter.store.close()

    asyncio.run(scenario())


def test_redis_burst_after_a_refusal_admits_exactly_what_fits(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """The refused half of a burst is not counted: the usage Redis holds is the admitted requests."""

    async def scenario() -> tuple[int, float]:
        limiters = redis_limiters(tmp_path, redis_url, redis_prefix, 2)
        for limiter in limiters:
            await limiter.store.start()
        try:
            record = limited(rpm=8)
            near_window_start(SHORT)
            decisions = await asyncio.gather(*(limiters[i % 2].admit(record, 3) for i in range(40)))
            usage = await limiters[1].usage(record)
            return sum(d.allowed for d in decisions), usage.requests
        finally:
            for limiter in limiters:
                await limiter.store.close()

    admitted, counted = asyncio.run(scenario())
    assert admitted == 8
    assert counted == pytest.approx(8)


def near_window_start(window: float) -> None:
    """Start a burst in the first tenth of a fresh window, with nothing from the previous one."""
    wait_until((time.time() // window + 2) * window + 0.01)


def limited_status(send: Callable[[], httpx.Response]) -> tuple[int, int, int]:
    """(status, Retry-After, the seconds the message names) of one request."""
    response = send()
    if response.status_code != 429:
        return response.status_code, 0, 0
    said = re.search(r"retry in (\d+)s", response.json()["error"])
    assert said, response.text
    return 429, int(response.headers["Retry-After"]), int(said.group(1))


def test_a_coordinator_on_the_file_state_says_the_same_in_header_and_message(tmp_path: Path) -> None:
    """Through a real coordinator (no Redis): a concurrent burst admits exactly the limit; refused
    requests carry Retry-After and the same figure in the message; early retries do not push it back."""
    coordinator = start_coordinator(tmp_path, {"coordinator": {"require_api_key": True}})
    try:
        api_key = coordinator.create_key(name="limited", requests_per_minute=2)["key"]
        body = {"q": "Hello.", "source": "en", "target": "pt", "api_key": api_key}
        send = lambda: httpx.post(coordinator.url + "/translate", json=body, timeout=30)  # noqa: E731
        away_from_a_window_edge(margin=15)
        # No node runs: an admitted request reaches routing (503), a refused one is a 429.
        with ThreadPoolExecutor(12) as pool:
            codes = sorted(pool.map(lambda _: send().status_code, range(24)))
        assert codes == [429] * 22 + [503] * 2  # a concurrent burst: exactly the limit passes
        first_at = time.time()
        status, header, message = limited_status(send)
        assert status == 429 and header == message and header >= 1
        for _ in range(5):
            status, again, said = limited_status(send)
            assert status == 429 and again == said
            assert time.time() + again <= first_at + header + 1.5
    finally:
        coordinator.stop()
