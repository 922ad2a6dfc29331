"""The ``adapters`` settings: environment names from the specification, validation, pair sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from universal_decoder_node.config import ConfigError, load_settings
from universal_decoder_node.models import HubSource, RepoRef, pair_sources, startup_pairs


def test_specification_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ADAPTER_DIR", str(tmp_path / "adapters"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9999")
    adapters = load_settings().adapters
    assert adapters.dir == tmp_path / "adapters"
    assert adapters.hf_home == tmp_path / "hf"
    assert adapters.offline is True
    assert adapters.endpoint == "http://127.0.0.1:9999"


def test_default_store_is_in_the_users_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ADAPTER_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert load_settings().adapters.dir == tmp_path / "universal-decoder-node" / "adapters"


def test_repos_accept_a_string_or_a_mapping() -> None:
    settings = load_settings(
        adapters={
            "repos": {
                "en-es": "org/es@v1",
                "en-de": {"repo": "org/de", "allow_patterns": ["*.bin", "*.yml"]},
            },
            "prewarm": ["en-es"],
        }
    )
    sources = pair_sources(settings)
    es, de = sources["en-es"], sources["en-de"]
    assert isinstance(es, HubSource) and es.model.ref == RepoRef("org/es", "v1")
    assert isinstance(de, HubSource) and de.model.ref == RepoRef("org/de", "main")
    assert de.model.allow_patterns == ("*.bin", "*.yml")
    assert startup_pairs(settings, sources) == ["en-pt", "pt-en", "en-es"]


@pytest.mark.parametrize(
    ("adapters", "message"),
    [
        (
            {"repos": {"en-es": "just-a-name"}},
            "adapters.repos.en-es.repo: Value error, repository 'just-a-name'",
        ),
        ({"repos": {"en_es": "org/x"}}, "pair name 'en_es' must look like 'en-pt'"),
        ({"max_loaded": 0}, "adapters.max_loaded: Input should be greater than or equal to 1"),
        ({"unknown": 1}, "adapters.unknown: Extra inputs are not permitted"),
    ],
)
def test_invalid_adapters_settings_name_the_key(adapters: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as info:
        load_settings(adapters=adapters)
    assert message in str(info.value)


def test_prewarm_and_pinned_must_name_configured_pairs() -> None:
    settings = load_settings(adapters={"repos": {"en-es": "org/es@v1"}, "pinned": ["en-xx"]})
    with pytest.raises(ConfigError, match=r"adapters\.pinned names 'en-xx', which is not configured"):
        pair_sources(settings)


def test_a_pair_cannot_be_both_a_directory_and_a_repository(tmp_path: Path) -> None:
    settings = load_settings(
        models={"pairs": {"en-es": {"path": str(tmp_path)}}}, adapters={"repos": {"en-es": "org/es@v1"}}
    )
    with pytest.raises(ConfigError, match="pair 'en-es' is both a directory"):
        pair_sources(settings)
