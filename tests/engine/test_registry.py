"""PairRegistry: one load per pair however many threads ask, in-use pairs never unloaded, LRU.

A unit test of the registry alone, so the backend here is a small stand-in that counts
loads; the real Bergamot backend is exercised in test_translator.py and the node tests.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from universal_decoder_node.engine import ModelLoadError, PairRegistry, UnsupportedPairError


class CountingModel:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.closed = False

    def translate(self, text: str) -> str:
        return text.upper()

    def memory_bytes(self) -> int:
        return 1000

    def close(self) -> None:
        self.closed = True


class SlowCountingBackend:
    name = "counting"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.loads: list[Path] = []
        self._lock = threading.Lock()

    def load(self, directory: Path) -> CountingModel:
        time.sleep(self.delay)  # a wide window for racing threads to pile up in
        if directory.name == "broken":
            raise ModelLoadError(f"cannot load {directory}")
        with self._lock:
            self.loads.append(directory)
        return CountingModel(directory)

    def settings(self) -> dict[str, object]:
        return {"backend": self.name}


class Source:
    def __init__(self, name: str) -> None:
        self.path = Path("/models") / name

    def directory(self) -> Path:
        return self.path

    def describe(self) -> dict[str, object]:
        return {"source": "test", "path": str(self.path)}


def registry(backend: SlowCountingBackend, *names: str, **kwargs: object) -> PairRegistry:
    return PairRegistry({n: Source(n) for n in names}, backend, **kwargs)  # type: ignore[arg-type]


def test_concurrent_first_use_loads_once() -> None:
    backend = SlowCountingBackend(delay=0.2)
    reg = registry(backend, "en-pt", "pt-en")
    start = threading.Barrier(16)
    models: list[object] = []

    def worker(pair: str) -> None:
        start.wait()
        models.append(reg.load(pair))

    threads = [threading.Thread(target=worker, args=("en-pt" if i % 2 else "pt-en",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in backend.loads) == ["en-pt", "pt-en"]
    assert len({id(m) for m in models}) == 2
    assert reg.is_loaded("en-pt") and reg.is_loaded("pt-en")


def test_different_pairs_load_at_the_same_time() -> None:
    # The per-pair lock must not serialise loads of different pairs: two loads meet at a
    # barrier, which times out if the second cannot start until the first has finished.
    meet = threading.Barrier(2, timeout=10)

    class MeetingBackend(SlowCountingBackend):
        def load(self, directory: Path) -> CountingModel:
            meet.wait()
            return super().load(directory)

    backend = MeetingBackend()
    reg = registry(backend, "en-pt", "pt-en")
    errors: list[BaseException] = []

    def load(pair: str) -> None:
        try:
            reg.load(pair)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(p,)) for p in reg.pairs()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(backend.loads) == 2


def test_unknown_pair_is_unsupported() -> None:
    reg = registry(SlowCountingBackend(), "en-pt")
    with pytest.raises(UnsupportedPairError) as info:
        reg.load("en-de")
    assert info.value.available == ["en-pt"]
    assert "en-de" in str(info.value) and "en-pt" in str(info.value)


def test_failed_load_is_not_cached() -> None:
    backend = SlowCountingBackend()
    reg = registry(backend, "broken")
    for _ in range(2):
        with pytest.raises(ModelLoadError):
            reg.load("broken")
    assert not reg.is_loaded("broken")


def test_pair_in_use_is_not_unloaded() -> None:
    reg = registry(SlowCountingBackend(), "en-pt")
    with reg.use("en-pt") as model:
        assert reg.unload("en-pt") is False
        assert reg.unload_idle() == []
        assert reg.describe()["en-pt"]["in_use"] == 1
    assert reg.describe()["en-pt"]["in_use"] == 0
    assert reg.unload("en-pt") is True
    assert isinstance(model, CountingModel) and model.closed
    assert not reg.is_loaded("en-pt")


def test_pinned_pair_is_unloaded_only_when_forced() -> None:
    reg = registry(SlowCountingBackend(), "en-pt", pinned=frozenset({"en-pt"}))
    reg.load("en-pt")
    assert reg.unload("en-pt") is False
    assert reg.unload("en-pt", force=True) is True


def test_max_loaded_unloads_the_least_recently_used() -> None:
    backend = SlowCountingBackend()
    reg = registry(backend, "a-b", "b-c", "c-d", max_loaded=2)
    reg.load("a-b")
    reg.load("b-c")
    with reg.use("a-b"):  # a-b is now the most recently used
        pass
    reg.load("c-d")
    assert reg.is_loaded("a-b") and reg.is_loaded("c-d")
    assert not reg.is_loaded("b-c")


def test_describe_and_memory() -> None:
    reg = registry(SlowCountingBackend(), "en-pt", "pt-en")
    reg.load("en-pt")
    info = reg.describe()
    assert info["en-pt"]["loaded"] is True and info["en-pt"]["memory_bytes"] == 1000
    assert info["pt-en"]["loaded"] is False and "memory_bytes" not in info["pt-en"]
    assert (info["pt-en"]["source"], info["pt-en"]["path"]) == ("test", "/models/pt-en")
    assert reg.memory_bytes() == 1000


class FailingSource(Source):
    def __init__(self, name: str, error: Exception) -> None:
        super().__init__(name)
        self.error = error

    def directory(self) -> Path:
        raise self.error


@pytest.mark.parametrize(
    ("error", "client_message"),
    [
        (
            ModelLoadError("the model directory does not exist", "model directory /srv/x does not exist"),
            "the model directory does not exist; the node logged the details",
        ),
        (PermissionError(13, "Permission denied", "/srv/x"), "could not be loaded (PermissionError)"),
    ],
)
def test_a_failed_load_tells_clients_the_reason_and_logs_the_paths(
    error: Exception, client_message: str, caplog: pytest.LogCaptureFixture
) -> None:
    reg = PairRegistry({"en-xx": FailingSource("en-xx", error)}, SlowCountingBackend())  # type: ignore[dict-item]
    with pytest.raises(ModelLoadError) as info:
        reg.load("en-xx")
    assert client_message in str(info.value) and "/srv/x" not in str(info.value)
    assert "/srv/x" in info.value.detail and "/srv/x" in caplog.text
    assert reg.describe()["en-xx"]["error"] == str(info.value)
    reg.start_load("en-xx").exception(timeout=10)
    with pytest.raises(ModelLoadError) as again, reg.use("en-xx", wait=False):
        pass
    assert "/srv/x" not in str(again.value)
    reg.close()
