"""Fixtures shared by every test directory: a real node process on loopback, a CTranslate2 model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import NodeProcess, start_node
from tests.support.ct2_model import build_ct2_model


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One node with the bundled models, shared by the tests that only talk to it."""
    proc = start_node(tmp_path_factory.mktemp("node"), {"serving": {"max_batch_size": 32}})
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def ct2_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight CTranslate2 model (OPUS-MT layout), built once per session; never modify it."""
    return build_ct2_model(tmp_path_factory.mktemp("ct2") / "en-xx")
