"""BatchTranslator over the real bundled Bergamot models: one result or error per job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import BEACH_EN as BEACH
from tests.support import LONG_PARAGRAPH
from universal_decoder_node.engine import (
    BatchTranslator,
    BergamotBackend,
    DeadlinePassed,
    JobCancelled,
    ModelLoadError,
    PairRegistry,
    TranslationFailed,
    TranslationJob,
    UnsupportedPairError,
    bundled_model_dirs,
)
from universal_decoder_node.models.sources import DirectorySource


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchTranslator]:
    sources = {pair: DirectorySource(path, "bundled") for pair, path in bundled_model_dirs().items()}
    sources["en-es"] = DirectorySource(tmp_path_factory.mktemp("models") / "missing")
    t = BatchTranslator(PairRegistry(sources, BergamotBackend(2)), threads=2)
    yield t
    t.close()


def test_jobs_of_both_pairs_in_one_batch(translator: BatchTranslator) -> None:
    results = translator.translate(
        [
            TranslationJob("en-pt", [BEACH, "I like books."]),
            TranslationJob("pt-en", ["O gato está dormindo no sofá."]),
        ]
    )
    assert len(results) == 2
    en_pt, pt_en = results
    assert isinstance(en_pt, list) and isinstance(pt_en, list)
    assert "praia" in en_pt[0] and "livros" in en_pt[1]
    assert "cat" in pt_en[0]


def test_unsupported_pair_fails_only_its_own_job(translator: BatchTranslator) -> None:
    results = translator.translate(
        [
            TranslationJob("en-pt", [BEACH]),
            TranslationJob("en-de", ["Hello."]),
            TranslationJob("pt-en", ["Eu gosto de livros."]),
        ]
    )
    assert isinstance(results[1], UnsupportedPairError)
    assert "en-de" in str(results[1])
    assert isinstance(results[0], list) and "praia" in results[0][0]
    assert isinstance(results[2], list) and "books" in results[2][0]


def test_pair_whose_model_cannot_load_fails_only_its_own_job(translator: BatchTranslator) -> None:
    results = translator.translate([TranslationJob("en-es", ["Hello."]), TranslationJob("en-pt", [BEACH])])
    assert isinstance(results[0], ModelLoadError)
    assert "does not exist" in str(results[0])
    assert isinstance(results[1], list) and "praia" in results[1][0]


def test_text_the_engine_rejects_fails_only_its_own_job(translator: BatchTranslator) -> None:
    # The native engine cannot encode a lone surrogate; that one segment's failure fails
    # its job, and the other job of the batch is translated.
    results = translator.translate(
        [TranslationJob("en-pt", ["Fine.", "Broken \ud800 text."]), TranslationJob("en-pt", [BEACH])]
    )
    assert isinstance(results[0], TranslationFailed)
    assert isinstance(results[1], list) and "praia" in results[1][0]


def test_bergamot_answers_each_segment_of_a_batch_on_its_own(translator: BatchTranslator) -> None:
    model = translator.registry.load("en-pt")
    assert model.max_batch_segments == 1  # the translator's threads run one sentence each
    fine, broken, books = model.translate_batch(["Good morning.", "Broken \ud800 text.", "I like books."])
    assert isinstance(fine, str) and "Bom dia" in fine
    assert isinstance(broken, TranslationFailed)
    assert isinstance(books, str) and "livros" in books


def test_whitespace_and_line_breaks_survive(translator: BatchTranslator) -> None:
    (result,) = translator.translate([TranslationJob("en-pt", ["  Good morning.\n\nI like books.\n", "   "])])
    assert isinstance(result, list)
    first, blank = result
    assert first.startswith("  Bom dia") and first.endswith("livros.\n")
    assert "\n\n" in first
    assert blank == "   "


def test_long_paragraph_is_translated_whole_although_the_engine_truncates_it(
    translator: BatchTranslator,
) -> None:
    # Sent whole, the native engine drops the end of this paragraph (why segment.py exists).
    native = translator.registry.load("en-pt").translate(LONG_PARAGRAPH)
    assert "sofá" not in native
    (result,) = translator.translate([TranslationJob("en-pt", [LONG_PARAGRAPH])])
    assert isinstance(result, list)
    assert result[0].startswith("Meu irmão") and "igreja" in result[0] and "sofá" in result[0]


def test_empty_batch(translator: BatchTranslator) -> None:
    assert translator.translate([]) == []


def test_bundled_model_directories_exist() -> None:
    dirs = bundled_model_dirs()
    assert set(dirs) == {"en-pt", "pt-en"}
    for path in dirs.values():
        assert Path(path).is_dir()
        assert list(Path(path).glob("config*.yml"))


def test_submit_answers_each_job_once_as_soon_as_its_own_segments_are_done(
    translator: BatchTranslator,
) -> None:
    # A short job and a long one in one submit: the short one is answered while the long one
    # is still being translated (no batch barrier); a job that cannot start is answered at once.
    done: list[tuple[int, object]] = []
    counts: dict[int, int] = {}
    all_done = threading.Event()

    def record(index: int, result: object, segments: int) -> None:
        done.append((index, result))
        counts[index] = segments
        if len(done) == 3:
            all_done.set()

    translator.submit(
        [
            TranslationJob("en-pt", [BEACH]),
            TranslationJob("en-pt", [LONG_PARAGRAPH] * 3),
            TranslationJob("en-de", ["Hello."]),
        ],
        record,
    )
    assert all_done.wait(120)
    assert [index for index, _ in done] == [2, 0, 1]  # each job exactly once, in that order
    results = dict(done)
    assert isinstance(results[2], UnsupportedPairError)
    assert isinstance(results[0], list) and "praia" in results[0][0]
    assert isinstance(results[1], list) and all("sofá" in text for text in results[1])
    assert counts == {0: 1, 1: 48, 2: 0}  # sentences translated per job
    assert translator.backlog == 0


def test_wait_until_below_returns_once_the_queue_drains(translator: BatchTranslator) -> None:
    finished = threading.Event()
    translator.submit([TranslationJob("en-pt", [LONG_PARAGRAPH] * 2)], lambda i, r, n: finished.set())
    assert translator.backlog > 0  # 32 segments queued on 2 threads
    assert not translator.wait_until_below(1, timeout=0.01)
    assert translator.wait_until_below(1, timeout=120)
    assert finished.wait(10)


def _collect(
    translator: BatchTranslator, jobs: list[TranslationJob]
) -> tuple[list[int], dict[int, object], dict[int, int]]:
    """Submit ``jobs`` in one call and wait: (indices in answer order, results, segments translated)."""
    order: list[int] = []
    results: dict[int, object] = {}
    counts: dict[int, int] = {}
    all_done = threading.Event()

    def record(index: int, result: object, segments: int) -> None:
        order.append(index)
        results[index] = result
        counts[index] = segments
        if len(order) == len(jobs):
            all_done.set()

    translator.submit(jobs, record)
    assert all_done.wait(120)
    return order, results, counts


def test_a_short_job_submitted_after_a_huge_one_is_answered_first(translator: BatchTranslator) -> None:
    # Jobs take turns segment by segment: the one-sentence job waits for one segment of the
    # huge job, not for all of its 300 lines.
    huge = TranslationJob("en-pt", ["Hi.\n" * 300])
    order: list[str] = []
    both = threading.Event()

    def record(name: str) -> Callable[[int, object, int], None]:
        def done(index: int, result: object, segments: int) -> None:
            assert isinstance(result, list), result
            order.append(name)
            if len(order) == 2:
                both.set()

        return done

    translator.submit([huge], record("huge"))
    translator.submit([TranslationJob("en-pt", [BEACH])], record("short"))
    assert both.wait(120)
    assert order == ["short", "huge"]


def test_a_job_past_its_deadline_stops_at_its_next_segment(translator: BatchTranslator) -> None:
    texts = ["Hi.\n" * 400]
    _, results, counts = _collect(
        translator,
        [TranslationJob("en-pt", texts, deadline=time.monotonic() + 0.2), TranslationJob("en-pt", [BEACH])],
    )
    assert isinstance(results[0], DeadlinePassed)
    assert "deadline" in str(results[0])
    assert counts[0] < 400  # the rest were dropped, not translated
    assert isinstance(results[1], list) and "praia" in results[1][0]  # its neighbour is unaffected
    assert translator.backlog == 0


def test_a_cancelled_job_stops_and_a_job_already_late_translates_nothing(translator: BatchTranslator) -> None:
    cancel = threading.Event()
    started = threading.Event()

    def cancelled() -> bool:
        started.set()
        return cancel.is_set()

    job = TranslationJob("en-pt", ["Hi.\n" * 400], cancelled=cancelled)
    late = TranslationJob("en-pt", [BEACH], deadline=time.monotonic() - 1)
    done = threading.Event()
    results: dict[int, tuple[object, int]] = {}

    def record(index: int, result: object, segments: int) -> None:
        results[index] = (result, segments)
        if len(results) == 2:
            done.set()

    translator.submit([job, late], record)
    assert started.wait(60)
    cancel.set()
    assert done.wait(120)
    assert isinstance(results[0][0], JobCancelled) and results[0][1] < 400
    assert isinstance(results[1][0], DeadlinePassed) and results[1][1] == 0
    assert translator.backlog == 0


def test_long_jobs_in_the_rotation_do_not_hold_up_admission(translator: BatchTranslator) -> None:
    # The worker's loop admits new requests while the backlog is below two segments per
    # thread. Two long jobs that have started take one turn each per round, like a new job,
    # so they must not count: otherwise nothing new is admitted until one of them ends.
    done = threading.Event()
    finished: list[int] = []

    def record(index: int, result: object, segments: int) -> None:
        finished.append(index)
        if len(finished) == 2:
            done.set()

    translator.submit(
        [TranslationJob("en-pt", ["Hi.\n" * 400]), TranslationJob("en-pt", ["Hi.\n" * 400])], record
    )
    samples = []
    while not finished and len(samples) < 200:
        samples.append(translator.backlog)
        time.sleep(0.001)  # sampling the backlog while the two are translated, not waiting on it
    assert not finished, "the jobs ended before the backlog could be sampled"
    assert max(samples) <= translator.threads, samples  # only the segments being translated
    assert translator.wait_until_below(2 * translator.threads, timeout=60)
    assert done.wait(120)
