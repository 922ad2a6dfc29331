"""Fixtures shared by every test directory: a real node process on loopback, CTranslate2 models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


@pytest.fixture(scope="session")
def ct2_seeded(tmp_path_factory: pytest.TempPathFactory, ct2_model: Path) -> Callable[[int], Path]:
    """Tiny CTranslate2 models of other seeds (other weights, the same SentencePiece model), each built
    once per session on first use; seed 1 is ``ct2_model``. Never modify them."""
    built = {1: ct2_model}

    def model(seed: int) -> Path:
        if seed not in built:
            built[seed] = build_ct2_model(tmp_path_factory.mktemp(f"ct2-seed{seed}") / "model", seed=seed)
        return built[seed]

    return model
