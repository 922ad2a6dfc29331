"""Fixtures for the model store and Hub tests: a Hub stand-in serving real Bergamot models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fakehub import BROKEN_REPO, REPO, FakeHub
from universal_decoder_node.engine import bundled_model_dirs


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    """A Hub on loopback. ``test-org/uts-en-xx``: tag v1 is the real en->pt model, main the pt->en one.

    So a pair configured from this repository translates English to Portuguese at v1, and
    which model a node got says which revision it downloaded.
    """
    fake = FakeHub()
    dirs = bundled_model_dirs()
    fake.add_model_dir(REPO, dirs["en-pt"], refs=("v1",))
    fake.add_model_dir(REPO, dirs["pt-en"], refs=("main",))
    fake.add_model_dir(BROKEN_REPO, dirs["en-pt"])
    fake.start()
    yield fake
    fake.stop()
