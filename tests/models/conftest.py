"""Fixtures for the model store and Hub tests: a Hub stand-in serving real Bergamot models."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakehub import FakeHub
from universal_decoder_node.engine import bundled_model_dirs

REPO = "test-org/uts-en-xx"
BROKEN_REPO = "test-org/uts-broken"
ADMIN_TOKEN = "test-admin-token"


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


def commit_of(hub: FakeHub, ref: str, repo: str = REPO) -> str:
    return hub.repos[repo].refs[ref]


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "udn.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def hub_env(tmp_path: Path, hub: FakeHub | None, **extra: str) -> dict[str, str]:
    """Environment for a node or CLI process: online against ``hub`` (offline when None), isolated caches."""
    env = {
        "HF_HOME": str(tmp_path / "hf-home"),
        "ADAPTER_DIR": str(tmp_path / "store"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "UDN_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    if hub is None:
        env["HF_HUB_OFFLINE"] = "1"
    else:
        env.update(HF_HUB_OFFLINE="0", HF_ENDPOINT=hub.url)
    env.update(extra)
    return env


def udn(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the ``udn`` command line in a fresh process."""
    full = {**os.environ, **env}
    full.pop("UDN_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "universal_decoder_node.cli", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
