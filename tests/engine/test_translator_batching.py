"""How BatchTranslator hands segments to ``Model.translate_batch``: in turn, per model, up to its batch size.

Jobs that ask for alternatives go to ``Model.hypotheses`` (``n_best``), never in a call with
jobs asking for another number of them.

A unit test of the scheduler, so the models are deterministic stand-ins that record each call
(the real Bergamot engine, batch size 1, is exercised in test_translator.py and the node tests).
One translation thread and a single ``submit`` make the order of calls exact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.polling import eventually
from universal_decoder_node.engine import (
    BatchTranslator,
    DeadlinePassed,
    EngineError,
    JobResult,
    PairRegistry,
    TranslationFailed,
    TranslationJob,
    Translations,
)
from universal_decoder_node.engine.segment import segment
from universal_decoder_node.engine.translator import join_alternatives

Calls = list[tuple[str, list[str]]]


class RecordingModel:
    """Upper-cases each segment; a segment containing "bad" fails alone, "crash" fails the call."""

    def __init__(self, pair: str, batch: int, calls: Calls, lock: threading.Lock) -> None:
        self.pair = pair
        self.max_batch_segments = batch
        self._calls = calls
        self._lock = lock

    def translate_batch(self, segments: Sequence[str]) -> list[str | EngineError]:
        with self._lock:
            self._calls.append((self.pair, list(segments)))
        if any("crash" in s for s in segments):
            raise RuntimeError("the engine fell over")
        if any("short" in s for s in segments):
            return [s.upper() for s in segments[1:]]
        return [TranslationFailed(f"cannot translate {s!r}") if "bad" in s else s.upper() for s in segments]

    def memory_bytes(self) -> int:
        return 1

    def close(self) -> None:
        pass


class RecordingNBestModel(RecordingModel):
    """Also gives n-best lists: the best (upper case), then ``~1``, ``~2``... appended to it.

    Its ``hypotheses`` calls are recorded as ``"<pair> n=<n>"``; a segment containing "few"
    gets its best alone.
    """

    def hypotheses(self, segments: Sequence[str], n: int) -> list[list[str] | EngineError]:
        with self._lock:
            self._calls.append((f"{self.pair} n={n}", list(segments)))
        out: list[list[str] | EngineError] = []
        for s in segments:
            count = 1 if "few" in s else n
            out.append([s.upper()] + [f"{s.upper()}~{k}" for k in range(1, count)])
        return out


class RecordingBackend:
    name = "recording"

    def __init__(self, batch: int, model: type[RecordingModel] = RecordingModel) -> None:
        self.batch = batch
        self.model = model
        self.calls: Calls = []
        self._lock = threading.Lock()

    def load(self, directory: Path) -> RecordingModel:
        return self.model(directory.name, self.batch, self.calls, self._lock)

    def settings(self) -> dict[str, object]:
        return {"backend": self.name}


class Source:
    backend = "recording"

    def __init__(self, pair: str) -> None:
        self.pair = pair

    def directory(self) -> Path:
        return Path("/models") / self.pair

    def describe(self) -> dict[str, object]:
        return {"source": "test"}


def make_translator(
    batch: int, model: type[RecordingModel] = RecordingModel
) -> tuple[BatchTranslator, RecordingBackend]:
    backend = RecordingBackend(batch, model)
    registry = PairRegistry({pair: Source(pair) for pair in ("aa-bb", "cc-dd")}, backend)
    return BatchTranslator(registry, threads=1), backend


@pytest.fixture
def batched() -> Iterator[tuple[BatchTranslator, RecordingBackend]]:
    translator, backend = make_translator(batch=4)
    yield translator, backend
    translator.close()


def test_segments_are_batched_in_turn_from_the_jobs_of_one_model(
    batched: tuple[BatchTranslator, RecordingBackend],
) -> None:
    translator, backend = batched
    results = translator.translate(
        [
            TranslationJob("aa-bb", ["a1-0", "a1-1", "a1-2"]),
            TranslationJob("cc-dd", ["b1-0", "b1-1"]),
            TranslationJob("aa-bb", ["a2-0"]),
            TranslationJob("aa-bb", ["a3-0", "a3-1"]),
        ]
    )
    assert backend.calls == [
        ("aa-bb", ["a1-0", "a2-0", "a3-0", "a1-1"]),  # one segment per job in turn, up to 4
        ("cc-dd", ["b1-0", "b1-1"]),  # the other model's job, which was next in turn
        ("aa-bb", ["a3-1", "a1-2"]),
    ]
    assert results == [["A1-0", "A1-1", "A1-2"], ["B1-0", "B1-1"], ["A2-0"], ["A3-0", "A3-1"]]
    assert translator.backlog == 0


def test_a_job_alone_fills_the_batch_with_its_own_segments(
    batched: tuple[BatchTranslator, RecordingBackend],
) -> None:
    translator, backend = batched
    (result,) = translator.translate([TranslationJob("aa-bb", [f"s{i}" for i in range(10)])])
    assert [len(segments) for _, segments in backend.calls] == [4, 4, 2]
    assert result == [f"S{i}" for i in range(10)]


def test_batch_size_one_hands_out_one_segment_per_job_in_turn() -> None:
    translator, backend = make_translator(batch=1)
    try:
        translator.translate(
            [TranslationJob("aa-bb", ["a1-0", "a1-1"]), TranslationJob("cc-dd", ["b1-0", "b1-1"])]
        )
    finally:
        translator.close()
    assert backend.calls == [
        ("aa-bb", ["a1-0"]),
        ("cc-dd", ["b1-0"]),
        ("aa-bb", ["a1-1"]),
        ("cc-dd", ["b1-1"]),
    ]


def test_a_segment_the_model_fails_fails_only_its_own_job(
    batched: tuple[BatchTranslator, RecordingBackend],
) -> None:
    translator, backend = batched
    good, bad, other = translator.translate(
        [
            TranslationJob("aa-bb", ["one", "two"]),
            TranslationJob("aa-bb", ["a bad one", "fine"]),
            TranslationJob("aa-bb", ["three"]),
        ]
    )
    assert backend.calls[0] == ("aa-bb", ["one", "a bad one", "three", "two"])  # all in one call
    assert good == ["ONE", "TWO"] and other == ["THREE"]
    assert isinstance(bad, TranslationFailed) and "a bad one" in str(bad)


@pytest.mark.parametrize(
    ("poison", "message"),
    [("crash", "translation failed: the engine fell over"), ("short", "answered 1 results for 2 sentences")],
)
def test_a_call_that_fails_whole_fails_the_jobs_in_it_and_the_thread_carries_on(
    batched: tuple[BatchTranslator, RecordingBackend], poison: str, message: str
) -> None:
    translator, _ = batched
    results = translator.translate([TranslationJob("aa-bb", [poison]), TranslationJob("aa-bb", ["x"])])
    for result in results:
        assert isinstance(result, TranslationFailed) and message in str(result)
    assert translator.translate([TranslationJob("aa-bb", ["after"])]) == [["AFTER"]]


def test_a_job_past_its_deadline_is_left_out_of_the_batch(
    batched: tuple[BatchTranslator, RecordingBackend],
) -> None:
    translator, backend = batched
    done = threading.Event()
    answers: dict[int, tuple[JobResult, int]] = {}

    def record(index: int, result: JobResult, segments: int) -> None:
        answers[index] = (result, segments)
        if len(answers) == 3:
            done.set()

    translator.submit(
        [
            TranslationJob("aa-bb", ["a1-0", "a1-1"]),
            TranslationJob("aa-bb", ["late-0", "late-1"], deadline=time.monotonic() - 1),
            TranslationJob("aa-bb", ["a2-0"], cancelled=lambda: True),
        ],
        record,
    )
    assert done.wait(10)
    assert backend.calls == [("aa-bb", ["a1-0", "a1-1"])]
    assert answers[0] == (["A1-0", "A1-1"], 2)
    late, late_count = answers[1]
    assert isinstance(late, DeadlinePassed) and late_count == 0
    assert answers[2][1] == 0 and "closed the request" in str(answers[2][0])
    assert translator.backlog == 0


def test_a_batch_holds_the_jobs_of_one_model_asking_for_as_many_alternatives() -> None:
    translator, backend = make_translator(batch=4, model=RecordingNBestModel)
    try:
        plain, two, other_plain, two_more, one = translator.translate(
            [
                TranslationJob("aa-bb", ["a1-0", "a1-1"]),
                TranslationJob("aa-bb", ["b1-0"], alternatives=2),
                TranslationJob("aa-bb", ["c1-0"]),
                TranslationJob("aa-bb", ["d1-0", "d1-1"], alternatives=2),
                TranslationJob("aa-bb", ["e1-0"], alternatives=1),
            ]
        )
    finally:
        translator.close()
    assert backend.calls == [
        ("aa-bb", ["a1-0", "c1-0", "a1-1"]),  # no alternatives: translate_batch, as before
        ("aa-bb n=3", ["b1-0", "d1-0", "d1-1"]),  # two alternatives: the best and two more
        ("aa-bb n=2", ["e1-0"]),  # one alternative: a call of its own
    ]
    assert plain == ["A1-0", "A1-1"] and other_plain == ["C1-0"]
    assert isinstance(plain, Translations) and plain.alternatives is None
    assert two == ["B1-0"] and isinstance(two, Translations)
    assert two.alternatives == [["B1-0~1", "B1-0~2"]]
    assert isinstance(two_more, Translations)
    assert two_more.alternatives == [["D1-0~1", "D1-0~2"], ["D1-1~1", "D1-1~2"]]
    assert isinstance(one, Translations) and one.alternatives == [["E1-0~1"]]
    assert translator.backlog == 0


def test_a_text_s_alternatives_join_its_sentences_k_th_hypotheses() -> None:
    translator, backend = make_translator(batch=8, model=RecordingNBestModel)
    try:
        (result,) = translator.translate(
            [TranslationJob("aa-bb", ["  First one. A few here.\nThird one. ", "Alone."], alternatives=2)]
        )
    finally:
        translator.close()
    assert backend.calls == [("aa-bb n=3", ["First one.", "A few here.", "Third one.", "Alone."])]
    assert result == ["  FIRST ONE. A FEW HERE.\nTHIRD ONE. ", "ALONE."]
    assert isinstance(result, Translations)
    # The second sentence has no alternatives of its own: its best stands in each.
    assert result.alternatives == [
        ["  FIRST ONE.~1 A FEW HERE.\nTHIRD ONE.~1 ", "  FIRST ONE.~2 A FEW HERE.\nTHIRD ONE.~2 "],
        ["ALONE.~1", "ALONE.~2"],
    ]


def test_join_alternatives_leaves_out_the_best_repeats_and_empty_ones() -> None:
    _, seg, _ = segment("One. Two.")
    hypotheses = [["uno.", "un.", "uno."], ["dos.", "dos.", "deux."]]
    # k=1: "un. dos."; k=2: "uno. deux."; k=3 (beyond both lists): the best again, left out.
    assert join_alternatives(seg, hypotheses, 3) == ["un. dos.", "uno. deux."]
    assert join_alternatives(seg, [["uno.", "uno."], ["dos.", "dos."]], 1) == []  # the best itself
    (_, alone, _) = segment("One.")
    assert join_alternatives(alone, [["uno.", "", "un.", "un."]], 3) == ["un."]  # empty and repeated


def test_a_model_without_n_best_answers_no_alternatives() -> None:
    translator, backend = make_translator(batch=4)
    try:
        (result,) = translator.translate([TranslationJob("aa-bb", ["one", "two"], alternatives=3)])
    finally:
        translator.close()
    assert backend.calls == [("aa-bb", ["one", "two"])]
    assert result == ["ONE", "TWO"]
    assert isinstance(result, Translations) and result.alternatives == [[], []]


class GatedModel(RecordingModel):
    """Holds every call until the test opens ``gate`` (class-wide), and says when one has begun."""

    gate = threading.Event()
    entered = threading.Event()

    def translate_batch(self, segments: Sequence[str]) -> list[str | EngineError]:
        GatedModel.entered.set()
        assert GatedModel.gate.wait(30), "test gate never opened"
        return super().translate_batch(segments)


def test_the_backlog_counts_a_batch_in_flight_as_one_call() -> None:
    # The worker's loop admits more requests while the backlog is below two calls per thread.
    # A batch of four sentences keeps one thread busy, as one sentence would: counted in
    # sentences, a batched engine would never get a second batch while the first runs.
    GatedModel.gate.clear()
    GatedModel.entered.clear()
    translator, backend = make_translator(batch=4, model=GatedModel)
    try:
        done = threading.Event()
        translator.submit([TranslationJob("aa-bb", [f"s{i}"]) for i in range(4)], lambda i, r, n: done.set())
        assert GatedModel.entered.wait(30)
        assert translator.backlog == 1  # one call, four sentences, no job left unstarted
        GatedModel.gate.set()
        assert done.wait(30)
    finally:
        GatedModel.gate.set()
        translator.close()
    assert backend.calls == [("aa-bb", ["s0", "s1", "s2", "s3"])]


class TwoGateModel(RecordingModel):
    """Holds its first call until ``first`` opens and every later one until ``later`` does."""

    first = threading.Event()
    later = threading.Event()
    calls_begun = 0

    def translate_batch(self, segments: Sequence[str]) -> list[str | EngineError]:
        TwoGateModel.calls_begun += 1
        gate = TwoGateModel.first if TwoGateModel.calls_begun == 1 else TwoGateModel.later
        assert gate.wait(30), "test gate never opened"
        return super().translate_batch(segments)


def test_the_admission_gate_opens_when_a_thread_takes_the_waiting_jobs() -> None:
    # The worker's loop sleeps in wait_until_below while the backlog is high. When a free thread
    # takes the waiting jobs the backlog falls, and the loop must wake then, not when a call
    # ends: else the requests behind wait in the pipe while threads sit idle (seen at 64
    # clients as one batch at a time on two threads).
    TwoGateModel.first.clear()
    TwoGateModel.later.clear()
    TwoGateModel.calls_begun = 0
    translator, backend = make_translator(batch=4, model=TwoGateModel)
    try:
        translator.submit([TranslationJob("aa-bb", ["first"])], lambda i, r, n: None)
        eventually(lambda: TwoGateModel.calls_begun == 1, 30, "the first call never began")
        translator.submit([TranslationJob("aa-bb", [f"s{i}"]) for i in range(3)], lambda i, r, n: None)
        assert translator.backlog == 4  # one call running, three jobs not started
        opened = threading.Event()
        waiter = threading.Thread(target=lambda: translator.wait_until_below(2, timeout=30) and opened.set())
        waiter.start()
        eventually(lambda: translator._low_water == 2, 30, "the waiter never waited")
        TwoGateModel.first.set()  # the thread ends its call and takes the three jobs as one batch
        eventually(lambda: TwoGateModel.calls_begun == 2, 30, "the second call never began")
        assert opened.wait(10), f"the gate stayed shut with a backlog of {translator.backlog}"
        assert not TwoGateModel.later.is_set()  # it opened while the second call was still running
        waiter.join(30)
    finally:
        TwoGateModel.first.set()
        TwoGateModel.later.set()
        translator.close()
    assert backend.calls == [("aa-bb", ["first"]), ("aa-bb", ["s0", "s1", "s2"])]
