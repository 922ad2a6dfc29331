"""How the benchmarks report: the machine they ran on, Markdown tables, JSON results."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from . import ROOT


def machine() -> str:
    """The machine in a few words: architecture, cores, memory."""
    memory = psutil.virtual_memory().total / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB"


def machine_line() -> str:
    """The line a benchmark prints first: the machine and its one-minute load average now.

    The benchmarks share the machine's cores with whatever else runs, so the load at start
    belongs with their figures.
    """
    return f"machine: {machine()}; load average at start: {os.getloadavg()[0]:.2f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table of ``rows`` (cells already formatted, or anything ``str`` renders)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path, payload: Any) -> Path:
    """Write ``payload`` as JSON to ``path`` (its folder made if missing) and print where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    shown = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
    print(f"wrote {shown}")
    return path
