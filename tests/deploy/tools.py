"""What the deployment tests run: the repository's files, the venv's tools, podman and compose."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from tests.support.ci import unavailable

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
VENV_BIN = Path(sys.executable).parent
# scripts/ensure-podman.sh makes this image with debootstrap: no registry is reachable in CI.
BASE_IMAGE = os.environ.get("UDN_TEST_BASE_IMAGE", "localhost/udn-debian:bookworm-1")


def missing(what: str) -> NoReturn:
    """Fail in CI (the deployment tests must run there), skip elsewhere."""
    unavailable(f"{what}; scripts/ensure-podman.sh installs it (scripts/test.sh runs it)")


def tool(name: str) -> str:
    """The path of a command from the venv or PATH; fails in CI, skips elsewhere, when it is missing."""
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed")
    assert found is not None
    return found


def run(
    args: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command in the repository; its output comes back as text, whatever its exit status."""
    return subprocess.run(
        args,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def compose(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """podman-compose on compose.yaml with ``env`` (image names, ports, tokens, project name)."""
    tool("podman")  # podman-compose asks it for its version, even for `config`
    return run([tool("podman-compose"), "-f", str(REPO / "compose.yaml"), *args], timeout, env)
