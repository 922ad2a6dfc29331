"""Translate requests on a pool of long-lived threads, one result (or error) per request."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from .base import DeadlinePassed, EngineError, JobCancelled, Model, TranslationFailed, n_best
from .pivot import PivotPair
from .registry import PairLoading, PairRegistry
from .segment import DEFAULT_MAX_CHARS, Segmented, segment

log = logging.getLogger(__name__)

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class TranslationJob:
    """One request's work: its language pair and its texts.

    ``deadline`` (``time.monotonic()``, comparable across processes on Linux) and
    ``cancelled`` (asked before each segment) stop the job at its next segment: what is
    left is dropped and the job fails with DeadlinePassed or JobCancelled. ``alternatives``:
    how many other translations of each text to give besides the best (``Translations``);
    the segments of such a job are decoded for that many more hypotheses, in engine calls
    of their own, so its best translation may differ from the one a job without gets.
    """

    pair: str
    texts: Sequence[str]
    deadline: float | None = None
    cancelled: Callable[[], bool] | None = None
    alternatives: int = 0


class Translations(list[str]):
    """A job's translations, one per text; a list, so it compares equal to the plain list.

    ``alternatives``: when the job asked for any, the other translations of each text, best
    first (``join_alternatives``), an empty list for a text the engine gives none for; else None.
    """

    __slots__ = ("alternatives",)

    def __init__(self, texts: Iterable[str] = (), alternatives: list[list[str]] | None = None) -> None:
        super().__init__(texts)
        self.alternatives = alternatives


JobResult = Translations | EngineError
# Per text of a job: the text itself when blank, else (leading space, segments, trailing space).
_Layout = tuple[str, Segmented, str] | str
# Called once per job, from a translation thread (or the submitting thread for a job that
# needs no translation): (the job's index in its submit call, its result, segments translated,
# which for a job that failed or stopped early counts only those that were).
JobDone = Callable[[int, JobResult, int], None]
# Called after each engine call, from the thread that made it: (segments in the call, seconds it took).
CallObserver = Callable[[int, float], None]


class _JobState:
    """One submitted job: its segments, the next one to hand out, and their outputs as they arrive.

    Every field but ``layout`` and ``done`` changes under the translator's lock.
    """

    __slots__ = (
        "alternatives",
        "cancelled",
        "deadline",
        "done",
        "failure",
        "hypotheses",
        "index",
        "layout",
        "model",
        "next",
        "outputs",
        "release",
        "remaining",
        "segments",
        "started",
        "translated",
    )

    def __init__(
        self,
        index: int,
        job: TranslationJob,
        layout: list[_Layout],
        segments: list[str],
        model: Model,
        release: ExitStack,
        done: JobDone,
    ):
        self.index = index
        self.layout = layout
        self.segments = segments
        self.model = model
        self.deadline = job.deadline
        self.cancelled = job.cancelled
        self.outputs: list[str] = [""] * len(segments)
        self.alternatives = job.alternatives
        # Each segment's translations, best first, when the job asked for alternatives.
        self.hypotheses: list[list[str]] | None = [[] for _ in segments] if job.alternatives else None
        self.failure: EngineError | None = None
        self.next = 0  # the next segment to hand to a thread
        self.remaining = len(segments)  # segments not yet translated or dropped
        self.translated = 0
        self.release = release
        self.done = done
        self.started = time.monotonic()

    def stop_reason(self) -> EngineError | None:
        """Why the job's remaining segments should not be started, if they should not."""
        if self.failure is not None:
            return self.failure
        if self.deadline is not None and time.monotonic() > self.deadline:
            return DeadlinePassed(
                f"request passed its deadline after {time.monotonic() - self.started:.1f}s of translation "
                f"with {self.next} of {len(self.segments)} sentences started; the rest were dropped"
            )
        if self.cancelled is not None and self.cancelled():
            return JobCancelled("the client closed the request; its remaining sentences were dropped")
        return None

    def result(self) -> JobResult:
        if self.failure is not None:
            return self.failure
        texts: list[str] = []
        alternatives: list[list[str]] | None = [] if self.hypotheses is not None else None
        cursor = 0
        for item in self.layout:
            if isinstance(item, str):
                texts.append(item)
                if alternatives is not None:
                    alternatives.append([])
                continue
            lead, seg, trail = item
            n = len(seg.segments)
            texts.append(lead + seg.join(self.outputs[cursor : cursor + n]) + trail)
            if alternatives is not None and self.hypotheses is not None:
                others = join_alternatives(seg, self.hypotheses[cursor : cursor + n], self.alternatives)
                alternatives.append([lead + other + trail for other in others])
            cursor += n
        return Translations(texts, alternatives)


