"""Fixtures shared by every test directory: a real node process on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import NodeProcess, start_node


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One node with the bundled models, shared by the tests that only talk to it."""
    proc = start_node(tmp_path_factory.mktemp("node"), {"serving": {"max_batch_size": 32}})
    yield proc
    proc.stop()
