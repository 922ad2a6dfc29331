"""Translate batches of requests on a thread pool, one result (or error) per request."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

from .base import EngineError, Model, TranslationFailed
from .registry import PairRegistry
from .segment import DEFAULT_MAX_CHARS, Segmented, segment


@dataclass(frozen=True, slots=True)
class TranslationJob:
    """One request's work: its language pair and its texts."""

    pair: str
    texts: Sequence[str]


JobResult = list[str] | EngineError
_Layout = tuple[str, Segmented, str] | str


@dataclass(slots=True)
class _Task:
    job: int
    model: Model
    text: str


class BatchTranslator:
    """Fans the segments of a whole batch out over ``threads`` threads.

    Every segment is a task; threads pull tasks from one shared counter, so long and short
    segments balance across cores. An error fails only the job it belongs to. With
    ``wait_for_load=False`` a job whose pair is not loaded fails with PairLoading at once (its
    load starts in the background) instead of holding up the jobs of loaded pairs.
    """

    def __init__(
        self,
        registry: PairRegistry,
        threads: int,
        max_segment_chars: int = DEFAULT_MAX_CHARS,
        *,
        wait_for_load: bool = True,
    ):
        self.registry = registry
        self.wait_for_load = wait_for_load
        self.threads = max(1, threads)
        self.max_segment_chars = max_segment_chars
        # The calling thread works too, so the pool holds one thread fewer.
        self._pool = ThreadPoolExecutor(max_workers=max(1, self.threads - 1), thread_name_prefix="translate")
        self._closed = threading.Event()

    def translate(self, jobs: Sequence[TranslationJob]) -> list[JobResult]:
        results: list[JobResult | None] = [None] * len(jobs)
        tasks: list[_Task] = []
        # Per job, per text: the text itself when blank, else (lead, segments, trail).
        layouts: list[list[_Layout] | None] = [None] * len(jobs)
        with ExitStack() as stack:
            models: dict[str, Model | EngineError] = {}
            for j, job in enumerate(jobs):
                if job.pair not in models:
                    try:
                        models[job.pair] = stack.enter_context(
                            self.registry.use(job.pair, wait=self.wait_for_load)
                        )
                    except EngineError as exc:
                        models[job.pair] = exc
                model = models[job.pair]
                if isinstance(model, EngineError):
                    results[j] = model
                    continue
                layout: list[_Layout] = []
                for text in job.texts:
                    if not text.strip():
                        layout.append(text)
                        continue
                    lead, seg, trail = segment(text, self.max_segment_chars)
                    layout.append((lead, seg, trail))
                    tasks.extend(_Task(j, model, s) for s in seg.segments)
                layouts[j] = layout
            outputs = self._run(tasks)
        cursor = 0
        for j, maybe_layout in enumerate(layouts):
            if maybe_layout is None:
                continue
            texts: list[str] = []
            failure: EngineError | None = None
            for item in maybe_layout:
                if isinstance(item, str):
                    texts.append(item)
                    continue
                lead, seg, trail = item
                n = len(seg.segments)
                outs = outputs[cursor : cursor + n]
                cursor += n
                for out in outs:
                    if isinstance(out, EngineError):
                        failure = failure or out
                if failure is None:
                    texts.append(lead + seg.join([str(o) for o in outs]) + trail)
            results[j] = failure if failure is not None else texts
        return [r if r is not None else TranslationFailed("no result") for r in results]

    def _run(self, tasks: list[_Task]) -> list[str | EngineError]:
        outputs: list[str | EngineError] = [""] * len(tasks)
        if not tasks:
            return outputs
        counter = itertools.count()
        n = len(tasks)

        def work() -> None:
            while (i := next(counter)) < n:
                task = tasks[i]
                try:
                    outputs[i] = task.model.translate(task.text)
                except EngineError as exc:
                    outputs[i] = exc
                except Exception as exc:  # a backend bug must not take the batch down
                    outputs[i] = TranslationFailed(f"translation failed: {exc}")

        helpers = [self._pool.submit(work) for _ in range(min(self.threads, n) - 1)]
        work()
        for future in helpers:
            future.result()
        return outputs

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
