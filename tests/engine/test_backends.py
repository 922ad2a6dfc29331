"""Backends by name: the registry of backends, a pair's ``backend`` setting, and pairs of two backends.

The second backend is a small stand-in defined here (it upper-cases its input); the first is
the real Bergamot backend with the bundled models.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support import UDN
from universal_decoder_node.config import ConfigError, load_settings
from universal_decoder_node.engine import (
    DEFAULT_BACKEND,
    BackendKind,
    BatchTranslator,
    EngineError,
    ModelLoadError,
    PairRegistry,
    TranslationJob,
    UnknownBackendError,
    backend_kind,
    backend_names,
    bundled_model_dirs,
    create_backend,
    prepare_process,
    register_backend,
    unregister_backend,
)
from universal_decoder_node.models import pair_sources
from universal_decoder_node.models.sources import DirectorySource
from universal_decoder_node.serving.worker.api import build_registry


class UpperModel:
    max_batch_segments = 8

    def translate_batch(self, segments: Sequence[str]) -> list[str | EngineError]:
        return [segment.upper() for segment in segments]

    def memory_bytes(self) -> int:
        return 1

    def close(self) -> None:
        pass


class UpperBackend:
    name = "upper"

    def __init__(self, *, threads: int) -> None:
        self.threads = threads

    def load(self, directory: Path) -> UpperModel:
        upper_model_files(directory)
        return UpperModel()

    def settings(self) -> dict[str, object]:
        return {"backend": self.name, "threads": self.threads}


def upper_model_files(directory: Path, *, confined: bool = False) -> list[Path]:
    path = Path(directory) / "upper.txt"
    if not path.is_file():
        raise ModelLoadError("the model directory has no upper.txt")
    return [path]


UPPER = BackendKind(
    name="upper",
    label="Upper",
    create=UpperBackend,
    model_files=upper_model_files,
    prepare_process=lambda: {"UPPER_READY": "1"},
)


@pytest.fixture
def upper() -> Iterator[BackendKind]:
    register_backend(UPPER)
    yield UPPER
    unregister_backend(UPPER.name)


@pytest.fixture
def upper_dir(tmp_path: Path) -> Path:
    (tmp_path / "upper.txt").write_text("a model\n")
    return tmp_path


def test_backends_are_found_by_name(upper: BackendKind) -> None:
    assert backend_names() == ["bergamot", "ctranslate2", "upper"]
    assert DEFAULT_BACKEND == "bergamot"
    assert backend_kind("bergamot").label == "Bergamot"
    assert backend_kind("upper") is upper
    bergamot = create_backend("bergamot", threads=3)
    assert bergamot.name == "bergamot" and bergamot.settings()["threads"] == 3
    created = create_backend("upper", threads=2)
    assert isinstance(created, UpperBackend) and created.threads == 2


def test_an_unknown_backend_is_refused_with_the_available_ones(upper: BackendKind) -> None:
    available = "available backends: bergamot, ctranslate2, upper"
    with pytest.raises(UnknownBackendError, match=f"unknown backend 'marian'; {available}"):
        create_backend("marian", threads=1)
    with pytest.raises(ValueError, match="already registered"):
        register_backend(UPPER)


def test_after_unregistering_the_backend_is_gone(upper: BackendKind) -> None:
    unregister_backend("upper")
    with pytest.raises(UnknownBackendError):
        backend_kind("upper")
    register_backend(UPPER)  # for the fixture's teardown
    with pytest.raises(ValueError, match="built in"):
        unregister_backend("bergamot")


def test_process_setup_applies_every_backends_own(
    upper: BackendKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MIMALLOC_PURGE_DELAY", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "")  # so that the test's end restores the value before it
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert prepare_process() == {"MIMALLOC_PURGE_DELAY": "0", "OMP_NUM_THREADS": "1", "UPPER_READY": "1"}
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "0"
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "1000")  # an operator's own value wins
    assert prepare_process()["MIMALLOC_PURGE_DELAY"] == "1000"


def test_a_pair_naming_an_unknown_backend_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    settings = load_settings(models={"pairs": {"en-es": {"path": str(tmp_path), "backend": "marian"}}})
    with pytest.raises(ConfigError) as refused:
        pair_sources(settings)
    assert str(refused.value) == (
        "invalid configuration: models.pairs.en-es.backend: unknown backend 'marian'; "
        "available backends: bergamot, ctranslate2"
    )


def test_udn_refuses_a_configuration_naming_an_unknown_backend(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"models:\n  pairs:\n    en-es: {{path: {tmp_path}, backend: marian}}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDN_")}
    result = subprocess.run(
        [*UDN, "translate", "Hello.", "--source", "en", "--target", "es", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2
    assert (
        "models.pairs.en-es.backend: unknown backend 'marian'; available backends: bergamot, ctranslate2"
        in (result.stderr)
    )


def test_pairs_of_two_backends_are_served_side_by_side(upper: BackendKind, upper_dir: Path) -> None:
    settings = load_settings(
        models={"pairs": {"en-up": {"path": str(upper_dir), "backend": "upper"}}}, serving={"threads": 2}
    )
    registry = build_registry(settings)
    assert sorted(registry.backends) == ["bergamot", "upper"]
    assert registry.backend_settings()["backends"] == {
        "bergamot": create_backend("bergamot", threads=2).settings(),
        "upper": {"backend": "upper", "threads": 2},
    }
    translator = BatchTranslator(registry, threads=2)
    try:
        up, pt = translator.translate(
            [TranslationJob("en-up", ["Good morning."]), TranslationJob("en-pt", ["Good morning."])]
        )
    finally:
        translator.close()
        registry.close()
    assert up == ["GOOD MORNING."]
    assert isinstance(pt, list) and "Bom dia" in pt[0]
    assert isinstance(registry.load("en-up"), UpperModel)


def test_a_registry_refuses_a_pair_whose_backend_it_was_not_given(upper_dir: Path) -> None:
    sources = {
        "en-pt": DirectorySource(bundled_model_dirs()["en-pt"]),
        "en-up": DirectorySource(upper_dir, backend="upper"),
    }
    with pytest.raises(UnknownBackendError, match="unknown backend 'upper'; available backends: bergamot"):
        PairRegistry(sources, {"bergamot": create_backend("bergamot", threads=1)})


def test_a_hub_model_is_checked_against_its_own_backends_files(upper: BackendKind, tmp_path: Path) -> None:
    from universal_decoder_node.models import HubDownloadError, HubModel, RepoRef
    from universal_decoder_node.models.hub import verify

    (tmp_path / "upper.txt").write_text("a model\n")
    model = HubModel(RepoRef("org/upper"), "en-up", backend="upper")
    assert verify(tmp_path, {}, model) == {"upper.txt": {"size": 8}}
    (tmp_path / "upper.txt").unlink()
    with pytest.raises(
        HubDownloadError, match=r"not a usable Upper model: the model directory has no upper\.txt"
    ):
        verify(tmp_path, {}, model)
