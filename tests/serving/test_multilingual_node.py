"""A real node serving two multilingual CTranslate2 models over HTTP: one with NLLB-200's language
tokens (``eng_Latn``), one with M2M-100's (``__en__``), each loaded once for all its pairs, next to
a bilingual model that wins the pair both serve.

Every answer must be what the CTranslate2 engine itself answers for the same source tokens and
target prefix (``tests.support.ct2_model.raw_translate_multilingual``).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import ADMIN, ADMIN_TOKEN, start_node, translate
from tests.support.ct2_model import build_ct2_model, corpus, raw_translate, raw_translate_multilingual

OPTIONS = {"compute_type": "float32", "max_decoding_length": 16}  # float32: batched == alone
NLLB_TOKENS = {"en": "eng_Latn", "pt": "por_Latn", "de": "deu_Latn"}
M2M_TOKENS = {"en": "__en__", "es": "__es__", "it": "__it__", "fr": "__fr__"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("multilingual")
    return {
        "nllb": build_ct2_model(root / "nllb", seed=4, language_tokens=list(NLLB_TOKENS.values())),
        "m2m": build_ct2_model(root / "m2m", seed=5, language_tokens=list(M2M_TOKENS.values())),
        "en-de": build_ct2_model(root / "en-de", seed=6),
    }


def test_multilingual_models_serve_every_pair_from_one_load(tmp_path: Path, models: dict[str, Path]) -> None:
    config = {
        "serving": {"threads": 2, "request_timeout": 60},
        "models": {
            "bundled": False,
            "pivot": False,  # only the models' own pairs (pivoting is tests/serving/test_pivot_node.py's)
            # NLLB: convention and languages read from the vocabulary; M2M-100: three of its four.
            "multilingual": {
                "nllb": {"path": str(models["nllb"]), **OPTIONS},
                "m2m": {"path": str(models["m2m"]), "languages": ["en", "es", "it"], **OPTIONS},
            },
            "pairs": {"en-de": {"path": str(models["en-de"]), **OPTIONS}},  # beats nllb's en-de
        },
    }
    env = {"ADAPTER_DIR": str(tmp_path / "store"), "UDN_ADMIN_TOKEN": ADMIN_TOKEN}
    node = start_node(tmp_path, config, env=env)
    try:
        languages = httpx.get(node.url + "/languages", timeout=10).json()
        assert languages == [
            {"code": "de", "name": "German", "targets": ["en", "pt"]},
            {"code": "en", "name": "English", "targets": ["de", "es", "it", "pt"]},
            {"code": "es", "name": "Spanish", "targets": ["en", "it"]},
            {"code": "it", "name": "Italian", "targets": ["en", "es"]},
            {"code": "pt", "name": "Portuguese", "targets": ["de", "en"]},
        ]

        texts = corpus(5, seed=21)
        answers = {}
        for model, tokens in (("nllb", NLLB_TOKENS), ("m2m", {k: M2M_TOKENS[k] for k in ("en", "es", "it")})):
            for source in tokens:
                for target in tokens:
                    if source == target or (source, target) == ("en", "de"):
                        continue
                    answer = translate(node.url, texts, source, target, expect=200, timeout=60)
                    got = answer.json()["translatedText"]
                    expected = list(
                        raw_translate_multilingual(
                            models[model], texts, tokens[source], tokens[target], max_decoding_length=16
                        )
                    )
                    assert got == expected, (source, target)
                    answers[source, target] = got
        assert answers["pt", "en"] != answers["pt", "de"], "the target's token changes the answer"
        bilingual = translate(node.url, texts, "en", "de", expect=200, timeout=60).json()["translatedText"]
        assert bilingual == list(raw_translate(models["en-de"], texts, max_decoding_length=16))

        described = httpx.get(node.url + "/admin/models", headers=ADMIN, timeout=30).json()["pairs"]
        assert described["en-de"]["source"] == "directory"
        for name, count in (("nllb", 5), ("m2m", 6)):
            pairs = {pair: info for pair, info in described.items() if info.get("model") == name}
            assert len(pairs) == count, sorted(pairs)
            for pair, info in pairs.items():
                assert info["source"] == "multilingual"
                assert info["convention"] == ("nllb" if name == "nllb" else "m2m100")
                (worker,) = info["workers"].values()
                shared = worker["shared_model"]
                assert (shared["path"], shared["loads"], shared["pairs"]) == (str(models[name]), 1, count), (
                    pair
                )
            # The pairs' shares add up to the model's memory, counted once.
            shares = [next(iter(info["workers"].values()))["memory_bytes"] for info in pairs.values()]
            total = next(iter(next(iter(pairs.values()))["workers"].values()))["shared_model"]["memory_bytes"]
            assert total - count < sum(shares) <= total
    finally:
        node.stop()
    assert "Traceback" not in node.log(), node.log()
