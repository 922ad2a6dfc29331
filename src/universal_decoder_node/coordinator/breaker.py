"""A circuit breaker per node: stop sending to a node that keeps failing, probe it later.

Closed: requests flow; ``failure_threshold`` consecutive failures open it. Open: no requests
until ``reset_timeout`` seconds have passed, then it is half-open. Half-open: one probe request
at a time; its success closes the circuit, its failure opens it again for another period.
The coordinator runs on one event loop, so the breaker needs no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


class CircuitBreaker:
    def __init__(
        self, failure_threshold: int, reset_timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self.clock() - self._opened_at >= self.reset_timeout:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def available(self) -> bool:
        """Whether a request may be sent now (closed, or half-open with no probe out)."""
        state = self.state
        return state is CircuitState.CLOSED or (state is CircuitState.HALF_OPEN and not self._probing)

    def retry_after(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when it would now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_timeout - (self.clock() - self._opened_at))

    def on_send(self) -> None:
        """Call just before sending; in half-open state this request becomes the probe."""
        if self.state is CircuitState.HALF_OPEN:
            self._probing = True

    def on_success(self) -> None:
        self.failures = 0
        self._opened_at = None
        self._probing = False

    def on_failure(self) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.failure_threshold:
            self._opened_at = self.clock()
        self._probing = False

    def on_abandon(self) -> None:
        """The request ended with no verdict on the node (the client went away): free the probe slot."""
        self._probing = False
