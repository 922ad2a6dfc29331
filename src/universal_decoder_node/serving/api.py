"""The LitServe API: what an inference worker does with a batch of translation requests.

Requests reach the worker already validated by the HTTP layer (``serving.routes``) as plain
dicts ``{"pair", "texts", "deadline", "enqueued"}``. The worker never raises for a single
bad item: each item gets its own result, ``{"ok": True, "translations": [...]}`` or
``{"ok": False, "status": int, "error": str}``, so one failure cannot fail its batch.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import litserve as ls
import psutil

from ..config import Settings
from ..engine import BatchTranslator, BergamotBackend, EngineError, PairRegistry, TranslationJob
from ..models import pair_sources
from ..utils import tracing
from ..utils.memory_manager import MemoryManager
from ..utils.profiler import function_profiler, profile_section
from . import metrics
from .errors import engine_error_status
from .worker_ops import WorkerOperations, inference_threads, prepare_allocator

log = logging.getLogger(__name__)

WARMUP_TEXT = {"en": "Hello, world.", "pt": "Olá, mundo."}


class TranslationAPI(ls.LitAPI):
    def __init__(
        self, settings: Settings, spec: ls.LitSpec | None = None, run_dir: Path | None = None
    ) -> None:
        """``run_dir`` is the node's control-channel directory (``serving.worker_channel``)."""
        super().__init__(
            max_batch_size=settings.serving.max_batch_size,
            batch_timeout=settings.serving.batch_timeout,
            spec=spec,
        )
        self.settings = settings
        self.registry: PairRegistry | None = None
        self.translator: BatchTranslator | None = None
        self.run_dir = run_dir
        self.ops: WorkerOperations | None = None
        self.worker_id = "0"
        self._last_memory_sample = 0.0

    def setup(self, device: str) -> None:
        """Load and warm every pair in the worker, so the first request pays no cold start."""
        self.worker_id = os.environ.get("LITSERVE_WORKER_ID", "0")
        profiling = self.settings.profiling
        function_profiler.configure(
            enabled=profiling.enable_profiling,
            bottleneck_threshold_ms=profiling.bottleneck_threshold_ms,
            output_dir=profiling.profile_output_dir,
            export_format=profiling.export_format,
        )
        MemoryManager.get_instance().configure(self.settings.memory)
        tracing.setup_tracing(role=f"worker-{self.worker_id}")
        allocator = prepare_allocator()
        threads = inference_threads(self.settings)
        self.registry = build_registry(self.settings, threads["threads"])
        self.translator = BatchTranslator(self.registry, threads["threads"])
        applied = {**self.registry.backend.settings(), **threads, "allocator": allocator}
        log.info("worker %s inference settings: %s", self.worker_id, applied)
        for pair in self.registry.pairs():
            started = time.monotonic()
            self.registry.load(pair)
            if self.settings.models.warmup:
                source = pair.split("-", 1)[0]
                self.translator.translate([TranslationJob(pair, [WARMUP_TEXT.get(source, "Hello.")])])
            log.info("pair %s loaded and warmed in %.2fs", pair, time.monotonic() - started)
        self._sample_memory(force=True)
        if self.run_dir is not None:
            self.ops = WorkerOperations(
                self.run_dir,
                self.worker_id,
                self.settings,
                self.registry,
                applied,
                on_change=lambda: self._sample_memory(force=True),
            )
            self.ops.start()

    def decode_request(self, request: Any, **kwargs: Any) -> Any:
        metrics.QUEUED.dec()
        return request

    def batch(self, inputs: list[Any]) -> list[Any]:
        return inputs

    def unbatch(self, output: list[Any]) -> list[Any]:
        return output

    def predict(self, x: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
        assert self.translator is not None, "setup() has not run"
        started = time.monotonic()
        metrics.BATCH_SIZE.observe(len(x))
        results: list[dict[str, Any] | None] = [None] * len(x)
        jobs: list[TranslationJob] = []
        positions: list[int] = []
        with tracing.batch_trace(x, **{"udn.batch.size": len(x), "udn.worker": self.worker_id}) as trace:
            with profile_section("prepare_inputs"):
                for i, item in enumerate(x):
                    metrics.QUEUE_TIME.observe(max(0.0, started - item["enqueued"]))
                    if started > item["deadline"]:
                        # The client has given up (or will, before we finish): do not spend cores on it.
                        waited = started - item["enqueued"]
                        results[i] = _error(
                            504, f"request waited {waited:.1f}s in the queue, past its deadline"
                        )
                        metrics.REQUEST_ERRORS.labels("deadline").inc()
                        continue
                    jobs.append(TranslationJob(item["pair"], item["texts"]))
                    positions.append(i)
            with profile_section("inference"), trace.section("udn.inference", **{"udn.jobs": len(jobs)}):
                outputs = self.translator.translate(jobs) if jobs else []
            with profile_section("postprocess"):
                for i, job, out in zip(positions, jobs, outputs, strict=True):
                    if isinstance(out, EngineError):
                        results[i] = _error(engine_error_status(out), str(out))
                        metrics.REQUEST_ERRORS.labels(type(out).__name__).inc()
                    else:
                        results[i] = {"ok": True, "translations": out}
                        metrics.SENTENCES.labels(job.pair).inc(len(job.texts))
                        metrics.CHARACTERS.labels(job.pair).inc(sum(len(t) for t in job.texts))
        metrics.INFERENCE_TIME.observe(time.monotonic() - started)
        self._sample_memory()
        return [r if r is not None else _error(500, "no result") for r in results]

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
        if self.ops is not None:
            self.ops.refresh()


def build_registry(settings: Settings, threads: int | None = None) -> PairRegistry:
    """The registry of every configured pair; ``threads`` defaults to ``serving.threads``."""
    return PairRegistry(pair_sources(settings), BergamotBackend(threads or settings.serving.threads))


def _error(status: int, message: str) -> dict[str, Any]:
    return {"ok": False, "status": status, "error": message}
