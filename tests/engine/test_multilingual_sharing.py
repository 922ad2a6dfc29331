"""The pairs of one multilingual model share one loaded translator through the registry: loaded
with the first pair, its memory counted once, freed with the last pair, loaded again after."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ct2_model import build_ct2_model, corpus, raw_translate_multilingual
from universal_decoder_node.config import load_settings
from universal_decoder_node.serving.worker.api import build_registry

TOKENS = {"en": "eng_Latn", "pt": "por_Latn", "de": "deu_Latn"}


@pytest.fixture(scope="module")
def nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ct2_model(
        tmp_path_factory.mktemp("nllb") / "model", seed=4, language_tokens=list(TOKENS.values())
    )


def test_pairs_share_one_load_and_the_last_one_frees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nllb: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("ARGOS_PACKAGES_DIR", raising=False)
    options = {"compute_type": "float32", "max_decoding_length": 12}
    settings = load_settings(
        models={"bundled": False, "multilingual": {"nllb": {"path": str(nllb), **options}}},
        serving={"threads": 1},
    )
    registry = build_registry(settings)
    try:
        pairs = registry.pairs()
        assert pairs == ["de-en", "de-pt", "en-de", "en-pt", "pt-de", "pt-en"]
        texts = corpus(3, seed=8)
        for pair in pairs:
            source, target = pair.split("-")
            with registry.use(pair) as model:
                expected = raw_translate_multilingual(
                    nllb, texts, TOKENS[source], TOKENS[target], max_decoding_length=12
                )
                assert model.translate_batch(texts) == list(expected), pair
        described = registry.describe()
        shared = [info["shared_model"] for info in described.values()]
        assert all(s == shared[0] for s in shared)
        assert (shared[0]["loads"], shared[0]["pairs"]) == (1, 6)  # type: ignore[index]
        size = shared[0]["memory_bytes"]  # type: ignore[index]
        assert registry.memory_bytes() == size - size % 6  # the shares: the model once

        for pair in pairs[:-1]:
            assert registry.unload(pair)
        assert registry.describe()[pairs[-1]]["memory_bytes"] == size, "the last pair holds it all"
        assert registry.unload(pairs[-1])
        registry.load("en-pt")
        again = registry.describe()["en-pt"]["shared_model"]
        assert (again["loads"], again["pairs"]) == (2, 1)  # type: ignore[index]
    finally:
        for pair in registry.pairs():
            registry.unload(pair, force=True)
        registry.close()
