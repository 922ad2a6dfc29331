"""PairRegistry with the real Bergamot engine: LRU eviction, pinning, memory budget, shared loads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from universal_decoder_node.engine import (
    BatchTranslator,
    BergamotBackend,
    ModelLoadError,
    PairLoading,
    PairRegistry,
    TranslationJob,
    UnsupportedPairError,
    bundled_model_dirs,
)

MIB = 1024 * 1024


@dataclass
class GatedSource:
    """A real model directory whose ``directory()`` can be held back, as a slow download would be."""

    path: Path
    gate: threading.Event = field(default_factory=threading.Event)
    calls: int = 0

    def __post_init__(self) -> None:
        self.gate.set()

    def directory(self) -> Path:
        self.calls += 1
        assert self.gate.wait(30), "test gate never opened"
        return self.path

    def describe(self) -> dict[str, object]:
        return {"source": "test", "path": str(self.path)}


@pytest.fixture(scope="module")
def backend() -> BergamotBackend:
    return BergamotBackend(threads=1)


def _registry(
    backend: BergamotBackend, names: str, **limits: object
) -> tuple[PairRegistry, dict[str, GatedSource]]:
    enpt = bundled_model_dirs()["en-pt"]
    sources = {name: GatedSource(enpt) for name in names.split()}
    registry = PairRegistry(sources, backend, **limits)  # type: ignore[arg-type]
    return registry, sources


def _loaded(registry: PairRegistry) -> list[str]:
    return [p for p in registry.pairs() if registry.is_loaded(p)]


@pytest.fixture
def close() -> Iterator[list[PairRegistry]]:
    registries: list[PairRegistry] = []
    yield registries
    for registry in registries:
        registry.close()


def test_least_recently_used_idle_pair_is_unloaded_first(backend: BergamotBackend) -> None:
    registry, _ = _registry(backend, "en-aa en-bb en-cc", max_loaded=2)
    registry.load("en-aa")
    registry.load("en-bb")
    with registry.use("en-aa") as model:  # en-aa is now more recently used than en-bb
        assert "Olá" in model.translate("Hello.")
    registry.load("en-cc")
    assert _loaded(registry) == ["en-aa", "en-cc"]
    registry.load("en-bb")
    assert _loaded(registry) == ["en-bb", "en-cc"]


def test_pair_in_use_is_never_unloaded(backend: BergamotBackend) -> None:
    registry, _ = _registry(backend, "en-aa en-bb", max_loaded=1)
    with registry.use("en-aa") as model:
        registry.load("en-bb")
        # Over the limit while en-aa is busy: it keeps working.
        assert _loaded(registry) == ["en-aa", "en-bb"]
        assert registry.try_unload("en-aa") == "in_use"
        assert "Olá" in model.translate("Hello.")
    # Released: the limit holds again; en-bb, untouched since it loaded, goes.
    assert _loaded(registry) == ["en-aa"]


def test_pinned_pair_is_never_unloaded(backend: BergamotBackend) -> None:
    registry, _ = _registry(backend, "en-aa en-bb en-cc", max_loaded=2, pinned=frozenset({"en-aa"}))
    registry.load("en-aa")
    registry.load("en-bb")
    registry.load("en-cc")
    assert _loaded(registry) == ["en-aa", "en-cc"]
    assert registry.unload_idle() == ["en-cc"]
    assert registry.try_unload("en-aa") == "pinned"
    assert _loaded(registry) == ["en-aa"]


def test_memory_budget_unloads_least_recently_used(backend: BergamotBackend) -> None:
    size = backend.load(bundled_model_dirs()["en-pt"]).memory_bytes()
    registry, _ = _registry(backend, "en-aa en-bb en-cc", memory_budget_bytes=int(size * 2.5))
    for pair in ("en-aa", "en-bb", "en-cc"):
        registry.load(pair)
    assert _loaded(registry) == ["en-bb", "en-cc"]
    assert registry.memory_bytes() <= size * 2.5


def test_pair_that_cannot_fit_next_to_pinned_pairs_is_refused(backend: BergamotBackend) -> None:
    size = backend.load(bundled_model_dirs()["en-pt"]).memory_bytes()
    budget_mb = size * 1.5 / MIB
    registry, _ = _registry(
        backend, "en-aa en-bb", memory_budget_bytes=int(budget_mb * MIB), pinned=frozenset({"en-aa"})
    )
    registry.load("en-aa")
    refused = r"'en-bb' needs \d+ MiB, which does not fit .* pinned pairs en-aa"
    with pytest.raises(ModelLoadError, match=refused):
        registry.load("en-bb")
    assert _loaded(registry) == ["en-aa"]
    assert registry.state("en-bb") == "failed"


def test_concurrent_requests_share_one_background_load(
    backend: BergamotBackend, close: list[PairRegistry]
) -> None:
    registry, sources = _registry(backend, "en-aa en-bb")
    close.append(registry)
    registry.load("en-aa")
    sources["en-bb"].gate.clear()  # en-bb's "download" is slow

    def ask(pair: str) -> str:
        try:
            with registry.use(pair, wait=False) as model:
                return model.translate("Good morning.")
        except PairLoading as exc:
            return f"loading: {exc}"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, ["en-bb"] * 8 + ["en-aa"]))
    assert all(a == "loading: language pair 'en-bb' is still loading" for a in answers[:8]), answers
    assert "Bom dia" in answers[8], "a loaded pair keeps serving while another loads"
    assert registry.state("en-bb") == "loading"
    sources["en-bb"].gate.set()
    registry.start_load("en-bb").result(timeout=30)
    assert "Bom dia" in ask("en-bb")
    assert sources["en-bb"].calls == 1
    assert registry.describe()["en-bb"]["loads"] == 1


def test_failed_background_load_is_reported_then_retried(
    backend: BergamotBackend, tmp_path: Path, close: list[PairRegistry]
) -> None:
    source = GatedSource(tmp_path / "missing")
    registry = PairRegistry({"en-xx": source}, backend, retry_failed_after=60)
    close.append(registry)
    with pytest.raises(PairLoading), registry.use("en-xx", wait=False):
        pass
    registry.start_load("en-xx").exception(timeout=30)
    for _ in range(3):  # within the retry window: the same failure, no new attempt
        with pytest.raises(ModelLoadError, match="does not exist"), registry.use("en-xx", wait=False):
            pass
    assert source.calls == 1
    assert registry.describe()["en-xx"]["state"] == "failed"
    registry.start_load("en-xx", retry=True).exception(timeout=30)
    assert source.calls == 2


def test_unknown_pair_lists_the_available_ones(backend: BergamotBackend) -> None:
    registry, _ = _registry(backend, "en-aa en-bb")
    with pytest.raises(UnsupportedPairError, match="available pairs: en-aa, en-bb"), registry.use("xx-yy"):
        pass


def test_a_job_for_a_loading_pair_waits_in_the_translator_until_loaded_or_its_deadline(
    backend: BergamotBackend, close: list[PairRegistry]
) -> None:
    # The worker parks such a job on the load instead of answering "loading" for the API
    # server to send again: it is answered once the pair is loaded, or at its deadline.
    registry, sources = _registry(backend, "en-aa en-bb")
    close.append(registry)
    sources["en-bb"].gate.clear()
    translator = BatchTranslator(registry, threads=1, wait_for_load=False)
    try:
        answers: dict[str, object] = {}
        answered = {name: threading.Event() for name in ("patient", "hurried", "other")}

        def record(name: str) -> Callable[[int, object, int], None]:
            def done(index: int, result: object, segments: int) -> None:
                answers[name] = result
                answered[name].set()

            return done

        translator.submit([TranslationJob("en-bb", ["Good morning."])], record("patient"))
        hurried = TranslationJob("en-bb", ["Good night."], deadline=time.monotonic() + 0.3)
        translator.submit([hurried], record("hurried"))
        translator.submit([TranslationJob("en-aa", ["Hello."])], record("other"))
        assert answered["other"].wait(60) and "Olá" in str(answers["other"])  # not held up
        assert answered["hurried"].wait(60)
        assert isinstance(answers["hurried"], PairLoading)
        assert "did not finish within the request's deadline" in str(answers["hurried"])
        assert not answered["patient"].is_set()
        sources["en-bb"].gate.set()
        assert answered["patient"].wait(60)
        assert answers["patient"] == ["Bom dia."]
        assert sources["en-bb"].calls == 1  # one load for both
    finally:
        translator.close()
