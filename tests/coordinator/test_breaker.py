"""The circuit breaker's states, driven by an explicit clock."""

from __future__ import annotations

from universal_decoder_node.coordinator.breaker import CircuitBreaker, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(3, 5.0, Clock())
    breaker.on_failure()
    breaker.on_failure()
    breaker.on_success()  # resets the run of failures
    breaker.on_failure()
    breaker.on_failure()
    assert breaker.state is CircuitState.CLOSED and breaker.available()
    breaker.on_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.available()


def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock)
    breaker.on_failure()
    assert breaker.retry_after() == 5.0
    clock.now += 5.0
    assert breaker.state is CircuitState.HALF_OPEN and breaker.available()
    breaker.on_send()
    assert not breaker.available()  # the probe is out; nobody else gets through
    breaker.on_success()
    assert breaker.state is CircuitState.CLOSED and breaker.available()


def test_failed_probe_opens_again_for_a_full_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 5.0, clock)
    for _ in range(3):
        breaker.on_failure()
    clock.now += 6.0
    breaker.on_send()
    breaker.on_failure()
    assert breaker.state is CircuitState.OPEN
    assert breaker.retry_after() == 5.0


def test_abandoned_probe_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 1.0, clock)
    breaker.on_failure()
    clock.now += 1.0
    breaker.on_send()
    breaker.on_abandon()
    assert breaker.state is CircuitState.HALF_OPEN and breaker.available()
