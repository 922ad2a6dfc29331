"""Multilingual models in the settings: which pairs they give, which source wins a pair, and the
errors ``udn serve`` stops on, each naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support import udn
from tests.support.ct2_model import build_ct2_model
from universal_decoder_node.config import load_settings
from universal_decoder_node.models import MultilingualSource, pair_sources


@pytest.fixture(scope="module")
def m2m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ct2_model(
        tmp_path_factory.mktemp("m2m") / "model", seed=5, language_tokens=["__en__", "__pt__", "__de__"]
    )


def test_a_bilingual_model_wins_a_pair_unless_multilingual_is_preferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, m2m: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("ARGOS_PACKAGES_DIR", raising=False)
    models = {"multilingual": {"m2m": {"path": str(m2m)}}}
    sources = pair_sources(load_settings(models=models))
    assert sorted(p for p, s in sources.items() if isinstance(s, MultilingualSource)) == [
        "de-en",
        "de-pt",
        "en-de",
        "pt-de",
    ]
    assert sources["en-pt"].kind == sources["pt-en"].kind == "bundled"

    monkeypatch.setenv("UDN_MODELS__PREFER_MULTILINGUAL", "true")
    preferred = pair_sources(load_settings(models=models))
    assert all(isinstance(preferred[p], MultilingualSource) for p in ("en-pt", "pt-en", "en-de"))
    assert preferred["en-pt"].engine_options.target_token == "__pt__"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("convention", "models.multilingual.mm.convention: Input should be 'nllb' or 'm2m100'"),
        (
            "language",
            "invalid configuration: models.multilingual.mm.languages: 'fr' (__fr__) is not in the "
            "vocabulary of",
        ),
        ("path", "invalid configuration: models.multilingual.mm.path: {path} is not a CTranslate2 model"),
        (
            "tokens",
            "invalid configuration: models.multilingual.mm: the vocabulary of {path} has no language tokens",
        ),
    ],
)
def test_bad_multilingual_settings_stop_the_start_naming_the_key(
    tmp_path: Path, m2m: Path, ct2_model: Path, case: str, expected: str
) -> None:
    path = {"path": tmp_path, "tokens": ct2_model}.get(case, m2m)
    entry: dict[str, object] = {"path": str(path)}
    if case == "convention":
        entry["convention"] = "marian"
    if case == "language":
        entry["languages"] = ["en", "fr"]
    config = tmp_path / "node.yaml"
    config.write_text(yaml.safe_dump({"models": {"bundled": False, "multilingual": {"mm": entry}}}))
    env = {"ADAPTER_DIR": str(tmp_path / "store"), "XDG_DATA_HOME": str(tmp_path / "data")}
    started = udn(["serve", "--config", str(config), "--port", "9"], env, tmp_path)
    assert started.returncode != 0
    assert expected.format(path=path) in started.stderr, started.stderr
    assert "Traceback" not in started.stderr
