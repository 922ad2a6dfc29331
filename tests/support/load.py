"""Steady translation traffic through a coordinator, recording every answer, for fault tests."""

from __future__ import annotations

import threading
import time

import httpx

from tests.support.polling import eventually

TEXT = {"q": "Good morning, how are you today?", "source": "en", "target": "pt"}


class Load:
    """Clients translating through a coordinator until stopped (or a bounded time), recording every answer."""

    def __init__(
        self, url: str, clients: int = 3, max_seconds: float = 120, body: dict[str, str] | None = None
    ) -> None:
        self.url = url
        self.body = body or TEXT  # what each client sends to /translate, as JSON
        self.codes: list[int] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        self._lock = threading.Lock()

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _client(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                try:
                    response = client.post(self.url + "/translate", json=self.body)
                    code, failure = response.status_code, response.text
                except httpx.HTTPError as exc:
                    code, failure = -1, repr(exc)
                with self._lock:
                    self.codes.append(code)
                    if code != 200:
                        self.failures.append(f"{code}: {failure}")

    def more(self, count: int, timeout: float = 60) -> None:
        """Wait until ``count`` more answers have come back."""
        target = len(self.codes) + count
        eventually(
            lambda: len(self.codes) >= target,
            timeout,
            lambda: f"{count} more answers (the load stalled at {len(self.codes)})",
        )
