"""A multilingual model from a Hub repository (the fake one on loopback): downloaded into the model
store once for all its pairs, verified against the CTranslate2 backend's file list, served by a real
node from one loaded translator; ``udn models pull`` by its name; the settings' errors."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import permutations
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import ADMIN, start_node, translate, udn
from tests.support.ct2_model import build_ct2_model, corpus, raw_translate_multilingual
from tests.support.fakehub import FakeHub, hub_env
from universal_decoder_node.config import load_settings
from universal_decoder_node.models import MultilingualHubSource, pair_sources

REPO = "test-org/nllb-tiny-ct2"
TOKENS = {"en": "eng_Latn", "pt": "por_Latn", "de": "deu_Latn"}
OPTIONS = {"compute_type": "float32", "max_decoding_length": 16}


@pytest.fixture(scope="module")
def nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nllb-hub")
    return build_ct2_model(root / "model", seed=4, language_tokens=list(TOKENS.values()))


@pytest.fixture
def hub(nllb: Path) -> Iterator[FakeHub]:
    fake = FakeHub()
    fake.add_model_dir(REPO, nllb)
    fake.start()
    yield fake
    fake.stop()


def test_a_multilingual_repo_serves_every_pair_from_one_download(
    tmp_path: Path, nllb: Path, hub: FakeHub
) -> None:
    entry = {"repo": REPO, "languages": list(TOKENS), "convention": "nllb", **OPTIONS}
    config = {
        "serving": {"threads": 2, "request_timeout": 60},
        "models": {"bundled": False, "multilingual": {"hub": entry}},
    }
    node = start_node(tmp_path, config, env=hub_env(tmp_path, hub))
    try:
        languages = httpx.get(node.url + "/languages", timeout=10).json()
        assert {item["code"]: item["targets"] for item in languages} == {
            "de": ["en", "pt"],
            "en": ["de", "pt"],
            "pt": ["de", "en"],
        }
        texts = corpus(5, seed=21)
        for source, target in permutations(TOKENS, 2):
            got = translate(node.url, texts, source, target, expect=200, timeout=60).json()["translatedText"]
            expected = raw_translate_multilingual(
                nllb, texts, TOKENS[source], TOKENS[target], max_decoding_length=16
            )
            assert got == list(expected), (source, target)
        assert hub.file_downloads("model.bin", REPO) == 1

        described = httpx.get(node.url + "/admin/models", headers=ADMIN, timeout=30).json()["pairs"]
        assert sorted(described) == sorted(f"{s}-{t}" for s, t in permutations(TOKENS, 2))
        paths = set()
        for info in described.values():
            assert (info["source"], info["model"], info["repo"], info["cached"]) == ("hub", "hub", REPO, True)
            shared = next(iter(info["workers"].values()))["shared_model"]
            assert (shared["loads"], shared["pairs"]) == (1, 6)
            paths.add(shared["path"])
        assert len(paths) == 1 and Path(next(iter(paths))).is_relative_to(tmp_path / "store")
    finally:
        node.stop()
    assert "Traceback" not in node.log(), node.log()


def test_pull_by_name_then_languages_come_from_the_stored_vocabulary(tmp_path: Path, hub: FakeHub) -> None:
    # Neither languages nor convention: refused until the snapshot is in the store.
    config = tmp_path / "node.yaml"
    config.write_text(yaml.safe_dump({"models": {"bundled": False, "multilingual": {"ml": {"repo": REPO}}}}))
    env = hub_env(tmp_path, hub, XDG_DATA_HOME=str(tmp_path / "data"))
    refused = udn(["serve", "--config", str(config), "--port", "9"], env, tmp_path)
    assert refused.returncode != 0
    assert (
        f"invalid configuration: models.multilingual.ml: {REPO} is not in the model store yet, so its "
        "vocabulary cannot be read: set models.multilingual.ml.languages and "
        "models.multilingual.ml.convention" in refused.stderr
    ), refused.stderr
    assert hub.file_downloads("model.bin", REPO) == 0

    pulled = udn(["models", "pull", "ml", "--config", str(config)], env, tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    assert hub.file_downloads("model.bin", REPO) == 1

    settings = load_settings(
        models={"bundled": False, "argos_packages_dir": None, "multilingual": {"ml": {"repo": REPO}}},
        adapters={"dir": tmp_path / "store", "offline": True},
    )
    sources = pair_sources(settings)
    assert sorted(sources) == ["de-en", "de-pt", "en-de", "en-pt", "pt-de", "pt-en"]
    source = sources["pt-de"]
    assert isinstance(source, MultilingualHubSource) and source.convention == "nllb"
    assert source.cached() is not None
    assert source.engine_options.target_token == "deu_Latn"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"repo": REPO, "path": "/srv/models/nllb", "languages": ["en", "pt"], "convention": "nllb"},
            "models.multilingual.mm: Value error, set exactly one of path (a model directory) and repo",
        ),
        ({"languages": ["en", "pt"]}, "models.multilingual.mm: Value error, set exactly one of path"),
        ({"repo": "not a repo"}, "models.multilingual.mm.repo: Value error, repository 'not a repo'"),
        (
            {"repo": REPO, "languages": ["en", "pt"]},
            f"models.multilingual.mm: {REPO} is not in the model store yet",
        ),
        (
            {"repo": REPO, "languages": ["en", "xx"], "convention": "nllb"},
            "models.multilingual.mm.languages: no nllb token is known for 'xx'",
        ),
    ],
)
def test_bad_multilingual_repo_settings_stop_the_start(
    tmp_path: Path, entry: dict[str, object], expected: str
) -> None:
    config = tmp_path / "node.yaml"
    config.write_text(yaml.safe_dump({"models": {"bundled": False, "multilingual": {"mm": entry}}}))
    env = hub_env(tmp_path, None, XDG_DATA_HOME=str(tmp_path / "data"))
    started = udn(["serve", "--config", str(config), "--port", "9"], env, tmp_path)
    assert started.returncode != 0
    assert expected in started.stderr, started.stderr
    assert "Traceback" not in started.stderr


def test_a_multilingual_repo_missing_a_file_the_backend_needs_is_refused(tmp_path: Path, nllb: Path) -> None:
    hub = FakeHub()
    hub.add_commit(REPO, {p.name: p.read_bytes() for p in nllb.iterdir() if p.name != "target.spm"})
    hub.start()
    try:
        config = tmp_path / "node.yaml"
        entry = {"repo": REPO, "languages": ["en", "pt"], "convention": "nllb"}
        config.write_text(yaml.safe_dump({"models": {"bundled": False, "multilingual": {"ml": entry}}}))
        env = hub_env(tmp_path, hub, XDG_DATA_HOME=str(tmp_path / "data"))
        pulled = udn(["models", "pull", "ml", "--config", str(config)], env, tmp_path)
    finally:
        hub.stop()
    assert pulled.returncode != 0
    assert (
        f"cannot fetch language pair 'models.multilingual.ml' from {REPO}@main: not a usable" in pulled.stderr
    )
    assert "has no SentencePiece model" in pulled.stderr, pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert not list((tmp_path / "store").glob("*/snapshots/*"))
