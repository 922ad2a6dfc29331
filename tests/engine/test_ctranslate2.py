"""The CTranslate2 backend on a real (random-weight) model: answers, options, devices, bad directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.ct2_model import corpus, raw_translate, train_sentencepiece
from universal_decoder_node.config import ConfigError, EngineOptions, load_settings
from universal_decoder_node.engine import (
    BatchTranslator,
    ModelLoadError,
    TranslationFailed,
    TranslationJob,
    backend_kind,
    backends_for,
    bundled_model_dirs,
    create_backend,
    detect_backend,
    prepare_process,
)
from universal_decoder_node.engine.ctranslate2 import CTranslate2Model
from universal_decoder_node.engine.ctranslate2_devices import missing_cuda_libraries, select_device
from universal_decoder_node.models import check_local_pairs, pair_sources
from universal_decoder_node.serving.worker.api import build_registry

SENTENCES = corpus(12, seed=99)
EXACT = EngineOptions(compute_type="float32", max_decoding_length=16)


def load(directory: Path, options: EngineOptions = EXACT, threads: int = 2) -> CTranslate2Model:
    model = create_backend("ctranslate2", threads=threads).load(directory, options)
    assert isinstance(model, CTranslate2Model)
    return model


def broken_copy(ct2_model: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(ct2_model, target)
    return target


def test_one_batched_call_answers_what_the_engine_answers_for_each_sentence_alone(ct2_model: Path) -> None:
    model = load(ct2_model)
    try:
        assert model.max_batch_segments == 32
        batched = model.translate_batch(SENTENCES)
        assert batched == list(raw_translate(ct2_model, SENTENCES, max_decoding_length=16))
        assert len(set(batched)) > 6, "a random model still answers each input differently"
        greedy = load(ct2_model, EngineOptions(compute_type="float32", max_decoding_length=8, beam_size=1))
        expected = list(raw_translate(ct2_model, SENTENCES[:4], max_decoding_length=8, beam_size=1))
        assert greedy.translate_batch(SENTENCES[:4]) == expected
        greedy.close()
    finally:
        model.close()


def test_n_best_comes_from_the_beam_best_first(ct2_model: Path) -> None:
    model = load(ct2_model)
    try:
        (best,) = model.translate_batch(SENTENCES[:1])
        (three,) = model.hypotheses(SENTENCES[:1], 3)
        assert isinstance(three, list) and len(three) == 3 and len(set(three)) == 3
        wide = load(ct2_model, EngineOptions(compute_type="float32", max_decoding_length=16, beam_size=3))
        assert wide.translate_batch(SENTENCES[:1]) == [three[0]]  # n-best widens the beam to n
        wide.close()
        assert isinstance(best, str)
    finally:
        model.close()


def test_the_scheduler_feeds_it_batches_and_answers_match(ct2_model: Path) -> None:
    settings = load_settings(
        models={
            "bundled": True,
            "pairs": {
                "en-xx": {"path": str(ct2_model), "compute_type": "float32", "max_decoding_length": 16}
            },
        },
        serving={"threads": 2},
    )
    registry = build_registry(settings)
    translator = BatchTranslator(registry, threads=2)
    try:
        jobs = [TranslationJob("en-xx", SENTENCES[i : i + 3]) for i in range(0, 12, 3)]
        results = translator.translate([*jobs, TranslationJob("en-pt", ["Good morning."])])
    finally:
        translator.close()
        registry.close()
    expected = list(raw_translate(ct2_model, SENTENCES, max_decoding_length=16))
    assert results[:4] == [expected[i : i + 3] for i in range(0, 12, 3)]
    assert results[4] == ["Bom dia."]
    assert registry.describe()["en-xx"]["memory_bytes"] == (ct2_model / "model.bin").stat().st_size


def test_a_vocabulary_map_in_the_directory_is_used(ct2_model: Path, tmp_path: Path) -> None:
    directory = broken_copy(ct2_model, tmp_path)
    allowed = {"▁river", "▁dog", "▁the"}
    # An empty n-gram lists candidates allowed for every input.
    (directory / "vmap.txt").write_text("\t" + " ".join(sorted(allowed)) + "\n", encoding="utf-8")
    model = load(directory)
    try:
        (answer,) = model.translate_batch(SENTENCES[:1])
        assert isinstance(answer, str) and answer.split() and set(answer.split()) <= {"river", "dog", "the"}
        (unmapped,) = raw_translate(ct2_model, SENTENCES[:1], max_decoding_length=16)
        assert answer != unmapped
    finally:
        model.close()


def test_close_unloads_and_later_calls_fail_cleanly(ct2_model: Path) -> None:
    model = load(ct2_model)
    translator = model._translator
    assert translator is not None and translator.model_is_loaded
    model.close()
    assert not translator.model_is_loaded
    (failed,) = model.translate_batch(["Hello."])
    assert isinstance(failed, TranslationFailed)


def test_device_selection() -> None:
    assert select_device("auto", 0) == ("cpu", 0)
    assert select_device("auto", 2) == ("cuda", 0)
    assert select_device("cpu", 2) == ("cpu", 0)
    assert select_device("cuda", 1) == ("cuda", 0)
    assert select_device("cuda:1", 2) == ("cuda", 1)
    with pytest.raises(ModelLoadError, match="'cuda' asked for, but CTranslate2 finds no CUDA device"):
        select_device("cuda", 0)
    with pytest.raises(ModelLoadError, match=r"'cuda:2' asked for, but this machine has 2 CUDA device\(s\)"):
        select_device("cuda:2", 2)
    with pytest.raises(ModelLoadError, match="unknown device 'gpu'"):
        select_device("gpu", 1)


def test_a_gpu_ctranslate2_cannot_use_is_left_for_the_cpu_or_refused_by_name() -> None:
    # Seen on a machine with only CUDA 13: the GPU is found, but every translation fails with
    # "Library libcublas.so.12 is not found or cannot be loaded".
    missing = ["libcublas.so.12"]
    assert select_device("auto", 1, missing) == ("cpu", 0)
    with pytest.raises(
        ModelLoadError, match=r"CTranslate2 cannot use the GPU: libcublas\.so\.12 cannot be loaded"
    ):
        select_device("cuda", 1, missing)
    assert select_device("cuda:1", 2, []) == ("cuda", 1)


def test_missing_cuda_libraries_names_those_the_loader_cannot_open() -> None:
    assert missing_cuda_libraries(["libc.so.6", "libudn-no-such-library.so.1"]) == [
        "libudn-no-such-library.so.1"
    ]


def test_the_backend_comes_from_the_directory(ct2_model: Path, tmp_path: Path) -> None:
    assert detect_backend(ct2_model) == "ctranslate2"
    assert detect_backend(bundled_model_dirs()["en-pt"]) == "bergamot"
    with pytest.raises(ModelLoadError) as neither:
        detect_backend(tmp_path)
    assert neither.value.detail == (
        f"model directory {tmp_path} holds neither model.bin + config.json (CTranslate2) "
        "nor config*.yml (Bergamot)"
    )


def _refused(directory: Path) -> str:
    with pytest.raises(ModelLoadError) as refused:
        backend_kind("ctranslate2").model_files(directory)
    return refused.value.detail


def test_each_bad_directory_is_refused_with_what_is_wrong(ct2_model: Path, tmp_path: Path) -> None:
    directory = broken_copy(ct2_model, tmp_path)
    vocabulary = directory / "shared_vocabulary.json"
    tokens = json.loads(vocabulary.read_text(encoding="utf-8"))

    (directory / "model.bin").rename(directory / "model.moved")
    assert (
        _refused(directory) == f"model directory {directory} has no model.bin (CTranslate2 layout expected)"
    )
    (directory / "model.moved").rename(directory / "model.bin")

    vocabulary.write_text(json.dumps(tokens[:100]), encoding="utf-8")
    assert _refused(directory) == (
        f"{vocabulary} does not belong to this model: it has 100 tokens, the source embeddings of "
        f"{directory / 'model.bin'} {len(tokens)}"
    )
    vocabulary.write_text(json.dumps([f"x{i}" for i in range(len(tokens))]), encoding="utf-8")
    assert _refused(directory).startswith(
        f"{directory / 'source.spm'} does not match {vocabulary}: only 0 of its"
    )
    vocabulary.unlink()
    assert "has no vocabulary (shared_vocabulary.json" in _refused(directory)
    vocabulary.write_text(json.dumps(tokens), encoding="utf-8")

    (directory / "source.spm").write_bytes(b"not a model")
    assert _refused(directory).startswith(f"{directory / 'source.spm'} is not a SentencePiece model")
    (directory / "source.spm").unlink()
    assert "has no SentencePiece model (one of: sentencepiece.model, source.spm + target.spm" in (
        _refused(directory)
    )
    # quickmt's layout: src.spm.model + tgt.spm.model.
    (directory / "target.spm").rename(directory / "tgt.spm.model")
    (directory / "src.spm.model").write_bytes((directory / "tgt.spm.model").read_bytes())
    assert (directory / "src.spm.model") in backend_kind("ctranslate2").model_files(directory)


def test_a_sentencepiece_model_of_another_vocabulary_is_refused(ct2_model: Path, tmp_path: Path) -> None:
    directory = broken_copy(ct2_model, tmp_path)
    other = [" ".join(word[::-1] for word in line.split()) for line in corpus(400, seed=3)]
    (directory / "target.spm").write_bytes(train_sentencepiece(200, other))
    assert "target.spm does not match" in _refused(directory)


def test_engine_options_are_checked_when_the_configuration_is_read(tmp_path: Path) -> None:
    for options, message in (
        ({"device": "gpu"}, "models.pairs.en-xx.device: Value error, must be auto, cpu, cuda or cuda:N"),
        ({"compute_type": "int4"}, "models.pairs.en-xx.compute_type: Input should be 'default'"),
        ({"beam_size": 0}, "models.pairs.en-xx.beam_size: Input should be greater than or equal to 1"),
    ):
        with pytest.raises(ConfigError, match="invalid configuration") as refused:
            load_settings(models={"pairs": {"en-xx": {"path": str(tmp_path), **options}}})
        assert message in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        load_settings(models={"options": {"en-xx": {"device": "tpu"}}})
    assert "models.options.en-xx.device: Value error" in str(refused.value)


def test_options_come_from_the_pair_or_models_options_once(ct2_model: Path) -> None:
    settings = load_settings(
        models={
            "pairs": {"en-xx": {"path": str(ct2_model), "beam_size": 3}},
            "options": {"en-xx": {"max_decoding_length": 9}},
        }
    )
    source = pair_sources(settings)["en-xx"]
    assert source.backend is None  # from its files, when it loads
    assert source.engine_options == EngineOptions(beam_size=3, max_decoding_length=9)
    twice = load_settings(
        models={
            "pairs": {"en-xx": {"path": str(ct2_model), "beam_size": 3}},
            "options": {"en-xx": {"beam_size": 4}},
        }
    )
    with pytest.raises(ConfigError, match=r"beam_size of pair 'en-xx' is set both in models\.pairs\.en-xx"):
        pair_sources(twice)
    stray = load_settings(models={"options": {"en-zz": {"beam_size": 4}}})
    with pytest.raises(ConfigError, match=r"models\.options names 'en-zz', which is not configured"):
        pair_sources(stray)


def test_a_bergamot_pair_refuses_ctranslate2_options() -> None:
    settings = load_settings(
        models={"pairs": {"en-pp": {"path": str(bundled_model_dirs()["en-pt"]), "beam_size": 4}}}
    )
    with pytest.raises(ConfigError) as refused:
        check_local_pairs(pair_sources(settings))
    assert "a Bergamot model takes no engine options, and beam_size is set" in str(refused.value)


def test_only_the_backends_a_node_uses_set_up_its_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "")  # so that the test's end restores the value before it
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert backends_for(["bergamot"]) == ["bergamot"]
    assert backends_for(["bergamot", None]) == ["bergamot", "ctranslate2"]  # None: from its files
    assert "OMP_NUM_THREADS" not in prepare_process(["bergamot"])
    assert prepare_process(["ctranslate2"]) == {"OMP_NUM_THREADS": "1"}
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # an operator's own value wins
    assert prepare_process(["ctranslate2"]) == {"OMP_NUM_THREADS": "2"}
