"""Fixtures for the translation page: one real node (the bundled Bergamot pairs and a random-weight
CTranslate2 pair, which gives alternatives) registered with a real coordinator that requires API
keys, and one real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from tests.support import (
    NODE_TOKEN,
    CoordinatorProcess,
    NodeProcess,
    eventually,
    start_coordinator,
    start_node,
)
from tests.support.browser import console_errors, start_chromium

CHAR_LIMIT = 300  # small, so the counter's limit can be reached by typing
CT2_OPTIONS = {
    "compute_type": "float32",
    "max_decoding_length": 16,
}  # float32: the same answer alone or batched


@pytest.fixture(scope="session")
def keyed_coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoordinatorProcess]:
    """A coordinator requiring API keys; no Redis, its state file holds the keys."""
    process = start_coordinator(
        tmp_path_factory.mktemp("coordinator"),
        {"coordinator": {"require_api_key": True}, "serving": {"max_text_chars": CHAR_LIMIT}},
    )
    yield process
    process.stop()


@pytest.fixture(scope="session")
def page_node(
    tmp_path_factory: pytest.TempPathFactory, ct2_model: Path, keyed_coordinator: CoordinatorProcess
) -> Iterator[NodeProcess]:
    config = {
        "serving": {"workers": 1, "threads": 2, "max_text_chars": CHAR_LIMIT},
        "models": {"pairs": {"en-xx": {"path": str(ct2_model), **CT2_OPTIONS}}},
        "registration": {"node_id": "page"},
    }
    process = start_node(
        tmp_path_factory.mktemp("node"),
        config,
        env={"UDN_NODE_TOKEN": NODE_TOKEN},
        args=["--coordinator", keyed_coordinator.url],
    )
    try:
        eventually(lambda: "page" in keyed_coordinator.node_ids(), 30, lambda: keyed_coordinator.log())
    except BaseException:
        process.stop()
        raise
    yield process
    process.stop()


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    session = start_chromium(downloads)
    yield session
    session.quit()


@pytest.fixture
def chromium(browser: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The browser for one test: a clean console and storage before, no console errors after."""
    console_errors(browser)
    yield browser
    errors = console_errors(browser)
    browser.execute_script("try { localStorage.clear(); } catch (e) {}")
    assert not errors, errors
