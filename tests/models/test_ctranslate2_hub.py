"""A CTranslate2 pair from the Hub (the fake one on loopback): downloaded, verified against the
backend's own file list, served; a repository missing a file the backend needs is refused."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import ADMIN, start_node, translate
from tests.support.ct2_model import corpus, raw_translate
from tests.support.fakehub import FakeHub, hub_env
from universal_decoder_node.engine import backend_kind
from universal_decoder_node.models import ModelStore

CT2_REPO = "test-org/opus-mt-en-xx-ctranslate2"
INCOMPLETE_REPO = "test-org/opus-mt-en-yy-ctranslate2"


def test_a_ctranslate2_pair_from_the_hub_is_verified_and_served(tmp_path: Path, ct2_model: Path) -> None:
    hub = FakeHub()
    hub.add_model_dir(CT2_REPO, ct2_model)
    hub.add_commit(
        INCOMPLETE_REPO,
        {p.name: p.read_bytes() for p in ct2_model.iterdir() if p.name != "target.spm"},
    )
    hub.start()
    config = {
        "serving": {"threads": 2, "request_timeout": 60},
        "adapters": {"repos": {"en-xx": CT2_REPO, "en-yy": INCOMPLETE_REPO}},
        "models": {"options": {"en-xx": {"compute_type": "float32", "max_decoding_length": 16}}},
    }
    node = start_node(tmp_path, config, env=hub_env(tmp_path, hub))
    try:
        texts = corpus(6, seed=11)
        answer = translate(node.url, texts, "en", "xx", expect=200, timeout=60)
        assert answer.json()["translatedText"] == list(
            raw_translate(ct2_model, texts, max_decoding_length=16)
        )

        (snapshot,) = ModelStore(tmp_path / "store").snapshots()
        assert snapshot.repo_id == CT2_REPO
        needed = {p.name for p in backend_kind("ctranslate2").model_files(snapshot.path, confined=True)}
        assert needed == {
            "model.bin",
            "config.json",
            "shared_vocabulary.json",
            "source.spm",
            "target.spm",
        }
        assert needed <= set(snapshot.manifest()["files"])
        listing = httpx.get(node.url + "/admin/models", headers=ADMIN, timeout=30).json()["pairs"]["en-xx"]
        assert listing["cached"] is True

        refused = translate(node.url, "Hello.", "en", "yy", timeout=60)
        assert refused.status_code == 503, refused.text
        assert (
            "not a usable CTranslate2 model: the model directory has no SentencePiece model"
            in (refused.json()["error"])
        )
        assert [s.repo_id for s in ModelStore(tmp_path / "store").snapshots()] == [CT2_REPO]
    finally:
        node.stop()
        hub.stop()
