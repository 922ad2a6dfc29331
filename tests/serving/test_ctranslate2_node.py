"""A real node serving a CTranslate2 pair from a directory next to the bundled Bergamot pairs.

The CTranslate2 model is a tiny random-weight one built at test time (``tests.support.ct2_model``);
every answer must be what the engine itself answers for that text alone, however the node
batched it with others.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ADMIN, ADMIN_TOKEN, eventually, start_node, translate, udn, write_config
from tests.support.clients import metric_samples, sample
from tests.support.ct2_model import corpus, raw_translate
from universal_decoder_node.engine import bundled_model_dirs, create_backend

CT2_OPTIONS = {"compute_type": "float32", "max_decoding_length": 16}  # float32: batched == alone


def _states(url: str, pair: str) -> set[str]:
    response = httpx.get(url + "/admin/models", headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return {worker["state"] for worker in response.json()["pairs"][pair]["workers"].values()}


def test_64_concurrent_requests_over_both_engines_unload_reload_and_a_clean_stop(
    tmp_path: Path, ct2_model: Path
) -> None:
    config = {
        "serving": {"workers": 2, "threads": 2, "request_timeout": 120},
        "models": {"pairs": {"en-xx": {"path": str(ct2_model), **CT2_OPTIONS}}},
    }
    texts = corpus(48, seed=5)
    expected = dict(zip(texts, raw_translate(ct2_model, texts, max_decoding_length=16), strict=True))
    bergamot_texts = ["Good morning.", "The house is big.", "I like to read books.", "Where is the station?"]
    bergamot = create_backend("bergamot", threads=1).load(bundled_model_dirs()["en-pt"])
    expected_pt = dict(zip(bergamot_texts, bergamot.translate_batch(bergamot_texts), strict=True))
    bergamot.close()

    node = start_node(tmp_path, config, env={"UDN_ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        languages = httpx.get(node.url + "/languages", timeout=10).json()
        assert {"code": "en", "name": "English", "targets": ["pt", "xx"]} in languages

        requests: list[tuple[str, str]] = [(text, "xx") for text in texts]
        requests += [(text, "pt") for text in bergamot_texts * 4]
        with ThreadPoolExecutor(64) as pool:
            answers = list(pool.map(lambda r: translate(node.url, r[0], "en", r[1], timeout=120), requests))
        assert [a.status_code for a in answers] == [200] * 64, [
            a.text for a in answers if a.status_code != 200
        ]
        for (text, target), answer in zip(requests, answers, strict=True):
            want = expected[text] if target == "xx" else expected_pt[text]
            assert answer.json()["translatedText"] == want, (text, target)
        # Every sentence went through an engine call; the batched engine got several per call.
        samples = metric_samples(node.url)
        assert sample(samples, "udn_engine_call_segments_sum") >= 64
        calls = sample(samples, "udn_engine_call_segments_count")
        assert calls - sample(samples, "udn_engine_call_segments_bucket", le="1.0") >= 1

        # Unload from every worker, then load again: the same answers.
        unloaded = httpx.delete(node.url + "/admin/models/en-xx", headers=ADMIN, timeout=30)
        assert unloaded.status_code == 200 and set(unloaded.json()["workers"].values()) == {"unloaded"}
        assert _states(node.url, "en-xx") == {"not_loaded"}
        loaded = httpx.post(node.url + "/admin/models/en-xx/load", headers=ADMIN, timeout=60)
        assert loaded.status_code == 200, loaded.text
        assert _states(node.url, "en-xx") == {"loaded"}
        again = translate(node.url, texts[:5], "en", "xx", expect=200)
        assert again.json()["translatedText"] == [expected[t] for t in texts[:5]]
        models = httpx.get(node.url + "/admin/models", headers=ADMIN, timeout=30).json()["pairs"]["en-xx"]
        sizes = {worker["memory_bytes"] for worker in models["workers"].values()}
        assert sizes == {(ct2_model / "model.bin").stat().st_size}

        # SIGTERM: every process stops, OpenMP threads and all (LibreTranslate's issue 1008 hung here).
        node.process.terminate()
        assert node.process.wait(60) == 0, node.log()
        eventually(lambda: not node.group_pids(), 30, lambda: f"processes left behind:\n{node.log()}")
        assert "Traceback" not in node.log(), node.log()
    finally:
        node.stop()


def _bad(tmp_path: Path, ct2_model: Path, name: str) -> Path:
    directory = tmp_path / name
    shutil.copytree(ct2_model, directory)
    return directory


def _serve_refused(tmp_path: Path, pair: dict[str, Any]) -> str:
    config = write_config(tmp_path, {"models": {"pairs": {"en-xx": pair}}, "serving": {"port": 1}})
    result = udn(["serve", "--config", str(config)], {}, tmp_path, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_udn_serve_refuses_each_bad_model_naming_the_pair_the_path_and_what_is_wrong(
    tmp_path: Path, ct2_model: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    no_model = _bad(tmp_path, ct2_model, "no-model")
    (no_model / "model.bin").unlink()
    short_vocabulary = _bad(tmp_path, ct2_model, "short-vocabulary")
    vocabulary = short_vocabulary / "shared_vocabulary.json"
    vocabulary.write_text(json.dumps(json.loads(vocabulary.read_text(encoding="utf-8"))[:50]))
    no_vocabulary = _bad(tmp_path, ct2_model, "no-vocabulary")
    (no_vocabulary / "shared_vocabulary.json").unlink()
    bad_spm = _bad(tmp_path, ct2_model, "bad-spm")
    (bad_spm / "target.spm").write_bytes(b"\x00garbage")

    cases = [
        ({"path": str(empty)}, empty, "holds neither model.bin + config.json (CTranslate2) nor config*.yml"),
        ({"path": str(no_model), "backend": "ctranslate2"}, no_model, "has no model.bin"),
        (
            {"path": str(short_vocabulary)},
            short_vocabulary,
            "does not belong to this model: it has 50 tokens",
        ),
        ({"path": str(no_vocabulary)}, no_vocabulary, "has no vocabulary (shared_vocabulary.json"),
        ({"path": str(bad_spm)}, bad_spm, "target.spm is not a SentencePiece model"),
    ]
    for pair, path, wrong in cases:
        stderr = _serve_refused(tmp_path, pair)
        assert f"language pair 'en-xx' cannot be served from {path}: " in stderr, stderr
        assert wrong in stderr, stderr

    stderr = _serve_refused(tmp_path, {"path": str(ct2_model), "device": "npu"})
    assert "models.pairs.en-xx.device: Value error, must be auto, cpu, cuda or cuda:N (got 'npu')" in stderr


def test_udn_serve_refuses_cuda_on_a_machine_without_a_gpu(tmp_path: Path, ct2_model: Path) -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a CUDA device")
    stderr = _serve_refused(tmp_path, {"path": str(ct2_model), "device": "cuda"})
    assert f"language pair 'en-xx' cannot be served from {ct2_model}: " in stderr
    assert "device 'cuda' asked for, but CTranslate2 finds no CUDA device on this machine" in stderr
