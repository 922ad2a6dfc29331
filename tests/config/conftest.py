"""Fixtures for the settings tests."""

from __future__ import annotations

import os

import pytest

from universal_decoder_node.config import SPEC_ENV_NAMES


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting leaks in from the environment the tests run in."""
    for name in list(os.environ):
        if name.startswith("UDN_") or name in SPEC_ENV_NAMES:
            monkeypatch.delenv(name)
