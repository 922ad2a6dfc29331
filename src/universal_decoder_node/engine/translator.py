"""Translate requests on a pool of long-lived threads, one result (or error) per request."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Generic, TypeVar

from .base import EngineError, Model, TranslationFailed
from .registry import PairRegistry
from .segment import DEFAULT_MAX_CHARS, Segmented, segment

log = logging.getLogger(__name__)

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class TranslationJob:
    """One request's work: its language pair and its texts."""

    pair: str
    texts: Sequence[str]


JobResult = list[str] | EngineError
# Per text of a job: the text itself when blank, else (leading space, segments, trailing space).
_Layout = tuple[str, Segmented, str] | str
# Called once per job, from a translation thread (or the submitting thread for a job that
# needs no translation): (the job's index in its submit call, its result, segments translated).
JobDone = Callable[[int, JobResult, int], None]


class _JobState:
    """One submitted job: its segments' outputs as they arrive, and how many are still out."""

    __slots__ = ("done", "failure", "index", "layout", "lock", "outputs", "release", "remaining")

    def __init__(self, index: int, layout: list[_Layout], n: int, release: ExitStack, done: JobDone):
        self.index = index
        self.layout = layout
        self.outputs: list[str] = [""] * n
        self.failure: EngineError | None = None
        self.remaining = n
        self.release = release
        self.done = done
        self.lock = threading.Lock()

    def result(self) -> JobResult:
        if self.failure is not None:
            return self.failure
        texts: list[str] = []
        cursor = 0
        for item in self.layout:
            if isinstance(item, str):
                texts.append(item)
                continue
            lead, seg, trail = item
            n = len(seg.segments)
            texts.append(lead + seg.join(self.outputs[cursor : cursor + n]) + trail)
            cursor += n
        return texts


class Gathered(Generic[R]):
    """One result per index, put from any thread; ``wait`` blocks until all ``n`` are in."""

    def __init__(self, n: int, missing: R) -> None:
        self._results = [missing] * n
        self._remaining = n
        self._all_in = threading.Condition()

    def put(self, index: int, result: R) -> None:
        with self._all_in:
            self._results[index] = result
            self._remaining -= 1
            self._all_in.notify()

    def wait(self) -> list[R]:
        with self._all_in:
            self._all_in.wait_for(lambda: self._remaining == 0)
        return self._results


@dataclass(slots=True)
class _Task:
    state: _JobState
    slot: int
    model: Model
    text: str


class BatchTranslator:
    """Translates the segments of every submitted job on ``threads`` long-lived threads.

    Each text is cut into sentence segments (``engine.segment``); the segments of all jobs
    wait in one first-in-first-out queue, so long and short requests balance across cores
    and a new job's segments start as soon as a thread is free: there is no barrier at the
    end of a batch where cores wait for the slowest segment. An error fails only the job it
    belongs to. With ``wait_for_load=False`` a job whose pair is not loaded fails with
    PairLoading at once (its load starts in the background) instead of holding up the jobs of
    loaded pairs. A job holds its pair (``PairRegistry.use``) until its last segment is done.
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
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._pending = 0  # segments queued or being translated
        self._idle = threading.Condition()
        self._low_water = 0  # wake ``wait_until_below`` once pending drops below this
        self._workers = [
            threading.Thread(target=self._work, name=f"translate-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, jobs: Sequence[TranslationJob], done: JobDone) -> None:
        """Queue the jobs' segments behind those already queued; ``done(i, result, segments)`` per job.

        Never raises for a job: a job that cannot start (unknown or unloaded pair) is
        answered at once, from the calling thread.
        """
        tasks: list[_Task] = []
        finished: list[tuple[int, JobResult]] = []
        for j, job in enumerate(jobs):
            release = ExitStack()
            try:
                model = release.enter_context(self.registry.use(job.pair, wait=self.wait_for_load))
            except EngineError as exc:
                release.close()
                finished.append((j, exc))
                continue
            layout: list[_Layout] = []
            segments: list[str] = []
            for text in job.texts:
                if not text.strip():
                    layout.append(text)
                    continue
                lead, seg, trail = segment(text, self.max_segment_chars)
                layout.append((lead, seg, trail))
                segments.extend(seg.segments)
            state = _JobState(j, layout, len(segments), release, done)
            if not segments:
                finished.append((j, state.result()))
                release.close()
                continue
            tasks.extend(_Task(state, k, model, text) for k, text in enumerate(segments))
        for j, result in finished:
            done(j, result, 0)
        if tasks:
            with self._idle:
                self._pending += len(tasks)
            for task in tasks:
                self._queue.put(task)

    def translate(self, jobs: Sequence[TranslationJob]) -> list[JobResult]:
        """Translate ``jobs`` and wait: one result (translations or the error) per job."""
        results: Gathered[JobResult] = Gathered(len(jobs), TranslationFailed("no result"))
        self.submit(jobs, lambda index, result, segments: results.put(index, result))
        return results.wait()

    @property
    def pending(self) -> int:
        """Segments queued or being translated."""
        return self._pending

    def wait_until_below(self, segments: int, timeout: float | None = None) -> bool:
        """Block until fewer than ``segments`` segments are pending; False on timeout."""
        with self._idle:
            self._low_water = segments
            return self._idle.wait_for(lambda: self._pending < segments, timeout)

    def _work(self) -> None:
        while (task := self._queue.get()) is not None:
            try:
                out: str | EngineError = task.model.translate(task.text)
            except EngineError as exc:
                out = exc
            except Exception as exc:  # a backend bug must not take the thread down
                out = TranslationFailed(f"translation failed: {exc}")
            state = task.state
            with state.lock:
                if isinstance(out, EngineError):
                    state.failure = state.failure or out
                else:
                    state.outputs[task.slot] = out
                state.remaining -= 1
                last = state.remaining == 0
            with self._idle:
                self._pending -= 1
                if self._pending < self._low_water:
                    self._idle.notify_all()
            if last:
                state.release.close()
                try:
                    state.done(state.index, state.result(), len(state.outputs))
                except Exception:  # the caller's callback must not take the thread down
                    log.exception("a translation completion callback failed")

    def close(self) -> None:
        """Stop the threads once the segments already queued are translated."""
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join()
