"""The one way a test waits: poll a condition until it holds, never sleep for a guessed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None],
    timeout: float = 60,
    what: str | Callable[[], str] = "the condition to hold",
    interval: float = 0.1,
) -> T:
    """Call ``check()`` every ``interval`` seconds until it returns a truthy value, and return that value.

    Fails with an ``AssertionError`` after ``timeout`` seconds, saying ``what`` was awaited (pass a
    function to build the message only then, for example to attach a process's log). An exception
    raised by ``check`` ends the wait at once: a check fails fast that way, for instance when the
    process it waits for has exited.
    """
    give_up = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= give_up:
            message = what() if callable(what) else what
            raise AssertionError(f"gave up after {timeout:g}s waiting for {message}")
        time.sleep(interval)
