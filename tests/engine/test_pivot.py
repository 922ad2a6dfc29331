"""Pairs served through English: which pairs become pivots, and the two-stage job in the scheduler.

A unit test of the scheduler, so the models are deterministic stand-ins (the real Bergamot and
CTranslate2 legs are exercised over HTTP in tests/serving/test_pivot_node.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support import eventually
from universal_decoder_node.engine import (
    BatchTranslator,
    DeadlinePassed,
    EngineError,
    JobCancelled,
    PairRegistry,
    PivotPair,
    TranslationFailed,
    TranslationJob,
    UnsupportedPairError,
    pivot_pairs,
)


class TaggingModel:
    """Marks each segment with its pair's name: 'PT-EN: Olá.'; a segment containing "bad" fails."""

    max_batch_segments = 4

    def __init__(self, pair: str, backend: TaggingBackend) -> None:
        self.pair = pair
        self.backend = backend

    def translate_batch(self, segments: Sequence[str]) -> list[str | EngineError]:
        self.backend.calls.append((self.pair, list(segments)))
        self.backend.before_call(self.pair)
        return [
            TranslationFailed(f"cannot translate {s!r}") if "bad" in s else f"{self.pair.upper()}: {s}"
            for s in segments
        ]

    def memory_bytes(self) -> int:
        return 1

    def close(self) -> None:
        pass


class TaggingBackend:
    name = "tagging"

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.before_call: Callable[[str], None] = lambda pair: None

    def load(self, directory: Path) -> TaggingModel:
        return TaggingModel(directory.name, self)

    def settings(self) -> dict[str, object]:
        return {"backend": self.name}


class Source:
    backend = "tagging"

    def __init__(self, pair: str) -> None:
        self.pair = pair

    def directory(self) -> Path:
        return Path("/models") / self.pair

    def describe(self) -> dict[str, object]:
        return {"source": "test"}


def make(pairs: Sequence[str], *, pivot: bool = True) -> tuple[BatchTranslator, TaggingBackend]:
    backend = TaggingBackend()
    registry = PairRegistry({pair: Source(pair) for pair in pairs}, backend, pivot=pivot)
    return BatchTranslator(registry, threads=1), backend


@pytest.fixture
def pivoting() -> Iterator[tuple[BatchTranslator, TaggingBackend]]:
    translator, backend = make(["pt-en", "en-xx", "en-pt"])
    yield translator, backend
    translator.close()


def test_a_pair_is_a_pivot_only_without_a_model_of_its_own_and_never_to_itself() -> None:
    pivots = pivot_pairs(["pt-en", "de-en", "en-pt", "en-xx", "en-de", "de-xx"])
    assert pivots == {
        "de-pt": PivotPair("de-pt", "de-en", "en-pt"),
        "pt-de": PivotPair("pt-de", "pt-en", "en-de"),
        "pt-xx": PivotPair("pt-xx", "pt-en", "en-xx"),
    }  # de-xx has its own model; pt-pt and de-de are no pairs
    assert pivots["pt-xx"].describe() == {"source": "pivot", "via": "en", "legs": ["pt-en", "en-xx"]}
    assert pivot_pairs(["pt-en", "de-xx"]) == {}


def test_the_answer_is_the_second_leg_over_the_first_with_the_layout_kept(
    pivoting: tuple[BatchTranslator, TaggingBackend],
) -> None:
    translator, backend = pivoting
    texts = ["  Olá. Tudo bem?\n\nSim.  ", "Um.", " \n "]
    (result,) = translator.translate([TranslationJob("pt-xx", texts)])
    assert result == [
        "  EN-XX: PT-EN: Olá. EN-XX: PT-EN: Tudo bem?\n\nEN-XX: PT-EN: Sim.  ",
        "EN-XX: PT-EN: Um.",
        " \n ",
    ]
    # The same as the two translations done by hand.
    (english,) = translator.translate([TranslationJob("pt-en", texts)])
    assert isinstance(english, list)
    assert translator.translate([TranslationJob("en-xx", english)]) == [result]
    assert [pair for pair, _ in backend.calls] == ["pt-en", "en-xx", "pt-en", "en-xx"]


def test_a_direct_model_wins_over_the_pivot() -> None:
    translator, backend = make(["pt-en", "en-xx", "pt-xx"])
    try:
        assert translator.registry.pivot("pt-xx") is None
        assert translator.translate([TranslationJob("pt-xx", ["Olá."])]) == [["PT-XX: Olá."]]
        assert backend.calls == [("pt-xx", ["Olá."])]
    finally:
        translator.close()


def test_an_error_in_the_first_leg_fails_the_job_and_the_second_never_starts(
    pivoting: tuple[BatchTranslator, TaggingBackend],
) -> None:
    translator, backend = pivoting
    failed, fine = translator.translate(
        [TranslationJob("pt-xx", ["Bom.", "Um bad texto."]), TranslationJob("pt-xx", ["Bom."])]
    )
    assert isinstance(failed, TranslationFailed) and "bad" in str(failed)
    assert fine == ["EN-XX: PT-EN: Bom."]
    assert ("en-xx", ["PT-EN: Bom."]) in backend.calls
    assert not any("bad" in s for pair, segments in backend.calls if pair == "en-xx" for s in segments)


def test_a_deadline_passed_during_the_first_leg_stops_the_second(
    pivoting: tuple[BatchTranslator, TaggingBackend],
) -> None:
    translator, backend = pivoting
    deadline = time.monotonic() + 0.2

    def first_leg_outlives_the_deadline(pair: str) -> None:
        if pair == "pt-en":
            eventually(lambda: time.monotonic() > deadline, 10)

    backend.before_call = first_leg_outlives_the_deadline
    (result,) = translator.translate([TranslationJob("pt-xx", ["Olá."], deadline=deadline)])
    assert isinstance(result, DeadlinePassed), result
    assert [pair for pair, _ in backend.calls] == ["pt-en"]


def test_cancellation_after_the_first_leg_stops_the_second(
    pivoting: tuple[BatchTranslator, TaggingBackend],
) -> None:
    translator, backend = pivoting
    cancelled = threading.Event()
    backend.before_call = lambda pair: cancelled.set() if pair == "pt-en" else None
    (result,) = translator.translate([TranslationJob("pt-xx", ["Olá."], cancelled=cancelled.is_set)])
    assert isinstance(result, JobCancelled), result
    assert [pair for pair, _ in backend.calls] == ["pt-en"]


def test_without_pivot_the_pair_is_unsupported() -> None:
    translator, backend = make(["pt-en", "en-xx"], pivot=False)
    try:
        assert translator.registry.pivots() == {}
        (result,) = translator.translate([TranslationJob("pt-xx", ["Olá."])])
        assert isinstance(result, UnsupportedPairError)
        assert backend.calls == []
    finally:
        translator.close()


def test_alternatives_come_from_the_second_leg(pivoting: tuple[BatchTranslator, TaggingBackend]) -> None:
    translator, _ = pivoting
    (result,) = translator.translate([TranslationJob("pt-xx", ["Olá."], alternatives=2)])
    assert result == ["EN-XX: PT-EN: Olá."]
    assert getattr(result, "alternatives", None) == [[]]  # the stand-in gives one hypothesis only
