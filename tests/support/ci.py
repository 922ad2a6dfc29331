"""The one rule for tests that need a service or tool this machine may lack: they must run in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str, in_ci: str = "") -> NoReturn:
    """Fail when ``CI`` is set (with ``in_ci`` added: what CI should have done), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason + in_ci)
    pytest.skip(reason)