def join_alternatives(seg: Segmented, hypotheses: Sequence[Sequence[str]], count: int) -> list[str]:
    """Up to ``count`` other translations of a segmented text, from its segments' ``hypotheses``.

    ``hypotheses``: each segment's translations, best first. The k-th alternative joins every
    segment's k-th hypothesis (its best where it has fewer), the way the text's segments are
    joined: Argos Translate builds a text's hypotheses from its sentences' the same way. As
    LibreTranslate does, an alternative equal to the best translation, to an earlier
    alternative, or empty is left out, so there may be fewer than ``count``.
    """
    best = seg.join([h[0] for h in hypotheses])
    seen = {best, ""}
    others: list[str] = []
    for k in range(1, count + 1):
        other = seg.join([h[k] if k < len(h) else h[0] for h in hypotheses])
        if other not in seen:
            seen.add(other)
            others.append(other)
    return others


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


class BatchTranslator:
    """Translates the segments of every submitted job on ``threads`` long-lived threads.

    Each text is cut into sentence segments (``engine.segment``). Jobs take turns: the
    threads hand out one segment of each job with work left in round-robin order, so a
    one-sentence request submitted behind a job of thousands of segments waits for at most
    one segment per job ahead of it, not for the whole job; and a new job starts as soon as a
    thread is free (there is no barrier at the end of a batch). A thread gives its model up to
    the model's ``max_batch_segments`` segments in one ``translate_batch`` call, taken in the
    same turns from the jobs of that model that ask for as many alternatives (jobs with
    alternatives go to ``n_best`` instead, each width of search in calls of its own). Before
    each segment is handed out its job's deadline and cancellation are checked: a job past
    either stops there, and its remaining segments are dropped. An error fails only the job
    it belongs to. With ``wait_for_load=False`` a job whose pair is not loaded waits aside for
    the load (started in the background) without holding up the jobs of loaded pairs, until
    its deadline at most (then it fails with PairLoading). A job holds its pair
    (``PairRegistry.use``) until its last segment is done.

    A job for a pair served through English (``PairRegistry.pivot``) runs as two jobs in turn:
    its texts to English, then, once that job is done, its English texts (each text's
    translation, its layout kept) on to the target, with the same deadline and cancellation,
    so both legs take their turns, and stop, like any job. The answer is the second leg's; an
    error in the first fails the job without starting the second. Alternatives come from the
    second leg only.
    """

    def __init__(
        self,
        registry: PairRegistry,
        threads: int,
        max_segment_chars: int = DEFAULT_MAX_CHARS,
        *,
        wait_for_load: bool = True,
        on_call: CallObserver | None = None,
    ):
        self.registry = registry
        self.wait_for_load = wait_for_load
        self.on_call = on_call
        self.threads = max(1, threads)
        self.max_segment_chars = max_segment_chars
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)  # a job was queued, or closing
        self._below = threading.Condition(self._lock)  # the backlog fell below ``_low_water``
        self._turns: deque[_JobState] = deque()  # jobs with segments not yet handed out
        self._running = 0  # engine calls (batches of segments) being made
        self._unstarted = 0  # queued jobs not yet given a first segment
        self._low_water = 0
        self._closing = False
        self._workers = [
            threading.Thread(target=self._work, name=f"translate-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, jobs: Sequence[TranslationJob], done: JobDone) -> None:
        """Queue the jobs behind those already queued; ``done(i, result, segments)`` once per job.

        Never raises for a job: a job that cannot start (unknown or unloaded pair) is
        answered at once, from the calling thread.
        """
        states: list[_JobState] = []
        finished: list[tuple[int, JobResult]] = []
        for j, job in enumerate(jobs):
            pivot = self.registry.pivot(job.pair)
            if pivot is not None:
                self._submit_pivot(job, pivot, partial(done, j))
                continue
            release = ExitStack()
            try:
                model = release.enter_context(self.registry.use(job.pair, wait=self.wait_for_load))
            except PairLoading as loading:
                release.close()
                self._park(job, loading, partial(done, j))
                continue
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
            state = _JobState(j, job, layout, segments, model, release, done)
            if not segments:
                finished.append((j, state.result()))
                release.close()
                continue
            states.append(state)
        for j, result in finished:
            done(j, result, 0)
        if states:
            with self._lock:
                self._turns.extend(states)
                self._unstarted += len(states)
                self._work_ready.notify(len(states))

    def _submit_pivot(
        self, job: TranslationJob, pivot: PivotPair, done: Callable[[JobResult, int], None]
    ) -> None:
        """Queue the job's first leg; when it is done, queue its second leg on the first's translations."""

        def first_done(_: int, result: JobResult, segments: int) -> None:
            if isinstance(result, EngineError):
                done(result, segments)
                return
            second = TranslationJob(pivot.second, list(result), job.deadline, job.cancelled, job.alternatives)
            self.submit([second], lambda _index, out, more: done(out, segments + more))

        self.submit([TranslationJob(pivot.first, job.texts, job.deadline, job.cancelled)], first_done)

    def _park(
        self, job: TranslationJob, loading: PairLoading, done: Callable[[JobResult, int], None]
    ) -> None:
        """Hold a job whose pair is loading until the load ends (then submit it) or its deadline passes.

        No thread waits: the load's completion, or a timer at the deadline, settles the job,
        whichever comes first; the jobs of loaded pairs go on meanwhile.
        """
        future = self.registry.start_load(job.pair)
        settled = threading.Lock()
        timer: threading.Timer | None = None

        def on_loaded(_: object) -> None:
            if settled.acquire(blocking=False):
                if timer is not None:
                    timer.cancel()
                self.submit([job], lambda _index, result, segments: done(result, segments))

        def on_deadline() -> None:
            if settled.acquire(blocking=False):
                done(PairLoading(job.pair, loading.origin, waited=True), 0)

        if job.deadline is not None:
            timer = threading.Timer(max(0.0, job.deadline - time.monotonic()), on_deadline)
            timer.daemon = True
            timer.start()
        future.add_done_callback(on_loaded)

    def translate(self, jobs: Sequence[TranslationJob]) -> list[JobResult]:
        """Translate ``jobs`` and wait: one result (translations or the error) per job."""
        results: Gathered[JobResult] = Gathered(len(jobs), TranslationFailed("no result"))
        self.submit(jobs, lambda index, result, segments: results.put(index, result))
        return results.wait()

    @property
    def backlog(self) -> int:
        """What the admission gate waits on: engine calls being made, and queued jobs not yet started.

        Calls, not segments: a thread busy with a batch of 32 sentences is one busy thread, as
        one busy with a single sentence is, and the gate's question is whether every thread
        has work ready for its next call. A job already started takes one turn per round, like
        the job submitted next, so it is not counted: long jobs in the rotation never hold up
        the admission of new ones.
        """
        return self._running + self._unstarted

    def wait_until_below(self, segments: int, timeout: float | None = None) -> bool:
        """Block until the backlog is below ``segments``; False on timeout."""
        with self._lock:
            self._low_water = segments
            return self._below.wait_for(lambda: self.backlog < segments, timeout)

    def _next_batch(self) -> list[tuple[_JobState, int]] | None:
        """The next (job, segment index) pairs in turn, for one model; None once closing with nothing queued.

        The first queued job gives one segment, then the queued jobs of the same model and the
        same ``alternatives`` give one each in turn (the same job again when it is the only one)
        until the batch holds the model's ``max_batch_segments``. Jobs found stopped (deadline,
        cancellation, an earlier failure) leave the rotation here, and are answered when their
        last running segment is done.
        """
        while True:
            stopped: list[_JobState] = []
            with self._lock:
                while not self._turns:
                    if self._closing:
                        return None
                    self._work_ready.wait()
                batch = self._take_batch(stopped)
                if batch:
                    self._running += 1
                    if self._turns:
                        self._work_ready.notify()  # an idle thread can take the next turn
                # Jobs started or stopped here leave the backlog: the admission gate may open now,
                # not only when a call ends (a loop waiting for that would leave this thread's
                # neighbours idle while requests wait in the pipe).
                self._notify_below()
            for state in stopped:
                self._finish(state)
            if batch:
                return batch

    def _take_batch(self, stopped: list[_JobState]) -> list[tuple[_JobState, int]]:
        """Hand out segments in turn (see ``_next_batch``); adds jobs stopped and done to ``stopped``.

        Caller holds the lock. Returns an empty batch when every queued job it met had stopped.
        """
        batch: list[tuple[_JobState, int]] = []
        model: Model | None = None
        alternatives = 0
        limit = 1
        while len(batch) < limit:
            state = self._pop_turn(model, alternatives)
            if state is None:
                break
            if state.next == 0:
                self._unstarted -= 1
            stop = state.stop_reason()
            if stop is not None:
                state.failure = stop
                state.remaining -= len(state.segments) - state.next
                state.next = len(state.segments)
                if state.remaining == 0:
                    stopped.append(state)
                continue
            batch.append((state, state.next))
            state.next += 1
            if state.next < len(state.segments):
                self._turns.append(state)
            if model is None:
                model, alternatives = state.model, state.alternatives
                limit = max(1, model.max_batch_segments)
        return batch

    def _pop_turn(self, model: Model | None, alternatives: int) -> _JobState | None:
        """Take the first queued job out of the rotation; caller holds the lock.

        With ``model`` given, the first of that model asking for as many ``alternatives``: one
        engine call serves one search width (a wider one can change the best translation).
        """
        if model is None:
            return self._turns.popleft() if self._turns else None
        for state in self._turns:
            if state.model is model and state.alternatives == alternatives:
                self._turns.remove(state)
                return state
        return None

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            first = batch[0][0]
            segments = [state.segments[slot] for state, slot in batch]
            started = time.perf_counter()
            outputs = self._translate(first.model, segments, first.alternatives)
            if self.on_call is not None:
                self._observe(len(segments), time.perf_counter() - started)
            finished: list[_JobState] = []
            with self._lock:
                for (state, slot), out in zip(batch, outputs, strict=True):
                    if isinstance(out, EngineError):
                        state.failure = state.failure or out
                    else:
                        state.outputs[slot] = out[0]
                        if state.hypotheses is not None:
                            state.hypotheses[slot] = out
                        state.translated += 1
                    state.remaining -= 1
                    if state.remaining == 0:
                        finished.append(state)
                self._running -= 1
                self._notify_below()
            for state in finished:
                self._finish(state)

    @staticmethod
    def _translate(model: Model, segments: list[str], alternatives: int) -> list[list[str] | EngineError]:
        """Per segment its translations (the best first; ``alternatives`` more asked for) or its error.

        Without alternatives, the model's ``translate_batch``: its one translation per segment.
        """
        try:
            if alternatives:
                outputs = n_best(model, segments, alternatives + 1)
            else:
                outputs = [o if isinstance(o, EngineError) else [o] for o in model.translate_batch(segments)]
        except EngineError as exc:
            return [exc] * len(segments)
        except Exception as exc:  # a backend bug must not take the thread down
            return [TranslationFailed(f"translation failed: {exc}")] * len(segments)
        if len(outputs) != len(segments):
            failed = TranslationFailed(
                f"the engine answered {len(outputs)} results for {len(segments)} sentences"
            )
            return [failed] * len(segments)
        return [out if out else TranslationFailed("the engine gave no translation") for out in outputs]

    def _observe(self, segments: int, seconds: float) -> None:
        assert self.on_call is not None
        try:
            self.on_call(segments, seconds)
        except Exception:  # an observer must not take the thread down
            log.exception("an engine call observer failed")

    def _notify_below(self) -> None:
        if self.backlog < self._low_water:
            self._below.notify_all()

    @staticmethod
    def _finish(state: _JobState) -> None:
        state.release.close()
        try:
            state.done(state.index, state.result(), state.translated)
        except Exception:  # the caller's callback must not take the thread down
            log.exception("a translation completion callback failed")

    def close(self) -> None:
        """Stop the threads once the segments already queued are translated."""
        with self._lock:
            self._closing = True
            self._work_ready.notify_all()
        for worker in self._workers:
            worker.join()
