"""Prometheus metrics, declared once.

The node runs several processes (the uvicorn API server and LitServe's inference workers),
so metrics use prometheus_client's multiprocess mode: ``udn serve`` points
PROMETHEUS_MULTIPROC_DIR at a fresh directory before any process imports this module, and
``/metrics`` merges every process's figures. Label values are bounded: endpoint paths from
a fixed list, status codes, and configured language pairs.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.metrics_core import Metric

from .metrics_dir import MULTIPROC_ENV

T = TypeVar("T")

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

REQUESTS = Counter(
    "udn_requests_total", "HTTP requests answered, by endpoint and status code.", ["endpoint", "code"]
)
REQUEST_LATENCY = Histogram(
    "udn_request_duration_seconds",
    "End-to-end request latency seen by the API server.",
    ["endpoint"],
    buckets=_LATENCY_BUCKETS,
)
QUEUE_TIME = Histogram(
    "udn_queue_time_seconds", "Time a request waited before its batch started.", buckets=_LATENCY_BUCKETS
)
INFERENCE_TIME = Histogram(
    "udn_inference_duration_seconds", "Time to translate one batch.", buckets=_LATENCY_BUCKETS
)
BATCH_SIZE = Histogram(
    "udn_batch_size", "Requests per batch run by an inference worker.", buckets=_BATCH_BUCKETS
)
ENGINE_CALL_SEGMENTS = Histogram(
    "udn_engine_call_segments",
    "Sentences given to the engine in one call (a batched engine decodes them together).",
    buckets=_BATCH_BUCKETS,
)
ENGINE_CALL_TIME = Histogram(
    "udn_engine_call_duration_seconds", "Time one engine call took.", buckets=_LATENCY_BUCKETS
)
IN_FLIGHT = Gauge(
    "udn_requests_in_flight",
    "Translation requests received and not yet answered.",
    multiprocess_mode="livesum",
)
QUEUED = Gauge(
    "udn_requests_queued",
    "Translation requests waiting for an inference worker.",
    multiprocess_mode="livesum",
)
SENTENCES = Counter("udn_sentences_translated_total", "Segments (sentences) translated.", ["pair"])
CHARACTERS = Counter("udn_characters_translated_total", "Source characters translated.", ["pair"])
REQUEST_ERRORS = Counter(
    "udn_translation_errors_total", "Translation requests that failed inside a worker, by reason.", ["reason"]
)
PROCESS_RSS = Gauge(
    "udn_process_resident_memory_bytes",
    "Resident memory of the node's processes (API server and inference workers), summed.",
    multiprocess_mode="livesum",
)
MODEL_MEMORY = Gauge(
    "udn_model_memory_bytes", "Memory held by loaded models, by pair.", ["pair"], multiprocess_mode="livemax"
)
SYSTEM_MEMORY_PERCENT = Gauge(
    "udn_system_memory_percent", "System (or cgroup) memory in use, percent.", multiprocess_mode="livemax"
)
GPU_MEMORY_PERCENT = Gauge(
    "udn_gpu_memory_percent", "GPU memory in use, percent.", multiprocess_mode="livemax"
)
MEMORY_ALERTS = Counter(
    "udn_memory_alerts_total", "Memory alerts raised by the node's memory monitor, by kind.", ["kind"]
)
MEMORY_CLEANUPS = Counter(
    "udn_memory_cleanups_total", "Memory cleanups run in inference workers, by trigger.", ["trigger"]
)
MEMORY_CLEANUP_FREED = Counter(
    "udn_memory_cleanup_freed_bytes_total", "Resident memory the cleanups gave back, in bytes."
)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def current_values(names: frozenset[str]) -> dict[str, float]:
    """The node-wide value of each named sample (for example ``udn_batch_size_count``), summed
    over labels and processes; names with no sample yet are left out."""
    values: dict[str, float] = {}
    for family in collect_all():
        for sample in family.samples:
            if sample.name in names:
                values[sample.name] = values.get(sample.name, 0.0) + float(sample.value)
    return values


def render() -> tuple[bytes, str]:
    """The exposition text for every process of this node, and its content type."""
    if multiprocess_enabled():
        return _read_all(lambda registry: generate_latest(registry)), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def collect_all() -> list[Metric]:
    """Every process's metric families, merged (multiprocess mode), else this process's."""
    if multiprocess_enabled():
        return _read_all(lambda registry: list(registry.collect()))
    return list(REGISTRY.collect())


def _read_all(read: Callable[[CollectorRegistry], T], attempts: int = 20) -> T:
    # prometheus_client creates a process's file before it writes the file's header, so a
    # reader that comes in between (a worker starting up) finds an empty file and fails to
    # unpack it. The file is whole a moment later: read again.
    for attempt in range(1, attempts + 1):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        try:
            return read(registry)
        except struct.error:
            if attempt == attempts:
                raise
            time.sleep(0.01)
    raise ValueError(f"attempts must be at least 1, not {attempts}")
