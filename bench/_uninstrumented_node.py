"""``udn serve`` with the instrumentation taken out, as the baseline of instrumentation_overhead.py.

The inference worker's ``predict`` is replaced by the node's predict as it was before
profiling and tracing were added (no profile sections, no batch spans), and the HTTP layer
no longer puts trace context into work items. LitServe spawns its inference workers, and a
spawned process re-runs this file (as ``__mp_main__``) before it unpickles the LitAPI, so
the replacement holds in every process of the node.

Usage: python bench/_uninstrumented_node.py serve --config FILE
"""

from __future__ import annotations

import sys
import time
from typing import Any

if __name__ == "__main__":
    from universal_decoder_node.serving.metrics_dir import prepare_metrics_dir

    prepare_metrics_dir()  # before prometheus_client is imported below

from universal_decoder_node.engine import EngineError, TranslationJob
from universal_decoder_node.serving import api, metrics
from universal_decoder_node.serving.errors import engine_error_status
from universal_decoder_node.utils import tracing


def plain_predict(self: api.TranslationAPI, x: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    assert self.translator is not None, "setup() has not run"
    started = time.monotonic()
    metrics.BATCH_SIZE.observe(len(x))
    results: list[dict[str, Any] | None] = [None] * len(x)
    jobs: list[TranslationJob] = []
    positions: list[int] = []
    for i, item in enumerate(x):
        metrics.QUEUE_TIME.observe(max(0.0, started - item["enqueued"]))
        if started > item["deadline"]:
            waited = started - item["enqueued"]
            results[i] = api._error(504, f"request waited {waited:.1f}s in the queue, past its deadline")
            metrics.REQUEST_ERRORS.labels("deadline").inc()
            continue
        jobs.append(TranslationJob(item["pair"], item["texts"]))
        positions.append(i)
    outputs = self.translator.translate(jobs) if jobs else []
    for i, job, out in zip(positions, jobs, outputs, strict=True):
        if isinstance(out, EngineError):
            results[i] = api._error(engine_error_status(out), str(out))
            metrics.REQUEST_ERRORS.labels(type(out).__name__).inc()
        else:
            results[i] = {"ok": True, "translations": out}
            metrics.SENTENCES.labels(job.pair).inc(len(job.texts))
            metrics.CHARACTERS.labels(job.pair).inc(sum(len(t) for t in job.texts))
    metrics.INFERENCE_TIME.observe(time.monotonic() - started)
    self._sample_memory()
    return [r if r is not None else api._error(500, "no result") for r in results]


def no_trace_headers() -> dict[str, str]:
    return {}


api.TranslationAPI.predict = plain_predict  # type: ignore[method-assign]
tracing.trace_headers = no_trace_headers

if __name__ == "__main__":
    from universal_decoder_node.cli import main

    sys.exit(main(sys.argv[1:]))
