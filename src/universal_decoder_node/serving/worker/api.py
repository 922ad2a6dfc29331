"""The LitServe API: what an inference worker does with a batch of translation requests.

Requests reach the worker already validated by the HTTP layer (``http.translate``) as
``WorkItem``s (``ipc.messages``). The worker never raises for a single bad item: each item
gets its own ``WorkResult``, its translations or the engine error that stopped it, so one
failure cannot fail its batch.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import litserve as ls
import psutil
from litserve.loops.base import LitLoop

from ...config import Settings
from ...engine import (
    BatchTranslator,
    DeadlinePassed,
    EngineError,
    Gathered,
    JobCancelled,
    JobResult,
    PairRegistry,
    TranslationFailed,
    TranslationJob,
    backends_for,
    create_backend,
    prepare_process,
)
from ...models import pair_sources, startup_pairs
from ...utils import tracing
from ...utils.logs import configure_logging
from ...utils.memory_manager import MemoryManager
from ...utils.profiler import function_profiler, profile_section
from .. import lifetime, metrics
from ..ipc.control import ControlChannel, ControlServer
from ..ipc.messages import WorkItem, WorkResult
from .models import worker_handlers
from .operations import WorkerOperations, inference_threads

log = logging.getLogger(__name__)

WARMUP_TEXT = {"en": "Hello, world.", "pt": "Olá, mundo."}
# ``udn_translation_errors_total`` reasons: a request stopped at admission or mid-way counts alike.
_ERROR_REASONS = {DeadlinePassed: "deadline", JobCancelled: "cancelled"}

# Answers one item of a batch: (its index in the batch, its result).
Respond = Callable[[int, WorkResult], None]


class TranslationAPI(ls.LitAPI):
    def __init__(
        self,
        settings: Settings,
        spec: ls.LitSpec | None = None,
        control: ControlChannel | None = None,
        loop: LitLoop | None = None,
    ) -> None:
        super().__init__(
            max_batch_size=settings.serving.max_batch_size,
            batch_timeout=settings.serving.batch_timeout,
            spec=spec,
            loop=loop or "auto",
        )
        self.settings = settings
        self.control = control
        self.registry: PairRegistry | None = None
        self.translator: BatchTranslator | None = None
        self._control_server: ControlServer | None = None
        self.ops: WorkerOperations | None = None
        self.worker_id = "0"
        self._last_memory_sample = 0.0

    def setup(self, device: str) -> None:
        """Load and warm the local pairs and the pre-warm list, so their first request pays no cold start.

        Other configured pairs load on demand (``dispatch``). A pre-warm pair that cannot be
        had fails the worker, and with it the node's start, with the reason.
        """
        lifetime.die_with_parent()  # no worker outlives a main process that was killed
        if multiprocessing.parent_process() is not None:
            # A spawned worker has nothing of the main process's set-up; in-process use keeps the caller's.
            configure_logging(self.settings)
        self.worker_id = os.environ.get("LITSERVE_WORKER_ID", "0")
        function_profiler.apply_settings(self.settings.profiling)
        MemoryManager.get_instance().configure(self.settings.memory)
        tracing.setup_tracing(role=f"worker-{self.worker_id}")
        if threading.current_thread() is threading.main_thread():
            # LitServe stops a worker with SIGTERM, whose default action ends the process at
            # once; exiting instead lets the atexit hooks run, so the last spans are exported.
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        # Only the backends this node's pairs use set up the process.
        allocator = prepare_process(backends_for(s.backend for s in pair_sources(self.settings).values()))
        threads = inference_threads(self.settings)
        self.registry = build_registry(self.settings, threads["threads"])
        # Never wait for a load inside a batch: the other pairs' requests would wait too.
        self.translator = BatchTranslator(
            self.registry, threads["threads"], wait_for_load=False, on_call=_observe_engine_call
        )
        applied = {**self.registry.backend_settings(), **threads, "allocator": allocator}
        log.info("worker %s inference settings: %s", self.worker_id, applied)
        for pair in startup_pairs(self.settings, pair_sources(self.settings)):
            started = time.monotonic()
            self.registry.load(pair)
            if self.settings.models.warmup:
                source = pair.split("-", 1)[0]
                self.translator.translate([TranslationJob(pair, [WARMUP_TEXT.get(source, "Hello.")])])
            log.info("pair %s loaded and warmed in %.2fs", pair, time.monotonic() - started)
        self.ops = WorkerOperations(
            self.settings, self.registry, applied, on_change=lambda: self._sample_memory(force=True)
        )
        self.ops.start()
        if self.control is not None:
            handlers = {
                **worker_handlers(self.registry, self.settings.adapters.download_timeout),
                **self.ops.handlers(),
            }
            self._control_server = self.control.serve(f"worker-{self.worker_id}", handlers)
        self._sample_memory(force=True)
        MemoryManager.get_instance().freeze_startup_objects()
        loaded = sorted(pair for pair, info in self.registry.describe().items() if info.get("loaded"))
        log.info(
            "inference worker %s ready; pairs loaded: %s", self.worker_id, ", ".join(loaded) or "none yet"
        )

    def decode_request(self, request: Any, **kwargs: Any) -> Any:
        metrics.QUEUED.dec()
        return request

    def batch(self, inputs: list[Any]) -> list[Any]:
        return inputs

    def unbatch(self, output: list[Any]) -> list[Any]:
        return output

    def predict(self, x: list[WorkItem] | WorkItem, **kwargs: Any) -> Any:
        """Translate a batch and wait: one result per item (a single item when given one).

        The node itself serves through ``dispatch`` (``worker.loop``), which answers each
        item as soon as it is done; this is the same work for LitServe's own loops and tests.
        """
        items = [x] if isinstance(x, WorkItem) else x
        gathered: Gathered[WorkResult] = Gathered(
            len(items), WorkResult(error=TranslationFailed("no result"))
        )
        self.dispatch(items, gathered.put)
        results = gathered.wait()
        return results[0] if isinstance(x, WorkItem) else results

    def dispatch(
        self,
        items: Sequence[WorkItem],
        respond: Respond,
        cancelled: Sequence[Callable[[], bool] | None] | None = None,
    ) -> None:
        """Admit a batch and return at once; ``respond(i, result)`` is called once per item.

        An item past its deadline is answered DeadlinePassed without being computed; the
        others go to the translator, which answers each from a translation thread as soon as
        its own segments are done (or stopped: ``cancelled[i]()`` is asked before each of
        item ``i``'s segments). Profiled as ``prepare_inputs`` (admission), ``inference`` (the
        batch's admission to its last answer) and ``postprocess`` (building each answer).
        """
        assert self.translator is not None, "setup() has not run"
        started = time.monotonic()
        metrics.BATCH_SIZE.observe(len(items))
        trace = tracing.batch_trace(
            [item.trace for item in items],
            lambda i: _span_attributes(items[i], started),
            **{"udn.batch.size": len(items), "udn.worker": self.worker_id},
        )
        jobs: list[TranslationJob] = []
        positions: list[int] = []
        with profile_section("prepare_inputs"):
            for i, item in enumerate(items):
                metrics.QUEUE_TIME.observe(max(0.0, started - item.enqueued))
                if started > item.deadline:
                    # The client has given up (or will, before we finish): do not spend cores on it.
                    waited = started - item.enqueued
                    metrics.REQUEST_ERRORS.labels("deadline").inc()
                    trace.end_item(i, "deadline")
                    failure = DeadlinePassed(f"request waited {waited:.1f}s in the queue, past its deadline")
                    respond(i, WorkResult(error=failure))
                    continue
                stop = cancelled[i] if cancelled is not None else None
                jobs.append(TranslationJob(item.pair, item.texts, item.deadline, stop, item.alternatives))
                positions.append(i)
        if not jobs:
            return
        trace.begin("udn.inference", **{"udn.jobs": len(jobs)})
        remaining = len(jobs)
        lock = threading.Lock()

        def job_done(j: int, out: JobResult, segments: int) -> None:
            nonlocal remaining
            i, job = positions[j], jobs[j]
            with profile_section("postprocess"):
                if isinstance(out, EngineError):
                    result = WorkResult(error=out)
                    metrics.REQUEST_ERRORS.labels(_ERROR_REASONS.get(type(out), type(out).__name__)).inc()
                else:
                    result = WorkResult(translations=list(out), alternatives=out.alternatives)
                    metrics.SENTENCES.labels(job.pair).inc(segments)
                    metrics.CHARACTERS.labels(job.pair).inc(sum(len(t) for t in job.texts))
            trace.end_item(i, None if result.error is None else str(result.error))
            respond(i, result)
            with lock:
                remaining -= 1
                last = remaining == 0
            if last:
                elapsed = time.monotonic() - started
                metrics.INFERENCE_TIME.observe(elapsed)
                if function_profiler.enabled:
                    function_profiler.record("inference", elapsed)
                self._sample_memory()

        self.translator.submit(jobs, job_done)

    def encode_response(self, output: Any, **kwargs: Any) -> Any:
        return output

    def _sample_memory(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_memory_sample < 1.0:
            return
        self._last_memory_sample = now
        metrics.PROCESS_RSS.set(psutil.Process(os.getpid()).memory_info().rss)
        if self.registry is not None:
            for pair, info in self.registry.describe().items():
                metrics.MODEL_MEMORY.labels(pair).set(float(info.get("memory_bytes", 0)))  # type: ignore[arg-type]


def build_registry(settings: Settings, threads: int | None = None) -> PairRegistry:
    """Every configured pair, none loaded yet, each with its own backend, bounded by the ``adapters`` limits.

    ``threads`` (translation threads) defaults to ``serving.threads``.
    """
    adapters = settings.adapters
    budget = adapters.memory_budget_mb
    sources = pair_sources(settings)
    threads = threads or settings.serving.threads
    names = backends_for(source.backend for source in sources.values())
    return PairRegistry(
        sources,
        {name: create_backend(name, threads=threads) for name in names},
        pinned=frozenset(adapters.pinned),
        max_loaded=adapters.max_loaded,
        memory_budget_bytes=int(budget * 1024 * 1024) if budget is not None else None,
        pivot=settings.models.pivot,
    )


def _observe_engine_call(segments: int, seconds: float) -> None:
    metrics.ENGINE_CALL_SEGMENTS.observe(segments)
    metrics.ENGINE_CALL_TIME.observe(seconds)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _span_attributes(item: WorkItem, started: float) -> dict[str, Any]:
    # The wait is an attribute rather than a span of its own: a span per request costs more.
    return {
        "udn.pair": item.pair,
        "udn.texts": len(item.texts),
        "udn.queue.wait_ms": round(max(0.0, started - item.enqueued) * 1000, 3),
        "udn.request_id": item.request_id,
    }
