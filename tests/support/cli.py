"""The ``udn`` command line, run in a fresh process as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
UDN = [sys.executable, "-m", "universal_decoder_node.cli"]


def udn(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``udn *args`` with ``env`` over this environment (``UDN_CONFIG`` dropped); its output as text."""
    full = {**os.environ, **env}
    full.pop("UDN_CONFIG", None)
    return subprocess.run([*UDN, *args], env=full, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    """``config`` as ``udn.yaml`` in ``tmp_path``."""
    path = tmp_path / "udn.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
