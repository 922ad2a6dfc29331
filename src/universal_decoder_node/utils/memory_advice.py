"""Turning memory monitor samples into advice a person can act on.

A sample is a dict with ``time``, ``system_memory_percent``, ``gpu_memory_percent`` and
``gpu_available``, plus whatever serving figures the node supplied (``queue_depth``,
``batches_total``, ``batch_items_total``, ``max_batch_size``, ``batch_timeout_s``,
``workers``, ``loaded_pairs``). Each recommendation is ``{"id", "severity", "message",
"figures"}``, the figures being the numbers the advice rests on.
"""

from __future__ import annotations

import itertools
import statistics
from typing import Any

from ..config import MemorySettings

RECOMMENDATION_WINDOW = 10
"""How many of the latest samples a recommendation looks at."""
NEAR_THRESHOLD_POINTS = 5.0
"""Memory within this many percentage points of its alert threshold counts as near it."""

# Batch and queue advice only speak once there is enough traffic to judge.
_MIN_BATCHES = 50
_MIN_QUEUE_SAMPLES = 3


def recommend(window: list[dict[str, Any]], settings: MemorySettings) -> list[dict[str, Any]]:
    """Every recommendation the samples in ``window`` (oldest first, at least one) support."""
    out: list[dict[str, Any]] = []
    memory = _memory_advice(window, settings)
    if memory is not None:
        out.append(memory)
    gpu = _gpu_advice(window, settings)
    if gpu is not None:
        out.append(gpu)
    out.extend(_batch_advice(window))
    queue = _queue_advice(window)
    if queue is not None:
        out.append(queue)
    return out


def near_threshold(window: list[dict[str, Any]], key: str, threshold: float) -> float | None:
    """The median of ``key`` when every sample in the window is near or above ``threshold``."""
    values = [float(s[key]) for s in window if key in s]
    if not values or min(values) < threshold - NEAR_THRESHOLD_POINTS:
        return None
    return float(statistics.median(values))


def _memory_advice(window: list[dict[str, Any]], settings: MemorySettings) -> dict[str, Any] | None:
    memory = near_threshold(window, "system_memory_percent", settings.memory_threshold_percent)
    if memory is None:
        return None
    latest = window[-1]
    span = float(latest["time"]) - float(window[0]["time"])
    pairs = latest.get("loaded_pairs")
    batch = latest.get("max_batch_size")
    return {
        "id": "memory_near_threshold",
        "severity": "warning",
        "message": (
            f"System memory has been at a median of {memory:.1f}% over the last "
            f"{len(window)} sample(s) ({span:.0f}s), against an alert threshold of "
            f"{settings.memory_threshold_percent:g}%. Lower serving.max_batch_size"
            + (f" (now {batch})" if batch is not None else "")
            + ", unload idle language pairs (POST /admin/memory/cleanup"
            + (f"; {len(pairs)} loaded" if pairs is not None else "")
            + "), or give the node more memory."
        ),
        "figures": {
            "median_percent": round(memory, 2),
            "threshold_percent": settings.memory_threshold_percent,
            "samples": len(window),
            "window_seconds": round(span, 1),
            "max_batch_size": batch,
            "loaded_pairs": pairs,
        },
    }


def _gpu_advice(window: list[dict[str, Any]], settings: MemorySettings) -> dict[str, Any] | None:
    gpu_window = [s for s in window if s.get("gpu_available")]
    gpu = near_threshold(gpu_window, "gpu_memory_percent", settings.gpu_memory_threshold_percent)
    if gpu is None:
        return None
    return {
        "id": "gpu_memory_near_threshold",
        "severity": "warning",
        "message": (
            f"GPU memory has been at a median of {gpu:.1f}% over the last {len(gpu_window)} "
            f"sample(s), against a threshold of {settings.gpu_memory_threshold_percent:g}%. "
            "Lower serving.max_batch_size or unload idle language pairs."
        ),
        "figures": {
            "median_percent": round(gpu, 2),
            "threshold_percent": settings.gpu_memory_threshold_percent,
            "samples": len(gpu_window),
        },
    }


def _batch_advice(window: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first, last = window[0], window[-1]
    if "batches_total" not in last or not last.get("max_batch_size"):
        return []
    if len(window) > 1 and "batches_total" in first:
        batches = float(last["batches_total"]) - float(first["batches_total"])
        items = float(last["batch_items_total"]) - float(first["batch_items_total"])
    else:
        batches, items = float(last["batches_total"]), float(last["batch_items_total"])
    if batches < _MIN_BATCHES:
        return []
    mean = items / batches
    size = int(last["max_batch_size"])
    timeout = float(last.get("batch_timeout_s", 0.0))
    figures = {
        "batches": int(batches),
        "mean_batch_size": round(mean, 2),
        "max_batch_size": size,
        "batch_timeout_s": timeout,
    }
    if mean <= 0.25 * size and timeout > 0.001:
        return [
            {
                "id": "batches_rarely_filled",
                "severity": "info",
                "message": (
                    f"Batches averaged {mean:.1f} request(s) of the {size} allowed over {int(batches)} "
                    f"batches, yet each waits up to serving.batch_timeout={timeout:g}s for more. Lower "
                    "serving.batch_timeout (for example to 0.001) to cut latency."
                ),
                "figures": figures,
            }
        ]
    if mean >= 0.9 * size:
        return [
            {
                "id": "batches_always_full",
                "severity": "info",
                "message": (
                    f"Batches averaged {mean:.1f} request(s) of the {size} allowed over {int(batches)} "
                    "batches: requests are waiting for room. Raise serving.max_batch_size if memory "
                    "allows, or add workers."
                ),
                "figures": figures,
            }
        ]
    return []


def _queue_advice(window: list[dict[str, Any]]) -> dict[str, Any] | None:
    depths = [float(s["queue_depth"]) for s in window if "queue_depth" in s]
    if len(depths) < _MIN_QUEUE_SAMPLES:
        return None
    tail = depths[-_MIN_QUEUE_SAMPLES:]
    growing = all(b > a for a, b in itertools.pairwise(tail))
    size = int(window[-1].get("max_batch_size") or 1)
    if not growing or tail[-1] < size:
        return None
    workers = window[-1].get("workers")
    return {
        "id": "queue_growing",
        "severity": "warning",
        "message": (
            f"The request queue grew at every one of the last {len(tail)} samples "
            f"({' -> '.join(f'{d:.0f}' for d in tail)} waiting): the node cannot keep up. Add inference "
            "workers (serving.workers"
            + (f", now {workers}" if workers is not None else "")
            + ") if cores are free, or more nodes."
        ),
        "figures": {"queue_depth": tail, "max_batch_size": size, "workers": workers},
    }
