"""Measuring servers in rounds: one load on a paused server, its summary, medians and paired ratios.

A benchmark measures each system once per round, the systems of a round back to back, and
reports the median over rounds; ratios between systems are medians of per-round ratios
(``stats.paired_ratio``), which cancel most of a shared machine's drift in speed.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .loadgen import LoadResult, run_load_sync
from .procs import Server, cpu_seconds, pause, resume
from .stats import paired_ratio


def measure_server(
    server: Server, requests: Sequence[bytes], clients: int, seconds: float, warmup: float
) -> tuple[LoadResult, float]:
    """Resume ``server``, load it with ``clients`` closed-loop clients, pause it again.

    Returns the load's result and an estimate of the server's CPU seconds over the measured
    window (its whole tree's CPU over warm-up and measurement, scaled to the window).
    """
    resume(server.pid)
    try:
        before = cpu_seconds(server.pid)
        result = run_load_sync("127.0.0.1", server.port, requests, clients, seconds, warmup)
        cpu = (cpu_seconds(server.pid) - before) * seconds / (seconds + warmup)
    finally:
        pause(server.pid)  # an idle server takes no CPU from the one measured next
    return result, cpu


def summarise(result: LoadResult, shape: int, cpu_s: float | None) -> dict[str, Any]:
    """One run's figures: requests and sentences (``shape`` per request) per second, p50, p99, CPU."""
    rps = result.requests_per_second
    return {
        "requests_per_s": rps,
        "sentences_per_s": rps * shape,
        "p50_ms": 1000 * result.percentile(0.50),
        "p99_ms": 1000 * result.percentile(0.99),
        "requests": len(result.latencies),
        "errors": result.errors,
        "cpu_ms_per_request": 1000 * cpu_s / len(result.latencies) if cpu_s and result.latencies else None,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure of ``summarise``'s runs (errors and requests summed); keeps the runs."""
    keys = ("requests_per_s", "sentences_per_s", "p50_ms", "p99_ms")
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["errors"] = sum(r["errors"] for r in runs)
    out["requests"] = sum(r["requests"] for r in runs)
    cpu = [r["cpu_ms_per_request"] for r in runs if r["cpu_ms_per_request"] is not None]
    out["cpu_ms_per_request"] = statistics.median(cpu) if cpu else None
    out["rounds"] = runs
    return out


def paired(row: dict[str, Any], system: str, base: str, key: str) -> float:
    """Median over rounds of ``system``'s ``key`` divided by ``base``'s in the same round.

    ``row`` maps each system to ``median_of``'s result.
    """
    measured = [r[key] for r in row[system]["rounds"]]
    return paired_ratio(measured, [r[key] for r in row[base]["rounds"]])
